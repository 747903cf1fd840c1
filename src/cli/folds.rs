//! What `ventana train` and `ventana eval --leave-one-out` share: each
//! business of a corpus read by the bot once (its own knowledge base
//! indexed in a scratch folder, every case retrieved and turned into
//! features), and models trained on some businesses and scored on others.

use std::path::PathBuf;
use std::sync::Arc;

use crate::answer::Bot;
use crate::config::Config;
use crate::corpus::Business;
use crate::knowledge::KnowledgeBase;
use crate::knowledge::dense::DenseEmbedder;
use crate::triage::model::fit::{self, FitSettings, Sample};
use crate::triage::model::tune::{self, ScoredCase};
use crate::triage::model::{
    FeatureLayout, OperatingPoint, Provenance, TriageModel, features, gates,
};

/// One case as the model sees it.
#[derive(Debug, Clone)]
pub struct Item {
    pub sample: Sample,
    pub gates: crate::triage::model::Gates,
    /// Answering from the best passage would deflect the case.
    pub right_article: bool,
}

/// A business read by the bot.
pub struct Prepared {
    pub business: Business,
    pub kb: Arc<KnowledgeBase>,
    pub items: Vec<Item>,
    /// The message embedding the features hold, if any.
    pub embeddings: Option<String>,
    scratch: PathBuf,
}

impl Prepared {
    /// Drops the index before its scratch folder goes (the embedded index
    /// must not outlive its files).
    pub fn close(self) {
        let Prepared { kb, scratch, .. } = self;
        drop(kb);
        let _ = std::fs::remove_dir_all(scratch);
    }
}

/// A scratch folder name unique to this process and moment.
pub fn scratch_dir(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("ventana-{label}-{}-{nanos}", std::process::id()))
}

/// The configuration that indexes `knowledge` into `scratch`, never into
/// a shared Qdrant collection.
pub fn scratch_config(
    config: &Config,
    knowledge: &std::path::Path,
    scratch: &std::path::Path,
) -> Config {
    let mut config = config.clone();
    config.knowledge_dir = knowledge.to_owned();
    config.data_dir = scratch.to_owned();
    config.qdrant.url = None;
    config
}

/// The layout to train: `lexical_dims` buckets, plus the configured
/// embeddings' vector (asked of the endpoint) when there are embeddings.
pub async fn layout_for(config: &Config, lexical_dims: usize) -> anyhow::Result<FeatureLayout> {
    let dims = match DenseEmbedder::from_config(&config.embeddings) {
        Some(embedder) => embedder.discover_dimension().await?,
        None => 0,
    };
    Ok(FeatureLayout::current(lexical_dims, dims))
}

/// Indexes the business's knowledge base and reads every labelled case.
pub async fn prepare(
    config: &Config,
    business: Business,
    bot: &Bot,
    layout: &FeatureLayout,
) -> anyhow::Result<Prepared> {
    let scratch = scratch_dir(&format!("corpus-{}", business.name));
    let kb = KnowledgeBase::open(&scratch_config(config, &business.knowledge, &scratch)).await?;
    for error in kb.load_errors() {
        eprintln!("warning: {}: {error}", business.name);
    }
    let embeddings = kb.query_embedding().filter(|_| layout.embedding_dims > 0);
    let mut items = Vec::with_capacity(business.cases.len());
    for case in &business.cases {
        let Some(class) = case.expect.triage else {
            continue;
        };
        let reading = bot.read(kb.as_ref(), &case.inbound()).await;
        let input = bot.feature_input(&case.text, &reading, &[]);
        // Small talk is not searched, so it has no vector; the greeting
        // floor decides it in service.
        anyhow::ensure!(
            layout.embedding_dims == 0
                || reading.signals.small_talk.is_some()
                || input
                    .embedding
                    .is_some_and(|v| v.len() == layout.embedding_dims),
            "{}: case {}: the embeddings endpoint gave no vector of size {} (see the warnings above)",
            business.name,
            case.id,
            layout.embedding_dims
        );
        let best = reading.hits.first().map(|h| h.article_id.as_str());
        let right_article = match case.expect.article.as_deref() {
            Some(want) => best == Some(want),
            None => reading.signals.small_talk.is_some(),
        };
        items.push(Item {
            sample: Sample {
                x: features::extract(layout, &input),
                class,
            },
            gates: gates(&input),
            right_article,
        });
    }
    Ok(Prepared {
        business,
        kb,
        items,
        embeddings,
        scratch,
    })
}

/// A model trained on the businesses at `among`.
pub fn train_on(
    layout: &FeatureLayout,
    prepared: &[Prepared],
    among: &[usize],
    settings: FitSettings,
    point: OperatingPoint,
    point_chosen_by: &str,
) -> anyhow::Result<TriageModel> {
    let samples: Vec<&Sample> = among
        .iter()
        .flat_map(|&b| prepared[b].items.iter().map(|i| &i.sample))
        .collect();
    let provenance = Provenance {
        businesses: among
            .iter()
            .map(|&b| prepared[b].business.name.clone())
            .collect(),
        cases: samples.len(),
        alpha: settings.alpha,
        point_chosen_by: point_chosen_by.to_owned(),
    };
    let mut model = fit::train(layout, &samples, settings, point, provenance)?;
    model.embeddings = among.first().and_then(|&b| prepared[b].embeddings.clone());
    Ok(model)
}

/// `model`'s scores for the cases of business `b`.
pub fn score(model: &TriageModel, prepared: &Prepared) -> Vec<ScoredCase> {
    prepared
        .items
        .iter()
        .map(|item| ScoredCase {
            p: model.probabilities(&item.sample.x),
            gates: item.gates,
            expected: item.sample.class,
            right_article: item.right_article,
        })
        .collect()
}

