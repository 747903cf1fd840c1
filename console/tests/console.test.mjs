// Browser test of the ventana console: the real `ventana serve` binary with a
// temporary data dir, a copy of the demo knowledge base, an agent and an
// editor token, and a fake Graph API (a tiny Node server that records POSTs),
// driven through headless Chromium (Debian's package) with playwright-core.
//
//   CONSOLE_TEST_BIN=../../target/debug/ventana node console.test.mjs
//
// Screenshots of the main views go to docs/ (SCREENSHOTS=0 to skip).

import { chromium } from 'playwright-core';
import { createHmac, randomUUID } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const BIN = process.env.CONSOLE_TEST_BIN || path.join(REPO, 'target/debug/ventana');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = process.env.SCREENSHOTS !== '0';
const APP_SECRET = 'console-test-app-secret';
const AGENT_TOKEN = 'console-test-agent-' + randomUUID();
const EDITOR_TOKEN = 'console-test-editor-' + randomUUID();
const PHONE_NUMBER_ID = '106540352242922';
const CUSTOMER = { waId: '5215512345678', name: 'María López' };
const STEP_TIMEOUT = 20_000;

const started = Date.now();
const log = (...args) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

// ------------------------------------------------------------ fake Graph API

/** Answers every POST like the Graph API's /messages edge and records it. */
function startFakeGraph() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      let json = null;
      try { json = JSON.parse(body); } catch { /* recorded as null */ }
      requests.push({ method: req.method, path: req.url, body: json });
      res.setHeader('content-type', 'application/json');
      if (req.method !== 'POST') { res.statusCode = 400; res.end('{}'); return; }
      if (json && json.status === 'read') { res.end(JSON.stringify({ success: true })); return; }
      const to = (json && json.to) || '';
      res.end(JSON.stringify({
        messaging_product: 'whatsapp',
        contacts: [{ input: to, wa_id: to }],
        messages: [{ id: 'wamid.' + randomUUID().replaceAll('-', '') }],
      }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, port: server.address().port })));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitFor(what, check, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for: ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ------------------------------------------------------------ ventana

function hashToken(token) {
  return execFileSync(BIN, ['token', 'hash', token], { encoding: 'utf8' }).trim();
}

async function startVentana(dir, graphPort) {
  const port = await freePort();
  cpSync(path.join(REPO, 'knowledge'), path.join(dir, 'knowledge'), { recursive: true });
  const config = `
listen = "127.0.0.1:${port}"
data_dir = ${JSON.stringify(path.join(dir, 'data'))}
knowledge_dir = ${JSON.stringify(path.join(dir, 'knowledge'))}
prompts_dir = ${JSON.stringify(path.join(REPO, 'prompts'))}

[meta]
access_token = "fake-wa-token"

[sender]
mark_read = false
backoff_base_ms = 20
backoff_max_ms = 200

[pipeline]
quiet_period_ms = 0

[[auth.tokens]]
name = "ana"
role = "agent"
sha256 = "${hashToken(AGENT_TOKEN)}"

[[auth.tokens]]
name = "eva"
role = "editor"
sha256 = "${hashToken(EDITOR_TOKEN)}"
`;
  const file = path.join(dir, 'ventana.toml');
  writeFileSync(file, config);
  const child = spawn(BIN, ['--config', file, 'serve'], {
    env: {
      ...process.env,
      VENTANA_META__APP_SECRET: APP_SECRET,
      VENTANA_META__GRAPH_API_BASE: `http://127.0.0.1:${graphPort}`,
      VENTANA_LOG_FORMAT: 'json',
      RUST_LOG: process.env.RUST_LOG || 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('ventana to answer /readyz', async () => {
    if (child.exitCode !== null) throw new Error('ventana exited with ' + child.exitCode);
    try { return (await fetch(base + '/readyz')).ok; } catch { return false; }
  }, 60_000);
  return { child, base };
}

/** POSTs a WhatsApp text message the way Meta does, signed with the app secret. */
async function postWhatsappText(base, text, customer = CUSTOMER) {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: '102290129340398',
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
          contacts: [{ profile: { name: customer.name }, wa_id: customer.waId }],
          messages: [{
            from: customer.waId, id: 'wamid.in.' + randomUUID(), timestamp: String(Math.floor(Date.now() / 1000)),
            type: 'text', text: { body: text },
          }],
        },
      }],
    }],
  });
  const signature = 'sha256=' + createHmac('sha256', APP_SECRET).update(body).digest('hex');
  const response = await fetch(base + '/webhooks/whatsapp', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body,
  });
  assert.equal(response.status, 200, 'the signed webhook is accepted');
}

// ------------------------------------------------------------ the test

async function signIn(page, token) {
  await page.getByLabel(/Token/).fill(token);
  await page.getByRole('button', { name: 'Entrar' }).click();
}

async function shot(page, name) {
  if (!SCREENSHOTS) return;
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(REPO, 'docs', `console-${name}.png`), fullPage: true });
}

