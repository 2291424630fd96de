//! Step 3 of a run (docs/design.md), the bucket pass: per bucket of people, drop re-sent rows, hold
//! back rows after as-of and compute every per-person column of the five dimensions, the RFM
//! inputs and the models' inputs from that bucket's rows alone. The extra bucket `B` holds the
//! rows that reach no person: they become quarantine. A bucket's plans never look at another
//! bucket, so they run one after another in a bounded amount of memory (or, later, on
//! different workers).

use super::last_copy;
use super::order_index::FIRST;
use super::person_index::PersonIndex;
use super::route::{self, Buckets, Routed, REASON};
use crate::config::Plan;
use crate::day::datetime_lit;
use crate::error::{Error, Result};
use crate::expr::KEY;
use crate::schema::Table;
use crate::stages::features::{self, Inputs};
use crate::stages::{identity, predict, recommend, score};
use polars::prelude::*;
use std::collections::BTreeMap;

/// The fact tables, in the order they are routed (order lines need their orders).
pub const FACT_TABLES: [Table; 5] = [Table::Orders, Table::OrderItems, Table::Events, Table::SocialInteractions, Table::Feedback];

/// What every bucket reads.
pub struct Routes {
    pub tables: BTreeMap<Table, Routed>,
    /// `_pos` of the last-read copy of every order and its first-read copy's (`_first`), by the
    /// bucket of its person (`B`: unknown customer).
    pub winners: Buckets,
    /// The customer records with their person (`_key`).
    pub customers: Buckets,
    /// The routed rows' records (`_rec`) and their people.
    pub persons: PersonIndex,
    pub buckets: u32,
}

/// The plans of one bucket.
pub struct Plans {
    /// Per-person columns (`_key`), empty for bucket `B`.
    pub profile: LazyFrame,
    /// One row `last_day`: the newest paid purchase day after as-of (none for bucket `B`).
    pub newest_after: Option<LazyFrame>,
    /// Per fact table one row: `rows` routed here, `kept` after dropping re-sent rows, `used`
    /// (on or before as-of), `quarantined`, `erased` and `newest` (the newest used timestamp,
    /// as text).
    pub counts: Vec<(Table, LazyFrame)>,
    /// Per fact table the rows that reach no person (`_file`, `_row`, `reason`, columns).
    pub quarantine: Vec<(Table, LazyFrame)>,
    /// Each person's paid purchases per sku, and what they bought in the 28 days after as-of
    /// (`bought`; none for bucket `B`).
    pub bought: Option<LazyFrame>,
    /// The paid orders of the last days campaigns look back (`_key`, `day`: epoch day,
    /// `net_amount`), for `campaign_eval` (none for bucket `B`, or without campaigns).
    pub recent_orders: Option<LazyFrame>,
}

/// The reason of a routed row that reached no person in `table`.
fn unknown(table: Table) -> &'static str {
    match table {
        Table::OrderItems => "unknown order (source, order_id not among usable orders)",
        _ => "unknown customer (source, source_customer_id not in customers)",
    }
}

impl Routes {
    fn routed(&self, table: Table) -> Result<&Routed> {
        self.tables.get(&table).ok_or_else(|| Error::Internal(format!("{} was not routed", table.name())))
    }

