//! The run's execution core (docs/design.md, "The steps of a run"): after identity resolution, each
//! fact table is routed in streaming passes (one per group of its files) into buckets of
//! people (`route`); each bucket's per-person columns are computed from its rows alone and
//! written to disk (`bucket`); the statistics and models that need every person read a few
//! of those columns (`population`); each bucket is then scored and its parts of the output tables
//! staged (`score_pass`). Peak memory follows the bucket, not the input.

pub mod bucket;
pub mod customers;
pub mod incremental;
mod last_copy;
pub mod order_index;
pub mod person_index;
pub mod population;
pub mod route;
pub mod score_pass;

use crate::config::{Format, Plan, MAX_BUCKETS};
use crate::day::Day;
use crate::error::{Error, Result};
use crate::io::{self, scan::InputFile, text::DecodedCopies};
use crate::outputs;
use crate::schema::Table;
use crate::stages::ingest::{self, Ingested};
use crate::stages::{erasure, identity};
use crate::store::state::State;
use crate::store::Accounting;
use bucket::{Routes, FACT_TABLES};
use incremental::Start;
use person_index::PersonIndex;
use polars::prelude::*;
use route::{nonzero_counts, Buckets, Routed};
use std::collections::BTreeMap;
use std::path::Path;

/// What the passes over the inputs computed: everything the models do not change.
pub struct Executed {
    /// Every person's per-person columns, by bucket, on disk (`<work>/people`).
    pub people: Buckets,
    /// Every person's paid purchases per sku, by bucket, on disk (`<work>/bought`; `bucket::bought`).
    pub bought: Buckets,
    /// Every sku bought: `sku`, `category`, `buyers` in the trend window and `buyers_ever`
    /// (`stages::recommend`).
    pub catalogue: DataFrame,
    /// Every person's paid orders of the days campaigns look back (`bucket::Plans::recent_orders`).
    pub recent_orders: DataFrame,
    /// How many people there are.
    pub persons: usize,
    /// The newest paid purchase day after as-of, if any (the holdout's end).
    pub newest_after: Option<Day>,
    pub identity_map: DataFrame,
    pub quarantine: DataFrame,
    /// Per input table, balanced (`read = used + duplicate + quarantined + after_as_of`).
    pub accounting: BTreeMap<Table, Accounting>,
    pub files: BTreeMap<Table, Vec<InputFile>>,
    /// Buckets of people the fact tables were split into.
    pub buckets: u32,
    /// Disk the routed buckets took.
    pub work_bytes: u64,
    /// What the run leaves for the next, to save once the day is published.
    pub state: State,
    /// `full` or `incremental`, and why a full run.
    pub mode: &'static str,
    pub full_because: Option<String>,
}

/// Read every table lazily (schemas checked, nothing executed yet; text in other encodings
/// than UTF-8 decoded into `copies`), the fact tables without the files `start`'s state holds.
pub fn ingest_all(plan: &Plan, copies: &DecodedCopies, start: &Start) -> Result<BTreeMap<Table, Ingested>> {
    let times = plan.times();
    plan.tables.iter().map(|s| Ok((s.table, ingest::ingest_from(s, &times, copies, start.files_held(s.table))?))).collect()
}

/// An input error polars raised while executing names no file: find the file by reading each
/// input file alone (only on this failure path), so the message says which one.
pub fn name_the_file(plan: &Plan, copies: &DecodedCopies, e: Error) -> Error {
    let Error::InputData { file, message } = e else { return e };
    if file != io::UNKNOWN_FILE {
        return Error::InputData { file, message };
    }
    for source in &plan.tables {
        for f in io::scan::discover(source).unwrap_or_default() {
            if let Err(Error::InputData { .. }) = io::scan::scan(&f, source, copies).and_then(|s| io::collect(s.rows)) {
                return Error::input(f.path.display(), message);
            }
        }
    }
    Error::InputData { file, message }
}

/// Where a run works: its own folder, the output root (whose state it reads and extends), its
/// id and the decoded copies of text inputs.
pub struct Places<'a> {
    pub work: &'a Path,
    pub root: &'a Path,
    pub run_id: &'a str,
    pub copies: &'a DecodedCopies,
}

/// The fact tables, lazily, without the files `start`'s state holds (`incremental`).
fn ingest_facts(plan: &Plan, copies: &DecodedCopies, start: &Start) -> Result<BTreeMap<Table, Ingested>> {
    let times = plan.times();
    let facts = plan.tables.iter().filter(|s| FACT_TABLES.contains(&s.table));
    facts.map(|s| Ok((s.table, ingest::ingest_from(s, &times, copies, start.files_held(s.table))?))).collect()
}

