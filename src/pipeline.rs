//! Wires the stages into the lazy plans of one run: every input table read, cleaned, keyed
//! to its person and accounted for, the five dimensions joined into the profile, with the
//! identity map and quarantine beside it. `build` is the same for a real run, `explain` and
//! `validate` (which build over empty tables to learn the output schemas); `execute` runs the
//! plans in one pass.

use crate::config::Plan;
use crate::day::Day;
use crate::error::{Error, Result};
use crate::io::{self, scan::InputFile};
use crate::outputs;
use crate::schema::Table;
use crate::stages::features::{self, Inputs};
use crate::stages::ingest::{self, Ingested};
use crate::stages::{clean, identity, predict, score};
use crate::store::Accounting;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Lazy plans of one run. The profile is materialised first (the models need all of it); the
/// output tables are then built on the predicted profile (`outputs::scored`).
pub struct Built {
    /// One row per person (`_key`): the five dimensions, rfm_*, config features and the
    /// models' inputs.
    pub profile: LazyFrame,
    /// One row `last_day`: the newest paid purchase day after as-of (the holdout's end).
    pub newest_after: LazyFrame,
    pub identity_map: LazyFrame,
    pub quarantine: LazyFrame,
    /// Per input table one row: read, used, duplicate, quarantined, after_as_of, newest.
    pub accounting: Vec<(Table, LazyFrame)>,
    /// Per input table one row of unparseable-value counts per column.
    pub unparseable: Vec<(Table, LazyFrame)>,
    pub files: BTreeMap<Table, Vec<InputFile>>,
    pub missing_optional: BTreeMap<Table, Vec<String>>,
}

/// What one pass over the inputs computed: everything the models do not change.
pub struct Executed {
    pub profile: DataFrame,
    /// The newest paid purchase day after as-of, if any (the holdout's end).
    pub newest_after: Option<Day>,
    pub identity_map: DataFrame,
    pub quarantine: DataFrame,
    /// Per input table, balanced (`read = used + duplicate + quarantined + after_as_of`).
    pub accounting: BTreeMap<Table, Accounting>,
    pub files: BTreeMap<Table, Vec<InputFile>>,
}

/// Read every table lazily (schemas checked, nothing executed yet).
pub fn ingest_all(plan: &Plan) -> Result<BTreeMap<Table, Ingested>> {
    let times = plan.times();
    plan.tables.iter().map(|s| Ok((s.table, ingest::ingest(s, &times)?))).collect()
}

/// An input error polars raised while executing names no file: find the file by reading each
/// input file alone (only on this failure path), so the message says which one.
pub fn name_the_file(plan: &Plan, e: Error) -> Error {
    let Error::InputData { file, message } = e else { return e };
    if file != io::UNKNOWN_FILE {
        return Error::InputData { file, message };
    }
    for source in &plan.tables {
        for f in io::scan::discover(source).unwrap_or_default() {
            if let Err(Error::InputData { .. }) = io::scan::scan(&f, source).and_then(|(lf, _)| io::collect(lf)) {
                return Error::input(f.path.display(), message);
            }
        }
    }
    Error::InputData { file, message }
}

/// The customers to resolve: the cleaned, usable customer records.
pub fn customer_records(customers: &Ingested) -> LazyFrame {
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
            self.quarantine.push(outputs::quarantine::rows(ing.table, &ing.files, q));
        }
        self.unparseable.push((ing.table, ing.unparseable.clone()));
        self.files.insert(ing.table, ing.files.clone());
        self.missing_optional.insert(ing.table, ing.missing_optional.clone());
    }
}

