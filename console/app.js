// ventana console: plain JavaScript, no build step, no external code.
// Talks to the agent API (/api/escalations, /api/conversations) and the
// knowledge API (/api/kb) with the bearer token kept in sessionStorage.
'use strict';

// ---------------------------------------------------------------- i18n

const DICT = {
  es: {
    skip: 'Saltar al contenido', sections: 'Secciones', nav_queue: 'Cola', nav_kb: 'Conocimiento',
    language: 'Idioma', sign_out: 'Salir', signin_title: 'Iniciar sesión',
    signin_help: 'Pega el token que te dio tu administrador.', token: 'Token', sign_in: 'Entrar',
    bad_token: 'Token no válido.', no_role: 'Este token no tiene acceso a la consola.',
    queue_title: 'Escalamientos', filter_queue: 'Cola', filter_state: 'Estado', all_queues: 'Todas',
    state_open: 'Abiertos', state_waiting: 'En espera', state_assigned: 'Asignado',
    state_waiting_customer: 'Esperando al cliente', state_resolved: 'Resuelto', refresh: 'Actualizar',
    col_customer: 'Cliente', col_priority: 'Prioridad', col_channel: 'Canal', col_queue: 'Cola',
    col_state: 'Estado', col_deadline: 'Vence en', col_window: 'Ventana', col_last: 'Último mensaje',
    queue_empty: 'No hay escalamientos.', updated: 'Actualizado a las {t}',
    prio_urgent: 'Urgente', prio_normal: 'Normal', overdue: 'vencido hace {d}', closed: 'cerrada',
    never_opened: 'nunca abierta', back_to_queue: '← Volver a la cola', thread: 'Conversación',
    actions: 'Acciones', claim: 'Tomar', wait_customer: 'Esperar al cliente', hand_back: 'Devolver al bot',
    resolve: 'Resolver', reply: 'Respuesta al cliente', send: 'Enviar', note: 'Nota interna',
    add_note: 'Agregar nota', template_required: 'La ventana está cerrada: elige una plantilla',
    template: 'Plantilla', param: 'Parámetro {p}', customer: 'Cliente', bot: 'Bot', agent: 'Agente',
    you: 'tú', f_channel: 'Canal', f_queue: 'Cola', f_priority: 'Prioridad', f_state: 'Estado',
    f_assigned: 'Asignado a', f_triage: 'Clasificación', f_reason: 'Motivo', f_deadline: 'Vence en',
    f_window: 'Ventana de 24 h', nobody: 'nadie', confidence: 'confianza {c}',
    articles_used: 'Artículos usados', bot_decision: 'Decisión del bot', ev_created: 'Escalado',
    ev_claimed: 'Tomado', ev_note: 'Nota', ev_replied: 'Respuesta', ev_resolved: 'Resuelto',
    ev_handed_back: 'Devuelto al bot', ev_waiting_customer: 'Esperando al cliente',
    ev_reassigned: 'Reasignado', sent_state: 'estado: {s}', done_claim: 'Escalamiento tomado.',
    done_reply: 'Respuesta en cola de envío.', done_note: 'Nota agregada.',
    done_wait: 'Esperando al cliente.', done_handback: 'Devuelto al bot.', done_resolve: 'Resuelto.',
    kb_title: 'Base de conocimiento', new_article: 'Nuevo artículo', search_articles: 'Buscar artículos',
    article_id: 'Identificador (ruta del archivo)', title: 'Título',
    questions: 'Preguntas (una por línea)', tags: 'Etiquetas (separadas por comas)', lang: 'Idioma',
    queue: 'Cola', escalate: 'Siempre pasar a una persona',
    body: 'Contenido (Markdown, secciones con ##)', save: 'Guardar', delete: 'Eliminar',
    editing: 'Editar «{t}»', creating: 'Nuevo artículo', saved: 'Artículo guardado.',
    deleted: 'Artículo eliminado.', confirm_delete: '¿Eliminar el artículo {id}?',
    preview_title: '¿Qué respondería el bot?', preview_question: 'Pregunta de un cliente',
    dec_answer: 'Respondería con «{a}».', dec_answer_and_escalate: 'Respondería con «{a}» y pasaría a una persona (cola {q}).',
    dec_dont_know: 'No respondería: ninguna sección supera la confianza mínima ({m}).',
    score: 'puntaje {s}', load_errors: 'Archivos con errores', error: 'Error: {e}',
    forbidden: 'Este token no puede hacer eso.', offline: 'Sin conexión con el servidor.',
    unanswered_title: 'Preguntas sin respuesta', unanswered_period: 'Periodo',
    days_7: 'Últimos 7 días', days_30: 'Últimos 30 días', days_90: 'Últimos 90 días',
    unanswered_help: 'Mensajes que el bot pasó a una persona porque ningún artículo los respondía con confianza, agrupados por parecido.',
    unanswered_empty: 'No hay preguntas sin respuesta en este periodo.',
    group_count_one: '1 mensaje', group_count: '{n} mensajes', group_latest: 'último {t}',
    group_examples: 'Mensajes del grupo', start_article: 'Crear artículo',
    answered_by: 'Ya lo responde «{a}»',
    draft_ready: 'Borrador listo: escribe la respuesta en «Contenido» y guarda.',
    handoff_title: 'Secciones que pasan a una persona',
    handoff_help: 'Un cliente cuya mejor sección es una de estas va a una persona. Confirma una sección con una línea <!-- handoff --> o descártala con <!-- handoff: no -->.',
    handoff_detected: 'detectada en el texto', handoff_marked: 'marcada con <!-- handoff -->',
    intro: 'Introducción',
    ch_whatsapp: 'WhatsApp', ch_messenger: 'Messenger', ch_instagram: 'Instagram',
  },
  en: {
    skip: 'Skip to content', sections: 'Sections', nav_queue: 'Queue', nav_kb: 'Knowledge',
    language: 'Language', sign_out: 'Sign out', signin_title: 'Sign in',
    signin_help: 'Paste the token your administrator gave you.', token: 'Token', sign_in: 'Sign in',
    bad_token: 'Invalid token.', no_role: 'This token has no access to the console.',
    queue_title: 'Escalations', filter_queue: 'Queue', filter_state: 'State', all_queues: 'All',
    state_open: 'Open', state_waiting: 'Waiting', state_assigned: 'Assigned',
    state_waiting_customer: 'Waiting for customer', state_resolved: 'Resolved', refresh: 'Refresh',
    col_customer: 'Customer', col_priority: 'Priority', col_channel: 'Channel', col_queue: 'Queue',
    col_state: 'State', col_deadline: 'Due in', col_window: 'Window', col_last: 'Last message',
    queue_empty: 'No escalations.', updated: 'Updated at {t}',
    prio_urgent: 'Urgent', prio_normal: 'Normal', overdue: 'overdue by {d}', closed: 'closed',
    never_opened: 'never opened', back_to_queue: '← Back to the queue', thread: 'Conversation',
    actions: 'Actions', claim: 'Claim', wait_customer: 'Wait for customer', hand_back: 'Hand back to bot',
    resolve: 'Resolve', reply: 'Reply to the customer', send: 'Send', note: 'Internal note',
    add_note: 'Add note', template_required: 'The window is closed: choose a template',
    template: 'Template', param: 'Parameter {p}', customer: 'Customer', bot: 'Bot', agent: 'Agent',
    you: 'you', f_channel: 'Channel', f_queue: 'Queue', f_priority: 'Priority', f_state: 'State',
    f_assigned: 'Assigned to', f_triage: 'Triage', f_reason: 'Reason', f_deadline: 'Due in',
    f_window: '24 h window', nobody: 'nobody', confidence: 'confidence {c}',
    articles_used: 'Articles used', bot_decision: 'Bot decision', ev_created: 'Escalated',
    ev_claimed: 'Claimed', ev_note: 'Note', ev_replied: 'Reply', ev_resolved: 'Resolved',
    ev_handed_back: 'Handed back to the bot', ev_waiting_customer: 'Waiting for customer',
    ev_reassigned: 'Reassigned', sent_state: 'state: {s}', done_claim: 'Escalation claimed.',
    done_reply: 'Reply queued for sending.', done_note: 'Note added.',
    done_wait: 'Waiting for the customer.', done_handback: 'Handed back to the bot.', done_resolve: 'Resolved.',
    kb_title: 'Knowledge base', new_article: 'New article', search_articles: 'Search articles',
    article_id: 'Id (file path)', title: 'Title',
    questions: 'Questions (one per line)', tags: 'Tags (comma separated)', lang: 'Language',
    queue: 'Queue', escalate: 'Always hand to a person',
    body: 'Body (Markdown, sections with ##)', save: 'Save', delete: 'Delete',
    editing: 'Edit “{t}”', creating: 'New article', saved: 'Article saved.',
    deleted: 'Article deleted.', confirm_delete: 'Delete article {id}?',
    preview_title: 'What would the bot answer?', preview_question: 'A customer question',
    dec_answer: 'Would answer from “{a}”.', dec_answer_and_escalate: 'Would answer from “{a}” and hand to a person (queue {q}).',
    dec_dont_know: 'Would not answer: no passage reaches the minimum confidence ({m}).',
    score: 'score {s}', load_errors: 'Files with errors', error: 'Error: {e}',
    forbidden: 'This token may not do that.', offline: 'Cannot reach the server.',
    unanswered_title: 'Unanswered questions', unanswered_period: 'Period',
    days_7: 'Last 7 days', days_30: 'Last 30 days', days_90: 'Last 90 days',
    unanswered_help: 'Messages the bot handed to a person because no article answered them confidently, grouped by similarity.',
    unanswered_empty: 'No unanswered questions in this period.',
    group_count_one: '1 message', group_count: '{n} messages', group_latest: 'latest {t}',
    group_examples: 'Messages in the group', start_article: 'Start an article',
    answered_by: 'Now answered by “{a}”',
    draft_ready: 'Draft ready: write the answer in “Body” and save.',
    handoff_title: 'Passages handed to a person',
    handoff_help: 'A customer whose best passage is one of these goes to a person. Confirm a section with a line <!-- handoff --> or rule it out with <!-- handoff: no -->.',
    handoff_detected: 'detected in the text', handoff_marked: 'marked with <!-- handoff -->',
    intro: 'Introduction',
    ch_whatsapp: 'WhatsApp', ch_messenger: 'Messenger', ch_instagram: 'Instagram',
  },
};

