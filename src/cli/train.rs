//! `ventana train --corpus DIR --out FILE`: trains the triage model on
//! every business of a corpus and writes the model file.
//!
//! The operating point is chosen, safety first, on leave-one-business-out
//! scores (each business scored by a model that never saw it), so the
//! point holds for a business nobody tuned it for; the weights are then
//! fitted on every business. A business retrains with its own labelled
//! messages by adding them as one more business folder (`ventana cases
//! export` writes them from the store).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::answer::Bot;
use crate::config::Config;
use crate::triage::model::features::DEFAULT_LEXICAL_DIMS;
use crate::triage::model::fit::FitSettings;
use crate::triage::model::{Classifier, file, tune};

use super::folds;

/// Arguments of `ventana train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The corpus: one folder per business with `knowledge/` and
    /// `cases.jsonl`.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Where to write the model file.
    #[arg(long, default_value = "models/triage.json")]
    pub out: PathBuf,
    /// L2 regularisation strength.
    #[arg(long, default_value_t = FitSettings::default().alpha)]
    pub alpha: f64,
    /// L-BFGS iterations at most.
    #[arg(long, default_value_t = FitSettings::default().max_iterations)]
    pub max_iterations: u64,
    /// Hashed lexical buckets.
    #[arg(long, default_value_t = DEFAULT_LEXICAL_DIMS)]
    pub lexical_dims: usize,
}

/// Trains, reports the leave-one-out operating point and writes the file.
pub async fn run(config: Config, args: TrainArgs) -> anyhow::Result<ExitCode> {
    let businesses = crate::corpus::read_corpus(&args.corpus)?;
    anyhow::ensure!(
        businesses.len() >= 2,
        "--corpus {}: training needs at least two businesses (the operating point is chosen on businesses the model did not see)",
        args.corpus.display()
    );
    let mut reader_config = config.clone();
    reader_config.triage.classifier = Classifier::Rules;
    let bot = Bot::from_config(&reader_config)?;
    let layout = folds::layout_for(&config, args.lexical_dims).await?;
    let mut prepared = Vec::new();
    for business in businesses {
        prepared.push(folds::prepare(&config, business, &bot, &layout).await?);
    }
    let settings = FitSettings {
        alpha: args.alpha,
        max_iterations: args.max_iterations,
    };
    let started = std::time::Instant::now();
    let all: Vec<usize> = (0..prepared.len()).collect();
    let (point, scored) = folds::choose_point(&layout, &prepared, &all, settings)?;
    let figures = tune::evaluate(&scored, &point);
    let model = folds::train_on(
        &layout,
        &prepared,
        &all,
        settings,
        point,
        "leave-one-business-out over the training corpus, unsafe budget 1.5 %",
    )?;
    file::save(&model, &args.out)?;
    println!(
        "trained on {} businesses, {} messages in {:.1} s; wrote {}",
        model.provenance.businesses.len(),
        model.provenance.cases,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    println!(
        "operating point: faq_min {:.2}, urgent_share {:.2} (leave-one-out: unsafe {:.1} %, deflection {:.3}, urgent recall {:.3}, macro-F1 {:.3})",
        point.faq_min,
        point.urgent_share,
        figures.unsafe_rate * 100.0,
        figures.deflection,
        figures.urgent_recall,
        figures.macro_f1
    );
    println!("trade-off over faq_min (leave-one-out scores):");
    println!("  faq_min  unsafe  deflect  urg.rec  macro-F1");
    for p in tune::curve(&scored, point.urgent_share) {
        println!(
            "  {:>7.2} {:>6.1}% {:>8.3} {:>8.3} {:>9.3}",
            p.faq_min,
            p.unsafe_rate * 100.0,
            p.deflection,
            p.urgent_recall,
            p.macro_f1
        );
    }
    for p in prepared {
        p.close();
    }
    Ok(ExitCode::SUCCESS)
}
