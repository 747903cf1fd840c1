//! The learned triage model: a multinomial logistic regression over
//! [`features`], trained on labelled messages of many businesses
//! ([`fit`]), stored as a JSON file ([`file`]) and applied with an
//! operating point ([`OperatingPoint`]) chosen for safety first.
//!
//! The model gives three probabilities (faq, urgent, human). The bot
//! answers on its own only when P(faq) reaches the operating point's
//! `faq_min` and a passage is confident enough; otherwise a person takes
//! the case, as urgent when P(urgent) is at least `urgent_share` of the
//! probability that a person is needed. Three rules stay in front of the
//! model as a floor, because they transfer to every business: an explicit
//! request for a person, a hard urgency cue (see [`super::rules`]), and a
//! message that is only a greeting, thanks or "ok".

pub mod features;
pub mod file;
pub mod fit;
pub mod tune;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use features::{FeatureInput, FeatureLayout, SparseVector};
pub use file::ModelFileError;

use super::{Basis, Lang, Triage, TriageClass, TriageSource};

/// How the bot triages (`[triage]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// `learned` (the model file, with the rule floor) or `rules` (the cue
    /// lists alone). `VENTANA_TRIAGE__CLASSIFIER`.
    pub classifier: Classifier,
    /// A model file to use instead of the one built into the binary (the
    /// repository's `models/triage.json` at build time).
    /// `VENTANA_TRIAGE__MODEL`.
    pub model: Option<PathBuf>,
}

impl Default for TriageConfig {
    fn default() -> Self {
        Self {
            classifier: Classifier::Learned,
            model: None,
        }
    }
}

/// The shipped model, built into the binary.
const BUILT_IN: &[u8] = include_bytes!("../../../models/triage.json");
/// Where the built-in model came from, for messages.
pub const BUILT_IN_PATH: &str = "models/triage.json";
/// The shipped model that also reads multilingual-e5-small vectors, used
/// when the configured embeddings are the ones it was trained with.
const BUILT_IN_E5: &[u8] = include_bytes!("../../../models/triage-e5.json");
pub const BUILT_IN_E5_PATH: &str = "models/triage-e5.json";

/// Which classifier triages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Classifier {
    Learned,
    Rules,
}

/// The built-in model that reads no embeddings.
pub fn built_in() -> TriageModel {
    file::parse(std::path::Path::new(BUILT_IN_PATH), BUILT_IN)
        .expect("the built-in triage model is checked by the tests")
}

/// The configured model, or `None` when triage uses the rules alone.
/// `embeddings` is the configured message embedding
/// ([`DenseEmbedder::query_fingerprint`](crate::knowledge::dense::DenseEmbedder::query_fingerprint)),
/// if any: without a `triage.model`, the built-in model trained on those
/// vectors is used when there is one. A missing, corrupt or foreign file,
/// or a model trained on embeddings that are not configured, is an error
/// that names the file and the command that rebuilds it.
pub fn load_configured(
    config: &TriageConfig,
    embeddings: Option<&str>,
) -> Result<Option<TriageModel>, ModelFileError> {
    let (path, model) = match (config.classifier, &config.model) {
        (Classifier::Rules, _) => return Ok(None),
        (Classifier::Learned, Some(path)) => (path.clone(), file::load(path)?),
        (Classifier::Learned, None) => {
            let e5_path = std::path::Path::new(BUILT_IN_E5_PATH);
            let e5 = file::parse(e5_path, BUILT_IN_E5)?;
            if embeddings.is_some() && e5.embeddings.as_deref() == embeddings {
                (e5_path.to_owned(), e5)
            } else {
                (PathBuf::from(BUILT_IN_PATH), built_in())
            }
        }
    };
    match (&model.embeddings, embeddings) {
        (Some(trained), configured) if Some(trained.as_str()) != configured => {
            Err(ModelFileError::Embeddings {
                path,
                trained: trained.clone(),
                configured: configured.unwrap_or("none").to_owned(),
            })
        }
        _ => Ok(Some(model)),
    }
}

/// P(class) for one message.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Probabilities {
    pub faq: f32,
    pub urgent: f32,
    pub human: f32,
}

impl Probabilities {
    /// Of the probability that a person is needed, the share that says
    /// "now".
    pub fn urgent_share(&self) -> f32 {
        let person = self.urgent + self.human;
        if person <= f32::EPSILON {
            0.0
        } else {
            self.urgent / person
        }
    }

    pub fn get(&self, class: TriageClass) -> f32 {
        match class {
            TriageClass::Faq => self.faq,
            TriageClass::Urgent => self.urgent,
            TriageClass::Human => self.human,
        }
    }
}

/// Where the model's probabilities become a class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// The bot answers alone only at or above this P(faq).
    pub faq_min: f32,
    /// A case for a person is urgent at or above this share of P(urgent)
    /// in P(urgent) + P(human).
    pub urgent_share: f32,
}

impl Default for OperatingPoint {
    fn default() -> Self {
        Self {
            faq_min: 0.6,
            urgent_share: 0.4,
        }
    }
}