let lang = localStorage.getItem('ventana.lang') === 'en' ? 'en' : 'es';

function t(key, vars) {
  let s = (DICT[lang] && DICT[lang][key]) || DICT.es[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.split('{' + k + '}').join(String(v));
  return s;
}

function translatePage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  document.title = 'ventana · ' + (lang === 'es' ? 'consola' : 'console');
}

// ---------------------------------------------------------------- helpers

const $ = (id) => document.getElementById(id);

/** Builds an element: h('p', {class: 'x'}, 'text', child). Text is never parsed as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmtDuration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (d > 0) return `${d}d ${hh}h`;
  if (hh > 0) return `${hh}h ${String(mm).padStart(2, '0')}m`;
  return `${mm}m ${String(ss).padStart(2, '0')}s`;
}

function fmtTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(lang === 'es' ? 'es' : 'en', { dateStyle: 'short', timeStyle: 'short' });
}

function say(message, isError) {
  const el = $('status');
  el.textContent = message || '';
  el.classList.toggle('is-error', !!isError);
  clearTimeout(say.timer);
  if (message) say.timer = setTimeout(() => { el.textContent = ''; }, 6000);
}

const UNDER_AN_HOUR = 3600;

// ---------------------------------------------------------------- API

const session = {
  token: sessionStorage.getItem('ventana.token'),
  agent: sessionStorage.getItem('ventana.agent') === '1',
  editor: sessionStorage.getItem('ventana.editor') === '1',
};

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(method, path, body, token, extraHeaders) {
  const headers = { Authorization: 'Bearer ' + (token || session.token), ...(extraHeaders || {}) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { error: t('offline') });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
  if (response.status === 401 && !token) { signOut(); }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** A fresh Idempotency-Key (random UUID; plain HTTP off localhost has no crypto.randomUUID). */
function newIdempotencyKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function explain(e) {
  if (e.status === 403) return t('forbidden');
  return t('error', { e: e.message });
}

// ---------------------------------------------------------------- sign-in

/** Finds what a token may do by asking each API once (200 or 403). */
async function probe(token) {
  const roles = { agent: false, editor: false };
  const tries = [
    ['agent', '/api/escalations?limit=1'],
    ['editor', '/api/kb/articles'],
  ];
  for (const [role, path] of tries) {
    try {
      await api('GET', path, undefined, token);
      roles[role] = true;
    } catch (e) {
      if (e.status === 401) throw e;
      if (e.status !== 403 && e.status !== 404) throw e;
    }
  }
  return roles;
}

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  const error = $('signin-error');
  error.hidden = true;
  try {
    const roles = await probe(token);
    if (!roles.agent && !roles.editor) {
      error.textContent = t('no_role');
      error.hidden = false;
      return;
    }
    session.token = token;
    session.agent = roles.agent;
    session.editor = roles.editor;
    sessionStorage.setItem('ventana.token', token);
    sessionStorage.setItem('ventana.agent', roles.agent ? '1' : '');
    sessionStorage.setItem('ventana.editor', roles.editor ? '1' : '');
    $('token').value = '';
    location.hash = roles.agent ? '#/queue' : '#/kb';
    route();
  } catch (e) {
    error.textContent = e.status === 401 ? t('bad_token') : explain(e);
    error.hidden = false;
  }
}

