//! The agent API over HTTP with bearer tokens: the queue ordered by
//! deadline, claims (one winner when two agents race), replies inside and
//! outside the window on both channels (re-engagement template with the
//! text held until the customer answers; Messenger `HUMAN_AGENT` for 7
//! days), notes, waiting for the customer, hand-back and resolve, roles,
//! and the OpenAPI document. Time is a manual clock shared with the fake
//! Graph API, which enforces the windows.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use ventana::config::Role;

use crate::helpers::{Db, Options, TestApp, api_tokens};
use crate::on_both_databases;
use crate::payloads::*;

const WAIT: Duration = Duration::from_secs(15);
const ANA: &str = "tok-ana";
const LUIS: &str = "tok-luis";
const EVA: &str = "tok-eva-editor";
const ROOT: &str = "tok-root";

/// The default 24/7 queue and one re-engagement template.
const ESCALATION: &str = r#"
default_queue = "support"
[[templates]]
name = "retomar_caso"
language = "es_MX"
category = "utility"
purpose = "reengagement"
body_params = ["customer_name"]
"#;

const ASK_FOR_A_PERSON: &str = "quiero hablar con una persona";
const URGENT: &str = "me acaban de cobrar dos veces la misma compra con mi tarjeta";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 15, 0, 0).unwrap()
}

async fn spawn(db: Db) -> TestApp {
    let mut options = Options::new(db);
    options.start_at = Some(start());
    options.configure = Box::new(|c| {
        c.escalation = toml::from_str(ESCALATION).expect("escalation section");
        c.sender.mark_read = false;
        c.auth.tokens = api_tokens(&[
            ("ana", Role::Agent, ANA),
            ("luis", Role::Agent, LUIS),
            ("eva", Role::Editor, EVA),
            ("root", Role::Admin, ROOT),
        ]);
    });
    let app = TestApp::spawn_with(options).await;
    app.graph.set_now(start());
    app
}

