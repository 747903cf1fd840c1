//! Escalation from the pipeline, with a controllable clock: queues, business
//! hours, deadlines tied to the window, the acknowledgement that says when a
//! person will answer, the out-of-hours notice, and a silent bot while a
//! person owns the conversation.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::America::Mexico_City;

use crate::helpers::{Db, Options, TestApp};
use crate::on_both_databases;
use crate::payloads::*;

/// Monday to Friday, 9:00 to 19:00, Mexico City.
const OFFICE_HOURS: &str = r#"
default_queue = "support"
[[queues]]
name = "support"
time_zone = "America/Mexico_City"
[queues.hours]
mon = ["09:00-19:00"]
tue = ["09:00-19:00"]
wed = ["09:00-19:00"]
thu = ["09:00-19:00"]
fri = ["09:00-19:00"]
"#;

fn mexico(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Mexico_City
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn spawn_at(db: Db, at: DateTime<Utc>) -> TestApp {
    let mut options = Options::new(db);
    options.start_at = Some(at);
    options.configure = Box::new(|c| {
        c.escalation = toml::from_str(OFFICE_HOURS).expect("escalation section");
        c.sender.mark_read = false;
    });
    TestApp::spawn_with(options).await
}

async fn texts_sent(app: &TestApp, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let texts: Vec<String> = app
            .graph
            .requests()
            .iter()
            .filter_map(|r| r.body["text"]["body"].as_str().map(str::to_owned))
            .collect();
        if texts.len() >= n {
            return texts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} texts, got {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// (priority, state, deadline_at ms, deadline_bound) of the only escalation.
async fn escalation(app: &TestApp) -> (String, String, i64, String) {
    sqlx::query_as("SELECT priority, state, deadline_at, deadline_bound FROM escalations")
        .fetch_one(app.state.store.pool())
        .await
        .expect("one escalation")
}

on_both_databases! {
    async fn an_urgent_message_at_2am_on_saturday_waits_for_monday_and_says_so(db: Db) {
        let saturday_2am = mexico(2026, 3, 7, 2, 0);
        let app = spawn_at(db, saturday_2am).await;
        let customer = "5215520000001";
        let body = whatsapp_text(customer, "wamid.sat", saturday_2am.timestamp(), "me acaban de cobrar dos veces la misma compra con mi tarjeta");
        assert_eq!(app.post_whatsapp(&body).await.status(), 200);
        let texts = texts_sent(&app, 2).await;
        let (priority, state, deadline_at, bound) = escalation(&app).await;
        assert_eq!((priority.as_str(), state.as_str(), bound.as_str()), ("high", "waiting", "sla"));
        // 15 business minutes from Monday 9:00.
        assert_eq!(deadline_at, mexico(2026, 3, 9, 9, 15).timestamp_millis());
        assert!(texts[0].contains("lunes"), "the acknowledgement says when: {}", texts[0]);
        // Nobody is on before the window closes on Sunday: the opening hours follow.
        assert!(texts[1].contains("9:00") && texts[1].contains("19:00"), "out-of-hours notice: {}", texts[1]);
        let owner = app.scalar_str("SELECT owner FROM conversations").await;
        assert_eq!(owner.as_deref(), Some("human"));
    }

    async fn a_case_whose_sla_ends_after_its_window_is_due_before_the_window_closes(db: Db) {
        // Friday 18:00: four business hours end on Monday 12:00, but the window
        // closes on Saturday 18:00; the last open moment before it (minus the
        // margin) is Friday 19:00.
        let friday_6pm = mexico(2026, 3, 6, 18, 0);
        let app = spawn_at(db, friday_6pm).await;
        let body = whatsapp_text("5215520000002", "wamid.fri", friday_6pm.timestamp(), "quiero hablar con una persona de atencion a clientes");
        assert_eq!(app.post_whatsapp(&body).await.status(), 200);
        texts_sent(&app, 1).await;
        let (priority, _, deadline_at, bound) = escalation(&app).await;
        assert_eq!((priority.as_str(), bound.as_str()), ("normal", "window"));
        assert_eq!(deadline_at, mexico(2026, 3, 6, 19, 0).timestamp_millis());
    }

    async fn the_bot_stays_silent_while_a_person_owns_the_conversation(db: Db) {
        let tuesday_10am = mexico(2026, 3, 10, 10, 0);
        let app = spawn_at(db, tuesday_10am).await;
        let customer = "5215520000003";
        let first = whatsapp_text(customer, "wamid.own1", tuesday_10am.timestamp(), "necesito hablar con un asesor humano");
        app.post_whatsapp(&first).await;
        let texts = texts_sent(&app, 1).await;
        assert!(texts[0].contains("15") || texts[0].contains("minutos") || texts[0].contains("antes"), "{}", texts[0]);
        app.clock.advance(chrono::Duration::minutes(5));
        let later = tuesday_10am + chrono::Duration::minutes(5);
        let second = whatsapp_text(customer, "wamid.own2", later.timestamp(), "hola? cuanto cuesta el envio?");
        assert_eq!(app.post_whatsapp(&second).await.status(), 200);
        app.eventually("the second message is recorded as a silent turn", Duration::from_secs(10), || async {
            app.scalar_i64("SELECT COUNT(*) FROM turns WHERE decision = 'silent'").await == Some(1)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(texts_sent(&app, 1).await.len(), 1, "no bot reply while a person owns it");
        let events = app.scalar_i64("SELECT COUNT(*) FROM escalation_events WHERE kind = 'customer_wrote'").await;
        assert_eq!(events, Some(1), "the customer's new message refreshed the case");
    }
}