/// Route the fact tables' new rows into the buckets of people of the state (`start`, holding
/// `held`; a new state for a full run), then run the bucket pass over every routed row, which
/// leaves every person's per-person columns in `<work>/people`. `ingested` holds every table,
/// customers already read (`resolved`: its usable records with their person, from the state's
/// `customer_parts`; `erased`: the records of the people erasure requests removed, `source`,
/// `source_customer_id`).
#[allow(clippy::too_many_arguments)] // the run's records, its start and places
pub fn execute(
    plan: &Plan,
    mut ingested: BTreeMap<Table, Ingested>,
    (resolved, customer_parts): (DataFrame, incremental::RecordParts),
    erased: &DataFrame,
    start: Start,
    held: &incremental::Held,
    places: &Places,
) -> Result<Executed> {
    let work = places.work;
    let lap = std::time::Instant::now();
    let customers = take(&mut ingested, Table::Customers)?;
    // What the rest needs of the customer records; the records themselves are freed.
    let id_map = io::collect(identity::identity_map(resolved.clone().lazy()))?;
    let was_incremental = matches!(start, Start::Incremental(_));
    let start = incremental::confirm(start, erased, bucket_count(plan, &ingested));
    let buckets = match &start {
        Start::Incremental(state) => state.buckets,
        Start::Full { .. } => bucket_count(plan, &ingested),
    };
    // The erased people's records find their rows (to count them) but no person.
    let persons = PersonIndex::build(&id_map, erased, buckets)?;
    let moves = incremental::Moves::since(places.root, &start, &persons)?;
    if let Start::Full { reason } = &start {
        if was_incremental {
            ingested.extend(ingest_facts(plan, places.copies, &start)?);
        }
        tracing::info!(reason = reason.as_str(), "full run: every input file is read");
    }
    tracing::info!(
        buckets,
        memory_limit_mib = plan.run.memory_limit >> 20,
        mode = start.mode(),
        "routing the fact tables into buckets of people"
    );
    let routed = work.join("route");
    // The records wait for the bucket pass, which makes each person's golden record, on disk
    // (the golden records of every person at once were the largest run's peak).
    let records = route::by_person(resolved.clone().lazy(), &persons, routed.join(Table::Customers.name()), true)?;
    let customers_accounting = account_customers(&customers, &resolved, erased.height() as u64)?;
    drop(resolved);
    let generation = match &start {
        Start::Incremental(state) => state.generation.clone(),
        Start::Full { .. } => places.run_id.to_string(),
    };
    let rows = State::generation_dir(places.root, &generation).join("rows");
    let (mut routes, _) = route_all(plan, ingested, records, &persons, (&rows, &routed), (&start, &moves), buckets, true)?;
    for r in routes.tables.values_mut() {
        (r.quarantine, r.erased) = erasure::without_erased(std::mem::take(&mut r.quarantine), erased)?;
    }
    if let Start::Incremental(_) = &start {
        for r in routes.tables.values_mut() {
            held.add_to(r)?;
        }
    }
    step_finished("route", &lap);
    let passed = bucket_pass(&routes, plan, work)?;
    // The routed rows stay in the state for the next run.
    let work_bytes = io::folder_bytes(work) + io::folder_bytes(&State::generation_dir(places.root, &generation));
    let _ = std::fs::remove_dir_all(&routed);
    step_finished("bucket_pass", &lap);
    let mut accounting: BTreeMap<Table, Accounting> = routes.tables.values().map(|r| (r.table, account(r, &passed.counts))).collect();
    accounting.insert(Table::Customers, customers_accounting);
    for (table, a) in &accounting {
        if !a.balanced() {
            return Err(Error::Internal(format!("row accounting of {} does not balance: {a:?}", table.name())));
        }
    }
    let customers_quarantine = io::collect(customers.quarantine.clone())?;
    let mut quarantine = vec![customers_quarantine.clone().lazy()];
    for (table, rejected) in passed.quarantine {
        let r = &routes.tables[&table];
        quarantine.push(r.quarantine.clone().lazy());
        quarantine.push(outputs::quarantine::rows(table, &r.files, rejected.lazy()));
    }
    let customer_parts = customer_parts.into_generation(places.root, &generation)?;
    let next = incremental::Next {
        plan,
        root: places.root,
        run_id: places.run_id,
        generation,
        buckets,
        erased,
        persons: &persons,
        since: &moves.after,
        customers: (customer_parts, &customers_quarantine),
        held: match &start {
            Start::Incremental(state) => Some(state),
            Start::Full { .. } => None,
        },
    };
    let state = next.state(&routes.tables, &customers.files, &accounting)?;
    let mut files: BTreeMap<Table, Vec<InputFile>> = routes.tables.into_iter().map(|(t, r)| (t, r.files)).collect();
    files.insert(Table::Customers, customers.files);
    Ok(Executed {
        people: passed.people,
        bought: passed.bought,
        catalogue: passed.catalogue,
        recent_orders: passed.recent_orders,
        persons: passed.persons,
        newest_after: passed.newest_after.and_then(Day::from_epoch_days),
        identity_map: io::collect(outputs::identity_map::build(id_map.lazy()))?,
        quarantine: io::collect(outputs::quarantine::build(quarantine)?)?,
        accounting,
        files,
        buckets,
        work_bytes,
        state,
        mode: start.mode(),
        full_because: start.reason().map(str::to_string),
    })
}