/// Out-of-fold scores over the businesses at `among`: each business scored
/// by a model trained on the others of `among`. The folds train in
/// parallel, one per available core; the result is in `among` order.
pub fn out_of_fold(
    layout: &FeatureLayout,
    prepared: &[Prepared],
    among: &[usize],
    settings: FitSettings,
) -> anyhow::Result<Vec<ScoredCase>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut per_fold: Vec<Option<anyhow::Result<Vec<ScoredCase>>>> =
        (0..among.len()).map(|_| None).collect();
    for chunk in (0..among.len()).collect::<Vec<_>>().chunks(workers) {
        let results: Vec<(usize, anyhow::Result<Vec<ScoredCase>>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&slot| {
                    let held = among[slot];
                    let rest: Vec<usize> = among.iter().copied().filter(|&b| b != held).collect();
                    scope.spawn(move || {
                        let scored = train_on(
                            layout,
                            prepared,
                            &rest,
                            settings,
                            OperatingPoint::default(),
                            "none (out-of-fold scoring)",
                        )
                        .map(|model| score(&model, &prepared[held]));
                        (slot, scored)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a training thread panicked"))
                .collect()
        });
        for (slot, scored) in results {
            per_fold[slot] = Some(scored);
        }
    }
    let mut scored = Vec::new();
    for fold in per_fold.into_iter().flatten() {
        scored.extend(fold?);
    }
    Ok(scored)
}

/// The operating point chosen on the out-of-fold scores of `among`.
pub fn choose_point(
    layout: &FeatureLayout,
    prepared: &[Prepared],
    among: &[usize],
    settings: FitSettings,
) -> anyhow::Result<(OperatingPoint, Vec<ScoredCase>)> {
    let scored = out_of_fold(layout, prepared, among, settings)?;
    Ok((tune::choose(&scored), scored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::model::features::DEFAULT_LEXICAL_DIMS;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_case_is_scored_once_by_a_model_that_never_saw_its_business() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
        let businesses: Vec<Business> = crate::corpus::read_corpus(&corpus)
            .unwrap()
            .into_iter()
            .take(2)
            .collect();
        let config = Config::load_from(None, Vec::<(String, String)>::new()).unwrap();
        let mut reader_config = config.clone();
        reader_config.triage.classifier = crate::triage::model::Classifier::Rules;
        let bot = Bot::from_config(&reader_config).unwrap();
        let layout = FeatureLayout::current(DEFAULT_LEXICAL_DIMS, 0);
        let mut prepared = Vec::new();
        for business in businesses {
            prepared.push(prepare(&config, business, &bot, &layout).await.unwrap());
        }
        let settings = FitSettings {
            max_iterations: 30,
            ..FitSettings::default()
        };
        let (point, scored) = choose_point(&layout, &prepared, &[0, 1], settings).unwrap();
        let cases: usize = prepared.iter().map(|p| p.items.len()).sum();
        assert_eq!(scored.len(), cases);
        // In `among` order: the first business's cases come first.
        for (s, item) in scored.iter().zip(&prepared[0].items) {
            assert_eq!(s.expected, item.sample.class);
        }
        assert!((0.1..=0.98).contains(&point.faq_min), "{point:?}");
        let model = train_on(&layout, &prepared, &[1], settings, point, "test").unwrap();
        assert_eq!(
            model.provenance.businesses,
            [prepared[1].business.name.clone()]
        );
        for p in prepared {
            p.close();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_model_trained_with_embeddings_reads_them_and_names_them() {
        use crate::testkit::fake_openai::FakeOpenAi;
        use crate::triage::model::{ModelFileError, TriageConfig, load_configured};
        let fake = FakeOpenAi::start().await;
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
        let business = crate::corpus::read_corpus(&corpus)
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        let mut config = Config::load_from(None, Vec::<(String, String)>::new()).unwrap();
        config.embeddings.base_url = Some(fake.base_url());
        config.embeddings.model = Some("e5".into());
        config.embeddings.query_input_type = Some("query".into());
        let mut reader_config = config.clone();
        reader_config.triage.classifier = crate::triage::model::Classifier::Rules;
        let bot = Bot::from_config(&reader_config).unwrap();
        let layout = layout_for(&config, 256).await.unwrap();
        assert!(layout.embedding_dims > 0, "{layout:?}");
        let prepared = vec![prepare(&config, business, &bot, &layout).await.unwrap()];
        let fingerprint = prepared[0].embeddings.clone().expect("fingerprint");
        assert!(fingerprint.starts_with("e5|"), "{fingerprint}");
        let settings = FitSettings {
            max_iterations: 20,
            ..FitSettings::default()
        };
        let model = train_on(
            &layout,
            &prepared,
            &[0],
            settings,
            OperatingPoint::default(),
            "test",
        )
        .unwrap();
        assert_eq!(model.embeddings.as_deref(), Some(fingerprint.as_str()));
        assert_eq!(model.layout.embedding_dims, layout.embedding_dims);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        crate::triage::model::file::save(&model, &path).unwrap();
        let triage = TriageConfig {
            model: Some(path.clone()),
            ..TriageConfig::default()
        };
        let loaded = load_configured(&triage, Some(&fingerprint))
            .unwrap()
            .unwrap();
        assert_eq!(loaded.embeddings, model.embeddings);
        // Without those embeddings configured, the service refuses the file.
        for configured in [None, Some("other-model|||384")] {
            let err = load_configured(&triage, configured).unwrap_err();
            assert!(
                matches!(&err, ModelFileError::Embeddings { path: p, .. } if *p == path),
                "{err}"
            );
        }
        for p in prepared {
            p.close();
        }
    }
}