/// What, besides the probabilities, decides the class: the rule floor and
/// whether the knowledge base can answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gates {
    /// A hard urgency cue (money lost now, a hazard, a takeover): rule
    /// floor.
    pub urgent_cue: bool,
    /// The customer asked for a person (rule floor).
    pub asks_person: bool,
    /// The message is only small talk (rule floor).
    pub small_talk: bool,
    /// The best passage reaches the confidence to answer.
    pub confident_article: bool,
    /// The best article is flagged `escalate`.
    pub escalate_article: bool,
}

/// Why the class was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ground {
    UrgentCue,
    PersonRequested,
    SmallTalk,
    Model,
    EscalateArticle,
    NotCovered,
}

/// The class for `p` at `point`, after the rule floor and the knowledge
/// base's gates. Pure: the bot, training and the threshold search share it.
pub fn decide(p: &Probabilities, gates: Gates, point: &OperatingPoint) -> (TriageClass, Ground) {
    let person_class = if p.urgent_share() >= point.urgent_share {
        TriageClass::Urgent
    } else {
        TriageClass::Human
    };
    if gates.urgent_cue {
        return (TriageClass::Urgent, Ground::UrgentCue);
    }
    if gates.asks_person {
        let class = if person_class == TriageClass::Urgent {
            TriageClass::Urgent
        } else {
            TriageClass::Human
        };
        return (class, Ground::PersonRequested);
    }
    if gates.small_talk && p.urgent_share() < point.urgent_share.max(0.5) {
        return (TriageClass::Faq, Ground::SmallTalk);
    }
    // A question (the model's likeliest class is faq) that no passage
    // answers goes to a person as not covered, never as urgent.
    let question = p.faq >= p.urgent.max(p.human);
    if p.faq >= point.faq_min || (question && !gates.confident_article) {
        return match (gates.confident_article, gates.escalate_article) {
            (true, false) => (TriageClass::Faq, Ground::Model),
            (true, true) => (TriageClass::Human, Ground::EscalateArticle),
            (false, _) => (TriageClass::Human, Ground::NotCovered),
        };
    }
    (person_class, Ground::Model)
}

/// A trained model: layout, weights and operating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageModel {
    pub layout: FeatureLayout,
    /// Row-major `layout.len() × 3` weights, columns in
    /// [`fit::CLASS_ORDER`] order.
    pub weights: Vec<f32>,
    pub intercept: [f32; 3],
    pub point: OperatingPoint,
    /// Where the model came from.
    pub provenance: Provenance,
    /// The message embedding it reads (the embedder's query fingerprint),
    /// `None` when it reads none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<String>,
}

/// What a model was trained on and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Businesses whose messages trained it.
    pub businesses: Vec<String>,
    pub cases: usize,
    /// L2 regularisation strength.
    pub alpha: f64,
    /// How the operating point was chosen.
    pub point_chosen_by: String,
}

impl TriageModel {
    /// P(class) for one feature vector.
    pub fn probabilities(&self, x: &SparseVector) -> Probabilities {
        let mut scores = self.intercept;
        for &(i, v) in &x.entries {
            let row = i as usize * 3;
            if let Some(w) = self.weights.get(row..row + 3) {
                for (s, wk) in scores.iter_mut().zip(w) {
                    *s += wk * v;
                }
            }
        }
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let at = |class| exp[fit::class_index(class)] / sum;
        Probabilities {
            faq: at(TriageClass::Faq),
            urgent: at(TriageClass::Urgent),
            human: at(TriageClass::Human),
        }
    }

    /// Whether the model can read this input: a model trained with
    /// embeddings needs the message's vector, of its size.
    pub fn reads(&self, input: &FeatureInput<'_>) -> bool {
        self.layout.embedding_dims == 0
            || input
                .embedding
                .is_some_and(|v| v.len() == self.layout.embedding_dims)
    }

    /// The same model with another operating point.
    pub fn with_point(mut self, point: OperatingPoint) -> Self {
        self.point = point;
        self
    }
}

/// The gates of one message: the rule floor and the retrieval result.
pub fn gates(input: &FeatureInput<'_>) -> Gates {
    let s = input.signals;
    let top = input.hits.first();
    let confident = top.is_some_and(|h| h.score >= input.min_confidence);
    Gates {
        urgent_cue: super::rules::urgent_reason(s).is_some(),
        asks_person: super::rules::asks_for_person(s),
        small_talk: s.small_talk.is_some(),
        confident_article: confident,
        escalate_article: confident && top.is_some_and(|h| h.escalate),
    }
}