/// One `step finished` event per step of the execution core (seconds since `lap` began).
fn step_finished(step: &str, lap: &std::time::Instant) {
    tracing::info!(step, seconds = (lap.elapsed().as_secs_f64() * 1000.0).round() / 1000.0, "step finished");
}

/// The bucket count: `[run] buckets`, else enough buckets that one bucket's fact rows, as
/// they are in memory, take at most a quarter of the memory limit (the rest: the identity
/// map, the per-person rows, polars' working space). How much larger than its file a table's
/// bucket pass is in memory depends on the format: Parquet 12x, text 4x (as measured on the
/// sample data, docs/perf/history.md).
fn bucket_count(plan: &Plan, ingested: &BTreeMap<Table, Ingested>) -> u32 {
    if let Some(b) = plan.run.buckets {
        return b;
    }
    let in_memory: f64 = FACT_TABLES
        .iter()
        .filter_map(|t| ingested.get(t))
        .flat_map(|i| i.files.iter())
        .map(|f| f.bytes as f64 * if f.format == Format::Parquet { 12.0 } else { 4.0 })
        .sum();
    ((in_memory / (plan.run.memory_limit as f64 / 4.0)).ceil() as u32).clamp(1, MAX_BUCKETS)
}

/// A table `ingest_all` read.
fn take(ingested: &mut BTreeMap<Table, Ingested>, table: Table) -> Result<Ingested> {
    ingested.remove(&table).ok_or_else(|| Error::Internal(format!("table {} was not ingested", table.name())))
}

/// Files are read in groups of at most this many bytes (`route::route`, `route::Counts`): a
/// group's pass holds many times its files' bytes (docs/perf/history.md).
pub fn group_bytes(plan: &Plan) -> u64 {
    plan.run.memory_limit / 256
}

/// Route every fact table's new files into `<rows>/<table>` (`run` false: plan the routes
/// only, every bucket empty), with each route's plan; an incremental run (`start`) routes the
/// rows the state left in bucket `B` again, and moves the rows of records whose person changed
/// bucket (`moves`).
#[allow(clippy::too_many_arguments)] // the routes' inputs, places and state
fn route_all(
    plan: &Plan,
    mut ingested: BTreeMap<Table, Ingested>,
    customers: Buckets,
    persons: &PersonIndex,
    (rows, work): (&Path, &Path),
    (start, moves): (&Start, &incremental::Moves),
    buckets: u32,
    run: bool,
) -> Result<(Routes, Vec<(Table, LazyFrame)>)> {
    let mut tables: BTreeMap<Table, Routed> = BTreeMap::new();
    let mut winners = None;
    let mut plans = Vec::new();
    let group_bytes = group_bytes(plan);
    let held = match start {
        Start::Incremental(state) => Some(state),
        Start::Full { .. } => None,
    };
    for table in FACT_TABLES {
        let ing = take(&mut ingested, table)?;
        let first_part = held.map_or(0, |s| s.next_part);
        let target = route::Target { dir: rows.join(table.name()), first_part, buckets, since: moves.after.clone() };
        let again = match held.and_then(|s| s.tables.get(table.name())) {
            Some(t) => {
                let held = |b: u32| route::held_rows(&target.dir, b, &t.parts, t.first_valid(b), &moves.before);
                let mut moved = Vec::new();
                for (&b, records) in &moves.from {
                    moved.extend(held(b)?.map(|rows| route::of_records(rows, records)));
                }
                route::Again { rejected: held(buckets)?, moved }
            }
            None => route::Again { rejected: None, moved: Vec::new() },
        };
        let routed = match table {
            Table::OrderItems => {
                if !run {
                    plans.push((table, route::items_to_people(&ing, &order_index::OrderIndex::default(), persons, buckets)));
                }
                let orders = tables.get(&Table::Orders).ok_or_else(|| Error::Internal("orders were not routed".into()))?;
                let (routed, used) =
                    route::route_lines(ing, again, orders, persons, (&target, work), buckets, group_bytes, plan.run.memory_limit, run)?;
                winners = Some(used);
                routed
            }
            _ => {
                let rows_of = |group: &Ingested| route::keyed_rows(group, persons, buckets);
                if !run {
                    plans.push((table, rows_of(&ing)));
                }
                route::route(ing, rows_of, again, persons, &target, group_bytes, run)?
            }
        };
        tables.insert(table, routed);
    }
    let winners = winners.ok_or_else(|| Error::Internal("order lines were not routed".into()))?;
    Ok((Routes { tables, winners, customers, persons: persons.clone(), buckets }, plans))
}