/// Moves the app's and the fake Graph API's clocks together.
fn advance(app: &TestApp, by: chrono::Duration) {
    app.clock.advance(by);
    app.graph.set_now(app.clock.now());
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits for the open escalation of the customer's conversation.
async fn open_escalation_of(app: &TestApp, customer: &str) -> i64 {
    let sql = format!(
        "SELECT MAX(e.id) FROM escalations e JOIN conversations c ON c.id = e.conversation_id \
         WHERE c.customer_id = '{customer}' AND e.state <> 'resolved'"
    );
    app.eventually("an open escalation", WAIT, || async {
        app.scalar_i64(&sql).await.is_some()
    })
    .await;
    app.scalar_i64(&sql).await.expect("an escalation")
}

/// The customer writes on WhatsApp now.
async fn whatsapp_says(app: &TestApp, customer: &str, wamid: &str, text: &str) {
    let now = app.clock.now();
    app.graph.customer_wrote(PHONE_NUMBER_ID, customer, now);
    assert_eq!(
        app.post_whatsapp(&whatsapp_text(customer, wamid, now.timestamp(), text))
            .await
            .status(),
        200
    );
}

async fn messenger_says(app: &TestApp, psid: &str, mid: &str, text: &str) {
    let now = app.clock.now();
    app.graph.customer_wrote(PAGE_ID, psid, now);
    assert_eq!(
        app.post_messenger(&messenger_text(psid, mid, now.timestamp_millis(), text))
            .await
            .status(),
        200
    );
}

/// A WhatsApp customer asks for a person; returns the escalation id once
/// the acknowledgement went out.
async fn escalate_whatsapp(app: &TestApp, customer: &str, wamid: &str, text: &str) -> i64 {
    let before = sends_to(app, customer).len();
    whatsapp_says(app, customer, wamid, text).await;
    let id = open_escalation_of(app, customer).await;
    wait_for_sends(app, customer, before + 1).await;
    id
}

async fn escalate_messenger(app: &TestApp, psid: &str, mid: &str) -> i64 {
    let before = sends_to(app, psid).len();
    messenger_says(app, psid, mid, ASK_FOR_A_PERSON).await;
    let id = open_escalation_of(app, psid).await;
    wait_for_sends(app, psid, before + 1).await;
    id
}

/// Accepted sends to one customer (WhatsApp `to` or Messenger recipient).
fn sends_to(app: &TestApp, customer: &str) -> Vec<Value> {
    app.graph
        .sent_messages()
        .into_iter()
        .filter(|r| r.body["to"] == customer || r.body["recipient"]["id"] == customer)
        .map(|r| r.body)
        .collect()
}

async fn wait_for_sends(app: &TestApp, customer: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sent = sends_to(app, customer);
        if sent.len() >= n {
            return sent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} sends to {customer}, got {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text_of(body: &Value) -> Option<&str> {
    body["text"]["body"]
        .as_str()
        .or_else(|| body["message"]["text"].as_str())
}

async fn outbox_states(app: &TestApp, escalation_id: i64) -> Vec<(String, String, String)> {
    sqlx::query_as(&format!(
        "SELECT o.purpose, o.kind, o.state FROM outbox o JOIN escalations e ON e.conversation_id = o.conversation_id \
         WHERE e.id = {escalation_id} AND o.purpose IN ('agent', 'reengagement') ORDER BY o.id"
    ))
    .fetch_all(app.state.store.pool())
    .await
    .expect("outbox rows")
}

on_both_databases! {
    async fn the_queue_lists_open_escalations_by_deadline_with_window_times(db: Db) {
        let app = spawn(db).await;
        let normal = escalate_whatsapp(&app, "5215530000001", "wamid.n1", ASK_FOR_A_PERSON).await;
        advance(&app, chrono::Duration::minutes(1));
        let urgent = escalate_whatsapp(&app, "5215530000002", "wamid.u1", URGENT).await;
        let (status, list) = get(&app, ANA, "/api/escalations").await;
        assert_eq!(status, 200, "{list}");
        let ids: Vec<i64> = list.as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, [urgent, normal], "soonest deadline first");
        let first = &list[0];
        assert_eq!(first["priority"], "high");
        assert_eq!(first["state"], "waiting");
        assert_eq!(first["queue"], "support");
        assert_eq!(first["channel"], "whatsapp");
        assert_eq!(first["customer_name"], "Cliente Prueba");
        assert_eq!(first["last_message_preview"], URGENT);
        assert_eq!(first["time_left_seconds"], 15 * 60, "the urgent SLA");
        let closes: DateTime<Utc> = first["window_closes_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(closes, app.clock.now() + chrono::Duration::hours(24));
        assert_eq!(first["window_time_left_seconds"], 24 * 3600);
        assert_eq!(list[1]["window_time_left_seconds"], 24 * 3600 - 60);

        let (_, only_queue) = get(&app, ANA, "/api/escalations?queue=support&state=waiting").await;
        assert_eq!(only_queue.as_array().unwrap().len(), 2);
        let (_, other_queue) = get(&app, ANA, "/api/escalations?queue=billing").await;
        assert_eq!(other_queue, json!([]));
        let (_, assigned) = get(&app, ANA, "/api/escalations?state=assigned").await;
        assert_eq!(assigned, json!([]));
        let (status, _) = get(&app, ANA, "/api/escalations?state=sleeping").await;
        assert_eq!(status, 400);

        let (status, one) = get(&app, ANA, &format!("/api/escalations/{urgent}")).await;
        assert_eq!(status, 200);
        assert_eq!(one["events"][0]["kind"], "created");
        let (status, _) = get(&app, ANA, "/api/escalations/999999").await;
        assert_eq!(status, 404);
    }

    async fn a_claim_takes_the_escalation_and_of_two_racing_claims_exactly_one_wins(db: Db) {
        let app = spawn(db).await;
        let id = escalate_whatsapp(&app, "5215530000003", "wamid.c1", ASK_FOR_A_PERSON).await;
        let path = format!("/api/escalations/{id}/claim");
        let (a, b) = tokio::join!(post(&app, ANA, &path, json!({})), post(&app, LUIS, &path, json!({})));
        let mut statuses = [a.0.as_u16(), b.0.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
        let (winner, loser) = if a.0 == 200 { (ANA, LUIS) } else { (LUIS, ANA) };
        let winner_name = if winner == ANA { "ana" } else { "luis" };
        let lost = if a.0 == 200 { &b.1 } else { &a.1 };
        assert_eq!(lost["details"]["assigned_to"], winner_name);
        // Claiming again: the holder changes nothing, the other is refused.
        let (status, row) = post(&app, winner, &path, json!({})).await;
        assert_eq!((status.as_u16(), row["assigned_to"].as_str()), (200, Some(winner_name)));
        assert_eq!(post(&app, loser, &path, json!({})).await.0, 409);
        let claims = app.scalar_i64(&format!("SELECT COUNT(*) FROM escalation_events WHERE escalation_id = {id} AND kind = 'claimed'")).await;
        assert_eq!(claims, Some(1));
        let (_, row) = get(&app, ANA, &format!("/api/escalations/{id}")).await;
        assert_eq!(row["state"], "assigned");
        // The loser may not reply on it either; an admin may.
        assert_eq!(post(&app, loser, &format!("/api/escalations/{id}/reply"), json!({"text": "hola"})).await.0, 409);
        assert_eq!(post(&app, ROOT, &format!("/api/escalations/{id}/reassign"), json!({"agent": "ana"})).await.0, 200);
        let (_, row) = get(&app, ANA, &format!("/api/escalations/{id}")).await;
        assert_eq!(row["assigned_to"], "ana");
        assert_eq!(post(&app, ANA, &format!("/api/escalations/{id}/reassign"), json!({"agent": "nadie"})).await.0, 422);
    }

    async fn a_reply_inside_the_window_reaches_the_customer_and_records_the_first_response(db: Db) {
        let app = spawn(db).await;
        let customer = "5215530000004";
        let id = escalate_whatsapp(&app, customer, "wamid.r1", ASK_FOR_A_PERSON).await;
        advance(&app, chrono::Duration::minutes(5));
        let (status, answer) = post(&app, ANA, &format!("/api/escalations/{id}/reply"), json!({"text": "Hola, soy Ana. ¿En qué te ayudo?"})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["delivery"], "free_form");
        // Unclaimed: the first reply takes it.
        assert_eq!(answer["escalation"]["assigned_to"], "ana");
        assert_eq!(answer["escalation"]["state"], "assigned");
        let first: DateTime<Utc> = answer["escalation"]["first_response_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(first, app.clock.now());
        let sent = wait_for_sends(&app, customer, 2).await;
        assert_eq!(text_of(sent.last().unwrap()), Some("Hola, soy Ana. ¿En qué te ayudo?"));
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("ventana_first_response_seconds"), "{metrics}");
        assert!(metrics.contains("ventana_sla_met_total{queue=\"support\"}"), "{metrics}");
        // The thread shows the customer's message, the triage, the acknowledgement and the reply.
        let conversation_id = answer["escalation"]["conversation_id"].as_i64().unwrap();
        let (status, view) = get(&app, ANA, &format!("/api/conversations/{conversation_id}")).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["owner"], "human");
        assert_eq!(view["window"]["state"], "open");
        let kinds: Vec<&str> = view["thread"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert!(kinds.starts_with(&["message", "turn"]), "{kinds:?}");
        let turn = view["thread"].as_array().unwrap().iter().find(|e| e["type"] == "turn").unwrap();
        assert_eq!(turn["escalate"], true);
        assert!(turn["class"].is_string());
        let agent_reply = view["thread"].as_array().unwrap().iter().find(|e| e["purpose"] == "agent").unwrap();
        assert_eq!(agent_reply["body"]["text"], "Hola, soy Ana. ¿En qué te ayudo?");
        assert!(view["sources"].is_array());
    }

    async fn a_reply_with_an_idempotency_key_is_sent_once_however_often_it_is_posted(db: Db) {
        let app = spawn(db).await;
        let customer = "5215530000014";
        let id = escalate_whatsapp(&app, customer, "wamid.idem1", ASK_FOR_A_PERSON).await;
        let path = format!("/api/escalations/{id}/reply");
        let send = |key: &'static str, text: &'static str| {
            let request = app
                .client
                .post(format!("{}{path}", app.address))
                .bearer_auth(ANA)
                .header("idempotency-key", key)
                .json(&json!({"text": text}));
            async move {
                let response = request.send().await.expect("request sent");
                let replayed = response.headers().get("idempotent-replayed").is_some();
                (response.status().as_u16(), replayed, response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        // Two at once, and a third a moment later: one message.
        let (a, b) = tokio::join!(send("k-1", "Te ayudo con eso"), send("k-1", "Te ayudo con eso"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = send("k-1", "Te ayudo con eso").await;
        for (status, _, body) in [&a, &b, &c] {
            assert_eq!(*status, 200, "{body}");
        }
        assert_eq!([a.1, b.1, c.1].iter().filter(|r| **r).count(), 2, "two are replays");
        assert_eq!(a.2["outbox_id"], c.2["outbox_id"], "the replay is the first result");
        let sent = wait_for_sends(&app, customer, 2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let agent_messages = app.graph.sent_messages().into_iter()
            .filter(|r| r.body["to"] == customer && text_of(&r.body) == Some("Te ayudo con eso"))
            .count();
        assert_eq!(agent_messages, 1, "{sent:?}");
        // The same key for another text is refused; a new key sends again.
        assert_eq!(send("k-1", "otra cosa").await.0, 422);
        assert_eq!(send("k-2", "otra cosa").await.0, 200);
        // Without a key nothing is deduplicated (two deliberate replies).
        assert_eq!(post(&app, ANA, &path, json!({"text": "sin clave"})).await.0, 200);
    }

    async fn a_messenger_reply_inside_the_window_is_a_response(db: Db) {
        let app = spawn(db).await;
        let id = escalate_messenger(&app, "psid-agent-1", "m_a1").await;
        let (status, _) = post(&app, ANA, &format!("/api/escalations/{id}/reply"), json!({"text": "Hola"})).await;
        assert_eq!(status, 200);
        let sent = wait_for_sends(&app, "psid-agent-1", 2).await;
        assert_eq!(sent.last().unwrap()["messaging_type"], "RESPONSE");
        assert_eq!(text_of(sent.last().unwrap()), Some("Hola"));
    }

    async fn after_the_whatsapp_window_a_reply_needs_a_template_and_its_text_waits_for_the_customer(db: Db) {
        let app = spawn(db).await;
        let customer = "5215530000005";
        let id = escalate_whatsapp(&app, customer, "wamid.w1", ASK_FOR_A_PERSON).await;
        advance(&app, chrono::Duration::hours(25));
        let path = format!("/api/escalations/{id}/reply");
        let (status, refused) = post(&app, ANA, &path, json!({"text": "Perdona la demora, ya lo revisé"})).await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["details"]["reason"], "template_required");
        assert_eq!(refused["details"]["templates"][0]["name"], "retomar_caso");
        assert_eq!(refused["details"]["templates"][0]["body_params"], json!(["customer_name"]));
        // A template that is not configured, or missing its parameter: 422.
        let wrong = json!({"text": "x", "template": {"name": "otro", "language": "es_MX"}});
        assert_eq!(post(&app, ANA, &path, wrong).await.0, 422);
        let missing = json!({"text": "x", "template": {"name": "retomar_caso", "language": "es_MX"}});
        assert_eq!(post(&app, ANA, &path, missing).await.0, 422);
        assert_eq!(sends_to(&app, customer).len(), 1, "nothing went out");

        let with_template = json!({
            "text": "Perdona la demora, ya lo revisé",
            "template": {"name": "retomar_caso", "language": "es_MX", "params": {"customer_name": "Cliente"}}
        });
        let (status, answer) = post(&app, ANA, &path, with_template).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["delivery"], "reengagement_template");
        assert_eq!(answer["category"], "utility");
        let sent = wait_for_sends(&app, customer, 2).await;
        let template = sent.last().unwrap();
        assert_eq!(template["type"], "template");
        assert_eq!(template["template"]["name"], "retomar_caso");
        // A second reply waits with the first; no second template.
        let (status, answer) = post(&app, ANA, &path, json!({"text": "¿Sigues ahí?"})).await;
        assert_eq!((status.as_u16(), answer["delivery"].as_str()), (200, Some("held")));
        assert_eq!(
            outbox_states(&app, id).await,
            [
                ("reengagement".into(), "template".into(), "sent".into()),
                ("agent".into(), "text".into(), "held".into()),
                ("agent".into(), "text".into(), "held".into()),
            ]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(sends_to(&app, customer).len(), 2, "held texts stay held");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("ventana_templates_sent_total{category=\"utility\"}"), "{metrics}");

        // The customer answers the template: the held texts go out, in order.
        advance(&app, chrono::Duration::minutes(10));
        whatsapp_says(&app, customer, "wamid.w2", "si, aqui estoy").await;
        let sent = wait_for_sends(&app, customer, 4).await;
        let texts: Vec<_> = sent[2..].iter().map(|b| text_of(b).unwrap_or_default().to_owned()).collect();
        assert_eq!(texts, ["Perdona la demora, ya lo revisé", "¿Sigues ahí?"]);
    }

    async fn on_messenger_a_late_reply_is_tagged_human_agent_for_seven_days_then_refused(db: Db) {
        let app = spawn(db).await;
        let psid = "psid-agent-2";
        let id = escalate_messenger(&app, psid, "m_b1").await;
        let path = format!("/api/escalations/{id}/reply");
        advance(&app, chrono::Duration::days(2));
        let (status, answer) = post(&app, ANA, &path, json!({"text": "Hola, sigo con tu caso"})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["delivery"], "human_agent_tag");
        let sent = wait_for_sends(&app, psid, 2).await;
        let tagged = sent.last().unwrap();
        assert_eq!((tagged["messaging_type"].as_str(), tagged["tag"].as_str()), (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")));
        assert_eq!(text_of(tagged), Some("Hola, sigo con tu caso"));
        advance(&app, chrono::Duration::days(6));
        let (status, refused) = post(&app, ANA, &path, json!({"text": "¿Hola?"})).await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["details"]["reason"], "human_agent_window_expired");
        assert_eq!(sends_to(&app, psid).len(), 2);
    }

    async fn notes_and_waiting_for_the_customer_are_recorded(db: Db) {
        let app = spawn(db).await;
        let id = escalate_whatsapp(&app, "5215530000006", "wamid.n6", ASK_FOR_A_PERSON).await;
        let (status, _) = post(&app, ANA, &format!("/api/escalations/{id}/note"), json!({"text": "Cliente VIP, revisar pedido 123"})).await;
        assert_eq!(status, 200);
        assert_eq!(post(&app, ANA, &format!("/api/escalations/{id}/note"), json!({"text": " "})).await.0, 422);
        let (_, detail) = get(&app, ANA, &format!("/api/escalations/{id}")).await;
        let note = detail["events"].as_array().unwrap().iter().find(|e| e["kind"] == "note").expect("a note event");
        assert_eq!((note["actor"].as_str(), note["detail"]["text"].as_str()), (Some("ana"), Some("Cliente VIP, revisar pedido 123")));
        let (status, waiting) = post(&app, ANA, &format!("/api/escalations/{id}/waiting-for-customer"), json!({})).await;
        assert_eq!(status, 200, "{waiting}");
        assert_eq!(waiting["escalation"]["state"], "waiting_customer");
        assert_eq!(waiting["escalation"]["assigned_to"], "ana");
        let due: DateTime<Utc> = waiting["followup_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(due, app.clock.now() + chrono::Duration::hours(24));
        let timer = app.scalar_i64(&format!("SELECT due_at FROM timers WHERE escalation_id = {id} AND kind = 'followup' AND state = 'pending'")).await;
        assert_eq!(timer, Some(due.timestamp_millis()));
        // The note is in the conversation's thread; nothing was sent for it.
        let conversation_id = waiting["escalation"]["conversation_id"].as_i64().unwrap();
        let (_, view) = get(&app, ANA, &format!("/api/conversations/{conversation_id}")).await;
        assert!(view["thread"].as_array().unwrap().iter().any(|e| e["type"] == "event" && e["kind"] == "note"));
        assert_eq!(sends_to(&app, "5215530000006").len(), 1);
    }

    async fn after_a_hand_back_the_bot_answers_again(db: Db) {
        let app = spawn(db).await;
        let customer = "5215530000007";
        let id = escalate_whatsapp(&app, customer, "wamid.h1", ASK_FOR_A_PERSON).await;
        assert_eq!(post(&app, ANA, &format!("/api/escalations/{id}/claim"), json!({})).await.0, 200);
        let (status, row) = post(&app, ANA, &format!("/api/escalations/{id}/hand-back"), json!({})).await;
        assert_eq!(status, 200, "{row}");
        assert_eq!(row["state"], "resolved");
        let (_, detail) = get(&app, ANA, &format!("/api/escalations/{id}")).await;
        assert!(detail["events"].as_array().unwrap().iter().any(|e| e["kind"] == "handed_back"));
        let (_, view) = get(&app, ANA, &format!("/api/conversations/{}", row["conversation_id"])).await;
        assert_eq!(view["owner"], "bot");
        // Acting on it again is refused.
        assert_eq!(post(&app, ANA, &format!("/api/escalations/{id}/resolve"), json!({})).await.0, 409);
        advance(&app, chrono::Duration::minutes(2));
        whatsapp_says(&app, customer, "wamid.h2", "cuanto me cobran por mandar mi pedido y en cuantos dias llega?").await;
        let sent = wait_for_sends(&app, customer, 2).await;
        assert!(text_of(sent.last().unwrap()).is_some_and(|t| !t.is_empty()));
        let decision = app.scalar_str("SELECT decision FROM turns ORDER BY id DESC LIMIT 1").await;
        assert_eq!(decision.as_deref(), Some("answer"));
    }

    async fn after_resolving_the_next_message_starts_a_fresh_triage(db: Db) {
        let app = spawn(db).await;
        let customer = "5215530000008";
        let first = escalate_whatsapp(&app, customer, "wamid.s1", ASK_FOR_A_PERSON).await;
        assert_eq!(post(&app, LUIS, &format!("/api/escalations/{first}/reply"), json!({"text": "Listo, quedó resuelto"})).await.0, 200);
        let (status, row) = post(&app, LUIS, &format!("/api/escalations/{first}/resolve"), json!({})).await;
        assert_eq!((status.as_u16(), row["state"].as_str()), (200, Some("resolved")));
        assert!(row["resolved_at"].is_string());
        advance(&app, chrono::Duration::minutes(30));
        let second = escalate_whatsapp(&app, customer, "wamid.s2", URGENT).await;
        assert_ne!(first, second);
        let (_, list) = get(&app, ANA, "/api/escalations").await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!((list[0]["id"].as_i64(), list[0]["state"].as_str(), list[0]["priority"].as_str()), (Some(second), Some("waiting"), Some("high")));
        let (_, all) = get(&app, ANA, "/api/escalations?include_resolved=true").await;
        assert_eq!(all.as_array().unwrap().len(), 2);
    }

    async fn tokens_and_roles_are_checked(db: Db) {
        let app = spawn(db).await;
        let id = escalate_whatsapp(&app, "5215530000009", "wamid.a1", ASK_FOR_A_PERSON).await;
        for (method, path) in ventana::http::agent::ROUTES {
            let path = path.replace("{id}", &id.to_string());
            if path == "/api/openapi.json" {
                continue;
            }
            let request = |token: Option<&str>| {
                let url = format!("{}{path}", app.address);
                let builder = if *method == "get" { app.client.get(url) } else { app.client.post(url).json(&json!({"text": "x", "agent": "ana"})) };
                match token {
                    Some(token) => builder.bearer_auth(token),
                    None => builder,
                }
            };
            assert_eq!(request(None).send().await.unwrap().status(), 401, "{method} {path} without a token");
            assert_eq!(request(Some("not-a-token")).send().await.unwrap().status(), 401, "{method} {path} with a bad token");
            assert_eq!(request(Some(EVA)).send().await.unwrap().status(), 403, "{method} {path} as an editor");
        }
        assert_eq!(get(&app, ROOT, "/api/escalations").await.0, 200);
        // Nothing changed.
        let (_, row) = get(&app, ANA, &format!("/api/escalations/{id}")).await;
        assert_eq!((row["state"].as_str(), row["assigned_to"].as_str()), (Some("waiting"), None));
    }
}

on_both_databases! {
    async fn handled_messages_are_exported_as_labelled_cases_for_retraining(db: Db) {
        let app = spawn(db).await;
        // The bot answers a question, then an agent has to step in.
        let corrected = "5215530000020";
        let question = "cuanto me cobran por mandar mi pedido y en cuantos dias llega?";
        whatsapp_says(&app, corrected, "wamid.x1", question).await;
        wait_for_sends(&app, corrected, 1).await;
        let answered = app.scalar_str("SELECT decision FROM turns ORDER BY id DESC LIMIT 1").await;
        assert_eq!(answered.as_deref(), Some("answer"), "the bot answered the question");
        advance(&app, chrono::Duration::minutes(2));
        let handled = escalate_whatsapp(&app, corrected, "wamid.x2", ASK_FOR_A_PERSON).await;
        assert_eq!(post(&app, ANA, &format!("/api/escalations/{handled}/reply"), json!({"text": "Hola, te ayudo yo"})).await.0, 200);
        assert_eq!(post(&app, ANA, &format!("/api/escalations/{handled}/resolve"), json!({})).await.0, 200);
        // An urgent case, resolved; and one still open, which labels nothing yet.
        let urgent = escalate_whatsapp(&app, "5215530000021", "wamid.x3", URGENT).await;
        assert_eq!(post(&app, LUIS, &format!("/api/escalations/{urgent}/reply"), json!({"text": "Ya bloqueamos el cargo"})).await.0, 200);
        assert_eq!(post(&app, LUIS, &format!("/api/escalations/{urgent}/resolve"), json!({})).await.0, 200);
        escalate_whatsapp(&app, "5215530000022", "wamid.x4", "necesito que alguien me llame hoy").await;

        let store = ventana::store::Store::connect(&app.database_url).await.expect("store");
        let labelled = store.labelled_turns().await.expect("labelled turns");
        let cases: Vec<Value> = labelled.iter().map(ventana::cli::cases::case_json).collect();
        let label_of = |text: &str| {
            cases
                .iter()
                .find(|c| c["text"] == text)
                .map(|c| c["expect"]["triage"].as_str().unwrap_or("").to_owned())
        };
        assert_eq!(label_of(question).as_deref(), Some("human"), "{cases:#?}");
        assert_eq!(label_of(ASK_FOR_A_PERSON).as_deref(), Some("human"), "{cases:#?}");
        assert_eq!(label_of(URGENT).as_deref(), Some("urgent"), "{cases:#?}");
        assert_eq!(label_of("necesito que alguien me llame hoy"), None, "an open case is not labelled yet");
        assert_eq!(cases.len(), 3, "{cases:#?}");
        for case in &cases {
            assert_eq!(case["business"], PHONE_NUMBER_ID);
            assert_eq!(case["channel"], "whatsapp");
            assert!(case["id"].as_str().unwrap().starts_with("turn-"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let app = spawn(Db::Sqlite).await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let spec: Value = response.json().await.expect("valid JSON");
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let routes = ventana::http::agent::ROUTES
        .iter()
        .chain(ventana::http::kb::DOCUMENTED_ROUTES);
    for (method, path) in routes.clone() {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    let documented: usize = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        routes.count(),
        "the document lists routes the API does not serve"
    );
    // Every schema reference resolves.
    let text = spec.to_string();
    for name in text
        .split("#/components/schemas/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
    {
        assert!(
            spec["components"]["schemas"][name].is_object(),
            "missing schema {name}"
        );
    }
}
