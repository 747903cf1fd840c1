//! Knowledge retrieval benchmark: `cargo bench --bench retrieval`.
//!
//! Measures, on the demo knowledge base and on a generated one of 10,000
//! articles: full index build time (load, chunk, embed, write into Qdrant
//! Edge), query latency p50/p99 through `KnowledgeBase::search` with
//! chat-style queries (typos, missing accents), and peak resident memory
//! (`VmHWM`). Set `BENCH_ARTICLES` to change the generated size.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ventana::config::Config;
use ventana::knowledge::KnowledgeBase;

/// Queries measured per knowledge base (after a warm-up of 100).
const QUERIES: usize = 2_000;

fn config(knowledge: &Path, data: &Path) -> Config {
    let env = vec![
        (
            "VENTANA_KNOWLEDGE_DIR".to_owned(),
            knowledge.display().to_string(),
        ),
        ("VENTANA_DATA_DIR".to_owned(), data.display().to_string()),
    ];
    Config::load_from(None, env).expect("bench configuration")
}

/// A `/proc/self/status` memory field (`VmHWM`, `RssAnon`, ...) in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Words of the demo knowledge base, the base vocabulary of generated text.
fn vocabulary(demo: &Path) -> Vec<String> {
    let mut words = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(demo).expect("knowledge/") {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        for w in text.split(|c: char| !c.is_alphabetic()) {
            if w.chars().count() >= 3 {
                words.insert(w.to_lowercase());
            }
        }
    }
    words.into_iter().collect()
}

/// A vocabulary word, Zipf-like, sometimes with a generated suffix so the
/// corpus has tens of thousands of distinct terms like a real help centre.
fn word(rng: &mut StdRng, vocab: &[String]) -> String {
    let r: f64 = rng.random();
    let i = ((r * r * r) * vocab.len() as f64) as usize;
    let base = &vocab[i.min(vocab.len() - 1)];
    const SUFFIXES: [&str; 8] = ["ado", "ción", "mente", "ista", "eza", "ible", "ero", "ita"];
    if rng.random_bool(0.3) {
        format!(
            "{base}{}{}",
            SUFFIXES[rng.random_range(0..SUFFIXES.len())],
            rng.random_range(0..40)
        )
    } else {
        base.clone()
    }
}

fn sentence(rng: &mut StdRng, vocab: &[String], len: usize) -> String {
    (0..len)
        .map(|_| word(rng, vocab))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `n` articles of 150 to 400 words in two to four sections.
fn generate(dir: &Path, n: usize, vocab: &[String]) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut questions = Vec::new();
    for a in 0..n {
        let folder = dir.join(format!("tema-{:02}", a % 50));
        std::fs::create_dir_all(&folder).unwrap();
        let title = sentence(&mut rng, vocab, 4);
        let qs: Vec<String> = (0..rng.random_range(2..6))
            .map(|_| sentence(&mut rng, vocab, 6))
            .collect();
        let mut body = sentence(&mut rng, vocab, 40);
        for _ in 0..rng.random_range(2..5) {
            let section_len = rng.random_range(30..110);
            body.push_str(&format!(
                "\n\n## {}\n\n{}",
                sentence(&mut rng, vocab, 3),
                sentence(&mut rng, vocab, section_len)
            ));
        }
        let front: String = qs.iter().map(|q| format!("  - \"{q}\"\n")).collect();
        let text = format!(
            "---\ntitle: \"{title}\"\nquestions:\n{front}tags: [t{}]\n---\n\n{body}\n",
            a % 97
        );
        std::fs::write(folder.join(format!("articulo-{a}.md")), text).unwrap();
        questions.extend(qs);
    }
    questions
}

/// Chat-style variants: accents dropped, one letter lost, a filler word.
fn chat_queries(seeds: &[String], rng: &mut StdRng) -> Vec<String> {
    (0..500)
        .map(|_| {
            let seed = &seeds[rng.random_range(0..seeds.len())];
            let mut q: String = seed
                .to_lowercase()
                .chars()
                .map(|c| match c {
                    'á' => 'a',
                    'é' => 'e',
                    'í' => 'i',
                    'ó' => 'o',
                    'ú' => 'u',
                    c => c,
                })
                .collect();
            if q.len() > 6 {
                let at = rng.random_range(1..q.len() - 1);
                if q.is_char_boundary(at) && q.is_char_boundary(at + 1) {
                    q.remove(at);
                }
            }
            format!("hola {q} porfa")
        })
        .collect()
}

fn measure(label: &str, knowledge: &Path, seeds: &[String], rt: &tokio::runtime::Runtime) {
    let data = tempfile::tempdir().unwrap();
    let config = config(knowledge, data.path());
    let started = Instant::now();
    let kb = rt.block_on(KnowledgeBase::open(&config)).expect("open");
    let build = started.elapsed();
    let articles = kb.articles().len();
    let passages: usize = kb.articles().iter().map(|a| a.passages.len()).sum();
    let mut rng = StdRng::seed_from_u64(11);
    let queries = chat_queries(seeds, &mut rng);
    let mut latencies = Vec::with_capacity(QUERIES);
    eprintln!("{label}: built in {:.1} s, querying", build.as_secs_f64());
    rt.block_on(async {
        for q in queries.iter().take(100) {
            kb.search(q, 5).await.unwrap();
        }
        for i in 0..QUERIES {
            let q = &queries[i % queries.len()];
            let t = Instant::now();
            let hits = kb.search(q, 5).await.unwrap();
            latencies.push(t.elapsed());
            std::hint::black_box(hits);
        }
    });
    latencies.sort();
    // Restart: reopening an unchanged knowledge base embeds nothing.
    drop(kb);
    let started = Instant::now();
    rt.block_on(KnowledgeBase::open(&config)).expect("reopen");
    let reopen = started.elapsed();
    println!(
        "{label:<22} {articles:>6} articles {passages:>6} passages | build {:>6.2} s | reopen {:>5.2} s | query p50 {:.3} ms p99 {:.3} ms | peak RSS {:.0} MB (now {:.0} MB: anon {:.0}, file {:.0})",
        build.as_secs_f64(),
        reopen.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        status_mb("VmHWM"),
        status_mb("VmRSS"),
        status_mb("RssAnon"),
        status_mb("RssFile"),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let demo_questions: Vec<String> = {
        let report = ventana::knowledge::loader::load_dir(&demo).expect("demo knowledge base");
        report
            .articles
            .iter()
            .flat_map(|a| a.questions.clone())
            .collect()
    };
    println!(
        "knowledge retrieval benchmark ({} queries per knowledge base)",
        QUERIES
    );
    measure("demo (knowledge/)", &demo, &demo_questions, &rt);

    let n: usize = std::env::var("BENCH_ARTICLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let generated = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let questions = generate(generated.path(), n, &vocabulary(&demo));
    eprintln!(
        "generated {n} articles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    measure(
        &format!("generated ({n})"),
        generated.path(),
        &questions,
        &rt,
    );
}
