//! Step 4 of a run (docs/design.md), the population steps, on a few per-person columns of every bucket:
//! the statistics each person is compared with (price tertiles, RFM cut-points and means) and
//! the models' fits (BG/NBD, Gamma-Gamma, k-means). Their results are small: one row of
//! statistics, and per person the models' columns.

use crate::config::Plan;
use crate::error::Result;
use crate::expr::KEY;
use crate::io;
use crate::stages::predict::{self, Outcome};
use crate::stages::{features, score};
use polars::prelude::*;

/// The statistics `compared` reads, as aggregations over every person.
fn statistics(plan: &Plan) -> Vec<Expr> {
    let mut stats = features::statistics();
    stats.extend(score::rfm_statistics(plan.rfm.bins));
    stats
}

/// One row: the statistics over every person of `people` that each person is compared with.
pub fn everyone(people: LazyFrame, plan: &Plan) -> LazyFrame {
    score::rfm_values(people).select(statistics(plan))
}

/// The columns that compare a person with `everyone` (price tier, RFM scores and classes, and
/// what derives from them).
pub fn compared(per_person: LazyFrame, everyone: LazyFrame, plan: &Plan) -> LazyFrame {
    let names: Vec<PlSmallStr> = statistics(plan).into_iter().filter_map(|e| e.meta().output_name().ok()).collect();
    score::rfm(features::across_people(per_person.cross_join(everyone, None)), plan).drop(cols(names))
}

/// `compared`, then the config features (expressions over one person's columns).
pub fn across_people(per_person: LazyFrame, everyone: LazyFrame, plan: &Plan) -> LazyFrame {
    score::apply_features(compared(per_person, everyone, plan), plan)
}

/// Fit the models on the columns they read of every person (`predict::reads`); each
/// person's predictions (`_key` and the columns `predict` adds) and what the fits found.
pub fn models(people: LazyFrame, everyone: LazyFrame, plan: &Plan, holdout_days: Option<f64>) -> Result<(DataFrame, Outcome)> {
    let reads = predict::reads(plan);
    let frame = io::collect(across_people(people, everyone, plan).select(reads.iter().map(|c| col(c.as_str())).collect::<Vec<_>>()))?;
    let (predicted, outcome) = predict::predict(frame, plan, holdout_days)?;
    let added: Vec<Expr> = predicted
        .get_column_names()
        .into_iter()
        .filter(|c| c.as_str() == KEY || !reads.iter().any(|r| r == c.as_str()))
        .map(|c| col(c.clone()))
        .collect();
    Ok((io::collect(predicted.lazy().select(added))?, outcome))
}
