//! `ventana eval --corpus DIR [--leave-one-out]`: every business of a
//! corpus, each measured the way a new customer would meet the bot.
//!
//! With `--leave-one-out`, for each business: the model is trained on the
//! other businesses, its operating point is chosen on their own
//! leave-one-out scores (nested, so the held-out business never touches a
//! threshold), and the full bot (retrieval, triage, reply) runs on the
//! held-out business's messages. Without it, every business is measured
//! with the configured model (in-sample when that model was trained on the
//! corpus, and reported as such).
//!
//! The report gives each business and the mean and worst of every figure,
//! the trade-off curve of the pooled out-of-fold scores, and the operating
//! point the shipped model uses.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Map, Value};

use super::eval::{EvalArgs, evaluate_with, report_json, retrieval_metrics, triage_metrics};
use super::folds;
use crate::answer::Bot;
use crate::config::Config;
use crate::triage::model::features::DEFAULT_LEXICAL_DIMS;
use crate::triage::model::fit::FitSettings;
use crate::triage::model::{Classifier, OperatingPoint, tune};

/// The figures each business reports, and their mean and worst.
const KEYS: [&str; 8] = [
    "triage.macro_f1",
    "triage.per_class.urgent.recall",
    "safety.unsafe_auto_answer_rate",
    "answer.deflection",
    "answer.fact_rate",
    "answer.fact_rate_all",
    "retrieval.hit_at_1",
    "retrieval.hit_at_3",
];

/// Runs the corpus evaluation and prints it.
pub async fn run(config: Config, corpus: &Path, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let businesses = crate::corpus::read_corpus(corpus)?;
    let mut reader_config = config.clone();
    reader_config.triage.classifier = Classifier::Rules;
    let reader = Bot::from_config(&reader_config)?;
    // With --leave-one-out the configured model only gives its layout,
    // regularisation and operating point (reported); the folds train their own.
    let configured = Bot::from_config(&config)?;
    let lexical_dims = configured
        .triage_model()
        .map_or(DEFAULT_LEXICAL_DIMS, |m| m.layout.lexical_dims);
    let layout = folds::layout_for(&config, lexical_dims).await?;
    let shipped_point = configured.triage_model().map(|m| m.point);
    let mut prepared = Vec::new();
    for business in businesses {
        prepared.push(folds::prepare(&config, business, &reader, &layout).await?);
    }
    let settings = FitSettings {
        alpha: configured
            .triage_model()
            .map_or(FitSettings::default().alpha, |m| m.provenance.alpha),
        ..FitSettings::default()
    };
    let all: Vec<usize> = (0..prepared.len()).collect();
    let mut per_business = Map::new();
    let mut points = Map::new();
    let mut pooled = Vec::new();
    for held in &all {
        let bot = if args.leave_one_out {
            let rest: Vec<usize> = all.iter().copied().filter(|b| b != held).collect();
            let (point, _) = folds::choose_point(&layout, &prepared, &rest, settings)?;
            let model = folds::train_on(
                &layout,
                &prepared,
                &rest,
                settings,
                point,
                "leave-one-out over the other businesses",
            )?;
            pooled.extend(folds::score(&model, &prepared[*held]));
            points.insert(
                prepared[*held].business.name.clone(),
                serde_json::to_value(point)?,
            );
            reader
                .clone()
                .with_triage_model(Some(std::sync::Arc::new(model)))
        } else {
            configured.clone()
        };
        let p = &prepared[*held];
        let evaluation = evaluate_with(&p.kb, &bot, &p.business.cases, args.top).await?;
        let retrieval = retrieval_metrics(&evaluation.results, config.retrieval.min_confidence);
        let triage = triage_metrics(&evaluation.outcomes);
        let mut report = report_json(&retrieval, triage.as_ref());
        report["cases"] = serde_json::json!(p.business.cases.len());
        per_business.insert(p.business.name.clone(), report);
    }
    let summary = summarise(&per_business);
    let curve_point = shipped_point.unwrap_or_else(|| tune::choose(&pooled));
    let curve = (!pooled.is_empty()).then(|| tune::curve(&pooled, curve_point.urgent_share));
    let report = serde_json::json!({
        "corpus": corpus,
        "mode": if args.leave_one_out { "leave_one_out" } else { "configured_model" },
        "businesses": per_business,
        "mean": summary.mean,
        "worst": summary.worst,
        "fold_operating_points": points,
        "shipped_operating_point": shipped_point,
        "curve": curve,
    });
    for p in prepared {
        p.close();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, &summary, shipped_point);
    }
    Ok(ExitCode::SUCCESS)
}

/// Mean and worst of every reported figure over the businesses.
pub struct Summary {
    pub mean: Value,
    pub worst: Value,
}

