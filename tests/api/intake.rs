//! Webhook intake: handshake, signature, parsing errors, durable and
//! deduplicated storage, conversations and windows.

use serde_json::json;

use crate::helpers::{APP_SECRET, Options, TestApp, VERIFY_TOKEN};
use crate::on_both_databases;
use crate::payloads::*;

on_both_databases! {
    async fn verification_handshake_echoes_the_challenge_only_with_the_right_token(db: Db) {
        let app = TestApp::spawn(db).await;
        for path in ["/webhooks/whatsapp", "/webhooks/messenger"] {
            let ok = app.get(&format!("{path}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}")).await;
            assert_eq!(ok.status(), 200);
            assert_eq!(ok.text().await.unwrap(), "1158201444");
            let wrong = app.get(&format!("{path}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=nope")).await;
            assert_eq!(wrong.status(), 403);
            let missing = app.get(path).await;
            assert_eq!(missing.status(), 403);
        }
    }

    async fn a_signed_text_message_is_stored_with_its_conversation(db: Db) {
        let app = TestApp::spawn(db).await;
        let sent = now_secs();
        let response = app.post_whatsapp(&whatsapp_text("5215512345678", "wamid.A1", sent, "hola")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(app.count("messages").await, 1);
        assert_eq!(app.count("webhook_deliveries").await, 1);
        let conversation = app
            .state
            .store
            .find_conversation(ventana::channels::model::Channel::Whatsapp, PHONE_NUMBER_ID, "5215512345678")
            .await
            .unwrap()
            .expect("conversation created");
        assert_eq!(conversation.customer_name.as_deref(), Some("Cliente Prueba"));
        assert_eq!(conversation.last_customer_message_at.unwrap().timestamp(), sent);
        assert!(conversation.window(chrono::Utc::now()).is_open());
        let body = app.scalar_str("SELECT body FROM messages").await;
        assert_eq!(body.as_deref(), Some("hola"));
    }

    async fn wrong_or_missing_signatures_get_401_and_store_nothing(db: Db) {
        let app = TestApp::spawn(db).await;
        let body = whatsapp_text("5215512345678", "wamid.B1", now_secs(), "hola").to_string();
        let forged = ventana::channels::signature::sign(b"another-secret", body.as_bytes());
        for signature in [Some(forged.as_str()), None, Some("sha256=zz"), Some("sha1=abc")] {
            let mut request = app.client.post(format!("{}/webhooks/whatsapp", app.address)).body(body.clone());
            if let Some(s) = signature {
                request = request.header("x-hub-signature-256", s);
            }
            assert_eq!(request.send().await.unwrap().status(), 401, "signature {signature:?}");
        }
        // A body altered after signing fails too (the check is on raw bytes).
        let signed = ventana::channels::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
        let tampered = body.replace("hola", "HOLA");
        let response = app
            .client
            .post(format!("{}/webhooks/whatsapp", app.address))
            .header("x-hub-signature-256", signed)
            .body(tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(app.count("messages").await, 0);
        assert_eq!(app.count("webhook_deliveries").await, 0);
    }

    async fn malformed_and_foreign_bodies_get_400(db: Db) {
        let app = TestApp::spawn(db).await;
        assert_eq!(app.post_signed("/webhooks/whatsapp", b"{not json").await.status(), 400);
        assert_eq!(app.post_signed("/webhooks/whatsapp", b"[1,2,3]").await.status(), 400);
        assert_eq!(app.post_signed("/webhooks/whatsapp", br#"{"hello":"world"}"#).await.status(), 400);
        // A Messenger body on the WhatsApp endpoint is not a WhatsApp webhook.
        let messenger = messenger_text("PSID1", "m_1", 1_700_000_000_000, "hola").to_string();
        assert_eq!(app.post_signed("/webhooks/whatsapp", messenger.as_bytes()).await.status(), 400);
        assert_eq!(app.count("webhook_deliveries").await, 0);
    }

    async fn oversized_bodies_get_413(db: Db) {
        let app = TestApp::spawn(db).await;
        let big = format!("{{\"object\":\"page\",\"entry\":[],\"pad\":\"{}\"}}", "x".repeat(4 * 1024 * 1024 + 10));
        let response = app.post_signed("/webhooks/messenger", big.as_bytes()).await;
        assert_eq!(response.status(), 413);
        assert_eq!(app.count("webhook_deliveries").await, 0);
    }

    async fn redeliveries_are_acknowledged_and_change_nothing(db: Db) {
        let app = TestApp::spawn(db).await;
        let payload = whatsapp_text("5215512345678", "wamid.C1", now_secs(), "hola");
        for _ in 0..3 {
            assert_eq!(app.post_whatsapp(&payload).await.status(), 200);
        }
        assert_eq!(app.count("messages").await, 1);
        assert_eq!(app.count("webhook_deliveries").await, 1);
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("ventana_webhook_duplicates_total"), "{metrics}");
    }

    async fn a_redelivery_storm_stores_each_message_once(db: Db) {
        let app = TestApp::spawn(db).await;
        let base = now_secs();
        let payloads: Vec<_> = (0..20)
            .map(|i| whatsapp_text(&format!("52155000000{i:02}"), &format!("wamid.S{i}"), base, "hola"))
            .collect();
        let mut requests = Vec::new();
        for round in 0..5 {
            for p in &payloads {
                let app = &app;
                let p = p.clone();
                requests.push(async move { (round, app.post_whatsapp(&p).await.status()) });
            }
        }
        for (_, status) in futures::future::join_all(requests).await {
            assert_eq!(status, 200);
        }
        assert_eq!(app.count("messages").await, 20);
        assert_eq!(app.count("conversations").await, 20);
    }

    async fn batches_store_every_entry_change_message_and_status(db: Db) {
        let app = TestApp::spawn(db).await;
        let t = now_secs();
        let mut body = whatsapp_messages(
            "5215511111111",
            "Ana",
            vec![wa_text("5215511111111", "wamid.D1", t, "uno"), wa_text("5215511111111", "wamid.D2", t + 1, "dos")],
        );
        let second_change = json!({
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Beto"}, "wa_id": "5215522222222"}],
                "messages": [wa_text("5215522222222", "wamid.D3", t, "tres")],
                "statuses": [wa_status("wamid.OUT1", "delivered", t, "5215522222222")]
            }
        });
        body["entry"][0]["changes"].as_array_mut().unwrap().push(second_change);
        let second_entry = whatsapp_statuses(vec![
            wa_status("wamid.OUT2", "sent", t, "5215511111111"),
            wa_status("wamid.OUT2", "read", t + 5, "5215511111111"),
        ])["entry"][0]
            .clone();
        body["entry"].as_array_mut().unwrap().push(second_entry);
        assert_eq!(app.post_whatsapp(&body).await.status(), 200);
        assert_eq!(app.count("messages").await, 3);
        assert_eq!(app.count("statuses").await, 3);
        assert_eq!(app.count("conversations").await, 2);
    }

    async fn unknown_event_kinds_are_stored_and_acknowledged(db: Db) {
        let app = TestApp::spawn(db).await;
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]}]
        });
        assert_eq!(app.post_whatsapp(&body).await.status(), 200);
        assert_eq!(app.post_whatsapp(&body).await.status(), 200);
        assert_eq!(app.count("unknown_events").await, 1);
        let raw = app.scalar_str("SELECT raw FROM unknown_events").await.unwrap();
        assert!(raw.contains("VERIFIED_ACCOUNT"));
        // An unknown message type is a message, kept with its raw JSON.
        let odd = whatsapp_messages(
            "5215533333333",
            "Eva",
            vec![json!({"from": "5215533333333", "id": "wamid.E1", "timestamp": now_secs().to_string(), "type": "hologram", "hologram": {"x": 1}})],
        );
        assert_eq!(app.post_whatsapp(&odd).await.status(), 200);
        assert_eq!(app.scalar_str("SELECT kind FROM messages WHERE provider_message_id = 'wamid.E1'").await.as_deref(), Some("hologram"));
    }

    async fn without_an_app_secret_posts_are_refused_and_nothing_is_stored(db: Db) {
        let mut options = Options::new(db);
        options.app_secret = None;
        let app = TestApp::spawn_with(options).await;
        let response = app.post_whatsapp(&whatsapp_text("5215512345678", "wamid.F1", now_secs(), "hola")).await;
        assert_eq!(response.status(), 503);
        assert_eq!(app.count("webhook_deliveries").await, 0);
    }

    async fn the_last_customer_message_time_never_moves_backwards(db: Db) {
        let app = TestApp::spawn(db).await;
        let t = now_secs();
        app.post_whatsapp(&whatsapp_text("5215544444444", "wamid.G2", t, "nuevo")).await;
        app.post_whatsapp(&whatsapp_text("5215544444444", "wamid.G1", t - 3600, "viejo")).await;
        let last = app.scalar_i64("SELECT last_customer_message_at FROM conversations").await.unwrap();
        assert_eq!(last, t * 1000);
    }

    async fn a_customer_with_only_a_business_scoped_id_is_identified_by_it(db: Db) {
        let app = TestApp::spawn(db).await;
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Sin Telefono", "username": "sintel"}, "user_id": "US.13491208655302741918"}],
                "messages": [{"id": "wamid.H1", "timestamp": now_secs().to_string(), "type": "text", "text": {"body": "hola"}}]
            }}]}]
        });
        assert_eq!(app.post_whatsapp(&body).await.status(), 200);
        assert_eq!(app.scalar_str("SELECT customer_id FROM conversations").await.as_deref(), Some("US.13491208655302741918"));
        assert_eq!(app.scalar_str("SELECT customer_wa_id FROM conversations").await, None);
    }

    async fn messenger_messages_and_echoes_are_stored(db: Db) {
        let app = TestApp::spawn(db).await;
        let t = chrono::Utc::now().timestamp_millis();
        assert_eq!(app.post_messenger(&messenger_text("PSID-9", "m_in", t, "hola")).await.status(), 200);
        assert_eq!(app.post_messenger(&messenger_echo("PSID-9", "m_echo", t + 10, "respuesta")).await.status(), 200);
        assert_eq!(app.count("messages").await, 2);
        assert_eq!(app.count("conversations").await, 1);
        assert_eq!(app.scalar_str("SELECT direction FROM messages WHERE provider_message_id = 'm_echo'").await.as_deref(), Some("echo"));
        // The echo is the page writing: it does not move the customer's time.
        assert_eq!(app.scalar_i64("SELECT last_customer_message_at FROM conversations").await, Some(t));
    }

    async fn health_readiness_and_metrics_answer(db: Db) {
        let app = TestApp::spawn(db).await;
        assert_eq!(app.get("/healthz").await.status(), 200);
        assert_eq!(app.get("/readyz").await.status(), 200);
        app.post_whatsapp(&whatsapp_text("5215512345678", "wamid.M1", now_secs(), "hola")).await;
        app.post_signed("/webhooks/whatsapp", b"{").await;
        let metrics = app.get("/metrics").await.text().await.unwrap();
        for name in ["ventana_webhook_events_total", "ventana_webhook_rejected_total", "ventana_webhook_ack_seconds"] {
            assert!(metrics.contains(name), "missing {name} in\n{metrics}");
        }
    }
}
