//! The editors' list of unanswered questions over HTTP: customers' messages
//! that the bot handed to a person because no article answered them, grouped
//! by similarity, each with a draft article the create flow accepts.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use ventana::config::Role;

use crate::helpers::{Db, Options, TestApp, api_tokens, demo_knowledge_copy};
use crate::on_both_databases;
use crate::payloads::{now_secs, whatsapp_text};

const EDITOR: &str = "tok-editor";
const AGENT: &str = "tok-agent";
const ADMIN: &str = "tok-admin";

/// Three ways of asking about a topic no article covers.
const PETS: [&str; 3] = [
    "¿Puedo entrar con mi perro a la tienda?",
    "hola, se puede entrar a la tienda con perros?",
    "aceptan perros en sus tiendas?",
];
/// Another topic no article covers.
const BIKES: &str = "¿Tienen dónde dejar la bicicleta afuera de la tienda?";
/// Answered from the knowledge base: not an unanswered question.
const COVERED: &str = "¿cuánto tarda en llegar mi pedido?";
/// Escalated, but because the customer asks for a person.
const PERSON: &str = "quiero hablar con una persona";

/// The app on a private copy of the demo knowledge base, with an editor,
/// an agent and an admin token.
async fn spawn(db: Db) -> (TestApp, tempfile::TempDir) {
    let kb = demo_knowledge_copy();
    let dir = kb.path().to_owned();
    let mut options = Options::new(db);
    options.configure = Box::new(move |c| {
        c.knowledge_dir = dir;
        c.sender.mark_read = false;
        c.auth.tokens = api_tokens(&[
            ("eva", Role::Editor, EDITOR),
            ("ana", Role::Agent, AGENT),
            ("root", Role::Admin, ADMIN),
        ]);
    });
    (TestApp::spawn_with(options).await, kb)
}

/// Each text from its own customer, through a signed WhatsApp webhook; waits
/// until the pipeline has recorded a turn for every one.
async fn customers_ask(app: &TestApp, texts: &[&str]) {
    for (i, text) in texts.iter().enumerate() {
        let customer = format!("52155400000{i:02}");
        let body = whatsapp_text(
            &customer,
            &format!("wamid.unanswered.{i}"),
            now_secs(),
            text,
        );
        assert_eq!(app.post_whatsapp(&body).await.status(), 200);
    }
    let expected = texts.len() as i64;
    app.eventually(
        "every message is a recorded turn",
        Duration::from_secs(20),
        || async { app.count("turns").await == expected },
    )
    .await;
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn examples(group: &Value) -> Vec<&str> {
    group["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect()
}

on_both_databases! {
    async fn escalated_questions_are_grouped_by_topic_and_start_an_article(db: Db) {
        let (app, kb) = spawn(db).await;
        let mut texts = PETS.to_vec();
        texts.extend([BIKES, COVERED, PERSON]);
        customers_ask(&app, &texts).await;
        let reason = |text: &'static str| {
            let app = &app;
            async move {
                sqlx::query_scalar::<_, String>(
                    "SELECT e.reason FROM escalations e JOIN turns t ON t.id = e.turn_id WHERE t.customer_text = $1",
                )
                .bind(text)
                .fetch_optional(app.state.store.pool())
                .await
                .unwrap()
            }
        };
        // The premise: the pipeline escalated these for low confidence.
        for text in PETS.into_iter().chain([BIKES]) {
            assert_eq!(reason(text).await.as_deref(), Some("low_confidence"), "{text}");
        }
        assert_eq!(reason(COVERED).await, None, "answered, not escalated");
        assert_eq!(reason(PERSON).await.as_deref(), Some("needs_person"));

        let (status, list) = get(&app, "/api/kb/unanswered", Some(EDITOR)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["questions"], 4, "only the low-confidence turns: {list:#}");
        let groups = list["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "{list:#}");
        let pets = &groups[0];
        assert_eq!(pets["count"], 3, "the largest group first: {list:#}");
        let mut asked = examples(pets);
        asked.sort_unstable();
        let mut expected = PETS.to_vec();
        expected.sort_unstable();
        assert_eq!(asked, expected, "paraphrases are one group");
        assert_eq!(examples(&groups[1]), [BIKES], "another topic is another group");
        assert_eq!(pets["languages"], json!(["es"]));
        assert!(pets["latest_at"].is_string());
        assert_eq!(pets["answered_by"], Value::Null);
        assert!(PETS.contains(&pets["representative"].as_str().unwrap()));
        let draft = &pets["draft"];
        assert_eq!(draft["questions"], pets["examples"]);
        assert_eq!(draft["lang"], "es");
        assert!(draft["title"].as_str().unwrap().to_lowercase().contains("perro"), "{draft:#}");
        assert!(draft["markdown"].as_str().unwrap().contains("questions:"), "{draft:#}");

        let (_, first) = get(&app, "/api/kb/unanswered?limit=1", Some(EDITOR)).await;
        assert_eq!(first["groups"].as_array().unwrap().len(), 1);
        assert_eq!(first["groups"][0]["count"], 3);
        let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (status, none) = get(&app, &format!("/api/kb/unanswered?since={later}"), Some(EDITOR)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((none["questions"].as_i64(), none["groups"].as_array().map(Vec::len)), (Some(0), Some(0)));
        assert_eq!(get(&app, "/api/kb/unanswered?since=yesterday", Some(EDITOR)).await.0, StatusCode::BAD_REQUEST);

        // The draft, completed with an answer, goes through the create flow
        // and the group shows the new article answers it.
        let article = json!({
            "id": draft["id"],
            "title": draft["title"],
            "questions": draft["questions"],
            "lang": draft["lang"],
            "body": "Sí: las mascotas con correa son bienvenidas en todas nuestras tiendas.",
        });
        let created = app
            .client
            .post(format!("{}/api/kb/articles", app.address))
            .bearer_auth(EDITOR)
            .json(&article)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let id = draft["id"].as_str().unwrap();
        assert!(kb.path().join(format!("{id}.md")).exists());
        let (_, after) = get(&app, "/api/kb/unanswered", Some(EDITOR)).await;
        let pets = after["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["count"] == 3)
            .expect("the group is still listed");
        assert_eq!(pets["answered_by"], id, "{after:#}");
        assert!(pets["draft"]["id"] != id, "a new draft never reuses an existing id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_editors_and_admins_may_list_unanswered_questions() {
    let (app, _kb) = spawn(Db::Sqlite).await;
    let path = "/api/kb/unanswered";
    assert_eq!(get(&app, path, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&app, path, Some("not-a-token")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&app, path, Some(AGENT)).await.0, StatusCode::FORBIDDEN);
    // The role is checked before the query: a bad one still answers 403.
    assert_eq!(
        get(&app, &format!("{path}?since=nope"), Some(AGENT))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, list) = get(&app, path, Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["groups"], json!([]));
    assert_eq!(get(&app, path, Some(EDITOR)).await.0, StatusCode::OK);
}
