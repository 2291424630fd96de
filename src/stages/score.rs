//! Stage 4, score: RFM scores by quantiles, the RFM cell, named segments and the Chinese
//! 8-class value model, lifecycle stage and tags from config rules.

use crate::config::{Locale, NamedExpr, Plan};
use crate::day::Day;
use crate::expr::KEY;
use crate::expr::{count_if, money_mean, money_sum_if};
use polars::prelude::*;

/// The segment of customers who never bought, in summaries and migrations.
pub const NO_PURCHASE: &str = "no_purchase";

/// The 8-class value model (R, F, M each above or below the mean of buyers):
/// (R above, F above, M above) -> (code, 中文).
pub const VALUE_CLASSES: [((bool, bool, bool), &str, &str); 8] = [
    ((true, true, true), "important_value", "重要价值客户"),
    ((true, false, true), "important_develop", "重要发展客户"),
    ((false, true, true), "important_keep", "重要保持客户"),
    ((false, false, true), "important_retain", "重要挽留客户"),
    ((true, true, false), "general_value", "一般价值客户"),
    ((true, false, false), "general_develop", "一般发展客户"),
    ((false, true, false), "general_keep", "一般保持客户"),
    ((false, false, false), "general_retain", "一般挽留客户"),
];

/// Paid orders and spend in the RFM window, per customer.
pub fn rfm_inputs(orders: LazyFrame, day: Day, window_days: u32) -> LazyFrame {
    let in_window = col("status").eq(lit("paid")).and(day.within(col("order_ts"), window_days));
    orders
        .group_by([col(KEY)])
        .agg([count_if(in_window.clone()).alias("rfm_frequency"), money_sum_if(col("net_amount"), in_window).alias("rfm_monetary")])
}

/// The i/bins quantiles (linear interpolation) of `x` over everyone, `_all_<name>_<i>`:
/// the cut-points `quantile_score` compares with.
pub fn quantile_cuts(x: Expr, name: &str, bins: u32) -> Vec<Expr> {
    (1..bins).map(|i| x.clone().quantile(lit(i as f64 / bins as f64), QuantileMethod::Linear).alias(format!("_all_{name}_{i}"))).collect()
}

/// Score 1..=bins: 1 + the number of `quantile_cuts` of `name` (columns of the frame) that
/// `x` exceeds. Ties get one score; higher `x` is better.
pub fn quantile_score(x: Expr, name: &str, bins: u32) -> Expr {
    let above = (1..bins)
        .map(|i| when(x.clone().gt(col(format!("_all_{name}_{i}")))).then(lit(1i32)).otherwise(lit(0i32)))
        .reduce(|a, b| a + b)
        .unwrap_or(lit(0i32));
    when(x.is_null()).then(lit(NULL).cast(DataType::Int8)).otherwise((above + lit(1i32)).cast(DataType::Int8))
}

/// The R, F and M of buyers (customers with at least one paid order up to as-of; for everyone
/// else they are null), from each person's `rfm_inputs`.
pub fn rfm_values(profile: LazyFrame) -> LazyFrame {
    let buyer = col("behavior_recency_days").is_not_null();
    let only_buyers = |e: Expr, dtype: DataType| when(buyer.clone()).then(e).otherwise(lit(NULL).cast(dtype));
    profile.with_columns([
        only_buyers(col("behavior_recency_days"), DataType::Int32).alias("rfm_recency_days"),
        only_buyers(col("rfm_frequency").fill_null(lit(0u32)).cast(DataType::UInt32), DataType::UInt32).alias("rfm_frequency"),
        only_buyers(col("rfm_monetary").fill_null(lit(0.0)), DataType::Float64).alias("rfm_monetary"),
    ])
}

/// What `rfm` compares each buyer with, over every buyer of `rfm_values`: the score
/// cut-points and the means of R, F and M.
pub fn rfm_statistics(bins: u32) -> Vec<Expr> {
    let mut stats = quantile_cuts(-col("rfm_recency_days"), "r", bins);
    stats.extend(quantile_cuts(col("rfm_frequency").cast(DataType::Float64), "f", bins));
    stats.extend(quantile_cuts(col("rfm_monetary"), "m", bins));
    stats.extend(buyer_means());
    stats
}

/// Adds `rfm_*` to the profile, which carries each person's `rfm_inputs` and, on every row,
/// the `rfm_statistics` of everyone.
pub fn rfm(profile: LazyFrame, plan: &Plan) -> LazyFrame {
    let bins = plan.rfm.bins;
    rfm_values(profile)
        .with_columns([
            quantile_score(-col("rfm_recency_days"), "r", bins).alias("rfm_r"),
            quantile_score(col("rfm_frequency").cast(DataType::Float64), "f", bins).alias("rfm_f"),
            quantile_score(col("rfm_monetary"), "m", bins).alias("rfm_m"),
        ])
        .with_columns([
            concat_str([col("rfm_r"), col("rfm_f"), col("rfm_m")], "", false).alias("rfm_cell"),
            ((col("rfm_f").cast(DataType::Float64) + col("rfm_m").cast(DataType::Float64)) / lit(2.0)).alias("rfm_fm"),
        ])
        .with_columns(above_mean())
        .with_columns(value_class())
        .drop(cols(["_r_hi", "_f_hi", "_m_hi"]))
}

