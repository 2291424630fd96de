//! Wires the stages into the lazy plans of every output. `build` is the same for a real run,
//! `explain` and `validate` (which builds over empty tables to learn the output schema).

use crate::config::Plan;
use crate::error::{Error, Result};
use crate::io::scan::InputFile;
use crate::schema::Table;
use crate::stages::features::{self, fixed_mean, fixed_sum, money_sum, ratio, Clock, Inputs};
use crate::stages::ingest::{self, Ingested};
use crate::stages::predict::{self, Outcome, ACTUAL, HOLDOUT_PREDICTED};
use crate::stages::{clean, history, identity, score};
use polars::prelude::*;
use std::collections::BTreeMap;

/// Lazy plans of one run. The profile is materialised first (the models need all of it);
/// `outputs` then builds every output table on the predicted profile.
pub struct Built {
    /// One row per person (`_key`): the five dimensions, rfm_*, config features and the
    /// models' inputs.
    pub profile: LazyFrame,
    /// One row `last_day`: the newest paid purchase day after as-of (the holdout's end).
    pub newest_after: LazyFrame,
    pub identity_map: LazyFrame,
    pub quarantine: LazyFrame,
    /// Per input table one row: read, used, duplicate, quarantined, after_as_of.
    pub accounting: Vec<(Table, LazyFrame)>,
    /// Per input table one row of unparseable-value counts per column.
    pub unparseable: Vec<(Table, LazyFrame)>,
    pub files: BTreeMap<Table, Vec<InputFile>>,
    pub missing_optional: BTreeMap<Table, Vec<String>>,
}

/// Read every table lazily (schemas checked, nothing executed yet).
pub fn ingest_all(plan: &Plan) -> Result<BTreeMap<Table, Ingested>> {
    plan.tables.iter().map(|s| Ok((s.table, ingest::ingest(s)?))).collect()
}

/// The customers to resolve: the cleaned, usable customer records.
pub fn customer_records(ingested: &BTreeMap<Table, Ingested>) -> LazyFrame {
    customer_records_of(&ingested[&Table::Customers])
}

pub fn customer_records_of(customers: &Ingested) -> LazyFrame {
    clean::customers(customers.rows.clone())
}

fn one_row_count(lf: LazyFrame, name: &str) -> LazyFrame {
    lf.select([len().cast(DataType::UInt64).alias(name)])
}

fn named(names: &[&str]) -> Vec<Expr> {
    names.iter().map(|n| col(*n)).collect()
}

fn hstack(frames: Vec<LazyFrame>) -> LazyFrame {
    concat_lf_horizontal(frames, HConcatOptions::default()).expect("one-row frames")
}

fn zero(name: &str) -> LazyFrame {
    df!(name => [0u64]).expect("literal frame").lazy()
}

/// The segment of customers who never bought, in summaries and migrations.
pub const NO_PURCHASE: &str = "no_purchase";

/// The published identity map: the internal row key dropped.
pub fn identity_map_output(id_map: LazyFrame) -> LazyFrame {
    id_map.drop(cols(["_key"]))
}

/// Quarantine rows of a later stage in the quarantine table's shape; `raw` holds the row's
/// required values (the full row is at `file`, `row`).
pub fn quarantine_rows(table: Table, files: &[InputFile], lf: LazyFrame) -> LazyFrame {
    let paths: Vec<String> = files.iter().map(|f| f.path.to_string_lossy().to_string()).collect();
    let idx: Vec<u32> = (0..paths.len() as u32).collect();
    let names = df!("_file" => idx, "file" => paths).expect("file index").lazy();
    let raw: Vec<Expr> = table
        .columns()
        .iter()
        .filter(|c| c.required)
        .map(|c| concat_str([lit(format!("{}=", c.name)), col(c.name).cast(DataType::String).fill_null(lit(""))], "", false))
        .collect();
    lf.join(names, [col("_file")], [col("_file")], JoinArgs::new(JoinType::Left)).select([
        lit(table.name()).alias("table"),
        col("file"),
        col("_row").cast(DataType::UInt32).alias("row"),
        col("reason"),
        concat_str(raw, "; ", true).alias("raw"),
    ])
}

