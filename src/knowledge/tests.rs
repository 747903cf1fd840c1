//! End-to-end tests of the knowledge base: retrieval on the demo knowledge
//! base, incremental indexing, hot reload and the dense path.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::KnowledgeBase;
use crate::config::Config;

fn config(knowledge: &Path, data: &Path, extra: &[(&str, &str)]) -> Config {
    let mut env = vec![
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            knowledge.display().to_string(),
        ),
        ("VENTANA_DATA_DIR".to_owned(), data.display().to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::load_from(None, env).expect("test configuration")
}

fn demo_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge")
}

fn write(dir: &Path, name: &str, title: &str, body: &str) {
    let text = format!("---\ntitle: {title}\nquestions:\n  - ¿{title}?\n---\n\n{body}\n");
    std::fs::write(dir.join(name), text).unwrap();
}

#[tokio::test]
async fn finds_the_right_article_for_chat_style_messages() {
    let data = tempfile::tempdir().unwrap();
    let kb = KnowledgeBase::open(&config(&demo_dir(), data.path(), &[]))
        .await
        .unwrap();
    // Written for this test: no accents, typos, abbreviations, other languages.
    let cases = [
        (
            "se me olvido la contrasena y no puedo entrar a mi cuenta",
            "cuenta-acceso",
        ),
        (
            "kiero devolver unos pantalones, cuantos dias tengo?",
            "devoluciones-reembolsos",
        ),
        (
            "cuando me regresan el dinero del rembolso",
            "devoluciones-reembolsos",
        ),
        ("hacen factura con mi rfc?", "facturacion-cfdi"),
        ("q bancos tienen meses sin intereses", "meses-sin-intereses"),
        (
            "a q hora abren la tienda de guadalajara el domingo",
            "tiendas-horarios",
        ),
        ("how do I check my gift card balance", "tarjetas-regalo"),
        ("como rastreo mi paquete", "rastreo-pedido"),
    ];
    for (message, expected) in cases {
        let hits = kb.search(message, 3).await.unwrap();
        assert_eq!(
            hits.first().map(|h| h.article_id.as_str()),
            Some(expected),
            "{message}: {hits:?}"
        );
        assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
    }
    // Nothing to match: no result rather than a guess.
    assert!(kb.search("👍👍", 3).await.unwrap().is_empty());
}

#[tokio::test]
async fn only_changed_passages_are_re_embedded() {
    let knowledge = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    // A long article: intro plus two sections, three passages.
    let long_body = |fee: &str| {
        let filler = vec!["texto"; 130].join(" ");
        format!("{filler}\n\n## Costos\n\nEl envío cuesta {fee}.\n\n## Plazos\n\nLlega en 3 días.")
    };
    write(knowledge.path(), "envios.md", "Envíos", &long_body("$129"));
    write(
        knowledge.path(),
        "pagos.md",
        "Pagos",
        "Aceptamos tarjetas y efectivo.",
    );
    let config = config(knowledge.path(), data.path(), &[]);

    let kb = KnowledgeBase::open(&config).await.unwrap();
    assert_eq!(kb.article("envios").unwrap().passages.len(), 3);
    assert_eq!(kb.reload().await.unwrap().unchanged, 4);
    drop(kb);

    // A restart with the same files embeds nothing.
    let kb = KnowledgeBase::open(&config).await.unwrap();
    let stats = kb.reload().await.unwrap();
    assert_eq!((stats.embedded, stats.deleted, stats.unchanged), (0, 0, 4));

    // Editing one section re-embeds that passage only; removing an article
    // deletes its points.
    write(knowledge.path(), "envios.md", "Envíos", &long_body("$149"));
    let stats = kb.reload().await.unwrap();
    assert_eq!((stats.embedded, stats.deleted, stats.unchanged), (1, 0, 3));
    std::fs::remove_file(knowledge.path().join("pagos.md")).unwrap();
    let stats = kb.reload().await.unwrap();
    assert_eq!((stats.embedded, stats.deleted, stats.unchanged), (0, 1, 3));
    assert!(kb.article("pagos").is_none());

    // A full rebuild embeds everything again.
    assert_eq!(kb.rebuild().await.unwrap().embedded, 3);
}