/// Build every output's plan from the ingested tables and the resolved customer records
/// (`identity::resolve` output).
pub fn build(plan: &Plan, mut ingested: BTreeMap<Table, Ingested>, resolved: DataFrame) -> Result<Built> {
    let day = plan.as_of;
    let resolved = resolved.lazy().cache();
    let id_map = identity::identity_map(resolved.clone()).cache();
    let mut ledger = Ledger::default();
    let mut take = |t: Table| ingested.remove(&t).ok_or_else(|| Error::Internal(format!("table {} was not ingested", t.name())));

    // customers: every usable record is used (records of one person are merged, not dropped).
    let cust = take(Table::Customers)?;
    ledger.record(&cust, Accounted { used: resolved.clone(), duplicates: None, quarantined: vec![], after_as_of: None });
    let golden = identity::golden(resolved, &plan.identity);

    let orders = keyed_orders(take(Table::Orders)?, id_map.clone(), day, &mut ledger);
    let items_used = keyed_items(take(Table::OrderItems)?, &orders, &mut ledger)?;

    // events, social, feedback: attach keys.
    let mut keyed = |t: Table, cleaner: fn(LazyFrame) -> LazyFrame, keep: &[&str]| -> Result<LazyFrame> {
        let ing = take(t)?;
        let c = clean::attach_key(cleaner(ing.rows.clone()), t, id_map.clone(), day.end_lit(), keep);
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

    let KeyedOrders { used: orders_used, after: orders_after, .. } = orders;
    let inputs = Inputs { customers: golden, orders: orders_used.clone(), items: items_used, events, social, feedback };
    let profile = features::profile(&inputs, day, plan);
    let profile = score::rfm(profile, orders_used.clone(), day, plan);
    let profile = predict::with_model_inputs(score::apply_features(profile, plan), orders_used, orders_after.clone(), plan);
    Ok(Built {
        profile,
        newest_after: predict::newest_after(orders_after, plan),
        identity_map: outputs::identity_map::build(id_map),
        quarantine: outputs::quarantine::build(ledger.quarantine)?,
        accounting: ledger.accounting,
        unparseable: ledger.unparseable,
        files: ledger.files,
        missing_optional: ledger.missing_optional,
    })
}

/// Orders keyed to their person: used up to as-of (the columns features read), and after it.
struct KeyedOrders {
    used: LazyFrame,
    /// The model's holdout: `_key, order_ts, status, net_amount` after as-of.
    after: LazyFrame,
    /// Every column of the rows after as-of (order lines may belong to them).
    after_all: LazyFrame,
}

/// Orders: quarantine unknown statuses, drop re-sent rows, attach keys. Used rows are read by
/// many features: the joined rows are held once (a cache in `attach_key`), with only the
/// columns features read; each reader filters them.
fn keyed_orders(ord: Ingested, id_map: LazyFrame, day: Day, ledger: &mut Ledger) -> KeyedOrders {
    let (ok, bad) = clean::orders(ord.rows.clone());
    let (deduped, dup) = clean::dedupe(ok, &["source", "order_id"]);
    let order_cols =
        ["_key", "source", "order_id", "order_ts", "status", "channel", "gross_amount", "discount_amount", "net_amount", "coupon_code"];
    let orders = clean::attach_key(deduped, Table::Orders, id_map, day.end_lit(), &order_cols);
    let used = orders.used.select(named(&order_cols));
    let after = orders.after_as_of.clone().select(named(&["_key", "order_ts", "status", "net_amount"]));
    ledger.record(
        &ord,
        Accounted {
            used: used.clone(),
            duplicates: Some(dup),
            quarantined: vec![bad.rename(["_reason"], ["reason"], true), orders.quarantine],
            after_as_of: Some(orders.after_as_of.clone()),
        },
    );
    KeyedOrders { used, after, after_all: orders.after_as_of }
}

/// Order lines: drop re-sent lines; each line takes its order's person and status (lines of
/// an order after as-of wait with it; lines of no usable order are quarantined).
fn keyed_items(itm: Ingested, orders: &KeyedOrders, ledger: &mut Ledger) -> Result<LazyFrame> {
    let (items_dedup, items_dup) = clean::dedupe(clean::items(itm.rows.clone()), &["source", "order_id", "sku"]);
    let order_ref = || [col("source"), col("order_id"), col("_key"), col("status")];
    let known_orders = concat(
        [
            orders.used.clone().select(order_ref()).with_column(lit(true).alias("_in_time")),
            orders.after_all.clone().select(order_ref()).with_column(lit(false).alias("_in_time")),
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
    let used = items.used.select(named(&["_key", "status", "category", "quantity"]));
    ledger.record(
        &itm,
        Accounted {
            used: used.clone(),
            duplicates: Some(items_dup),
            quarantined: vec![items.quarantine],
            after_as_of: Some(items.after_as_of),
        },
    );
    Ok(used)
}

/// Run every plan of `built` in one pass (shared sub-plans computed once) and check that each
/// input table's rows balance; an unbalanced table is a bug (exit 70).
pub fn execute(built: Built) -> Result<Executed> {
    let mut plans = vec![built.profile, built.newest_after, built.identity_map, built.quarantine];
    plans.extend(built.accounting.iter().map(|(_, lf)| lf.clone()));
    plans.extend(built.unparseable.iter().map(|(_, lf)| lf.clone()));
    let mut frames = io::collect_all(plans)?.into_iter();
    let mut next = || frames.next().ok_or_else(|| Error::Internal("a plan was not executed".into()));
    let (profile, newest, identity_map, quarantine) = (next()?, next()?, next()?, next()?);
    let counts: Vec<(Table, DataFrame)> = built.accounting.iter().map(|(t, _)| Ok((*t, next()?))).collect::<Result<_>>()?;
    let mut unparseable: BTreeMap<Table, DataFrame> = built.unparseable.iter().map(|(t, _)| Ok((*t, next()?))).collect::<Result<_>>()?;
    let mut accounting = BTreeMap::new();
    for (table, df) in counts {
        let a = Accounting {
            read: count(&df, "read"),
            used: count(&df, "used"),
            duplicate: count(&df, "duplicate"),
            quarantined: count(&df, "quarantined"),
            after_as_of: count(&df, "after_as_of"),
            unparseable: unparseable.remove(&table).map(|df| nonzero_counts(&df)).unwrap_or_default(),
            missing_optional_columns: built.missing_optional.get(&table).cloned().unwrap_or_default(),
            newest: df.column("newest").ok().and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string))),
        };
        if !a.balanced() {
            return Err(Error::Internal(format!("row accounting of {} does not balance: {a:?}", table.name())));
        }
        accounting.insert(table, a);
    }
    let newest_after = newest.column("last_day").ok().and_then(|c| c.cast(&DataType::Int32).ok()).and_then(|c| c.i32().ok()?.get(0));
    Ok(Executed {
        profile,
        newest_after: newest_after.and_then(Day::from_epoch_days),
        identity_map,
        quarantine,
        accounting,
        files: built.files,
    })
}

/// The first value of a count column (0 when absent).
fn count(df: &DataFrame, name: &str) -> u64 {
    df.column(name).ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok().and_then(|ca| ca.get(0))).unwrap_or(0)
}

fn nonzero_counts(df: &DataFrame) -> BTreeMap<String, u64> {
    df.get_column_names().into_iter().map(|n| (n.to_string(), count(df, n))).filter(|(_, v)| *v > 0).collect()
}