function signOut() {
  sessionStorage.removeItem('ventana.token');
  sessionStorage.removeItem('ventana.agent');
  sessionStorage.removeItem('ventana.editor');
  session.token = null;
  session.agent = session.editor = false;
  location.hash = '';
  route();
}

// ---------------------------------------------------------------- routing

let stopView = () => {};

function show(view) {
  for (const id of ['signin', 'queue', 'conv', 'kb']) $('view-' + id).hidden = id !== view;
  const signedIn = !!session.token;
  $('nav').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  $('who').hidden = !signedIn;
  $('who').textContent = [session.agent && t('agent'), session.editor && 'editor'].filter(Boolean).join(' · ');
  $('nav-queue').hidden = !session.agent;
  $('nav-kb').hidden = !session.editor;
  for (const a of $('nav').querySelectorAll('a')) {
    const current = (view === 'conv' ? 'queue' : view) === a.id.slice(4);
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function route() {
  stopView();
  stopView = () => {};
  if (!session.token) {
    show('signin');
    $('token').focus();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const [page, ...rest] = parts;
  if (page === 'esc' && session.agent && rest[0]) {
    show('conv');
    stopView = openConversation(Number(rest[0]));
  } else if (page === 'kb' && session.editor) {
    show('kb');
    stopView = openKnowledge(rest.length ? decodeURIComponent(rest.join('/')) : null);
  } else if (session.agent) {
    show('queue');
    stopView = openQueue();
  } else {
    show('kb');
    stopView = openKnowledge(null);
  }
}

// ---------------------------------------------------------------- countdowns

/** Elements with data-until (epoch ms) count down every second. */
function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-until]')) {
    const left = (Number(el.dataset.until) - now) / 1000;
    if (left < 0) {
      el.textContent = el.dataset.kind === 'window' ? t('closed') : t('overdue', { d: fmtDuration(left) });
    } else {
      el.textContent = fmtDuration(left);
    }
    el.classList.toggle('soon', left >= 0 && left < UNDER_AN_HOUR);
    el.classList.toggle('late', left < 0);
  }
}
setInterval(tickCountdowns, 1000);

/** A countdown from "seconds left when fetched", immune to the browser's clock being off. */
function countdown(secondsLeft, fetchedAt, kind) {
  if (secondsLeft === null || secondsLeft === undefined) {
    return h('span', { class: 'countdown late' }, kind === 'window' ? t('closed') : '—');
  }
  const el = h('span', { class: 'countdown', 'data-until': fetchedAt + secondsLeft * 1000, 'data-kind': kind });
  return el;
}

// ---------------------------------------------------------------- queue

const POLL_MS = 3000;
const knownQueues = new Set();