/// What clean did with one table's ingested rows.
struct Accounted {
    used: LazyFrame,
    /// One-row frame `n`: re-sent rows dropped.
    duplicates: Option<LazyFrame>,
    /// Rows quarantined after ingest, with `_file`, `_row`, `reason` and canonical columns.
    quarantined: Vec<LazyFrame>,
    after_as_of: Option<LazyFrame>,
}

/// Collects per table the accounting row, the quarantine rows and the file lists.
#[derive(Default)]
struct Ledger {
    accounting: Vec<(Table, LazyFrame)>,
    quarantine: Vec<LazyFrame>,
    unparseable: Vec<(Table, LazyFrame)>,
    files: BTreeMap<Table, Vec<InputFile>>,
    missing_optional: BTreeMap<Table, Vec<String>>,
}

impl Ledger {
    fn record(&mut self, ing: &Ingested, a: Accounted) {
        let mut quarantined = vec![one_row_count(ing.quarantine.clone(), "q0")];
        let mut total = col("q0");
        for (i, q) in a.quarantined.iter().enumerate() {
            let name = format!("q{}", i + 1);
            quarantined.push(one_row_count(q.clone(), &name));
            total = total + col(name.as_str());
        }
        // Newest timestamp of the used rows, for the freshness gate.
        let time_col = ing.table.time_column().or((ing.table == Table::Customers).then_some("updated_at"));
        let newest = match time_col {
            Some(c) => a.used.clone().select([col(c).max().cast(DataType::String).alias("newest")]),
            None => df!("newest" => [None::<String>]).expect("literal frame").lazy(),
        };
        let row = hstack(vec![
            newest,
            ing.read.clone(),
            one_row_count(a.used, "used"),
            a.duplicates.unwrap_or_else(|| zero("n")).select([col("n").alias("duplicate")]),
            hstack(quarantined).select([total.alias("quarantined")]),
            a.after_as_of.map(|lf| one_row_count(lf, "after_as_of")).unwrap_or_else(|| zero("after_as_of")),
        ]);
        self.accounting.push((ing.table, row));
        self.quarantine.push(ing.quarantine.clone());
        for q in a.quarantined {
            self.quarantine.push(quarantine_rows(ing.table, &ing.files, q));
        }
        self.unparseable.push((ing.table, ing.unparseable.clone()));
        self.files.insert(ing.table, ing.files.clone());
        self.missing_optional.insert(ing.table, ing.missing_optional.clone());
    }
}

