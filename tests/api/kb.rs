//! The editors' knowledge API over HTTP: bearer tokens and roles, validated
//! writes into the knowledge directory, the search preview following an edit.

use serde_json::json;
use ventana::config::Role;

use crate::helpers::{Db, Options, TestApp, api_tokens, demo_knowledge_copy};
use crate::on_both_databases;

const EDITOR: &str = "tok-editor";
const AGENT: &str = "tok-agent";

/// The app on a private copy of the demo knowledge base (edits never touch the repository).
async fn spawn(db: Db) -> (TestApp, tempfile::TempDir) {
    let kb = demo_knowledge_copy();
    let dir = kb.path().to_owned();
    let mut options = Options::new(db);
    options.configure = Box::new(move |c| {
        c.knowledge_dir = dir;
        c.auth.tokens = api_tokens(&[("eva", Role::Editor, EDITOR), ("ana", Role::Agent, AGENT)]);
    });
    (TestApp::spawn_with(options).await, kb)
}

fn request(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let builder = app.client.request(method, format!("{}{path}", app.address));
    match token {
        Some(t) => builder.bearer_auth(t),
        None => builder,
    }
}

fn article(title: &str, body: &str) -> serde_json::Value {
    json!({
        "id": "horario-navidad",
        "title": title,
        "questions": ["abren en navidad?", "what are your christmas hours"],
        "tags": ["tiendas"],
        "body": body,
    })
}

on_both_databases! {
    async fn only_editors_may_read_and_change_the_knowledge_base(db: Db) {
        let (app, kb) = spawn(db).await;
        use reqwest::Method;
        assert_eq!(request(&app, Method::GET, "/api/kb/articles", None).send().await.unwrap().status(), 401);
        assert_eq!(request(&app, Method::GET, "/api/kb/articles", Some("wrong")).send().await.unwrap().status(), 401);
        assert_eq!(request(&app, Method::GET, "/api/kb/articles", Some(AGENT)).send().await.unwrap().status(), 403);
        let denied = request(&app, Method::POST, "/api/kb/articles", Some(AGENT))
            .json(&article("Horario de Navidad", "El 25 de diciembre las tiendas cierran."))
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), 403);
        assert!(!kb.path().join("horario-navidad.md").exists(), "a refused call changes nothing");
        let list: Vec<serde_json::Value> = request(&app, Method::GET, "/api/kb/articles", Some(EDITOR))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(list.len() >= 20, "the demo knowledge base is listed");
    }

    async fn an_article_id_with_a_dot_never_reaches_another_articles_file(db: Db) {
        let (app, kb) = spawn(db).await;
        use reqwest::Method;
        let before = std::fs::read_to_string(kb.path().join("cancelar-pedido.md")).unwrap();
        let put = request(&app, Method::PUT, "/api/kb/articles/cancelar-pedido.bak", Some(EDITOR))
            .json(&article("Otro", "Texto que no debe pisar nada."))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 422, "{}", put.text().await.unwrap());
        assert_eq!(std::fs::read_to_string(kb.path().join("cancelar-pedido.md")).unwrap(), before);
        let delete = request(&app, Method::DELETE, "/api/kb/articles/cambiar-direccion.anything", Some(EDITOR))
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), 422);
        assert!(kb.path().join("cambiar-direccion.md").exists(), "the other article is still there");
        let create = request(&app, Method::POST, "/api/kb/articles", Some(EDITOR))
            .json(&json!({"id": "x.md", "title": "t", "body": "b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(create.status(), 422);
        assert!(!kb.path().join("x.md").exists() && !kb.path().join("x.md.md").exists());
    }

    async fn an_editor_creates_updates_and_deletes_an_article_and_the_preview_follows(db: Db) {
        let (app, kb) = spawn(db).await;
        use reqwest::Method;
        let invalid = request(&app, Method::POST, "/api/kb/articles", Some(EDITOR))
            .json(&article("", "sin titulo"))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid.status(), 422, "an article without a title is refused");
        assert!(!kb.path().join("horario-navidad.md").exists());

        let created = request(&app, Method::POST, "/api/kb/articles", Some(EDITOR))
            .json(&article("Horario de Navidad", "El 25 de diciembre todas las tiendas permanecen cerradas."))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let written = std::fs::read_to_string(kb.path().join("horario-navidad.md")).unwrap();
        assert!(written.contains("title: Horario de Navidad") && written.contains("permanecen cerradas"), "{written}");

        let preview = |q: &'static str| {
            let app = &app;
            async move {
                request(app, Method::GET, &format!("/api/kb/search?q={q}"), Some(EDITOR))
                    .send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            }
        };
        let found = preview("abren%20el%20dia%20de%20navidad").await;
        assert_eq!(found["hits"][0]["article_id"], "horario-navidad", "{found}");

        let mut changed = article("Horario de Navidad", "El 25 de diciembre abrimos de 10:00 a 14:00.");
        changed.as_object_mut().unwrap().remove("id");
        let updated = request(&app, Method::PUT, "/api/kb/articles/horario-navidad", Some(EDITOR))
            .json(&changed)
            .send()
            .await
            .unwrap();
        assert_eq!(updated.status(), 200);
        let found = preview("abren%20el%20dia%20de%20navidad").await;
        assert!(found["hits"][0]["text"].as_str().unwrap_or_default().contains("10:00"), "{found}");

        let deleted = request(&app, Method::DELETE, "/api/kb/articles/horario-navidad", Some(EDITOR)).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        assert!(!kb.path().join("horario-navidad.md").exists());
        let gone = request(&app, Method::GET, "/api/kb/articles/horario-navidad", Some(EDITOR)).send().await.unwrap();
        assert_eq!(gone.status(), 404);
    }
}

on_both_databases! {
    async fn a_file_dropped_into_the_knowledge_directory_is_answered_without_a_restart(db: Db) {
        let (app, kb) = spawn(db).await;
        // Served means running: the watcher starts before the server.
        assert_eq!(app.get("/healthz").await.status(), 200);
        std::fs::write(
            kb.path().join("mascotas.md"),
            "---\ntitle: Mascotas en tienda\nquestions:\n  - puedo entrar con mi perro a la tienda?\n---\nLas mascotas con correa son bienvenidas en nuestras tiendas.\n",
        )
        .unwrap();
        app.eventually("the new article is searchable", std::time::Duration::from_secs(15), || async {
            let found: serde_json::Value = request(&app, reqwest::Method::GET, "/api/kb/search?q=puedo%20llevar%20a%20mi%20perro", Some(EDITOR))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            found["hits"][0]["article_id"] == "mascotas"
        })
        .await;
    }
}