/// The means of buyers' R, F and M, which `rfm_value_class` compares with.
fn buyer_means() -> Vec<Expr> {
    vec![
        col("rfm_recency_days").cast(DataType::Float64).mean().alias("_all_r_mean"),
        col("rfm_frequency").cast(DataType::Float64).mean().alias("_all_f_mean"),
        money_mean(col("rfm_monetary")).alias("_all_m_mean"),
    ]
}

fn above_mean() -> Vec<Expr> {
    vec![
        col("rfm_recency_days").cast(DataType::Float64).lt(col("_all_r_mean")).alias("_r_hi"),
        col("rfm_frequency").cast(DataType::Float64).gt(col("_all_f_mean")).alias("_f_hi"),
        col("rfm_monetary").gt(col("_all_m_mean")).alias("_m_hi"),
    ]
}

/// `rfm_value_class` (code) and `rfm_value_class_zh`: R above the mean means more recent than
/// the mean buyer (fewer days); F and M above means strictly greater than the mean.
fn value_class() -> Vec<Expr> {
    let (r, f, m) = (col("_r_hi"), col("_f_hi"), col("_m_hi"));
    let pick = |zh: bool| {
        VALUE_CLASSES.iter().fold(lit(NULL).cast(DataType::String), |acc, ((hr, hf, hm), code, label)| {
            let cond = r.clone().eq(lit(*hr)).and(f.clone().eq(lit(*hf))).and(m.clone().eq(lit(*hm)));
            when(cond).then(lit(if zh { *label } else { *code })).otherwise(acc)
        })
    };
    vec![pick(false).alias("rfm_value_class"), pick(true).alias("rfm_value_class_zh")]
}

/// The name of the first rule that holds (rules are tried in config order); null if none.
pub fn first_match(rules: &[NamedExpr]) -> Expr {
    rules.iter().rev().fold(lit(NULL).cast(DataType::String), |acc, r| {
        when(r.expr.clone().fill_null(lit(false))).then(lit(r.name.clone())).otherwise(acc)
    })
}

/// Tags as a list of the names of every rule that holds, in config order.
pub fn tag_list(rules: &[NamedExpr]) -> Expr {
    if rules.is_empty() {
        return lit(Series::new_empty("tags".into(), &DataType::List(Box::new(DataType::String)))).first();
    }
    let items: Vec<Expr> = rules
        .iter()
        .map(|r| when(r.expr.clone().fill_null(lit(false))).then(lit(r.name.clone())).otherwise(lit(NULL).cast(DataType::String)))
        .collect();
    concat_list(items).expect("at least one tag").list().eval(col("").drop_nulls())
}

/// Config features, in order, each over the profile columns before it.
pub fn apply_features(profile: LazyFrame, plan: &Plan) -> LazyFrame {
    plan.features.iter().fold(profile, |lf, f| {
        let mut probe = lf.clone().with_column(f.expr.clone().alias(f.name.as_str()));
        // Give the column its resolved type: SQL such as CASE without ELSE leaves an untyped
        // null that the streaming engine cannot run. (validate has checked the expression.)
        let expr = match probe.collect_schema().ok().and_then(|s| s.get(f.name.as_str()).cloned()) {
            Some(dtype) => f.expr.clone().cast(dtype),
            None => f.expr.clone(),
        };
        lf.with_column(expr.alias(f.name.as_str()))
    })
}

/// Segment, lifecycle stage and tags, in that order, so each may use the ones before it
/// (and every feature and model output); then their labels in the pipeline's locale.
pub fn apply_rules(profile: LazyFrame, plan: &Plan) -> LazyFrame {
    profile
        .with_column(first_match(&plan.segments).alias("segment"))
        .with_column(first_match(&plan.lifecycle).alias("lifecycle_stage"))
        .with_column(tag_list(&plan.tags).alias("tags"))
        .with_columns([
            to_label(col("segment"), &plan.segments, plan.locale).alias("segment_label"),
            to_label(col("lifecycle_stage"), &plan.lifecycle, plan.locale).alias("lifecycle_stage_label"),
            col("tags").list().eval(to_label(col(""), &plan.tags, plan.locale)).alias("tag_labels"),
        ])
}

/// Rule names to their labels; names of no rule (none here) stay as they are.
pub fn to_label(names: Expr, rules: &[NamedExpr], locale: Locale) -> Expr {
    if rules.is_empty() {
        return names;
    }
    let from = Series::new("from".into(), rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>());
    let to = Series::new("to".into(), rules.iter().map(|r| r.label(locale)).collect::<Vec<_>>());
    names.replace(lit(from), lit(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_scores_with_ties() {
        // Sorted 0,1,1,1,2,2,3,4,5: linear 20/40/60/80% cut-points are 1, 1.2, 2, 3.4.
        let df =
            df!("x" => [Some(0.0), Some(1.0), Some(1.0), Some(1.0), Some(2.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0), None]).unwrap();
        let cuts = df.clone().lazy().select(quantile_cuts(col("x"), "x", 5));
        let out = df.lazy().cross_join(cuts, None).select([quantile_score(col("x"), "x", 5).alias("s")]).collect().unwrap();
        let s: Vec<Option<i8>> = out.column("s").unwrap().i8().unwrap().iter().collect();
        assert_eq!(s, vec![Some(1), Some(1), Some(1), Some(1), Some(3), Some(3), Some(4), Some(5), Some(5), None]);
    }
}