/// Build every output's plan from the ingested tables and the resolved customer records
/// (`identity::resolve` output).
pub fn build(plan: &Plan, mut ingested: BTreeMap<Table, Ingested>, resolved: DataFrame) -> Result<Built> {
    let clock = Clock { as_of: plan.as_of };
    let resolved = resolved.lazy().cache();
    let id_map = identity::identity_map(resolved.clone()).cache();
    let mut ledger = Ledger::default();
    let mut take = |t: Table| ingested.remove(&t).ok_or_else(|| Error::Internal(format!("table {} was not ingested", t.name())));

    // customers: every usable record is used (records of one person are merged, not dropped).
    let cust = take(Table::Customers)?;
    ledger.record(&cust, Accounted { used: resolved.clone(), duplicates: None, quarantined: vec![], after_as_of: None });
    let golden = identity::golden(resolved, &plan.spec.identity);

    // orders: quarantine unknown statuses, drop re-sent rows, attach keys.
    let ord = take(Table::Orders)?;
    let (ok, bad) = clean::orders(ord.rows.clone());
    let (deduped, dup) = clean::dedupe(ok, &["source", "order_id"]);
    // Used rows are read by many features: the joined rows are held once (a cache in
    // attach_key), with only the columns features read; each reader filters them.
    let order_cols =
        ["_key", "source", "order_id", "order_ts", "status", "channel", "gross_amount", "discount_amount", "net_amount", "coupon_code"];
    let orders = clean::attach_key(deduped, Table::Orders, id_map.clone(), clock.end_lit(), &order_cols);
    let orders_used = orders.used.select(named(&order_cols));
    let orders_after = orders.after_as_of.clone().select(named(&["_key", "order_ts", "status", "net_amount"]));
    ledger.record(
        &ord,
        Accounted {
            used: orders_used.clone(),
            duplicates: Some(dup),
            quarantined: vec![bad.rename(["_reason"], ["reason"], true), orders.quarantine],
            after_as_of: Some(orders.after_as_of.clone()),
        },
    );

    // order_items: drop re-sent lines; each line takes its order's person and status.
    let itm = take(Table::OrderItems)?;
    let (items_dedup, items_dup) = clean::dedupe(clean::items(itm.rows.clone()), &["source", "order_id", "sku"]);
    let order_ref = || [col("source"), col("order_id"), col("_key"), col("status")];
    let known_orders = concat(
        [
            orders_used.clone().select(order_ref()).with_column(lit(true).alias("_in_time")),
            orders.after_as_of.select(order_ref()).with_column(lit(false).alias("_in_time")),
        ],
        UnionArgs::default(),
    )
    .map_err(|e| Error::internal("items join", e))?;
    let items_joined = items_dedup
        .select(clean::carried(Table::OrderItems, &["sku"]))
        .join(known_orders, [col("source"), col("order_id")], [col("source"), col("order_id")], JoinArgs::new(JoinType::Left))
        .cache();
    let items = clean::split_known(
        items_joined,
        col("_in_time").is_not_null(),
        "unknown order (source, order_id not among usable orders)",
        col("_in_time").fill_null(lit(false)),
    );
    let items_used = items.used.select(named(&["_key", "status", "category", "quantity"]));
    ledger.record(
        &itm,
        Accounted {
            used: items_used.clone(),
            duplicates: Some(items_dup),
            quarantined: vec![items.quarantine],
            after_as_of: Some(items.after_as_of),
        },
    );

    // events, social, feedback: attach keys.
    let mut keyed = |t: Table, cleaner: fn(LazyFrame) -> LazyFrame, keep: &[&str]| -> Result<LazyFrame> {
        let ing = take(t)?;
        let c = clean::attach_key(cleaner(ing.rows.clone()), t, id_map.clone(), clock.end_lit(), keep);
        let used = c.used.select(named(keep));
        ledger.record(
            &ing,
            Accounted { used: used.clone(), duplicates: None, quarantined: vec![c.quarantine], after_as_of: Some(c.after_as_of) },
        );
        Ok(used)
    };
    let events = keyed(Table::Events, clean::events, &["_key", "event_ts", "event_type"])?;
    let social = keyed(Table::SocialInteractions, clean::social, &["_key", "ts", "platform", "action", "followers"])?;
    let feedback = keyed(Table::Feedback, clean::feedback, &["_key", "ts", "kind", "rating", "nps", "text", "topic"])?;

    let inputs = Inputs { customers: golden, orders: orders_used.clone(), items: items_used, events, social, feedback };
    let profile = features::profile(&inputs, clock, &plan.spec);
    let profile = score::rfm(profile, orders_used.clone(), clock, plan);
    let profile = predict::with_model_inputs(score::apply_features(profile, plan), orders_used, orders_after.clone(), plan);
    Ok(Built {
        profile,
        newest_after: predict::newest_after(orders_after, plan),
        identity_map: identity_map_output(id_map).sort(["source", "source_customer_id"], Default::default()),
        quarantine: concat(ledger.quarantine, UnionArgs::default())
            .map_err(|e| Error::internal("quarantine union", e))?
            .sort(["table", "file", "row"], Default::default()),
        accounting: ledger.accounting,
        unparseable: ledger.unparseable,
        files: ledger.files,
        missing_optional: ledger.missing_optional,
    })
}