async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn hot_reload_keeps_the_last_good_version() {
    let knowledge = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write(
        knowledge.path(),
        "envios.md",
        "Envíos",
        "Enviamos a todo el país.",
    );
    let config = config(
        knowledge.path(),
        data.path(),
        &[("VENTANA_RETRIEVAL__RELOAD_DEBOUNCE_MS", "100")],
    );
    let kb = KnowledgeBase::open(&config).await.unwrap();
    let shutdown = CancellationToken::new();
    let task = kb.watch(shutdown.clone()).unwrap();

    // A broken edit: the error is recorded, the article stays as it was.
    std::fs::write(
        knowledge.path().join("envios.md"),
        "---\ntitle: [roto\n---\ntexto",
    )
    .unwrap();
    assert!(
        eventually(|| !kb.load_errors().is_empty()).await,
        "reload did not happen"
    );
    assert!(kb.load_errors()[0].path.ends_with("envios.md"));
    assert_eq!(kb.article("envios").unwrap().title, "Envíos");
    assert_eq!(
        kb.search("enviamos pais", 1).await.unwrap()[0].article_id,
        "envios"
    );

    // Fixing it and adding another article are picked up.
    write(
        knowledge.path(),
        "envios.md",
        "Envíos y entregas",
        "Enviamos a todo el país.",
    );
    write(knowledge.path(), "pagos.md", "Pagos", "Aceptamos tarjetas.");
    assert!(eventually(|| kb.article("pagos").is_some() && kb.load_errors().is_empty()).await);
    assert_eq!(kb.article("envios").unwrap().title, "Envíos y entregas");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

/// A minimal OpenAI-compatible embeddings endpoint: deterministic vectors
/// from the words of each input, counting the texts it embedded.
async fn fake_embeddings(counter: Arc<AtomicUsize>) -> String {
    use axum::Json;
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/embeddings",
        post(move |Json(body): Json<serde_json::Value>| {
            let counter = counter.clone();
            async move {
                let inputs: Vec<String> = match &body["input"] {
                    serde_json::Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_str().unwrap_or("").to_owned())
                        .collect(),
                    other => vec![other.as_str().unwrap_or("").to_owned()],
                };
                counter.fetch_add(inputs.len(), Ordering::SeqCst);
                let data: Vec<_> = inputs
                    .iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let mut v = vec![0.01f32; 8];
                        for word in super::text::normalize(text).split(' ') {
                            v[(super::text::hash32(word) % 8) as usize] += 1.0;
                        }
                        serde_json::json!({ "object": "embedding", "index": i, "embedding": v })
                    })
                    .collect();
                Json(serde_json::json!({
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": { "prompt_tokens": 1, "total_tokens": 1 }
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/v1")
}

#[tokio::test]
async fn dense_vectors_are_fused_when_configured() {
    let counter = Arc::new(AtomicUsize::new(0));
    let base = fake_embeddings(counter.clone()).await;
    let knowledge = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write(
        knowledge.path(),
        "envios.md",
        "Envíos",
        "Enviamos a todo el país en 3 días.",
    );
    write(
        knowledge.path(),
        "pagos.md",
        "Pagos",
        "Aceptamos tarjetas y efectivo.",
    );
    let config = config(
        knowledge.path(),
        data.path(),
        &[
            ("VENTANA_EMBEDDINGS__BASE_URL", &base),
            ("VENTANA_EMBEDDINGS__MODEL", "fake-embed"),
        ],
    );
    let kb = KnowledgeBase::open(&config).await.unwrap();
    // One probe plus the two passages.
    assert_eq!(counter.load(Ordering::SeqCst), 3);
    let hits = kb.search("aceptan tarjetas?", 2).await.unwrap();
    assert_eq!(hits[0].article_id, "pagos");
    assert_eq!(counter.load(Ordering::SeqCst), 4, "the query was embedded");
    // Reopening embeds nothing new (only the probe).
    drop(kb);
    let _kb = KnowledgeBase::open(&config).await.unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn an_index_built_for_another_embedding_size_is_a_clear_error() {
    let fake = crate::testkit::fake_openai::FakeOpenAi::start().await;
    let base = fake.base_url();
    let knowledge = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write(
        knowledge.path(),
        "envios.md",
        "Envíos",
        "Enviamos a todo el país en 3 días.",
    );
    let sized = |dims: &'static str| {
        config(
            knowledge.path(),
            data.path(),
            &[
                ("VENTANA_EMBEDDINGS__BASE_URL", &base),
                ("VENTANA_EMBEDDINGS__MODEL", "fake-embed"),
                ("VENTANA_EMBEDDINGS__DIMENSIONS", dims),
            ],
        )
    };
    let kb = KnowledgeBase::open(&sized("32")).await.unwrap();
    assert_eq!(kb.dense_status().unwrap().dimensions, 32);
    drop(kb);

    let error = KnowledgeBase::open(&sized("48")).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("48-dimensional"), "{message}");
    assert!(message.contains("32-dimensional"), "{message}");
    assert!(message.contains("kb index"), "{message}");

    // `ventana kb index` opens with Recreate: the index follows the model.
    let kb = KnowledgeBase::open_with(&sized("48"), super::index::OnDimensionChange::Recreate)
        .await
        .unwrap();
    kb.rebuild().await.unwrap();
    assert_eq!(kb.dense_status().unwrap().dimensions, 48);
    let hits = kb.search("envian a todo el pais?", 1).await.unwrap();
    assert_eq!(hits[0].article_id, "envios");
    drop(kb);
    // And the service starts again on it.
    KnowledgeBase::open(&sized("48")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translations_are_found_by_their_original_id() {
    let knowledge = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write(
        knowledge.path(),
        "envios.md",
        "Envíos",
        "Enviamos a todo el país.",
    );
    std::fs::write(
        knowledge.path().join("envios-en.md"),
        "---\ntitle: Shipping\nlang: en\ntranslation_of: envios\n---\nWe ship nationwide.\n",
    )
    .unwrap();
    let kb = KnowledgeBase::open(&config(knowledge.path(), data.path(), &[]))
        .await
        .unwrap();
    let found: Vec<String> = kb
        .translations_of("envios")
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(found, ["envios-en"]);
    assert!(kb.translations_of("envios-en").is_empty());
    drop(kb);
}