function openQueue() {
  let timer = null;
  let stopped = false;
  const load = async () => {
    const params = new URLSearchParams({ limit: '200' });
    const queue = $('filter-queue').value;
    const state = $('filter-state').value;
    if (queue) params.set('queue', queue);
    if (state) params.set('state', state);
    try {
      const list = await api('GET', '/api/escalations?' + params);
      if (!stopped) renderQueue(list, Date.now());
    } catch (e) {
      if (!stopped && session.token) say(explain(e), true);
    }
    if (!stopped) timer = setTimeout(load, POLL_MS);
  };
  const reload = () => { clearTimeout(timer); load(); };
  $('filter-queue').onchange = reload;
  $('filter-state').onchange = reload;
  $('queue-refresh').onclick = reload;
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

function renderQueue(list, fetchedAt) {
  for (const e of list) knownQueues.add(e.queue);
  const select = $('filter-queue');
  const have = new Set([...select.options].map((o) => o.value));
  for (const q of [...knownQueues].sort()) if (!have.has(q)) select.append(h('option', { value: q }, q));

  const rows = list.map((e) => h('tr', { class: 'prio-' + e.priority, 'data-escalation': e.id },
    h('td', { 'data-label': t('col_customer') },
      h('a', { href: '#/esc/' + e.id, class: 'customer' }, e.customer_name || '#' + e.conversation_id)),
    h('td', { 'data-label': t('col_priority') }, h('span', { class: 'badge prio ' + e.priority }, t('prio_' + e.priority))),
    h('td', { 'data-label': t('col_channel') }, t('ch_' + e.channel)),
    h('td', { 'data-label': t('col_queue') }, e.queue),
    h('td', { 'data-label': t('col_state') }, t('state_' + e.state), e.assigned_to ? ' · ' + e.assigned_to : ''),
    h('td', { 'data-label': t('col_deadline') }, e.state === 'resolved' ? '—' : countdown(e.time_left_seconds, fetchedAt, 'deadline')),
    h('td', { 'data-label': t('col_window') }, countdown(e.window_time_left_seconds, fetchedAt, 'window')),
    h('td', { 'data-label': t('col_last'), class: 'last' }, e.last_message_preview || ''),
  ));
  $('queue-rows').replaceChildren(...rows);
  $('queue-empty').hidden = list.length > 0;
  $('queue-table').hidden = list.length === 0;
  $('queue-updated').textContent = t('updated', { t: new Date(fetchedAt).toLocaleTimeString(lang) });
  tickCountdowns();
}

// ---------------------------------------------------------------- conversation

function openConversation(id) {
  let timer = null;
  let stopped = false;
  let templates = null;
  let pendingReply = null;
  const state = { escalation: null };

  const load = async () => {
    try {
      const escalation = await api('GET', `/api/escalations/${id}`);
      const conversation = await api('GET', `/api/conversations/${escalation.conversation_id}`);
      if (!stopped) {
        state.escalation = escalation;
        renderConversation(escalation, conversation, Date.now());
      }
    } catch (e) {
      if (!stopped && session.token) say(explain(e), true);
    }
  };
  const poll = async () => { await load(); if (!stopped) timer = setTimeout(poll, POLL_MS); };

  const act = async (path, body, done, key) => {
    $('conv-error').hidden = true;
    try {
      await api('POST', `/api/escalations/${id}/${path}`, body, undefined,
        key ? { 'Idempotency-Key': key } : undefined);
      say(t(done));
      await load();
      return true;
    } catch (e) {
      if (e.status === 409 && e.body.details && e.body.details.reason === 'template_required') {
        templates = e.body.details.templates || [];
        showTemplates(templates);
        $('conv-error').textContent = e.message;
      } else {
        $('conv-error').textContent = explain(e);
      }
      $('conv-error').hidden = false;
      return false;
    }
  };

  $('act-claim').onclick = () => act('claim', undefined, 'done_claim');
  $('act-wait').onclick = () => act('waiting-for-customer', undefined, 'done_wait');
  $('act-handback').onclick = () => act('hand-back', undefined, 'done_handback');
  $('act-resolve').onclick = () => act('resolve', undefined, 'done_resolve');
  $('reply-form').onsubmit = async (ev) => {
    ev.preventDefault();
    const text = $('reply-text').value.trim();
    const body = { text };
    if (templates && !$('template-picker').hidden) {
      const chosen = templates[Number($('template-select').value)];
      if (chosen) {
        const params = {};
        for (const input of $('template-params').querySelectorAll('input')) params[input.name] = input.value;
        body.template = { name: chosen.name, language: chosen.language, params };
      }
    }
    // One key per reply: a double click or a resend after a network error
    // carries the same key, so the customer gets the message once.
    const sent = JSON.stringify(body);
    if (!pendingReply || pendingReply.body !== sent) pendingReply = { body: sent, key: newIdempotencyKey() };
    if (await act('reply', body, 'done_reply', pendingReply.key)) {
      pendingReply = null;
      $('reply-text').value = '';
      $('template-picker').hidden = true;
      templates = null;
    }
  };
  $('note-form').onsubmit = async (ev) => {
    ev.preventDefault();
    const text = $('note-text').value.trim();
    if (text && await act('note', { text }, 'done_note')) $('note-text').value = '';
  };

  $('template-picker').hidden = true;
  $('conv-error').hidden = true;
  $('reply-text').value = '';
  $('note-text').value = '';
  $('thread').replaceChildren();
  $('conv-facts').replaceChildren();
  $('conv-title').textContent = '…';
  poll();
  return () => { stopped = true; clearTimeout(timer); };
}

function showTemplates(templates) {
  const select = $('template-select');
  select.replaceChildren(...templates.map((tp, i) => h('option', { value: i }, `${tp.name} (${tp.language})`)));
  const renderParams = () => {
    const tp = templates[Number(select.value)];
    $('template-params').replaceChildren(...(tp ? tp.body_params : []).map((p) => h('label', {},
      h('span', {}, t('param', { p })), h('input', { name: p, required: true }))));
  };
  select.onchange = renderParams;
  renderParams();
  $('template-picker').hidden = false;
  select.focus();
}

function renderConversation(e, c, fetchedAt) {
  $('conv-title').textContent = (c.customer_name || c.customer_id) + ' · ' + t('ch_' + c.channel);
  const windowText = c.window.state === 'never_opened'
    ? h('span', { class: 'countdown late' }, t('never_opened'))
    : countdown(c.window_time_left_seconds, fetchedAt, 'window');
  const facts = [
    [t('f_state'), t('state_' + e.state)],
    [t('f_assigned'), e.assigned_to || t('nobody')],
    [t('f_queue'), e.queue],
    [t('f_priority'), h('span', { class: 'badge prio ' + e.priority }, t('prio_' + e.priority))],
    [t('f_deadline'), e.state === 'resolved' ? '—' : countdown(e.time_left_seconds, fetchedAt, 'deadline')],
    [t('f_window'), windowText],
    [t('f_triage'), [e.triage_class || '—', e.triage_confidence != null ? ' (' + t('confidence', { c: e.triage_confidence.toFixed(2) }) + ')' : '']],
    [t('f_reason'), e.reason],
  ];
  $('conv-facts').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));

  const titles = Object.fromEntries((c.sources || []).map((s) => [s.id, s.title || s.id]));
  const items = c.thread.map((entry) => renderEntry(entry, titles)).filter(Boolean);
  const list = $('thread');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...items);
  if (atBottom) list.scrollTop = list.scrollHeight;

  const resolved = e.state === 'resolved';
  $('act-claim').disabled = resolved || e.state === 'assigned';
  for (const id of ['act-wait', 'act-handback', 'act-resolve']) $(id).disabled = resolved;
  tickCountdowns();
}