/// The plans `execute` runs, over empty buckets, for `portrait explain`: per fact table its
/// route, then one bucket's per-person plan and the steps across people.
pub fn explained(plan: &Plan, mut ingested: BTreeMap<Table, Ingested>, resolved: DataFrame) -> Result<Vec<(String, LazyFrame)>> {
    let nowhere = Path::new("/nonexistent/portrait-explain");
    ingested.remove(&Table::Customers);
    let id_map = io::collect(identity::identity_map(resolved.clone().lazy()))?;
    let persons = PersonIndex::build(&id_map, &DataFrame::empty(), 1)?;
    let records = route::by_person(resolved.lazy(), &persons, nowhere.join(Table::Customers.name()), false)?;
    let start = Start::Full { reason: "explain".into() };
    let (routes, routed) =
        route_all(plan, ingested, records, &persons, (nowhere, nowhere), (&start, &incremental::Moves::default()), 1, false)?;
    let mut out: Vec<(String, LazyFrame)> = routed.into_iter().map(|(t, lf)| (format!("route {}", t.name()), lf)).collect();
    let per_person = routes.plans(0, plan)?.profile;
    out.push(("bucket pass: per-person columns of one bucket".into(), per_person.clone()));
    let everyone = population::everyone(per_person.clone(), plan);
    out.push(("population: price tertiles, RFM cut-points and means over everyone".into(), everyone.clone()));
    out.push(("score pass: price tiers, RFM, config features".into(), population::across_people(per_person, everyone, plan)));
    Ok(out)
}

/// The bucket pass's results over all buckets.
struct Passed {
    /// Per-person rows of every bucket, by `_key`, on disk.
    people: Buckets,
    bought: Buckets,
    catalogue: DataFrame,
    recent_orders: DataFrame,
    persons: usize,
    newest_after: Option<i32>,
    /// Per fact table the counts of every bucket, one row each.
    counts: BTreeMap<Table, DataFrame>,
    /// Per fact table the rows that reached no person.
    quarantine: Vec<(Table, DataFrame)>,
}

