//! Handoff passages through the knowledge API: what the text says (detected),
//! what an editor marked, and what an editor overrode.

use serde_json::{Value, json};
use ventana::config::Role;

use crate::helpers::{Db, Options, TestApp, api_tokens};

const EDITOR: &str = "tok-editor";

/// Words enough for the article to be split at its `##` headings.
const INTRO: &str = "Puedes pasar tu cuenta a otra persona cuando vendes o alquilas tu casa, \
cuando te separas o cuando el titular ya no puede seguir con el servicio. El nuevo titular \
conserva el mismo plan, la misma dirección de instalación y los mismos equipos, y desde ese \
momento recibe las facturas a su nombre. Antes de empezar, revisa que la cuenta no tenga \
facturas vencidas: una deuda pendiente sigue a cargo del titular anterior hasta que la pague. \
También conviene que el nuevo titular tenga a mano su documento de identidad, un correo \
electrónico y un número de teléfono de contacto, porque los vamos a necesitar para darle \
acceso a la app y para enviarle las facturas. Si solo quieres que otra persona pueda hacer \
consultas sobre tu cuenta, no hace falta cambiar el titular: agrégala como persona \
autorizada desde tu perfil en la app y podrá pedir información y hacer gestiones simples.";

fn articles() -> Vec<(&'static str, String)> {
    vec![
        (
            "cambio-titular",
            format!(
                "---\ntitle: Cambio de titular\n---\n{INTRO}\n\n## Cómo se hace\n\n\
                 El cambio de titular no se hace desde la app: **lo gestiona un asesor de \
                 Atención Comercial**, que revisa la documentación de las dos personas.\n\n\
                 ## Horarios\n\nLos asesores atienden de lunes a viernes de 9 a 18.\n"
            ),
        ),
        (
            "eventos",
            "---\ntitle: Pedidos para eventos\n---\nPreparamos pedidos especiales para \
             eventos de más de 50 personas.\n\n<!-- handoff -->\n"
                .to_owned(),
        ),
        (
            "bajar-plan",
            "---\ntitle: Bajar de plan\n---\n<!-- handoff: no -->\nBajar de plan lo gestionaba \
             un asesor; ahora lo gestiona un asesor o lo haces tú mismo en la app.\n"
                .to_owned(),
        ),
    ]
}

async fn spawn() -> (TestApp, tempfile::TempDir) {
    let kb = tempfile::tempdir().expect("temp dir");
    for (id, text) in articles() {
        std::fs::write(kb.path().join(format!("{id}.md")), text).expect("write article");
    }
    let dir = kb.path().to_owned();
    let mut options = Options::new(Db::Sqlite);
    options.configure = Box::new(move |c| {
        c.knowledge_dir = dir;
        c.auth.tokens = api_tokens(&[("eva", Role::Editor, EDITOR)]);
    });
    (TestApp::spawn_with(options).await, kb)
}

async fn get(app: &TestApp, path: &str) -> Value {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(EDITOR)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_detected_and_marked_handoff_passages_but_not_overridden_ones() {
    let (app, _kb) = spawn().await;

    let detected = get(&app, "/api/kb/articles/cambio-titular").await;
    assert_eq!(
        detected["handoff"],
        json!([{
            "passage": 1,
            "heading": "Cómo se hace",
            "source": "detected",
            "sentences": ["El cambio de titular no se hace desde la app: lo gestiona un asesor de Atención Comercial, que revisa la documentación de las dos personas."],
        }]),
        "only the section that says a person does it; the hours are contact details"
    );

    let marked = get(&app, "/api/kb/articles/eventos").await;
    assert_eq!(marked["handoff"][0]["source"], "marked");
    assert_eq!(marked["handoff"].as_array().unwrap().len(), 1);

    let overridden = get(&app, "/api/kb/articles/bajar-plan").await;
    assert_eq!(overridden["handoff"], json!([]), "{overridden}");

    // The search preview carries the flag on each hit.
    let preview = get(
        &app,
        "/api/kb/search?q=como%20hago%20el%20cambio%20de%20titular",
    )
    .await;
    let top = &preview["hits"][0];
    assert_eq!(top["article_id"], "cambio-titular", "{preview}");
    assert_eq!(top["heading"], "Cómo se hace", "{preview}");
    assert_eq!(top["handoff"], true);
    let preview = get(&app, "/api/kb/search?q=bajar%20de%20plan").await;
    assert_eq!(preview["hits"][0]["article_id"], "bajar-plan", "{preview}");
    assert_eq!(preview["hits"][0]["handoff"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_confirms_a_passage_with_a_marker() {
    let (app, _kb) = spawn().await;
    let saved: Value = app
        .client
        .put(format!("{}/api/kb/articles/bajar-plan", app.address))
        .bearer_auth(EDITOR)
        .json(&json!({
            "title": "Bajar de plan",
            "body": "Bajar de plan se pide por chat.\n\n<!-- handoff -->",
        }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        saved["handoff"],
        json!([{"passage": 0, "heading": null, "source": "marked", "sentences": []}])
    );
}