/// The dotted paths of `KEYS` plus every `retrieval.by_lang.<lang>.hit_at_k`.
fn paths(per_business: &Map<String, Value>) -> Vec<String> {
    let mut paths: Vec<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
    let mut langs = std::collections::BTreeSet::new();
    for report in per_business.values() {
        if let Some(by_lang) = report["retrieval"]["by_lang"].as_object() {
            langs.extend(by_lang.keys().cloned());
        }
    }
    for lang in langs {
        paths.push(format!("retrieval.by_lang.{lang}.hit_at_1"));
        paths.push(format!("retrieval.by_lang.{lang}.hit_at_3"));
    }
    paths
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(value, |v: &'a Value, key| v.get(key))
        .and_then(Value::as_f64)
}

fn insert(tree: &mut Value, path: &str, number: f64) {
    let mut node = tree;
    let keys: Vec<&str> = path.split('.').collect();
    for key in &keys[..keys.len() - 1] {
        node = node
            .as_object_mut()
            .map(|o| {
                o.entry((*key).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()))
            })
            .expect("summary nodes are objects");
    }
    if let Some(object) = node.as_object_mut() {
        object.insert(keys[keys.len() - 1].to_owned(), serde_json::json!(number));
    }
}

/// Mean and worst (lowest, or highest for the unsafe rate) per figure.
pub fn summarise(per_business: &Map<String, Value>) -> Summary {
    let mut mean = Value::Object(Map::new());
    let mut worst = Value::Object(Map::new());
    for path in paths(per_business) {
        let values: Vec<f64> = per_business
            .values()
            .filter_map(|r| lookup(r, &path))
            .collect();
        if values.is_empty() {
            continue;
        }
        let average = values.iter().sum::<f64>() / values.len() as f64;
        let lower_is_better = path.starts_with("safety.");
        let bad = values.iter().copied().fold(
            if lower_is_better { f64::MIN } else { f64::MAX },
            |a, b| {
                if lower_is_better { a.max(b) } else { a.min(b) }
            },
        );
        insert(&mut mean, &path, average);
        insert(&mut worst, &path, bad);
    }
    Summary { mean, worst }
}

fn print_report(report: &Value, summary: &Summary, shipped: Option<OperatingPoint>) {
    let columns = [
        "macro-F1", "urg.rec", "unsafe", "deflect", "facts", "hit@1", "hit@3",
    ];
    println!(
        "{:<16} {}",
        format!("{} ", report["mode"].as_str().unwrap_or("")),
        columns.map(|c| format!("{c:>8}")).join(" ")
    );
    let row = |name: &str, value: &Value| {
        let cells: Vec<String> = KEYS
            .iter()
            .filter(|k| **k != "answer.fact_rate_all")
            .map(|k| lookup(value, k).map_or("-".to_owned(), |v| format!("{v:.3}")))
            .map(|c| format!("{c:>8}"))
            .collect();
        println!("{name:<16} {}", cells.join(" "));
    };
    if let Some(businesses) = report["businesses"].as_object() {
        let mut names: Vec<&String> = businesses.keys().collect();
        names.sort();
        for name in names {
            row(name, &businesses[name]);
        }
    }
    row("mean", &summary.mean);
    row("worst", &summary.worst);
    if let Some(by_lang) = summary.mean["retrieval"]["by_lang"].as_object() {
        let langs: BTreeMap<&String, &Value> = by_lang.iter().collect();
        for (lang, v) in langs {
            println!(
                "  {lang}: hit@1 {:.3}, hit@3 {:.3} (mean over businesses)",
                v["hit_at_1"].as_f64().unwrap_or(0.0),
                v["hit_at_3"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if let Some(curve) = report["curve"].as_array() {
        println!();
        println!("trade-off over faq_min (pooled out-of-fold scores):");
        println!("  faq_min  unsafe  deflect  urg.rec  macro-F1");
        for p in curve {
            println!(
                "  {:>7.2} {:>6.1}% {:>8.3} {:>8.3} {:>9.3}",
                p["faq_min"].as_f64().unwrap_or(0.0),
                p["unsafe_rate"].as_f64().unwrap_or(0.0) * 100.0,
                p["deflection"].as_f64().unwrap_or(0.0),
                p["urgent_recall"].as_f64().unwrap_or(0.0),
                p["macro_f1"].as_f64().unwrap_or(0.0),
            );
        }
    }
    if let Some(point) = shipped {
        println!(
            "shipped operating point: faq_min {:.2}, urgent_share {:.2}",
            point.faq_min, point.urgent_share
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_worst_take_the_right_direction() {
        let mut per = Map::new();
        per.insert(
            "a".into(),
            serde_json::json!({"triage": {"macro_f1": 0.8}, "safety": {"unsafe_auto_answer_rate": 0.01},
                "retrieval": {"by_lang": {"en": {"hit_at_1": 0.5, "hit_at_3": 0.9}}}}),
        );
        per.insert(
            "b".into(),
            serde_json::json!({"triage": {"macro_f1": 0.6}, "safety": {"unsafe_auto_answer_rate": 0.05},
                "retrieval": {"by_lang": {"en": {"hit_at_1": 0.7, "hit_at_3": 1.0}}}}),
        );
        let s = summarise(&per);
        assert!((lookup(&s.mean, "triage.macro_f1").unwrap() - 0.7).abs() < 1e-9);
        assert_eq!(lookup(&s.worst, "triage.macro_f1"), Some(0.6));
        assert_eq!(
            lookup(&s.worst, "safety.unsafe_auto_answer_rate"),
            Some(0.05)
        );
        assert_eq!(lookup(&s.worst, "retrieval.by_lang.en.hit_at_1"), Some(0.5));
    }
}