    /// The rows of `table` in bucket `b` that are not re-sent copies. Social and feedback
    /// rows come in input order (their features take each person's last value, ties broken by
    /// it), and so do orders: sums of amounts in another order can differ in the last bit, and
    /// the routed rows' order depends on which run routed them. Events and order lines feed
    /// only counts, so they are not sorted.
    fn kept(&self, table: Table, b: u32) -> Result<(LazyFrame, LazyFrame)> {
        let rows = self.routed(table)?.rows.bucket(b)?.with_columns([route::position(), self.persons.person()]);
        let kept = match table {
            // Clean's rejects are quarantined before deduplication; the usable copy of an
            // order was chosen over every bucket (`route::route_lines`).
            Table::Orders => {
                let winners = self.winners.bucket(b)?;
                let usable =
                    rows.clone().filter(col(REASON).is_null()).join(winners, [col("_pos")], [col("_pos")], JoinArgs::new(JoinType::Semi));
                concat([rows.clone().filter(col(REASON).is_not_null()), usable], UnionArgs::default())
                    .map_err(|e| Error::internal("orders of a bucket", e))?
                    .sort(["_pos"], Default::default())
            }
            Table::Events => rows.clone(),
            // All lines of an order share its bucket: the last-read copy per sku wins. A
            // person's lines name their order by `_order` (`route::route_lines`), the rejected
            // ones by its id; they take the status and time of its last-read copy here.
            Table::OrderItems => {
                let copies = self.routed(Table::Orders)?.rows.bucket(b)?.select([route::position(), col("status"), col("order_ts")]);
                let orders = copies.join(self.winners.bucket(b)?, [col("_pos")], [col("_pos")], JoinArgs::new(JoinType::Inner)).select([
                    col(FIRST).alias(route::ORDER),
                    col("status"),
                    col("order_ts"),
                ]);
                let deduped = if b == self.buckets {
                    let line = cols(["source", "order_id", "sku"]);
                    rows.clone().sort(["_pos"], Default::default()).unique_stable(Some(line), UniqueKeepStrategy::Last)
                } else {
                    rows.clone().filter(last_copy::is_last_read(col(route::ORDER), col("sku"), col("_pos")))
                };
                deduped.join(orders, [col(route::ORDER)], [col(route::ORDER)], JoinArgs::new(JoinType::Left))
            }
            _ => rows.clone().sort(["_pos"], Default::default()),
        };
        Ok((rows, kept.cache()))
    }

    /// The plans of bucket `b` (`b == buckets`: the rejected rows; `buckets + 1`: the erased
    /// people's rows).
    pub fn plans(&self, b: u32, plan: &Plan) -> Result<Plans> {
        let end = plan.as_of.end_lit();
        let rejected = b == self.buckets;
        let mut kept = BTreeMap::new();
        let mut plans = Plans {
            profile: DataFrame::empty().lazy(),
            newest_after: None,
            counts: Vec::new(),
            quarantine: Vec::new(),
            bought: None,
            recent_orders: None,
        };
        if b == self.buckets + 1 {
            for table in FACT_TABLES {
                let rows = self.routed(table)?.rows.bucket(b)?;
                let n = len().cast(DataType::UInt64);
                let zero = lit(0u64).cast(DataType::UInt64);
                let counts = [
                    n.clone().alias("rows"),
                    n.clone().alias("kept"),
                    zero.clone().alias("used"),
                    zero.alias("quarantined"),
                    n.alias("erased"),
                ];
                let newest = lit(NULL).cast(DataType::String).alias("newest");
                plans.counts.push((table, rows.select(counts.into_iter().chain([newest]).collect::<Vec<_>>())));
            }
            return Ok(plans);
        }
        for table in FACT_TABLES {
            let (rows, k) = self.kept(table, b)?;
            // Order lines: their order's time.
            let in_time = col(table.time_column().unwrap_or("order_ts")).lt(end.clone());
            let used = if rejected { k.clone().filter(lit(false)) } else { k.clone().filter(in_time.clone()) };
            let newest = match table.time_column() {
                Some(t) => used.clone().select([col(t).max().cast(DataType::String).alias("newest")]),
                None => df!("newest" => [None::<String>]).expect("literal frame").lazy(),
            };
            let quarantined = if rejected { k.clone() } else { k.clone().filter(lit(false)) };
            plans.counts.push((
                table,
                hstack(vec![
                    count_of(rows, "rows"),
                    count_of(k.clone(), "kept"),
                    count_of(used.clone(), "used"),
                    count_of(quarantined.clone(), "quarantined"),
                    df!("erased" => [0u64]).expect("literal frame").lazy(),
                    newest,
                ]),
            ));
            if rejected {
                let reason = coalesce(&[col(REASON), lit(unknown(table))]).alias("reason");
                plans.quarantine.push((table, quarantined.with_column(reason)));
            }
            kept.insert(table, (used, k.filter(in_time.not())));
        }
        if rejected {
            return Ok(plans);
        }
        let mut take = |t: Table| kept.remove(&t).ok_or_else(|| Error::Internal(format!("{} has no rows plan", t.name())));
        let with_key = |lf: LazyFrame, t: Table| {
            lf.select(std::iter::once(KEY).chain(route::kept_columns(t).iter().copied()).map(col).collect::<Vec<_>>())
        };
        let (orders, orders_after) = take(Table::Orders)?;
        let orders = with_key(orders, Table::Orders);
        let orders_after = orders_after.select([col(KEY), col("order_ts"), col("status"), col("net_amount")]);
        let (items, items_after) = take(Table::OrderItems)?;
        let window_end = datetime_lit(plan.as_of.end() + chrono::Duration::days(recommend::TREND_DAYS as i64));
        let bought = bought(items.clone(), items_after.filter(col("order_ts").lt(window_end)));
        let inputs = Inputs {
            // In input order, as identity resolution saw them (golden ties follow it).
            customers: identity::golden(self.customers.bucket(b)?.sort(["_file", "_row"], Default::default()), &plan.identity),
            orders: orders.clone(),
            items: items.select([col(KEY), col("status"), col("category"), col("quantity")]),
            events: with_key(take(Table::Events)?.0, Table::Events),
            social: with_key(take(Table::SocialInteractions)?.0, Table::SocialInteractions),
            feedback: with_key(take(Table::Feedback)?.0, Table::Feedback),
        };
        plans.profile = per_person(&inputs, orders_after.clone(), plan);
        plans.bought = Some(bought);
        let lookback = plan.campaign_lookback_days() as i32;
        if lookback > 0 {
            let day = col("order_ts").dt().date().cast(DataType::Int32);
            let recent = day.clone().gt(lit(plan.as_of.epoch_days() - lookback)).and(col("status").eq(lit("paid")));
            plans.recent_orders = Some(orders.clone().filter(recent).select([col(KEY), day.alias("day"), col("net_amount")]));
        }
        plans.newest_after = Some(predict::newest_after(orders_after, plan));
        Ok(plans)
    }
}

