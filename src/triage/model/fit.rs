//! Training the triage model with linfa's multinomial logistic regression
//! (L2-regularised, L-BFGS). Deterministic: the same samples in the same
//! order give the same weights.

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};

use super::features::{FeatureLayout, SparseVector};
use super::{OperatingPoint, Provenance, TriageModel};
use crate::vocab::TriageClass;

/// Column order of the weights.
pub const CLASS_ORDER: [TriageClass; 3] =
    [TriageClass::Faq, TriageClass::Urgent, TriageClass::Human];

/// The weight column of `class`.
pub fn class_index(class: TriageClass) -> usize {
    match class {
        TriageClass::Faq => 0,
        TriageClass::Urgent => 1,
        TriageClass::Human => 2,
    }
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct FitSettings {
    /// L2 regularisation strength.
    pub alpha: f64,
    pub max_iterations: u64,
}

impl Default for FitSettings {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iterations: 100,
        }
    }
}

/// One labelled feature vector.
#[derive(Debug, Clone)]
pub struct Sample {
    pub x: SparseVector,
    pub class: TriageClass,
}

/// Fits a model on `samples` (all three classes must be present).
pub fn train(
    layout: &FeatureLayout,
    samples: &[&Sample],
    settings: FitSettings,
    point: OperatingPoint,
    provenance: Provenance,
) -> anyhow::Result<TriageModel> {
    for class in CLASS_ORDER {
        anyhow::ensure!(
            samples.iter().any(|s| s.class == class),
            "cannot train: no {class} message among the {} labelled",
            samples.len()
        );
    }
    let dims = layout.len();
    let mut records = Array2::<f64>::zeros((samples.len(), dims));
    for (row, sample) in samples.iter().enumerate() {
        for &(i, v) in &sample.x.entries {
            if (i as usize) < dims {
                records[[row, i as usize]] = f64::from(v);
            }
        }
    }
    let targets: Array1<usize> = samples.iter().map(|s| class_index(s.class)).collect();
    let dataset = Dataset::new(records, targets);
    let fitted = MultiLogisticRegression::default()
        .alpha(settings.alpha)
        .max_iterations(settings.max_iterations)
        .with_intercept(true)
        .fit(&dataset)
        .map_err(|e| anyhow::anyhow!("training the triage model failed: {e}"))?;
    let mut weights = vec![0.0f32; dims * 3];
    let mut intercept = [0.0f32; 3];
    for (column, &class) in fitted.classes().iter().enumerate() {
        intercept[class] = fitted.intercept()[column] as f32;
        for feature in 0..dims {
            weights[feature * 3 + class] = fitted.params()[[feature, column]] as f32;
        }
    }
    Ok(TriageModel {
        layout: layout.clone(),
        weights,
        intercept,
        point,
        provenance,
        embeddings: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::cues::scan;
    use crate::triage::model::features::{FeatureInput, extract};

    fn sample(layout: &FeatureLayout, text: &str, class: TriageClass) -> Sample {
        let signals = scan(text);
        let x = extract(
            layout,
            &FeatureInput {
                text,
                signals: &signals,
                previous: &[],
                hits: &[],
                min_confidence: 0.35,
                embedding: None,
            },
        );
        Sample { x, class }
    }

    fn toy() -> (FeatureLayout, Vec<Sample>) {
        let layout = FeatureLayout::current(512, 0);
        let rows = [
            ("cuanto cuesta el plan basico", TriageClass::Faq),
            ("cual es el horario de atencion", TriageClass::Faq),
            ("como cambio mi clave en la app", TriageClass::Faq),
            ("hay humo saliendo del medidor", TriageClass::Urgent),
            (
                "me robaron el celular bloqueen la linea",
                TriageClass::Urgent,
            ),
            (
                "alguien me pide el codigo por telefono",
                TriageClass::Urgent,
            ),
            ("quiero un reembolso del mes pasado", TriageClass::Human),
            ("necesito hablar con un supervisor", TriageClass::Human),
            ("quiero presentar un reclamo formal", TriageClass::Human),
        ];
        let samples = rows.iter().map(|(t, c)| sample(&layout, t, *c)).collect();
        (layout, samples)
    }

    fn provenance() -> Provenance {
        Provenance {
            businesses: vec!["toy".into()],
            cases: 9,
            alpha: 0.02,
            point_chosen_by: "test".into(),
        }
    }

    #[test]
    fn a_trained_model_separates_its_training_messages() {
        let (layout, samples) = toy();
        let refs: Vec<&Sample> = samples.iter().collect();
        let model = train(
            &layout,
            &refs,
            FitSettings::default(),
            OperatingPoint::default(),
            provenance(),
        )
        .unwrap();
        for s in &samples {
            let p = model.probabilities(&s.x);
            let best = CLASS_ORDER
                .iter()
                .copied()
                .max_by(|a, b| p.get(*a).total_cmp(&p.get(*b)))
                .unwrap();
            assert_eq!(best, s.class, "{p:?}");
            assert!((p.faq + p.urgent + p.human - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn training_is_deterministic() {
        let (layout, samples) = toy();
        let refs: Vec<&Sample> = samples.iter().collect();
        let settings = FitSettings::default();
        let a = train(
            &layout,
            &refs,
            settings,
            OperatingPoint::default(),
            provenance(),
        )
        .unwrap();
        let b = train(
            &layout,
            &refs,
            settings,
            OperatingPoint::default(),
            provenance(),
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_missing_class_is_refused() {
        let (layout, samples) = toy();
        let refs: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.class != TriageClass::Urgent)
            .collect();
        let error = train(
            &layout,
            &refs,
            FitSettings::default(),
            OperatingPoint::default(),
            provenance(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("no urgent message"), "{error}");
    }
}
