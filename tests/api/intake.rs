//! Webhook intake: handshake, signature, parsing errors, durable and
//! deduplicated storage, conversations and windows.

use serde_json::json;
use ventana::channels::model::Channel;

use crate::helpers::{APP_SECRET, Options, TestApp, VERIFY_TOKEN};
use crate::on_both_databases;
use crate::payloads::*;

/// A parsed WhatsApp delivery, as the webhook handler hands it to the store.
fn delivery(body: &serde_json::Value) -> ventana::store::NewDelivery {
    let body = body.to_string();
    let events = ventana::channels::parse_webhook(Channel::Whatsapp, body.as_bytes())
        .expect("a valid webhook");
    ventana::store::NewDelivery {
        channel: Channel::Whatsapp,
        received_at: chrono::Utc::now(),
        body,
        events,
    }
}

/// Makes any insert of the message `wamid.POISON` fail, on either backend.
async fn poison_inserts(app: &TestApp) {
    let pool = app.state.store.pool();
    match app.state.store.backend() {
        ventana::store::Backend::Sqlite => {
            sqlx::query(
                "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.provider_message_id = 'wamid.POISON' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
            )
            .execute(pool)
            .await
            .unwrap();
        }
        ventana::store::Backend::Postgres => {
            sqlx::query(
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
                 IF NEW.provider_message_id = 'wamid.POISON' THEN RAISE EXCEPTION 'poisoned'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql",
            )
            .execute(pool)
            .await
            .unwrap();
            sqlx::query("CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison()")
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

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

    async fn a_batch_with_one_conversation_twice_upserts_it_once_and_keeps_the_latest_time(db: Db) {
        let app = TestApp::spawn(db).await;
        let t = now_secs();
        let customer = "5215566666666";
        let newer = whatsapp_messages(customer, "Nombre Nuevo", vec![wa_text(customer, "wamid.BC2", t, "segundo")]);
        let older = whatsapp_messages(customer, "Nombre Viejo", vec![wa_text(customer, "wamid.BC1", t - 60, "primero")]);
        let outcomes = app.state.store.ingest_batch(&[delivery(&newer), delivery(&older)]).await.unwrap();
        assert_eq!(app.count("conversations").await, 1);
        assert_eq!(app.count("messages").await, 2);
        assert_eq!(app.count("webhook_deliveries").await, 2);
        // Out of order inside the batch: the customer time only moves forward;
        // the name is the last one given, as if stored one after the other.
        assert_eq!(app.scalar_i64("SELECT last_customer_message_at FROM conversations").await, Some(t * 1000));
        assert_eq!(app.scalar_str("SELECT customer_name FROM conversations").await.as_deref(), Some("Nombre Viejo"));
        let conversation = app.scalar_i64("SELECT id FROM conversations").await.unwrap();
        for outcome in &outcomes {
            assert_eq!(outcome.stored, [("whatsapp", "message")]);
            assert_eq!(outcome.conversations_to_process, [conversation]);
        }
        assert_eq!(
            app.scalar_i64("SELECT COUNT(DISTINCT conversation_id) FROM messages").await,
            Some(1)
        );
    }

    async fn a_batch_with_one_message_twice_stores_it_and_its_body_once(db: Db) {
        let app = TestApp::spawn(db).await;
        let payload = whatsapp_text("5215577777777", "wamid.BM1", now_secs(), "hola");
        let batch = [delivery(&payload), delivery(&payload), delivery(&payload)];
        let outcomes = app.state.store.ingest_batch(&batch).await.unwrap();
        assert_eq!(app.count("messages").await, 1);
        assert_eq!(app.count("webhook_deliveries").await, 1);
        assert_eq!(outcomes[0].stored.len(), 1);
        assert_eq!(outcomes[0].conversations_to_process.len(), 1);
        for later in &outcomes[1..] {
            assert!(later.stored.is_empty());
            assert_eq!(later.duplicates, 1);
            assert!(later.conversations_to_process.is_empty());
        }
        // And again in a later batch: nothing new at all.
        let again = app.state.store.ingest_batch(&[delivery(&payload)]).await.unwrap();
        assert_eq!(again[0].duplicates, 1);
        assert_eq!(app.count("webhook_deliveries").await, 1);
    }

    async fn a_batch_with_messages_and_their_statuses_moves_the_outbox_forward_only(db: Db) {
        let app = TestApp::spawn(db).await;
        let t = now_secs();
        let customer = "5215588888888";
        app.post_whatsapp(&whatsapp_text(customer, "wamid.BS0", t - 10, "hola")).await;
        let conversation = app.scalar_i64("SELECT id FROM conversations").await.unwrap();
        for (wamid, state) in [("wamid.OUT-A", "sent"), ("wamid.OUT-B", "sent")] {
            sqlx::query(
                "INSERT INTO outbox (conversation_id, channel, business_id, recipient, kind, purpose, payload, \
                     state, next_attempt_at, provider_message_id, status_rank, created_at) \
                 VALUES ($1, 'whatsapp', $2, $3, 'text', 'reply', '{}', $4, 0, $5, 1, 0)",
            )
            .bind(conversation)
            .bind(PHONE_NUMBER_ID)
            .bind(customer)
            .bind(state)
            .bind(wamid)
            .execute(app.state.store.pool())
            .await
            .unwrap();
        }
        let mut read = wa_status("wamid.OUT-A", "read", t + 5, customer);
        read["pricing"] = json!({"billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"});
        let mut failed = wa_status("wamid.OUT-B", "failed", t + 6, customer);
        failed["errors"] = json!([{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}]);
        let mut first = whatsapp_messages(customer, "Cliente", vec![wa_text(customer, "wamid.BS1", t, "otra")]);
        first["entry"][0]["changes"][0]["value"]["statuses"] = json!([read]);
        let batch = [
            delivery(&first),
            // Late and lower: must not move `read` back.
            delivery(&whatsapp_statuses(vec![wa_status("wamid.OUT-A", "delivered", t + 2, customer)])),
            delivery(&whatsapp_statuses(vec![failed])),
        ];
        let outcomes = app.state.store.ingest_batch(&batch).await.unwrap();
        assert_eq!(outcomes[0].stored.len(), 2);
        assert_eq!(outcomes[0].conversations_to_process, [conversation]);
        assert_eq!(outcomes[1].stored, [("whatsapp", "status")]);
        assert_eq!(app.count("statuses").await, 3);
        assert_eq!(app.count("messages").await, 2);
        let status = |wamid: &str| format!("SELECT delivery_status FROM outbox WHERE provider_message_id = '{wamid}'");
        assert_eq!(app.scalar_str(&status("wamid.OUT-A")).await.as_deref(), Some("read"));
        assert_eq!(
            app.scalar_str("SELECT pricing_type FROM outbox WHERE provider_message_id = 'wamid.OUT-A'").await.as_deref(),
            Some("free_customer_service")
        );
        assert_eq!(app.scalar_str(&status("wamid.OUT-B")).await.as_deref(), Some("failed"));
        assert_eq!(
            app.scalar_i64("SELECT error_code FROM outbox WHERE provider_message_id = 'wamid.OUT-B'").await,
            Some(131047)
        );
        assert_eq!(app.scalar_i64("SELECT window_error_at FROM conversations").await, Some((t + 6) * 1000));
    }

    async fn a_failing_batch_is_retried_one_by_one_so_only_the_bad_delivery_fails(db: Db) {
        let app = TestApp::spawn(db).await;
        poison_inserts(&app).await;
        let good = whatsapp_text("5215599999991", "wamid.GOOD", now_secs(), "hola");
        let poison = whatsapp_text("5215599999992", "wamid.POISON", now_secs(), "hola");
        assert!(app.state.store.ingest_batch(&[delivery(&good), delivery(&poison)]).await.is_err());
        assert_eq!(app.count("webhook_deliveries").await, 0);
        assert_eq!(app.count("conversations").await, 0);

        // Through the writer: both deliveries wait in the queue before it
        // starts, so they share one transaction; it fails, the writer commits
        // them one by one, and only the poisoned one is refused.
        let store = ventana::store::Store::connect(&app.database_url).await.unwrap();
        let (store, writer) = store.with_group_commit(ventana::store::GroupCommit::default());
        let waiters = [good.clone(), poison].map(|body| {
            let store = store.clone();
            tokio::spawn(async move { store.ingest_queued(delivery(&body)).await })
        });
        let queue = store.intake_queue().unwrap().clone();
        app.eventually("both queued", std::time::Duration::from_secs(5), || {
            let queue = queue.clone();
            async move { queue.queued() == 2 }
        })
        .await;
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(writer.run(stop.clone()));
        let [good_result, poison_result] = waiters;
        assert_eq!(good_result.await.unwrap().expect("the good delivery is stored").stored.len(), 1);
        assert!(poison_result.await.unwrap().is_err(), "the poisoned delivery is not acknowledged");
        assert_eq!(app.count("messages").await, 1);
        assert_eq!(app.count("webhook_deliveries").await, 1);
        // The writer carries on with the next batch.
        let next = whatsapp_text("5215599999993", "wamid.NEXT", now_secs(), "hola");
        let outcome = store.ingest_queued(delivery(&next)).await.unwrap();
        assert_eq!(outcome.stored.len(), 1);
        stop.cancel();
        running.await.unwrap();
        assert!(store.ingest_queued(delivery(&good)).await.is_err(), "a stopped writer refuses deliveries");
    }

    async fn concurrent_webhooks_are_committed_together_and_all_stored(db: Db) {
        let app = TestApp::spawn(db).await;
        let t = now_secs();
        let requests = (0..64).map(|i| {
            let app = &app;
            // Eight customers, eight messages each, all at once.
            let body = whatsapp_text(&format!("52155100000{:02}", i % 8), &format!("wamid.CC{i}"), t, "hola");
            async move { app.post_whatsapp(&body).await.status() }
        });
        for status in futures::future::join_all(requests).await {
            assert_eq!(status, 200);
        }
        assert_eq!(app.count("messages").await, 64);
        assert_eq!(app.count("conversations").await, 8);
        assert_eq!(app.count("webhook_deliveries").await, 64);
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("ventana_intake_batch_deliveries"), "{metrics}");
    }
}