/// Every per-person column from one bucket's rows: the five dimensions, the RFM inputs and
/// the models' inputs (`orders_after`: the holdout's orders).
pub fn per_person(inputs: &Inputs, orders_after: LazyFrame, plan: &Plan) -> LazyFrame {
    let rfm = score::rfm_inputs(inputs.orders.clone(), plan.as_of, plan.rfm.window_days);
    let profile = features::profile(inputs, plan.as_of, plan).join(rfm, [col(KEY)], [col(KEY)], JoinArgs::new(JoinType::Left));
    predict::with_model_inputs(profile, inputs.orders.clone(), orders_after, plan)
}

/// Each person's paid purchases per sku: on how many distinct days (`days`) and the last one
/// (`last`, epoch days), with its category, from the order lines on or before as-of (`after`
/// false; the nightly recommendations rank from these) and from `later` ones (`after` true:
/// what the recommendations are checked against in a past-dated run).
pub fn bought(items: LazyFrame, later: LazyFrame) -> LazyFrame {
    let day = col("order_ts").dt().date();
    let per_sku = |lines: LazyFrame, after: bool| {
        let paid = lines.filter(col("status").eq(lit("paid")).and(col("sku").is_not_null()));
        paid.group_by([crate::expr::person_and("sku")])
            .agg([
                col(KEY).first(),
                col("sku").first(),
                day.clone().n_unique().cast(DataType::UInt32).alias("days"),
                day.clone().max().cast(DataType::Int32).alias("last"),
                col("category").min().alias("category"),
                lit(after).alias("after"),
            ])
            .drop(cols(["_pair"]))
    };
    // In no order: the score pass groups them by person and sorts what it writes.
    concat([per_sku(items, false), per_sku(later, true)], UnionArgs::default()).expect("the same columns")
}

/// `lf`'s row count as a one-row frame with column `name`.
fn count_of(lf: LazyFrame, name: &str) -> LazyFrame {
    lf.select([len().cast(DataType::UInt64).alias(name)])
}

fn hstack(frames: Vec<LazyFrame>) -> LazyFrame {
    concat_lf_horizontal(frames, HConcatOptions::default()).expect("one-row frames")
}