/// The learned verdict for one message, as a [`Triage`].
pub fn classify(model: &TriageModel, input: &FeatureInput<'_>, lang: Lang) -> Triage {
    let x = features::extract(&model.layout, input);
    let p = model.probabilities(&x);
    let (class, ground) = decide(&p, gates(input), &model.point);
    let top = input.hits.first().map_or("-", |h| h.article_id.as_str());
    let (basis, reason) = match (ground, class) {
        (Ground::UrgentCue, _) => (
            Basis::Cue,
            super::rules::urgent_reason(input.signals)
                .unwrap_or("urgent: cue")
                .to_owned(),
        ),
        (Ground::PersonRequested, _) => (
            Basis::Cue,
            format!("{class}: explicit request for a person"),
        ),
        (Ground::SmallTalk, _) => (Basis::SmallTalk, "faq: small talk".to_owned()),
        (Ground::EscalateArticle, _) => (
            Basis::EscalateArticle,
            format!("human: article {top} requires a person"),
        ),
        (Ground::NotCovered, _) => (
            Basis::LowConfidence,
            "human: low confidence, not covered by the knowledge base".to_owned(),
        ),
        (Ground::Model, TriageClass::Faq) => (
            Basis::Article,
            format!("faq: answered by {top} (p_faq {:.2})", p.faq),
        ),
        (Ground::Model, _) => (
            Basis::Learned,
            format!(
                "{class}: learned model (p_faq {:.2}, p_urgent {:.2}, p_human {:.2})",
                p.faq, p.urgent, p.human
            ),
        ),
    };
    Triage {
        class,
        confidence: p.get(class).clamp(0.0, 1.0),
        lang,
        reason,
        source: TriageSource::Learned,
        basis,
        small_talk: if ground == Ground::SmallTalk {
            input.signals.small_talk
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(faq: f32, urgent: f32, human: f32) -> Probabilities {
        Probabilities { faq, urgent, human }
    }

    const OPEN: Gates = Gates {
        urgent_cue: false,
        asks_person: false,
        small_talk: false,
        confident_article: true,
        escalate_article: false,
    };

    #[test]
    fn the_bot_answers_only_above_the_operating_point_with_an_article() {
        let point = OperatingPoint {
            faq_min: 0.7,
            urgent_share: 0.4,
        };
        assert_eq!(decide(&p(0.8, 0.1, 0.1), OPEN, &point).0, TriageClass::Faq);
        assert_eq!(
            decide(&p(0.65, 0.05, 0.3), OPEN, &point).0,
            TriageClass::Human
        );
        assert_eq!(
            decide(&p(0.65, 0.2, 0.15), OPEN, &point).0,
            TriageClass::Urgent
        );
        let uncovered = Gates {
            confident_article: false,
            ..OPEN
        };
        assert_eq!(
            decide(&p(0.9, 0.05, 0.05), uncovered, &point),
            (TriageClass::Human, Ground::NotCovered)
        );
        let escalate = Gates {
            escalate_article: true,
            ..OPEN
        };
        assert_eq!(
            decide(&p(0.9, 0.05, 0.05), escalate, &point),
            (TriageClass::Human, Ground::EscalateArticle)
        );
    }

    #[test]
    fn the_configured_model_loads_and_a_missing_one_stops_the_start() {
        let shipped = TriageConfig::default();
        let model = load_configured(&shipped, None)
            .expect("the shipped model file loads")
            .expect("learned is the default");
        assert!(
            model.provenance.businesses.len() >= 8,
            "{:?}",
            model.provenance
        );
        assert_eq!(model.layout.embedding_dims, 0);
        // With the embeddings the second built-in model was trained on,
        // that model is chosen; with any others, the lexical one.
        let e5 = file::parse(std::path::Path::new(BUILT_IN_E5_PATH), BUILT_IN_E5).unwrap();
        let trained_on = e5
            .embeddings
            .clone()
            .expect("the e5 model names its embeddings");
        let chosen = load_configured(&shipped, Some(&trained_on))
            .unwrap()
            .unwrap();
        assert!(chosen.layout.embedding_dims > 0);
        assert_eq!(chosen.embeddings.as_deref(), Some(trained_on.as_str()));
        let other = load_configured(&shipped, Some("another-model|||768"))
            .unwrap()
            .unwrap();
        assert_eq!(other.layout.embedding_dims, 0);
        let rules = TriageConfig {
            classifier: Classifier::Rules,
            ..TriageConfig::default()
        };
        assert!(load_configured(&rules, None).unwrap().is_none());
        let missing = TriageConfig {
            model: Some(PathBuf::from("models/no-such-model.json")),
            ..TriageConfig::default()
        };
        let error = load_configured(&missing, None).unwrap_err().to_string();
        assert!(error.contains("models/no-such-model.json"), "{error}");
        assert!(error.contains("ventana train --corpus"), "{error}");
    }

    #[test]
    fn an_explicit_request_for_a_person_is_a_floor() {
        let asks = Gates {
            asks_person: true,
            ..OPEN
        };
        let point = OperatingPoint::default();
        assert_eq!(
            decide(&p(0.95, 0.01, 0.04), asks, &point),
            (TriageClass::Human, Ground::PersonRequested)
        );
        assert_eq!(
            decide(&p(0.1, 0.6, 0.3), asks, &point).0,
            TriageClass::Urgent
        );
    }
}