/// Every bucket's plans, one bucket after another, each bucket's per-person rows written to
/// `<work>/people/_b=<b>/` and its purchases per sku to `<work>/bought/_b=<b>/`; then bucket
/// `B` (the rejected rows) and `B + 1` (the erased people's).
fn bucket_pass(routes: &Routes, plan: &Plan, work: &Path) -> Result<Passed> {
    let (dir, bought_dir) = (work.join("people"), work.join("bought"));
    let (mut persons, mut schema, mut bought_schema) = (0, None, None);
    let mut skus: Vec<DataFrame> = Vec::new();
    let mut recent_orders: Vec<LazyFrame> = Vec::new();
    let trend_from = lit(plan.as_of.epoch_days() - crate::stages::recommend::TREND_DAYS + 1);
    let mut newest_after: Option<i32> = None;
    let mut counts: BTreeMap<Table, DataFrame> = BTreeMap::new();
    let mut quarantine = Vec::new();
    for b in 0..=routes.buckets + 1 {
        let p = routes.plans(b, plan)?;
        let mut frames = vec![p.profile];
        frames.extend(p.newest_after.clone());
        frames.extend(p.bought.clone());
        frames.extend(p.recent_orders.clone());
        frames.extend(p.counts.iter().map(|(_, lf)| lf.clone()));
        frames.extend(p.quarantine.iter().map(|(_, lf)| lf.clone()));
        let mut out = io::collect_all(frames)?.into_iter();
        let mut next = || out.next().ok_or_else(|| Error::Internal("a bucket plan was not executed".into()));
        let mut profile = next()?;
        if p.newest_after.is_some() {
            let last = next()?;
            let day = last.column("last_day").ok().and_then(|c| c.cast(&DataType::Int32).ok()).and_then(|c| c.i32().ok()?.get(0));
            newest_after = newest_after.max(day);
            persons += profile.height();
            io::parquet::write_part(&mut profile, &dir.join(format!("_b={b}")).join("people.parquet"))?;
            schema.get_or_insert_with(|| profile.schema().clone());
            let mut bought = next()?;
            // Distinct buyers per sku in this bucket: a person is in one bucket, so they add up.
            let recent = col("last").gt_eq(trend_from.clone()).cast(DataType::UInt32);
            let before = bought.clone().lazy().filter(col("after").not());
            let by_sku = before.group_by([col("sku")]).agg([
                col("category").min(),
                recent.sum().alias("buyers"),
                len().cast(DataType::UInt32).alias("buyers_ever"),
            ]);
            skus.push(io::collect(by_sku)?);
            io::parquet::write_part(&mut bought, &bought_dir.join(format!("_b={b}")).join("bought.parquet"))?;
            bought_schema.get_or_insert_with(|| bought.schema().clone());
            if p.recent_orders.is_some() {
                recent_orders.push(next()?.lazy());
            }
        }
        for (table, _) in &p.counts {
            let df = next()?;
            match counts.get_mut(table) {
                Some(all) => {
                    all.vstack_mut(&df).map_err(|e| Error::internal("bucket counts", e))?;
                }
                None => {
                    counts.insert(*table, df);
                }
            }
        }
        for (table, _) in &p.quarantine {
            quarantine.push((*table, next()?));
        }
    }
    let (schema, bought_schema) = schema.zip(bought_schema).ok_or_else(|| Error::Internal("no bucket of people".into()))?;
    let skus = concat(skus.into_iter().map(|df| df.lazy()).collect::<Vec<_>>(), UnionArgs::default())
        .map_err(|e| Error::internal("skus", e))?
        .group_by([col("sku")])
        .agg([col("category").min(), col("buyers").sum(), col("buyers_ever").sum()])
        .sort(["sku"], Default::default());
    Ok(Passed {
        people: Buckets::new(dir, schema),
        bought: Buckets::new(bought_dir, bought_schema),
        catalogue: io::collect(skus)?,
        recent_orders: match recent_orders.is_empty() {
            true => outputs::campaign_eval::no_orders()?,
            false => io::collect(concat(recent_orders, UnionArgs::default()).map_err(|e| Error::internal("recent orders", e))?)?,
        },
        persons,
        newest_after,
        counts,
        quarantine,
    })
}

/// A fact table's row accounting from its route and the counts of every bucket.
fn account(r: &Routed, counts: &BTreeMap<Table, DataFrame>) -> Accounting {
    let none = DataFrame::empty();
    let counts = counts.get(&r.table).unwrap_or(&none);
    let sum =
        |name: &str| counts.column(name).ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok()?.sum()).unwrap_or(0);
    let (rows, kept, used, rejected, erased) = (sum("rows"), sum("kept"), sum("used"), sum("quarantined"), sum("erased"));
    let newest = counts.column("newest").ok().and_then(|c| c.str().ok().and_then(|s| s.iter().flatten().max().map(str::to_string)));
    Accounting {
        read: r.read,
        used,
        duplicate: rows.saturating_sub(kept),
        quarantined: r.quarantine.height() as u64 + rejected,
        after_as_of: kept.saturating_sub(used + rejected + erased),
        erased: erased + r.erased,
        unparseable: r.unparseable.clone(),
        invalid: r.invalid.clone(),
        missing_optional_columns: r.missing_optional.clone(),
        newest,
    }
}

/// Customers: every usable record is used (records of one person are merged, not dropped),
/// but the `erased` records of the people erasure requests removed.
fn account_customers(customers: &Ingested, resolved: &DataFrame, erased: u64) -> Result<Accounting> {
    let frames = io::collect_all(vec![
        customers.read.clone(),
        customers.quarantine.clone().select([len().alias("n")]),
        customers.unparseable.clone(),
        resolved.clone().lazy().select([col("updated_at").max().cast(DataType::String).alias("newest")]),
    ])?;
    Ok(Accounting {
        read: count(&frames[0], "read"),
        used: resolved.height() as u64,
        duplicate: 0,
        quarantined: count(&frames[1], "n"),
        after_as_of: 0,
        erased,
        unparseable: nonzero_counts(&frames[2]),
        invalid: customers.invalid.clone(),
        missing_optional_columns: customers.missing_optional.clone(),
        newest: frames[3].column("newest").ok().and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string))),
    })
}

/// The first value of a count column (0 when absent).
fn count(df: &DataFrame, name: &str) -> u64 {
    df.column(name).ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok().and_then(|ca| ca.get(0))).unwrap_or(0)
}