/// The output tables read from the profile with the models' columns (`predict::predict`):
/// profiles, tags, segment_summary, model_eval, profile_changes. (identity_map and quarantine
/// are in `Built`.) `previous`: the previous published day's profiles, for the history.
pub fn outputs(
    plan: &Plan,
    predicted: LazyFrame,
    outcome: &Outcome,
    previous: Option<LazyFrame>,
) -> Result<Vec<(&'static str, LazyFrame)>> {
    let scored = score::apply_rules(predicted, plan).cache();
    let profiles = dimension_order(scored.clone())?.sort(["customer_key"], Default::default()).cache();
    let history = history::History::new(profiles.clone(), previous);
    let summary = history.with_migrations(segment_summary(profiles.clone(), plan, outcome)?)?;
    Ok(vec![
        ("profiles", profiles.clone()),
        ("tags", tags_long(profiles)),
        ("segment_summary", summary),
        ("model_eval", model_eval(scored, outcome.holdout_days)?),
        ("profile_changes", history.changes()?),
    ])
}

/// Profile columns grouped by dimension (config features join their prefix's group), then
/// the scores, model outputs and labels; internal `_` columns are dropped.
fn dimension_order(mut lf: LazyFrame) -> Result<LazyFrame> {
    let schema = lf.collect_schema().map_err(|e| Error::internal("profile schema", e))?;
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    let mut order = vec!["customer_key"];
    for prefix in ["basic_", "power_", "behavior_", "social_", "psych_", "rfm_", "pred_", "clv_", "cluster"] {
        order.extend(names.iter().filter(|n| n.starts_with(prefix)));
    }
    order.extend(["segment", "segment_label", "lifecycle_stage", "lifecycle_stage_label", "tags", "tag_labels"]);
    let rest: Vec<&str> = names.iter().copied().filter(|n| !order.contains(n) && !n.starts_with('_')).collect();
    order.extend(rest);
    Ok(lf.select(order.into_iter().map(col).collect::<Vec<_>>()))
}

/// `tags` output: one row per (customer_key, tag), with the tag's label.
fn tags_long(profiles: LazyFrame) -> LazyFrame {
    profiles
        .select([col("customer_key"), col("tags").alias("tag"), col("tag_labels").alias("label")])
        .explode(cols(["tag", "label"]), ExplodeOptions { empty_as_null: false, keep_nulls: false })
        .filter(col("tag").is_not_null())
        .sort(["customer_key", "tag"], Default::default())
}

/// `segment_summary` output: one row per RFM segment (`grouping` = `segment`; `no_purchase`
/// for customers who never bought) and per persona cluster (`grouping` = `cluster`,
/// `cluster_<n>`), with its description, size, 12-month revenue and shares, repeat rate,
/// mean R/F/M, mean alive probability and mean CLV.
fn segment_summary(profiles: LazyFrame, plan: &Plan, outcome: &Outcome) -> Result<LazyFrame> {
    let clv = predict::clv_column(&plan.spec.models);
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

/// `model_eval` output (成效评估): when orders after as-of exist, the predictions for the
/// holdout (as-of, newest purchase day] against what happened, for all buyers (`all`), by
/// alive-probability decile (`p_alive 0.0-0.1` ...), by lifecycle stage (`lifecycle:<stage>`)
/// and by tag (`tag:<tag>`, e.g. how many `churn_risk` customers bought again). Empty
/// without newer data.
fn model_eval(scored: LazyFrame, holdout_days: Option<f64>) -> Result<LazyFrame> {
    let base = scored
        .filter(col(HOLDOUT_PREDICTED).is_not_null())
        .select([
            col("pred_p_alive"),
            col(HOLDOUT_PREDICTED).alias("_pred"),
            col(ACTUAL).fill_null(lit(0u32)).cast(DataType::Float64).alias("_actual"),
            col("lifecycle_stage"),
            col("tags"),
        ])
        .cache();
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
