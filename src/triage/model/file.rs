//! The model file: JSON with a format tag, the feature layout, the weights
//! and the operating point. Loading checks everything it can, and every
//! refusal names the file and the command that rebuilds it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TriageModel;
use super::features::FeatureLayout;

/// The tag at the top of every model file.
pub const FORMAT: &str = "ventana-triage-model";
/// Version of the file format.
pub const FORMAT_VERSION: u32 = 1;
/// The command that rebuilds the shipped model.
pub const REBUILD: &str = "ventana train --corpus eval/corpus --out models/triage.json";

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    format_version: u32,
    model: TriageModel,
}

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("triage model {path}: file not found; rebuild it with `{REBUILD}`")]
    Missing { path: PathBuf },
    #[error("triage model {path}: cannot read it ({reason}); rebuild it with `{REBUILD}`")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "triage model {path}: trained for another feature layout ({reason}); rebuild it with `{REBUILD}`"
    )]
    Layout { path: PathBuf, reason: String },
    #[error(
        "triage model {path}: trained on the message embeddings `{trained}`, but the configured embeddings are `{configured}`; configure those embeddings, or train a model for yours with `ventana train --corpus eval/corpus --out FILE` and set triage.model"
    )]
    Embeddings {
        path: PathBuf,
        trained: String,
        configured: String,
    },
    #[error("triage model {path}: cannot write it: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Writes `model` to `path` (through a temporary file, then a rename).
pub fn save(model: &TriageModel, path: &Path) -> Result<(), ModelFileError> {
    let write_error = |e: &dyn std::fmt::Display| ModelFileError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let envelope = Envelope {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        model: model.clone(),
    };
    let json = serde_json::to_vec(&envelope).map_err(|e| write_error(&e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| write_error(&e))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(|e| write_error(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| write_error(&e))
}

/// Reads the model at `path` and checks it against the layout this build
/// extracts (with the file's own bucket count and embedding length).
pub fn load(path: &Path) -> Result<TriageModel, ModelFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelFileError::Missing {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(corrupt(path, e.to_string())),
    };
    parse(path, &bytes)
}

/// The model in `bytes`, read from `path` (named in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<TriageModel, ModelFileError> {
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(path, format!("not a model file: {e}")))?;
    if envelope.format != FORMAT || envelope.format_version != FORMAT_VERSION {
        return Err(corrupt(
            path,
            format!(
                "format {} v{}, expected {FORMAT} v{FORMAT_VERSION}",
                envelope.format, envelope.format_version
            ),
        ));
    }
    let model = envelope.model;
    let expected = FeatureLayout::current(model.layout.lexical_dims, model.layout.embedding_dims);
    if let Some(reason) = layout_difference(&expected, &model.layout) {
        return Err(ModelFileError::Layout {
            path: path.to_owned(),
            reason,
        });
    }
    if model.weights.len() != model.layout.len() * 3
        || model
            .weights
            .iter()
            .chain(&model.intercept)
            .any(|w| !w.is_finite())
    {
        return Err(corrupt(
            path,
            format!(
                "{} weights for {} features, or a weight that is not a number",
                model.weights.len(),
                model.layout.len()
            ),
        ));
    }
    Ok(model)
}

fn corrupt(path: &Path, reason: String) -> ModelFileError {
    ModelFileError::Corrupt {
        path: path.to_owned(),
        reason,
    }
}

/// Why `found` is not `expected`, or `None` when they match.
fn layout_difference(expected: &FeatureLayout, found: &FeatureLayout) -> Option<String> {
    if expected == found {
        return None;
    }
    Some(if expected.version != found.version {
        format!(
            "feature version {}, this build extracts version {}",
            found.version, expected.version
        )
    } else if expected.embedding_scale != found.embedding_scale {
        format!(
            "embedding scale {}, this build multiplies the vector by {}",
            found.embedding_scale, expected.embedding_scale
        )
    } else {
        "its cue, retrieval or history features differ from this build's".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::super::{OperatingPoint, Provenance};
    use super::*;

    fn model(lexical_dims: usize) -> TriageModel {
        let layout = FeatureLayout::current(lexical_dims, 0);
        TriageModel {
            weights: vec![0.25; layout.len() * 3],
            layout,
            intercept: [0.1, -0.2, 0.1],
            point: OperatingPoint::default(),
            provenance: Provenance {
                businesses: vec!["a".into()],
                cases: 1,
                alpha: 0.1,
                point_chosen_by: "test".into(),
            },
            embeddings: None,
        }
    }

    #[test]
    fn a_saved_model_loads_back_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        save(&model(64), &path).unwrap();
        assert_eq!(load(&path).unwrap(), model(64));
    }

    #[test]
    fn a_missing_corrupt_or_foreign_file_is_refused_naming_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.json");
        let e = load(&missing).unwrap_err();
        assert!(matches!(e, ModelFileError::Missing { .. }));
        let corrupt_path = dir.path().join("bad.json");
        std::fs::write(
            &corrupt_path,
            b"{\"format\": \"ventana-triage-model\", \"mod",
        )
        .unwrap();
        let c = load(&corrupt_path).unwrap_err();
        assert!(matches!(c, ModelFileError::Corrupt { .. }));
        let other = dir.path().join("other.json");
        let mut foreign = model(64);
        foreign
            .layout
            .cues
            .push("a cue this build does not have".into());
        foreign.weights.extend([0.0; 3]);
        save(&foreign, &other).unwrap();
        let l = load(&other).unwrap_err();
        assert!(matches!(l, ModelFileError::Layout { .. }));
        for (error, path) in [(e, &missing), (c, &corrupt_path), (l, &other)] {
            let text = error.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(REBUILD), "{text}");
        }
    }

    #[test]
    fn truncated_weights_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.json");
        let mut m = model(64);
        m.weights.truncate(10);
        save(&m, &path).unwrap();
        assert!(matches!(
            load(&path).unwrap_err(),
            ModelFileError::Corrupt { .. }
        ));
    }

    #[test]
    fn a_model_whose_embedding_block_was_scaled_otherwise_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e5.json");
        let mut m = model(64);
        m.layout = FeatureLayout::current(64, 8);
        m.weights = vec![0.25; m.layout.len() * 3];
        save(&m, &path).unwrap();
        assert_eq!(load(&path).unwrap(), m);
        m.layout.embedding_scale += 1;
        save(&m, &path).unwrap();
        let text = load(&path).unwrap_err().to_string();
        assert!(text.contains("embedding scale"), "{text}");
        // A file written before the scale existed reads as unscaled, which
        // is right for a model without an embedding block.
        let lexical = serde_json::to_value(model(64).layout).unwrap();
        let mut old = lexical.clone();
        old.as_object_mut().unwrap().remove("embedding_scale");
        let read: FeatureLayout = serde_json::from_value(old).unwrap();
        assert_eq!(serde_json::to_value(read).unwrap(), lexical);
    }
}
