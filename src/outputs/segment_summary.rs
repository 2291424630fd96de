//! `segment_summary`: size, revenue and model means per RFM segment (`no_purchase` for
//! customers who never bought) and per persona cluster, and the migrations since the
//! previous published day (from the history stage).

use super::{column, ColumnDoc, TableDoc, Values, COUNT, DAYS, MONEY, SHARE};
use crate::config::Plan;
use crate::error::{Error, Result};
use crate::expr::{fixed_mean, money_sum, ratio};
use crate::stages::history::History;
use crate::stages::predict::{self, Outcome};
use crate::stages::score::NO_PURCHASE;
use polars::prelude::*;

pub fn build(profiles: LazyFrame, plan: &Plan, outcome: &Outcome, history: &History) -> Result<LazyFrame> {
    history.with_migrations(by_group(profiles, plan, outcome)?)
}

/// One row per RFM segment (`grouping` = `segment`) and per persona cluster (`grouping` =
/// `cluster`, `cluster_<n>`), with its description, size, 12-month revenue and shares, repeat
/// rate, mean R/F/M, mean alive probability and mean CLV.
fn by_group(profiles: LazyFrame, plan: &Plan, outcome: &Outcome) -> Result<LazyFrame> {
    let clv = predict::clv_column(&plan.models);
    let summarise = |grouping: &str, name: Expr| {
        profiles
            .clone()
            .with_column(name.alias("segment"))
            .filter(col("segment").is_not_null())
            .group_by([col("segment")])
            .agg([
                len().cast(DataType::UInt64).alias("customers"),
                money_sum(col("power_spend_12m")).alias("revenue_12m"),
                col("power_order_count").gt_eq(lit(2)).cast(DataType::Float64).mean().alias("repeat_rate"),
                col("rfm_recency_days").cast(DataType::Float64).mean().alias("mean_recency_days"),
                col("rfm_frequency").cast(DataType::Float64).mean().alias("mean_frequency"),
                money_sum(col("rfm_monetary")).alias("_monetary"),
                col("rfm_monetary").count().alias("_buyers"),
                fixed_mean(col("pred_p_alive")).alias("mean_p_alive"),
                fixed_mean(col(clv.as_str())).alias("mean_clv"),
            ])
            .with_column(money_sum(col("revenue_12m")).alias("_total"))
            .with_columns([
                lit(grouping.to_string()).alias("grouping"),
                (col("customers").cast(DataType::Float64) / col("customers").sum().cast(DataType::Float64)).alias("customer_share"),
                ratio(col("revenue_12m"), col("_total")).alias("revenue_share"),
                ratio(col("_monetary"), col("_buyers")).alias("mean_monetary"),
            ])
            .drop(cols(["_total", "_monetary", "_buyers"]))
            .sort(["segment"], Default::default())
    };
    let segments = summarise("segment", col("segment").fill_null(lit(NO_PURCHASE)));
    let clusters = summarise("cluster", concat_str([lit("cluster_"), col("cluster").cast(DataType::String)], "", false));
    let mut names = vec![];
    let (mut en, mut zh): (Vec<Option<String>>, Vec<Option<String>>) = (vec![], vec![]);
    for r in &plan.segments {
        names.push(r.name.clone());
        en.push((!r.description.is_empty()).then(|| r.description.clone()));
        zh.push(None);
    }
    for c in &outcome.clusters.clusters {
        names.push(format!("cluster_{}", c.cluster));
        en.push(Some(c.label.clone()));
        zh.push(Some(c.label_zh.clone()));
    }
    let descriptions = df!("segment" => names, "description" => en, "description_zh" => zh)
        .map_err(|e| Error::internal("segment descriptions", e))?
        .lazy();
    let union = concat([segments, clusters], UnionArgs::default()).map_err(|e| Error::internal("segment summary", e))?;
    let first = ["grouping", "segment", "description", "description_zh"];
    Ok(union
        .join(descriptions, [col("segment")], [col("segment")], JoinArgs::new(JoinType::Left))
        .select([cols(first).as_expr(), all().exclude_cols(first).as_expr()])
        .sort(["grouping", "segment"], SortMultipleOptions::default().with_order_descending_multi([true, false])))
}

pub const DOC: TableDoc = TableDoc {
    grain: "segment, persona cluster or migration",
    about: "Size, revenue and model means per RFM segment and persona cluster; migrations since the previous published day.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("grouping", "What the row summarises.", "", Values::OneOf(&["segment", "cluster", "migration:segment", "migration:lifecycle_stage"])),
    column("segment", "Segment name (`no_purchase` = never bought), `cluster_<n>`, or for migrations `from -> to` (`(new)` / `(gone)` for customers on one day only).", "", Values::Any),
    column("description", "The rule's or persona's description.", "", Values::Any),
    column("description_zh", "The description in Chinese (personas).", "", Values::Any),
    column("customers", "Customers in the group.", COUNT, Values::Any),
    column("revenue_12m", "Their spend in the last 365 days.", MONEY, Values::Any),
    column("repeat_rate", "Share with two or more paid orders.", SHARE, Values::Any),
    column("mean_recency_days", "Mean R of the group's buyers.", DAYS, Values::Any),
    column("mean_frequency", "Mean F of the group's buyers.", COUNT, Values::Any),
    column("mean_p_alive", "Mean alive probability (null on migration rows).", "probability", Values::Between(0.0, 1.0)),
    column("mean_clv", "Mean predicted CLV (null on migration rows).", MONEY, Values::Any),
    column("customer_share", "Customers / all customers of the grouping.", SHARE, Values::Any),
    column("revenue_share", "12-month revenue / all of the grouping's.", SHARE, Values::Any),
    column("mean_monetary", "Mean M of the group's buyers.", MONEY, Values::Any),
];