async function shotOf(locator, name) {
  if (!SCREENSHOTS) return;
  await locator.screenshot({ path: path.join(REPO, 'docs', `console-${name}.png`) });
}

/** Editor-only API call from the test itself. */
async function apiGet(base, token, apiPath) {
  const response = await fetch(base + apiPath, { headers: { authorization: 'Bearer ' + token } });
  return { status: response.status, body: response.status === 200 ? await response.json() : null };
}

// Questions no article of the demo knowledge base answers: two ways of
// asking one thing, and another topic.
const UNANSWERED = [
  { text: '¿Puedo entrar con mi perro a la tienda?', customer: { waId: '5215512340001', name: 'Luis Pérez' } },
  { text: 'aceptan perros en sus tiendas?', customer: { waId: '5215512340002', name: 'Ana Ruiz' } },
  { text: '¿Tienen dónde dejar la bicicleta afuera de la tienda?', customer: { waId: '5215512340003', name: 'Eva Gil' } },
];

async function run() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ventana-console-'));
  const graph = await startFakeGraph();
  const { child, base } = await startVentana(dir, graph.port);
  log('ventana listening at', base);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'es-MX' });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/\b(401|403|409|422)\b/.test(m.text())) problems.push('console: ' + m.text()); });

    // --- agent: sign in, see the escalation arrive, claim, reply, resolve.
    await page.goto(base + '/console');
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
    await signIn(page, 'not-a-token');
    await page.getByText('Token no válido.').waitFor();
    await signIn(page, AGENT_TOKEN);
    await page.getByRole('heading', { name: 'Escalamientos' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Conocimiento' }).isVisible(), false, 'agents do not see the knowledge view');
    log('agent signed in');

    await postWhatsappText(base, 'quiero hablar con una persona');
    const row = page.locator('#queue-rows tr', { hasText: CUSTOMER.name });
    await row.waitFor();
    await page.locator('#queue-rows .countdown[data-until]').first().waitFor();
    assert.match(await row.innerText(), /quiero hablar con una persona/, 'the last message is shown');
    log('escalation appeared in the queue');
    await shot(page, 'queue');

    await row.getByRole('link', { name: CUSTOMER.name }).click();
    await page.locator('#thread').getByText('quiero hablar con una persona').first().waitFor();
    await page.getByRole('button', { name: 'Tomar' }).click();
    await page.locator('#conv-facts dd', { hasText: 'ana' }).waitFor();
    log('claimed');

    const reply = 'Hola María, soy Ana. Ya reviso tu caso.';
    await page.getByLabel('Respuesta al cliente').fill(reply);
    await page.getByRole('button', { name: 'Enviar' }).click();
    await waitFor('the reply to reach the fake Graph API', () =>
      graph.requests.find((r) => r.body && r.body.to === CUSTOMER.waId && r.body.text && r.body.text.body === reply));
    await page.locator('#thread .msg.agent', { hasText: reply }).waitFor();
    log('reply reached the fake Graph API');

    await page.getByLabel('Nota interna').fill('Cliente frecuente, revisar pedido 1234.');
    await page.getByRole('button', { name: 'Agregar nota' }).click();
    await page.locator('#thread .msg.note', { hasText: 'pedido 1234' }).waitFor();
    await shot(page, 'conversation');

    await page.getByRole('button', { name: 'Resolver' }).click();
    await page.locator('#conv-facts dd', { hasText: 'Resuelto' }).waitFor();
    log('resolved');

    // Phone width: the queue becomes cards; everything still reachable.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(base + '/console#/queue');
    await page.getByLabel('Estado').selectOption('resolved');
    await page.locator('#queue-rows tr', { hasText: CUSTOMER.name }).waitFor();
    await shot(page, 'queue-phone');
    await page.setViewportSize({ width: 1280, height: 900 });

    // English on demand.
    await page.getByLabel('Idioma').first().selectOption('en');
    await page.getByRole('heading', { name: 'Escalations' }).waitFor();
    await page.getByLabel('Language').first().selectOption('es');

    await page.getByRole('button', { name: 'Salir' }).click();
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('ventana.token')), null, 'sign out forgets the token');

    // Customers ask what no article answers: the bot hands them to a person.
    for (const { text, customer } of UNANSWERED) await postWhatsappText(base, text, customer);

    // --- editor: the preview's answer changes after an edit.
    await signIn(page, EDITOR_TOKEN);
    await page.getByRole('heading', { name: 'Base de conocimiento' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Cola' }).isVisible(), false, 'editors do not see the queue');
    log('editor signed in');

    // The unanswered questions, grouped: the two about pets together.
    const unanswered = page.locator('#kb-unanswered');
    await unanswered.getByRole('heading', { name: 'Preguntas sin respuesta' }).waitFor();
    const pets = unanswered.locator('.group', { hasText: /perro/ });
    await waitFor('the unanswered questions to be grouped', async () => {
      if (await unanswered.locator('.group').count() >= 2) return true;
      await unanswered.getByRole('button', { name: 'Actualizar' }).click();
      return false;
    });
    assert.equal(await pets.count(), 1, 'the paraphrases are one group');
    assert.match(await pets.innerText(), /2 mensajes/);
    await pets.getByText('Mensajes del grupo').click();
    for (const { text } of UNANSWERED.slice(0, 2)) await pets.getByText(text).waitFor();
    const bikes = unanswered.locator('.group', { hasText: 'bicicleta' });
    assert.match(await bikes.innerText(), /1 mensaje\b/, 'another topic is another group');
    log('unanswered questions grouped');

    // Nothing answers this yet: the bot would hand it to a person.
    const question = '¿Puedo apartar un producto?';
    await page.getByLabel('Pregunta de un cliente').fill(question);
    const decision = page.locator('#kb-decision .decision');
    await decision.waitFor();
    assert.match(await decision.innerText(), /No respondería/, 'no article answers before the edit');
    log('preview before:', await decision.innerText());

    await page.getByLabel('Buscar artículos').fill('tienda');
    await page.getByRole('link', { name: 'Recoger en tienda' }).click();
    await page.getByRole('heading', { name: /Recoger en tienda/ }).waitFor();

    // A front-matter problem is refused and shown.
    const body = page.getByLabel(/Contenido/);
    const original = await body.inputValue();
    await body.fill('   ');
    await page.getByRole('button', { name: 'Guardar' }).click();
    await page.locator('#kb-error', { hasText: /empty|vac/ }).waitFor();
    log('validation error shown');

    const questions = page.getByLabel('Preguntas (una por línea)');
    await questions.fill((await questions.inputValue()) + '\n' + question);
    await body.fill(original + '\n\n## Apartar un producto\n\nPuedes apartar un producto en cualquier tienda hasta por 48 horas con tu nombre y tu teléfono.\n');
    await page.getByRole('button', { name: 'Guardar' }).click();
    await page.getByText('Artículo guardado.').waitFor();
    // The same question now gets the new section as the answer.
    await page.locator('#kb-decision .decision', { hasText: 'Recoger en tienda' }).waitFor();
    await page.locator('#kb-decision .answer', { hasText: 'hasta por 48 horas' }).waitFor();
    log('preview after:', await decision.innerText());
    await shot(page, 'knowledge');
    await shotOf(unanswered, 'unanswered');

    // An article whose text says a person handles the operation lists it.
    assert.equal(await page.locator('#kb-handoff').isVisible(), false, 'nothing here goes to a person');
    await page.getByLabel('Buscar artículos').fill('producto-danado');
    await page.getByRole('link', { name: /producto dañado/ }).click();
    const handoff = page.locator('#kb-handoff');
    await handoff.getByRole('heading', { name: 'Secciones que pasan a una persona' }).waitFor();
    assert.match(await handoff.innerText(), /detectada en el texto/);
    assert.match(await handoff.innerText(), /lo revisa una persona de nuestro equipo/);
    log('handoff passages listed');

    // English on demand here too.
    await page.getByLabel('Idioma').first().selectOption('en');
    await unanswered.getByRole('heading', { name: 'Unanswered questions' }).waitFor();
    await pets.getByRole('button', { name: 'Start an article' }).waitFor();
    await page.getByLabel('Language').first().selectOption('es');
    await pets.getByRole('button', { name: 'Crear artículo' }).waitFor();

    // At phone width, from the keyboard: start an article from the group.
    await page.setViewportSize({ width: 390, height: 800 });
    const start = pets.getByRole('button', { name: 'Crear artículo' });
    await start.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Nuevo artículo' }).waitFor();
    assert.match(await page.getByLabel('Título').inputValue(), /perro/i, 'the title comes from the group');
    const drafted = await page.getByLabel('Preguntas (una por línea)').inputValue();
    for (const { text } of UNANSWERED.slice(0, 2)) assert.ok(drafted.includes(text), `${text} is a question of the draft`);
    assert.equal(await page.locator('#kb-lang').inputValue(), 'es');
    const newId = await page.getByLabel(/Identificador/).inputValue();
    assert.ok(newId, 'the draft proposes an id');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'kb-body', 'the answer is next to write');
    await page.keyboard.type('Sí: las mascotas con correa son bienvenidas en todas nuestras tiendas.');
    await page.getByRole('button', { name: 'Guardar' }).click();
    await page.getByText('Artículo guardado.').waitFor();
    const saved = await apiGet(base, EDITOR_TOKEN, '/api/kb/articles/' + newId);
    assert.equal(saved.status, 200, 'the article exists');
    assert.ok(saved.body.questions.includes(UNANSWERED[1].text), 'with the group\'s questions');
    await pets.locator('.answered').waitFor();
    log('article', newId, 'started from the unanswered questions');
    await page.setViewportSize({ width: 1280, height: 900 });

    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
    log('all console browser checks passed');
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    graph.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

run().catch((e) => {
  console.error(e);
  process.exit(1);
});
