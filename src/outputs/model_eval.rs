//! `model_eval` (成效评估): when orders after as-of exist, the predictions for the holdout
//! (as-of, newest purchase day] against what happened, for all buyers (`all`), by
//! alive-probability decile (`p_alive 0.0-0.1` ...), by lifecycle stage (`lifecycle:<stage>`)
//! and by tag (`tag:<tag>`, e.g. how many `churn_risk` customers bought again); and the
//! recommendations against what their customers bought in the 28 days after as-of
//! (`recommend:<method>`, the backtest's metrics). Empty without newer data.

use super::{column, ColumnDoc, TableDoc, Values, COUNT, DAYS, SHARE};
use crate::error::{Error, Result};
use crate::expr::{fixed_mean, fixed_sum};
use crate::stages::predict::{ACTUAL, HOLDOUT_PREDICTED};
use crate::stages::recommend::{self, Metrics};
use polars::prelude::*;

/// The table's inputs from the scored profile: one row per person with a holdout prediction
/// (computed bucket by bucket; `build` reads the rows of every bucket).
pub fn inputs(scored: LazyFrame) -> LazyFrame {
    scored.filter(col(HOLDOUT_PREDICTED).is_not_null()).select([
        col("pred_p_alive"),
        col(HOLDOUT_PREDICTED).alias("_pred"),
        col(ACTUAL).fill_null(lit(0u32)).cast(DataType::Float64).alias("_actual"),
        col("lifecycle_stage"),
        col("tags"),
    ])
}

/// The `recommend:<method>` rows from each checked person's metrics (method, popularity,
/// repurchase; `outputs::recommendations::Built`): customers and the mean of each metric.
pub fn recommendations(checked: &[[Metrics; 3]]) -> Result<DataFrame> {
    let names = ["recommend:trending_repurchase", "recommend:popularity", "recommend:repurchase"];
    // No row without anyone to check.
    let n = if checked.is_empty() { 0 } else { names.len() };
    let means: Vec<Metrics> = (0..n).map(|i| recommend::mean(&checked.iter().map(|m| m[i]).collect::<Vec<_>>())).collect();
    let column = |f: fn(&Metrics) -> f64| means.iter().map(f).collect::<Vec<f64>>();
    df!(
        "group" => names[..n].to_vec(),
        "customers" => vec![checked.len() as u64; n],
        "hit_rate_10" => column(|m| m.hit_rate_10),
        "recall_10" => column(|m| m.recall_10),
        "ndcg_10" => column(|m| m.ndcg_10),
        "category_hit_rate_5" => column(|m| m.category_hit_rate_5),
    )
    .map_err(|e| Error::internal("model_eval", e))
}

/// The table: the holdout `inputs` by group, then the `recommendations` rows.
pub fn build(inputs: LazyFrame, holdout_days: Option<f64>, recommendations: LazyFrame) -> Result<LazyFrame> {
    let base = inputs.cache();
    let metrics = || {
        [
            len().cast(DataType::UInt64).alias("customers"),
            fixed_mean(col("pred_p_alive")).alias("mean_p_alive"),
            col("_actual").gt(lit(0.0)).cast(DataType::Float64).mean().alias("share_bought_again"),
            fixed_sum(col("_pred")).alias("predicted_purchases"),
            col("_actual").sum().cast(DataType::UInt64).alias("actual_purchases"),
            fixed_mean((col("_pred") - col("_actual")).abs()).alias("mae_purchases"),
        ]
    };
    let grouped = |lf: LazyFrame, group: Expr| {
        lf.with_column(group.alias("group"))
            .filter(col("group").is_not_null())
            .group_by([col("group")])
            .agg(metrics())
            .sort(["group"], Default::default())
    };
    let decile = (col("pred_p_alive") * lit(10.0)).floor().clip(lit(0.0), lit(9.0)).cast(DataType::Int32);
    let bin_label = (0..10).rev().fold(lit(NULL).cast(DataType::String), |acc, i| {
        let label = if i == 9 { "p_alive 0.9-1.0".to_string() } else { format!("p_alive 0.{i}-0.{}", i + 1) };
        when(decile.clone().eq(lit(i))).then(lit(label)).otherwise(acc)
    });
    let tags = base.clone().explode(cols(["tags"]), ExplodeOptions { empty_as_null: false, keep_nulls: false });
    let parts = [
        grouped(base.clone(), lit("all")),
        grouped(base.clone(), bin_label),
        grouped(base.clone(), concat_str([lit("lifecycle:"), col("lifecycle_stage")], "", false)),
        grouped(tags, concat_str([lit("tag:"), col("tags")], "", false)),
    ];
    let days = holdout_days.map_or(lit(NULL).cast(DataType::Float64), lit);
    let models = concat(parts, UnionArgs::default()).map_err(|e| Error::internal("model_eval", e))?;
    // One schema for both kinds of row: each lacks the other's columns (null).
    let metrics = ["hit_rate_10", "recall_10", "ndcg_10", "category_hit_rate_5"];
    let models = models.with_columns(metrics.map(|m| lit(NULL).cast(DataType::Float64).alias(m)));
    let model_columns = [
        ("mean_p_alive", DataType::Float64),
        ("share_bought_again", DataType::Float64),
        ("predicted_purchases", DataType::Float64),
        ("actual_purchases", DataType::UInt64),
        ("mae_purchases", DataType::Float64),
    ];
    let recommendations = recommendations.with_columns(model_columns.clone().map(|(c, t)| lit(NULL).cast(t).alias(c)));
    let order: Vec<Expr> =
        ["group", "customers"].iter().chain(model_columns.iter().map(|(c, _)| c)).chain(metrics.iter()).map(|c| col(*c)).collect();
    let all = concat([models.select(order.clone()), recommendations.select(order)], UnionArgs::default())
        .map_err(|e| Error::internal("model_eval", e))?;
    Ok(all.with_column(days.alias("holdout_days")))
}

pub const DOC: TableDoc = TableDoc {
    grain: "evaluation group",
    about: "成效评估: predictions of the as-of day against what customers did after it (only when orders newer than as-of exist).",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("group", "Evaluation group.", "", Values::Said("all, p_alive 0.0-0.1 … 0.9-1.0, lifecycle:<stage>, tag:<tag>, recommend:<method> (trending_repurchase, popularity, repurchase)")),
    column("customers", "Customers in the group.", COUNT, Values::Any),
    column("mean_p_alive", "Their mean predicted alive probability at as-of.", "probability", Values::Between(0.0, 1.0)),
    column("share_bought_again", "Share who made a purchase after as-of.", SHARE, Values::Any),
    column("predicted_purchases", "Purchase days the model expected over the holdout.", COUNT, Values::Any),
    column("actual_purchases", "Purchase days made over the holdout.", COUNT, Values::Any),
    column("mae_purchases", "Mean absolute error of predicted purchases per customer.", COUNT, Values::Any),
    column("hit_rate_10", "recommend rows: share of the checked customers with a recommended sku among what they bought in the 28 days after as-of.", SHARE, Values::Any),
    column("recall_10", "recommend rows: mean of hits / min(10, skus bought).", SHARE, Values::Any),
    column("ndcg_10", "recommend rows: mean NDCG@10 with binary relevance.", SHARE, Values::Any),
    column("category_hit_rate_5", "recommend rows: share with a bought category among the list's first 5 categories.", SHARE, Values::Any),
    column("holdout_days", "Days from as-of to the newest order.", DAYS, Values::Any),
];