function renderEntry(entry, titles) {
  const time = h('time', { datetime: entry.at }, fmtTime(entry.at));
  switch (entry.type) {
    case 'message':
      if (entry.direction === 'inbound') {
        return h('li', { class: 'msg customer' }, h('span', { class: 'who' }, t('customer')), time,
          h('p', {}, entry.text || '[' + entry.kind + ']'));
      }
      return h('li', { class: 'msg echo' }, h('span', { class: 'who' }, 'echo'), time, h('p', {}, entry.text || '[' + entry.kind + ']'));
    case 'turn': {
      const articles = (entry.articles || []).map((id) => h('li', {}, titles[id] || id));
      return h('li', { class: 'msg turn' },
        h('span', { class: 'who' }, t('bot_decision')), time,
        h('p', { class: 'meta' }, [entry.class || '—', entry.confidence != null ? ' · ' + t('confidence', { c: entry.confidence.toFixed(2) }) : '',
          ' · ', entry.decision, entry.reason ? ' · ' + entry.reason : '']),
        articles.length ? h('div', { class: 'meta' }, t('articles_used') + ':', h('ul', {}, articles)) : null);
    }
    case 'outbound': {
      const b = entry.body || {};
      if (b.type === 'mark_read') return null;
      const agentish = entry.purpose && /agent|template|reengage/.test(entry.purpose);
      const text = b.text || (b.type === 'template' ? `[${b.name}] ${(b.body_params || []).join(' · ')}` : '');
      return h('li', { class: 'msg ' + (agentish ? 'agent' : 'bot') },
        h('span', { class: 'who' }, agentish ? t('agent') : t('bot')), time,
        h('p', {}, text),
        h('p', { class: 'meta' }, entry.purpose + ' · ' + t('sent_state', { s: entry.delivery_status || entry.state })));
    }
    case 'event': {
      const text = entry.detail && entry.detail.text;
      return h('li', { class: 'msg event' + (entry.kind === 'note' ? ' note' : '') },
        h('span', { class: 'who' }, t('ev_' + entry.kind) + (entry.actor ? ' · ' + entry.actor : '')), time,
        text ? h('p', {}, text) : null);
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------- knowledge

let articles = [];
const SETTLE_MS = 2500;

function openKnowledge(articleId) {
  let stopped = false;
  let previewTimer = null;
  let previewSeq = 0;

  const loadList = async () => {
    try {
      articles = await api('GET', '/api/kb/articles');
      articles.sort((a, b) => a.id.localeCompare(b.id));
      if (!stopped) renderArticles();
      const { errors } = await api('GET', '/api/kb/errors');
      if (!stopped) {
        $('kb-load-errors').replaceChildren(...(errors || []).map((er) => h('li', {}, `${er.path}: ${er.reason}`)));
      }
    } catch (e) {
      if (!stopped) say(explain(e), true);
    }
  };

  const preview = async () => {
    const q = $('kb-question').value.trim();
    const seq = ++previewSeq;
    if (!q) { $('kb-decision').replaceChildren(); $('kb-hits').replaceChildren(); return; }
    try {
      const result = await api('GET', '/api/kb/search?' + new URLSearchParams({ q, limit: '5' }));
      if (seq === previewSeq && !stopped) renderPreview(result);
    } catch (e) {
      if (seq === previewSeq) $('kb-decision').textContent = explain(e);
    }
  };
  const loadUnanswered = async () => {
    const days = Number($('unanswered-days').value) || 30;
    const since = new Date(Date.now() - days * 86400 * 1000).toISOString();
    try {
      const result = await api('GET', '/api/kb/unanswered?' + new URLSearchParams({ since, limit: '50' }));
      if (!stopped) renderUnanswered(result.groups || []);
    } catch (e) {
      if (!stopped && session.token) say(explain(e), true);
    }
  };
  $('unanswered-refresh').onclick = loadUnanswered;
  $('unanswered-days').onchange = loadUnanswered;

  $('kb-question').oninput = () => { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 250); };
  $('kb-filter').oninput = renderArticles;
  $('kb-new').onclick = () => { location.hash = '#/kb'; editArticle(null); };

  $('kb-form').onsubmit = async (ev) => {
    ev.preventDefault();
    const creating = $('kb-form').dataset.mode === 'create';
    const id = $('kb-id').value.trim();
    const input = {
      title: $('kb-title-input').value,
      questions: $('kb-questions').value.split('\n').map((s) => s.trim()).filter(Boolean),
      tags: $('kb-tags').value.split(',').map((s) => s.trim()).filter(Boolean),
      lang: $('kb-lang').value.trim() || null,
      queue: $('kb-queue').value.trim() || null,
      escalate: $('kb-escalate').checked,
      body: $('kb-body').value,
    };
    $('kb-error').hidden = true;
    try {
      const saved = creating
        ? await api('POST', '/api/kb/articles', { id, ...input })
        : await api('PUT', '/api/kb/articles/' + encodePath(id), input);
      say(t('saved'));
      await loadList();
      fillEditor(saved);
      history.replaceState(null, '', '#/kb/' + encodePath(saved.id));
      preview();
      loadUnanswered();
      // The file watcher reloads the index again shortly after a save; ask
      // once more when it has settled so the preview shows the final state.
      clearTimeout(previewTimer);
      previewTimer = setTimeout(() => { preview(); loadUnanswered(); }, SETTLE_MS);
    } catch (e) {
      $('kb-error').textContent = e.status === 422 || e.status === 409 ? e.message : explain(e);
      $('kb-error').hidden = false;
    }
  };
  $('kb-delete').onclick = async () => {
    const id = $('kb-id').value.trim();
    if (!id || !confirm(t('confirm_delete', { id }))) return;
    try {
      await api('DELETE', '/api/kb/articles/' + encodePath(id));
      say(t('deleted'));
      $('kb-form').hidden = true;
      location.hash = '#/kb';
    } catch (e) {
      $('kb-error').textContent = explain(e);
      $('kb-error').hidden = false;
    }
  };

  loadList().then(() => { if (articleId && !stopped) editArticle(articleId); });
  loadUnanswered();
  if (!articleId) $('kb-form').hidden = true;
  return () => { stopped = true; clearTimeout(previewTimer); };
}

function encodePath(id) {
  return id.split('/').map(encodeURIComponent).join('/');
}

function renderArticles() {
  const needle = $('kb-filter').value.trim().toLowerCase();
  const shown = articles.filter((a) => !needle ||
    [a.id, a.title, ...(a.tags || [])].some((s) => s && s.toLowerCase().includes(needle)));
  $('kb-articles').replaceChildren(...shown.map((a) => h('li', {},
    h('a', { href: '#/kb/' + encodePath(a.id) }, a.title),
    h('span', { class: 'muted' }, ' ' + a.id + (a.escalate ? ' · ⚑' : '')))));
}

/** Groups of unanswered questions, each with a button that starts an article from its draft. */
function renderUnanswered(groups) {
  // Keep open the member lists the editor opened, across refreshes.
  const open = new Set([...$('unanswered-groups').querySelectorAll('details[open]')].map((d) => d.dataset.group));
  const items = groups.map((g, i) => {
    const headingId = 'unanswered-group-' + i;
    const count = g.count === 1 ? t('group_count_one') : t('group_count', { n: g.count });
    const meta = [count, (g.languages || []).join(', '), t('group_latest', { t: fmtTime(g.latest_at) })].filter(Boolean).join(' · ');
    const answered = g.answered_by
      ? h('p', { class: 'answered' }, h('a', { href: '#/kb/' + encodePath(g.answered_by) },
        t('answered_by', { a: (articles.find((a) => a.id === g.answered_by) || {}).title || g.answered_by })))
      : null;
    const others = (g.examples || []).filter((e) => e !== g.representative);
    return h('li', { class: 'group' + (g.answered_by ? ' is-answered' : ''), 'data-count': g.count },
      h('p', { class: 'representative', id: headingId }, g.representative),
      h('p', { class: 'muted' }, meta),
      answered,
      others.length ? h('details', { 'data-group': g.representative, open: open.has(g.representative) },
        h('summary', {}, t('group_examples')),
        h('ul', {}, others.map((e) => h('li', {}, e)))) : null,
      h('button', { type: 'button', class: g.answered_by ? '' : 'primary', 'aria-describedby': headingId,
        onclick: () => startArticle(g.draft) }, t('start_article')));
  });
  $('unanswered-groups').replaceChildren(...items);
  $('unanswered-empty').hidden = groups.length > 0;
}

/** Opens the editor on a new article pre-filled from a group's draft; saving uses the usual create flow. */
function startArticle(draft) {
  if (location.hash !== '#/kb') history.replaceState(null, '', '#/kb');
  fillEditor(null);
  $('kb-id').value = draft.id || '';
  $('kb-title-input').value = draft.title || '';
  $('kb-questions').value = (draft.questions || []).join('\n');
  $('kb-lang').value = draft.lang || '';
  say(t('draft_ready'));
  $('kb-body').focus();
  $('kb-form').scrollIntoView({ block: 'start' });
}

async function editArticle(id) {
  $('kb-error').hidden = true;
  if (!id) {
    fillEditor(null);
    $('kb-id').focus();
    return;
  }
  try {
    fillEditor(await api('GET', '/api/kb/articles/' + encodePath(id)));
  } catch (e) {
    say(explain(e), true);
  }
}

function fillEditor(a) {
  const form = $('kb-form');
  form.hidden = false;
  form.dataset.mode = a ? 'update' : 'create';
  $('kb-form-title').textContent = a ? t('editing', { t: a.title }) : t('creating');
  $('kb-id').value = a ? a.id : '';
  $('kb-id').readOnly = !!a;
  $('kb-title-input').value = a ? a.title : '';
  $('kb-questions').value = a ? (a.questions || []).join('\n') : '';
  $('kb-tags').value = a ? (a.tags || []).join(', ') : '';
  $('kb-lang').value = (a && a.lang) || '';
  $('kb-queue').value = (a && a.queue) || '';
  $('kb-escalate').checked = !!(a && a.escalate);
  $('kb-body').value = a ? a.body : '';
  $('kb-delete').hidden = !a;
  renderHandoff(a ? a.handoff || [] : []);
}

/** The article's passages handed to a person, with why (detected or marked) and the sentences that say so. */
function renderHandoff(passages) {
  $('kb-handoff').hidden = passages.length === 0;
  $('kb-handoff-list').replaceChildren(...passages.map((p) => h('li', {},
    h('strong', {}, p.heading || t('intro')),
    h('span', { class: 'muted' }, ' · ' + t('handoff_' + p.source)),
    p.sentences.length ? h('ul', {}, p.sentences.map((s) => h('li', { class: 'passage' }, s))) : null)));
}

function renderPreview(result) {
  const top = result.hits[0];
  const title = (id) => (articles.find((a) => a.id === id) || {}).title || id;
  // `decision` is an object tagged by its own `decision` field.
  const d = result.decision || {};
  let text;
  if (d.decision === 'answer') text = t('dec_answer', { a: title(d.article_id) });
  else if (d.decision === 'answer_and_escalate') text = t('dec_answer_and_escalate', { a: title(d.article_id), q: d.queue || '—' });
  else text = t('dec_dont_know', { m: result.min_confidence.toFixed(2) });
  const answer = d.decision !== 'dont_know' && top ? h('blockquote', { class: 'answer' }, top.text) : null;
  $('kb-decision').replaceChildren(h('p', { class: 'decision is-' + d.decision }, text), answer);
  $('kb-hits').replaceChildren(...result.hits.map((hit) => h('li', { class: hit.score >= result.min_confidence ? 'above' : 'below' },
    h('strong', {}, hit.title + (hit.heading ? ' › ' + hit.heading : '')),
    h('span', { class: 'score' }, ' ' + t('score', { s: hit.score.toFixed(2) })),
    h('p', { class: 'passage' }, hit.text.length > 200 ? hit.text.slice(0, 200) + '…' : hit.text))));
}

// ---------------------------------------------------------------- start

function start() {
  $('lang').value = lang;
  $('lang').onchange = () => {
    lang = $('lang').value;
    localStorage.setItem('ventana.lang', lang);
    translatePage();
    route();
  };
  $('signin-form').onsubmit = signIn;
  $('signout').onclick = signOut;
  window.addEventListener('hashchange', route);
  translatePage();
  route();
}

document.addEventListener('DOMContentLoaded', start);
