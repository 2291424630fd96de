//! `model_eval` (成效评估): when orders after as-of exist, the predictions for the holdout
//! (as-of, newest purchase day] against what happened, for all buyers (`all`), by
//! alive-probability decile (`p_alive 0.0-0.1` ...), by lifecycle stage (`lifecycle:<stage>`)
//! and by tag (`tag:<tag>`, e.g. how many `churn_risk` customers bought again). Empty without
//! newer data.

use super::{ColumnDoc, TableDoc, COUNT, DAYS, SHARE};
use crate::error::{Error, Result};
use crate::expr::{fixed_mean, fixed_sum};
use crate::stages::predict::{ACTUAL, HOLDOUT_PREDICTED};
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

pub fn build(inputs: LazyFrame, holdout_days: Option<f64>) -> Result<LazyFrame> {
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
    Ok(concat(parts, UnionArgs::default()).map_err(|e| Error::internal("model_eval", e))?.with_column(days.alias("holdout_days")))
}

pub const DOC: TableDoc = TableDoc {
    grain: "evaluation group",
    about: "成效评估: predictions of the as-of day against what customers did after it (only when orders newer than as-of exist).",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    ("group", "Evaluation group.", "", "all, p_alive 0.0-0.1 … 0.9-1.0, lifecycle:<stage>, tag:<tag>"),
    ("customers", "Customers in the group.", COUNT, ""),
    ("mean_p_alive", "Their mean predicted alive probability at as-of.", "probability", "0..1"),
    ("share_bought_again", "Share who made a purchase after as-of.", SHARE, ""),
    ("predicted_purchases", "Purchase days the model expected over the holdout.", COUNT, ""),
    ("actual_purchases", "Purchase days made over the holdout.", COUNT, ""),
    ("mae_purchases", "Mean absolute error of predicted purchases per customer.", COUNT, ""),
    ("holdout_days", "Days from as-of to the newest order.", DAYS, ""),
];
