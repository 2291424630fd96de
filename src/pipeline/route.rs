//! Step 2 of a run (docs/design.md), route: streaming passes over each fact table, one per group of
//! its files, parse and clean its rows, attach the person (`_key`, a dense u32) through the
//! identity map and append each row to its bucket's folder `<work>/<table>/_b=<b>/`, bucket
//! `_key % B`. Rows that reach no
//! person (rejected by clean, unknown customer or order) go to the extra bucket `B`, which the
//! bucket pass turns into quarantine after deduplication; rows of erased people (`person_index::ERASED`) go
//! to bucket `B + 1`, which it only counts. The same pass counts the rows read
//! and the values that did not parse, and keeps the rows ingest quarantined.
//!
//! Order lines reach a person only through their order, and the order's last-read copy ("read
//! last wins") is a choice over every copy. The last-read copies are held in a hash table
//! (`OrderIndex`) and the lines find theirs in their own route pass (`route_lines`). When they
//! do not fit in half the memory limit, the orders are split into slices by a hash of
//! `order_id` (`order_slices`) and the lines are read once per slice, each pass routing the
//! lines of that slice's orders: nothing proportional to all the orders is held in memory.

use super::order_index::{self, OrderIndex};
use super::person_index::{fnv1a, PersonIndex, REC};
use crate::error::{Error, Result};
use crate::io::{self, scan::InputFile};
use crate::schema::Table;
use crate::stages::clean;
use crate::stages::ingest::Ingested;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why clean rejected a row (null: usable).
pub const REASON: &str = "_reason";
/// The bucket column the route partitions by (not stored in the files).
const BUCKET: &str = "_b";
/// An order line's order, by the `_pos` of the order's first-read copy (null: no usable order):
/// it stays when a later delivery re-sends the order.
pub const ORDER: &str = "_order";
/// Which writer (a group of files, in a slice of the orders) wrote a file: several append to
/// the same buckets, each into its own `_b=<b>/_part=<part>/`.
const PART: &str = "_part";

/// Orders: the columns features, models and the accounting read.
pub const ORDER_COLUMNS: [&str; 9] =
    ["source", "order_id", "order_ts", "status", "channel", "gross_amount", "discount_amount", "net_amount", "coupon_code"];
/// Order lines: the columns carried; `_key` and `_order` come from the line's order (the
/// bucket pass takes its status and time from there).
const ITEM_COLUMNS: [&str; 3] = ["sku", "category", "quantity"];

/// The columns each table with its own customer id keeps for features.
pub fn kept_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Orders => &ORDER_COLUMNS,
        Table::OrderItems => &ITEM_COLUMNS,
        Table::Events => &["event_ts", "event_type"],
        Table::SocialInteractions => &["ts", "platform", "action", "followers"],
        Table::Feedback => &["ts", "kind", "rating", "nps", "text", "topic"],
        Table::Customers | Table::Erasures | Table::Suppressions => &[],
    }
}

/// Rows written into buckets: `<dir>/_b=<b>/` per bucket that received rows.
pub struct Buckets {
    pub dir: PathBuf,
    /// The rows' columns (an empty bucket reads as an empty frame of them).
    pub schema: SchemaRef,
    /// Buckets read from a part on only (of a state: bucket `B`, whose earlier runs' rows were
    /// routed again, into later parts).
    pub from_part: BTreeMap<u32, u32>,
    /// From which part on each record's rows are valid (of a state whose records moved).
    pub since: Since,
}

impl Buckets {
    /// Write `rows` (with the `_b` column) into buckets under `dir` as writer `part`; `run`
    /// false: plan only.
    fn write(rows: LazyFrame, dir: PathBuf, part: u32, run: bool) -> Result<Buckets> {
        Ok(Buckets::write_with(rows, dir, part, run, Vec::new())?.0)
    }

    /// `write`, computing the small results `with` in the same streaming pass; their frames.
    fn write_with(mut rows: LazyFrame, dir: PathBuf, part: u32, run: bool, with: Vec<LazyFrame>) -> Result<(Buckets, Vec<DataFrame>)> {
        let mut schema = (*rows.collect_schema().map_err(|e| Error::internal("routed schema", e))?).clone();
        schema.remove(BUCKET);
        let frames =
            if run { io::parquet::sink_buckets(rows.with_column(lit(part).alias(PART)), &dir, &[BUCKET, PART], with)? } else { Vec::new() };
        Ok((Buckets::new(dir, std::sync::Arc::new(schema)), frames))
    }

    /// Buckets of `schema` under `dir`, every part valid.
    pub fn new(dir: PathBuf, schema: SchemaRef) -> Buckets {
        Buckets { dir, schema, from_part: BTreeMap::new(), since: Since::default() }
    }

    /// The rows of every bucket.
    pub fn all(&self) -> Result<LazyFrame> {
        io::parquet::scan_folder(&self.dir, &self.schema)
    }

    /// The valid rows of bucket `b`.
    pub fn bucket(&self, b: u32) -> Result<LazyFrame> {
        let first = self.from_part.get(&b).copied().unwrap_or(0);
        if first == 0 && self.since.by_record().iter().all(|&s| s == 0) {
            // Every file, those of a run's own folders too (not written in parts).
            return io::parquet::scan_folder(&self.dir.join(format!("{BUCKET}={b}")), &self.schema);
        }
        let rows = valid_rows(&self.dir, b, |p| p >= first, &self.since)?;
        Ok(rows.unwrap_or_else(|| DataFrame::empty_with_schema(&self.schema).lazy()))
    }
}

/// Per record the first part its rows are valid from: 0 unless its person changed bucket,
/// when its rows were written again into the new bucket, in a part from which they are valid
/// there, and the older parts' copies of them anywhere are not.
#[derive(Clone, Default)]
pub struct Since(std::sync::Arc<Vec<u32>>);

impl Since {
    pub fn new(since: Vec<u32>) -> Since {
        Since(std::sync::Arc::new(since))
    }

    /// By record (records after the last are 0).
    pub fn by_record(&self) -> &[u32] {
        &self.0
    }

    /// The rows of part `part` that are valid (all of them when no record moved).
    fn valid_in(&self, rows: LazyFrame, part: u32) -> LazyFrame {
        if self.0.iter().all(|&s| s <= part) {
            return rows;
        }
        let since = self.0.clone();
        with_record(rows, move |r| r.is_none_or(|r| since.get(r as usize).is_none_or(|&s| s <= part)))
    }
}

/// The valid rows of bucket `b` under a table's `dir`, of the parts `keep` keeps; none when
/// there are none. Part by part: which rows are valid depends on the part (`Since`).
fn valid_rows(dir: &Path, b: u32, keep: impl Fn(u32) -> bool, since: &Since) -> Result<Option<LazyFrame>> {
    let bucket = dir.join(format!("{BUCKET}={b}"));
    let part_of = |f: &Path| f.strip_prefix(&bucket).ok()?.iter().next()?.to_str()?.strip_prefix("_part=")?.parse::<u32>().ok();
    let mut parts: BTreeMap<u32, Vec<PathBuf>> = BTreeMap::new();
    for file in io::parquet::files_under(&bucket) {
        if let Some(p) = part_of(&file).filter(|&p| keep(p)) {
            parts.entry(p).or_default().push(file);
        }
    }
    let scans = parts.into_iter().map(|(p, files)| Ok(since.valid_in(io::parquet::scan_files(&files)?, p))).collect::<Result<Vec<_>>>()?;
    match scans.is_empty() {
        true => Ok(None),
        false => concat(scans, UnionArgs::default()).map(Some).map_err(|e| Error::internal("parts of a bucket", e)),
    }
}

/// One table after its route pass.
pub struct Routed {
    pub table: Table,
    /// `<rows>/<table>` (`Target::dir`).
    pub rows: Buckets,
    /// The parts this run wrote.
    pub parts: std::ops::Range<u32>,
    pub read: u64,
    /// Per column, non-empty values that did not parse.
    pub unparseable: BTreeMap<String, u64>,
    /// Rows ingest could not parse, in quarantine's shape.
    pub quarantine: DataFrame,
    /// Per column, values cleaning rejected.
    pub invalid: BTreeMap<String, u64>,
    /// Rows ingest rejected that belong to an erased person (taken out of `quarantine`).
    pub erased: u64,
    pub files: Vec<InputFile>,
    pub missing_optional: Vec<String>,
}

/// Where a table's route writes: its rows' folder, the number of its first part and bucket
/// `B` (of rows that reach no person), which it writes again: it holds only this run's parts.
pub struct Target {
    pub dir: PathBuf,
    pub first_part: u32,
    /// `B`.
    pub buckets: u32,
    /// Which rows of the table are valid after the route (`Since`).
    pub since: Since,
}

impl Target {
    fn first_parts(&self) -> BTreeMap<u32, u32> {
        BTreeMap::from([(self.buckets, self.first_part)])
    }
}

/// The routed rows of a table with a customer id: cleaned, `_reason`, `_rec` and its bucket
/// `_b` attached.
pub fn keyed_rows(ing: &Ingested, persons: &PersonIndex, buckets: u32) -> LazyFrame {
    let table = ing.table;
    let cleaned = match table {
        Table::Orders => clean::orders(ing.rows.clone()),
        Table::Events => clean::events(ing.rows.clone()),
        Table::SocialInteractions => clean::social(ing.rows.clone()),
        Table::Feedback => clean::feedback(ing.rows.clone()),
        _ => unreachable!("{} has no customer id", table.name()),
    };
    let reason = if table == Table::Orders { col(REASON) } else { lit(NULL).cast(DataType::String).alias(REASON) };
    let mut carried = clean::carried(table, kept_columns(table));
    carried.push(reason);
    carried.push(lit(NULL).cast(DataType::UInt32).alias(REC));
    to_people(cleaned.select(carried), table, persons, buckets)
}

/// Rows of `table` as routed, given their record, bucket and the columns only quarantine
/// reads (again, for rows routed by an earlier run that reached no person then).
pub fn to_people(rows: LazyFrame, table: Table, persons: &PersonIndex, buckets: u32) -> LazyFrame {
    let for_quarantine: Vec<Expr> = quarantine_only(table).iter().map(|c| rejected_only(c, buckets)).collect();
    rows.with_column(persons.lookup(col("source"), col("source_customer_id")))
        .with_column(persons.bucket(BUCKET, col(REASON)))
        .with_columns(for_quarantine)
}

/// The valid rows a state holds in bucket `b` (`parts`, from part `first` on, valid by
/// `since`), none when there are none.
pub fn held_rows(dir: &Path, b: u32, parts: &std::collections::BTreeSet<u32>, first: u32, since: &Since) -> Result<Option<LazyFrame>> {
    valid_rows(dir, b, |p| p >= first && parts.contains(&p), since)
}

/// The rows of the records `records`.
pub fn of_records(rows: LazyFrame, records: &std::collections::BTreeSet<u32>) -> LazyFrame {
    let records = records.clone();
    with_record(rows, move |r| r.is_some_and(|r| records.contains(&r)))
}

/// The rows whose record (`REC`, null for none) `keep` keeps.
fn with_record(rows: LazyFrame, keep: impl Fn(Option<u32>) -> bool + Send + Sync + 'static) -> LazyFrame {
    let kept = move |c: Column| {
        let ok: BooleanChunked = c.u32()?.iter().map(|r| Some(keep(r))).collect();
        Ok(ok.into_column())
    };
    rows.filter(col(REC).map(kept, |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean))))
}

/// Column `name` in the rejected rows' bucket, null in the others: what only quarantine reads
/// costs nothing to write and read back in the buckets of people.
fn rejected_only(name: &str, buckets: u32) -> Expr {
    when(col(BUCKET).eq(lit(buckets))).then(col(name)).otherwise(lit(NULL)).alias(name)
}

/// The routed columns that only the rows reaching no person need (quarantine shows them): a
/// person's rows are keyed by `_rec`, and only the orders are deduplicated by their id and
/// source, and only social and feedback rows are ordered by their place in the input.
fn quarantine_only(table: Table) -> &'static [&'static str] {
    match table {
        Table::Orders => &["source_customer_id"],
        Table::Events => &["source", "source_customer_id", "_file", "_row"],
        _ => &["source", "source_customer_id"],
    }
}

/// Rows of one person each (`_key`: the golden records) into their person's bucket under `dir`.
pub fn by_person(rows: LazyFrame, persons: &PersonIndex, dir: PathBuf, run: bool) -> Result<Buckets> {
    Buckets::write(rows.with_column(persons.bucket_of_person(BUCKET)), dir, 0, run)
}

/// The order lines, cleaned, with their carried columns.
pub fn items(ing: &Ingested) -> LazyFrame {
    let mut carried = clean::carried(Table::OrderItems, &ITEM_COLUMNS);
    carried.push(lit(NULL).cast(DataType::String).alias(REASON));
    clean::items(ing.rows.clone()).select(carried)
}

/// The order lines, cleaned, with their order (`ORDER`), its last-read copy's record and their
/// person's bucket `_b`, when every order's copies are in `orders`.
pub fn items_to_people(ing: &Ingested, orders: &OrderIndex, persons: &PersonIndex, buckets: u32) -> LazyFrame {
    lines_to_people(items(ing), orders, persons, buckets)
}

/// Lines given their order's record and position, and their person's bucket. A person's
/// lines name their order by its first-read copy's `_pos` (what the bucket pass deduplicates them
/// by and finds the order's status and time with); the order's id, a long text, and the unit
/// price, which no feature reads, are kept for quarantine only (the price was a quarter of the
/// routed lines' bytes).
pub fn lines_to_people(lines: LazyFrame, orders: &OrderIndex, persons: &PersonIndex, buckets: u32) -> LazyFrame {
    let for_quarantine = ["source", "order_id", "unit_price"].map(|c| rejected_only(c, buckets));
    orders.lookup(lines, ORDER).with_column(persons.bucket(BUCKET, col(REASON))).with_columns(for_quarantine)
}

/// In how many slices the orders' last-read copies are held for their lines: enough that a
/// slice's `OrderIndex` takes at most half the memory limit (`rows`: the orders' rows read;
/// `id_bytes`: their ids' mean length). Each slice reads the lines' files again, so the table
/// takes the larger share: while the lines are routed the rest of the run holds only the
/// identity map and one group of files' pass.
pub fn order_slices(rows: u64, id_bytes: u64, memory_limit: u64) -> u32 {
    let slices = rows.saturating_mul(order_index::BYTES_BESIDES_ID + id_bytes).div_ceil((memory_limit / 2).max(1));
    u32::try_from(slices).unwrap_or(u32::MAX).max(1)
}

/// The routed orders' ids' mean length in bytes, over their first bucket (16 when it has none).
fn mean_id_bytes(orders: &Routed) -> Result<u64> {
    let mean = io::collect(orders.rows.bucket(0)?.select([col("order_id").str().len_bytes().mean()]))?;
    let mean = mean.column("order_id").ok().and_then(|c| c.f64().ok()?.get(0)).unwrap_or(16.0);
    Ok((mean.ceil() as u64).max(1))
}

/// The rows of `rows` whose order falls in slice `slice` of `slices`: FNV-1a of `order_id`'s
/// bytes, mod `slices` (stable across runs and machines; a missing id is in slice 0, where
/// it finds no order).
fn in_slice(rows: LazyFrame, slices: u32, slice: u32) -> LazyFrame {
    if slices == 1 {
        return rows;
    }
    let hash = move |c: Column| {
        let ids = c.str()?;
        let out: UInt32Chunked = ids.apply_nonnull_values_generic(DataType::UInt32, |s| (fnv1a(s.as_bytes()) % slices as u64) as u32);
        Ok(out.into_column())
    };
    let of = col("order_id").map(hash, |_, f| Ok(Field::new(f.name().clone(), DataType::UInt32))).fill_null(lit(0u32));
    rows.filter(of.eq(lit(slice)))
}

/// The last-read copy of every order in slice `slice` of `slices`, over every routed bucket of
/// orders (one at a time; one streaming pass over all of them would scan every bucket's files
/// at once, buckets times groups of files).
fn used_copies(orders: &Routed, buckets: u32, (slices, slice): (u32, u32), id_bytes: u64) -> Result<OrderIndex> {
    let usable = |b: u32| {
        let copies = orders.rows.bucket(b)?.filter(col(REASON).is_null()).select([col("source"), col("order_id"), position(), col(REC)]);
        Ok(in_slice(copies, slices, slice))
    };
    OrderIndex::build((0..=buckets + 1).map(usable), (orders.read / slices as u64) as usize, id_bytes as usize)
}

/// The last-read copies' `_pos` and their order's first (`order_index::FIRST`) by their person's
/// bucket, for the bucket pass, into `<work>/_winners` as writer `part`.
fn write_used(orders: &OrderIndex, persons: &PersonIndex, work: &Path, part: u32, run: bool) -> Result<Buckets> {
    // Every last-read copy is usable (`PersonIndex::bucket` reads its `_reason`).
    let used = orders.used()?.lazy().with_column(lit(NULL).cast(DataType::String).alias(REASON));
    let columns = [col("_pos"), col(order_index::FIRST), col(BUCKET)];
    Buckets::write(used.with_column(persons.bucket(BUCKET, col(REASON))).select(columns), work.join("_winners"), part, run)
}

/// Rows an earlier run routed, to route again: those that reached no person then (`rejected`:
/// their customer or order may have arrived since) and those of records whose person is now in
/// another bucket (`moved`, those of one bucket each: they keep their record).
pub struct Again {
    pub rejected: Option<LazyFrame>,
    pub moved: Vec<LazyFrame>,
}

impl Again {
    /// Write each old bucket's moved rows, in their person's bucket now, as a part of its own from
    /// `part` on (one pass over every bucket's files at once would hold them all); the next part.
    fn write_moved(&self, persons: &PersonIndex, dir: &Path, mut part: u32, run: bool) -> Result<u32> {
        for rows in &self.moved {
            Buckets::write(rows.clone().with_column(persons.bucket(BUCKET, col(REASON))), dir.to_path_buf(), part, run)?;
            part += 1;
        }
        Ok(part)
    }
}

/// Route the order lines (into `<work>/order_items`), once per slice of the orders
/// (`order_slices`): each pass holds the last-read copy of its slice's orders (the one read last;
/// docs/design.md), whose person and `_pos` (as `_order`) its lines take. The last-read copies'
/// positions go to `<work>/_winners` for the bucket pass. Rows are counted in the first pass.
#[allow(clippy::too_many_arguments)] // the route's inputs, its places and its limits
pub fn route_lines(
    ing: Ingested,
    again: Again,
    orders: &Routed,
    persons: &PersonIndex,
    (target, work): (&Target, &Path),
    buckets: u32,
    group_bytes: u64,
    memory_limit: u64,
    run: bool,
) -> Result<(Routed, Buckets)> {
    let started = std::time::Instant::now();
    let id_bytes = if run { mean_id_bytes(orders)? } else { 1 };
    let slices = order_slices(orders.read, id_bytes, memory_limit);
    let groups = ing.in_groups(group_bytes)?;
    let per_slice = groups.len() as u32 + u32::from(again.rejected.is_some());
    let (mut counts, mut written) = (Counts::default(), None);
    for slice in 0..slices {
        let used = match run {
            true => {
                let held = std::time::Instant::now();
                let used = used_copies(orders, buckets, (slices, slice), id_bytes)?;
                let (seconds, orders, bytes) = (held.elapsed().as_secs_f64(), used.orders(), used.bytes());
                tracing::info!(slice, slices, orders, bytes, seconds, "held the last-read copy of a slice of the orders");
                used
            }
            false => OrderIndex::default(),
        };
        let lines_of = |group: &Ingested| lines_to_people(in_slice(items(group), slices, slice), &used, persons, buckets);
        let first_part = target.first_part + slice * per_slice;
        let count = (slice == 0).then_some(&mut counts);
        let rows = write_groups(&groups, lines_of, &target.dir, first_part, count, run)?;
        if let Some(rejected) = &again.rejected {
            let lines = lines_to_people(in_slice(rejected.clone(), slices, slice), &used, persons, buckets);
            Buckets::write(lines, target.dir.clone(), first_part + groups.len() as u32, run)?;
        }
        written = Some((rows, write_used(&used, persons, work, slice, run)?));
    }
    let (rows, winners) = written.ok_or_else(|| Error::Internal("no slice of orders".into()))?;
    let end = again.write_moved(persons, &target.dir, target.first_part + slices * per_slice, run)?;
    let parts = target.first_part..end;
    let rows = Buckets { from_part: target.first_parts(), since: target.since.clone(), ..rows };
    Ok((routed(ing, rows, parts, counts, started, run)?, winners))
}

/// Route a table in groups of files of at most `group_bytes` (`Ingested::in_groups`): per
/// group, one streaming pass writes `rows_of(group)` (rows with their bucket `_b`) into
/// buckets under `dir`, counts the rows read and the values that did not parse, and keeps the
/// rows ingest rejected. (Over all files at once, one shared pass peaked higher than two:
/// polars buffers rows for the slower sink. Over groups of files it does not, and text files
/// are parsed once.)
/// `again`: rows an earlier run routed, to route once more, as one more part.
pub fn route(
    ing: Ingested,
    rows_of: impl Fn(&Ingested) -> LazyFrame,
    again: Again,
    persons: &PersonIndex,
    target: &Target,
    group_bytes: u64,
    run: bool,
) -> Result<Routed> {
    let started = std::time::Instant::now();
    let mut counts = Counts::default();
    let groups = ing.in_groups(group_bytes)?;
    let rows = write_groups(&groups, rows_of, &target.dir, target.first_part, Some(&mut counts), run)?;
    let mut end = target.first_part + groups.len() as u32;
    let table = ing.table;
    if let Some(rejected) = again.rejected.clone() {
        Buckets::write(to_people(rejected, table, persons, target.buckets), target.dir.clone(), end, run)?;
        end += 1;
    }
    end = again.write_moved(persons, &target.dir, end, run)?;
    let rows = Buckets { from_part: target.first_parts(), since: target.since.clone(), ..rows };
    routed(ing, rows, target.first_part..end, counts, started, run)
}

/// One streaming pass per group of files, each writing `rows_of(group)` into buckets under
/// `dir` as writer `first_part + g`, with the group's `counts` when asked for.
fn write_groups(
    groups: &[Ingested],
    rows_of: impl Fn(&Ingested) -> LazyFrame,
    dir: &Path,
    first_part: u32,
    mut counts: Option<&mut Counts>,
    run: bool,
) -> Result<Buckets> {
    let mut rows = None;
    for (g, group) in groups.iter().enumerate() {
        let with = if counts.is_some() { Counts::plans(group) } else { Vec::new() };
        let (written, frames) = Buckets::write_with(rows_of(group), dir.to_path_buf(), first_part + g as u32, run, with)?;
        rows = Some(written);
        if let (true, Some(counts)) = (run, counts.as_deref_mut()) {
            counts.add(frames)?;
        }
    }
    rows.ok_or_else(|| Error::Internal("a table without files was routed".into()))
}

/// A table's route, from its written rows and counts.
fn routed(
    ing: Ingested,
    rows: Buckets,
    parts: std::ops::Range<u32>,
    counts: Counts,
    started: std::time::Instant,
    run: bool,
) -> Result<Routed> {
    let (read, unparseable, quarantine) = if run { counts.total()? } else { (0, DataFrame::empty(), DataFrame::empty()) };
    let unparseable = nonzero_counts(&unparseable);
    let invalid = counts.invalid()?;
    if run {
        tracing::info!(table = ing.table.name(), rows = read, seconds = started.elapsed().as_secs_f64(), "routed");
    }
    Ok(Routed {
        table: ing.table,
        rows,
        parts,
        read,
        unparseable,
        quarantine,
        invalid,
        erased: 0,
        files: ing.files,
        missing_optional: ing.missing_optional,
    })
}

/// A table's rows read, non-empty values that did not parse and rows ingest quarantined,
/// counted one group of files at a time (`Ingested::in_groups`; the three plans share a
/// cached parse of each text file, which over every file at once buffered the whole table).
#[derive(Default)]
pub struct Counts {
    read: u64,
    unparseable: Vec<LazyFrame>,
    quarantine: Vec<LazyFrame>,
    invalid: Vec<LazyFrame>,
}

impl Counts {
    /// `rows_of` every group of `ing`'s files, counted in the same streaming pass (a text file
    /// is parsed once): the groups' rows one under the other, in the groups' order, and the
    /// counts.
    pub fn with_rows(ing: &Ingested, group_bytes: u64, rows_of: impl Fn(&Ingested) -> LazyFrame) -> Result<(DataFrame, Counts)> {
        let (mut rows, mut counts) = (None::<DataFrame>, Counts::default());
        for group in ing.in_groups(group_bytes)? {
            let mut frames = io::collect_all_streaming([vec![rows_of(&group)], Counts::plans(&group)].concat())?;
            let group_rows = frames.remove(0);
            counts.add(frames)?;
            match rows.as_mut() {
                Some(all) => {
                    all.vstack_mut(&group_rows).map_err(|e| Error::internal("rows of the file groups", e))?;
                }
                None => rows = Some(group_rows),
            }
        }
        Ok((rows.ok_or_else(|| Error::Internal(format!("{} has no files", ing.table.name())))?, counts))
    }

    /// One group's plans, in the order `add` reads their frames.
    fn plans(group: &Ingested) -> Vec<LazyFrame> {
        let mut plans = vec![group.read.clone(), group.unparseable.clone(), group.quarantine.clone()];
        plans.extend(clean::invalid_values(group.table, group.rows.clone()));
        plans
    }

    fn add(&mut self, frames: Vec<DataFrame>) -> Result<()> {
        let mut frames = frames.into_iter();
        let mut next = || frames.next().ok_or_else(|| Error::Internal("a count plan was not executed".into()));
        let (r, u, q) = (next()?, next()?, next()?);
        self.read += r.column("read").ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0);
        self.unparseable.push(u.lazy());
        self.quarantine.push(q.lazy());
        self.invalid.extend(frames.map(|i| i.lazy()));
        Ok(())
    }

    /// Rows read; one row of unparseable values per column; the quarantined rows.
    pub fn total(&self) -> Result<(u64, DataFrame, DataFrame)> {
        let union =
            |frames: &[LazyFrame]| concat(frames, UnionArgs::default()).map_err(|e| Error::internal("counts of the file groups", e));
        let unparseable = io::collect(union(&self.unparseable)?.select([all().as_expr().sum()]))?;
        Ok((self.read, unparseable, io::collect(union(&self.quarantine)?)?))
    }

    /// Per column, values cleaning rejected (none for most tables).
    pub fn invalid(&self) -> Result<BTreeMap<String, u64>> {
        if self.invalid.is_empty() {
            return Ok(BTreeMap::new());
        }
        let all_groups = concat(&self.invalid, UnionArgs::default()).map_err(|e| Error::internal("invalid values", e))?;
        Ok(nonzero_counts(&io::collect(all_groups.select([all().as_expr().sum()]))?))
    }
}

/// The columns of a one-row frame of counts that are not 0.
pub fn nonzero_counts(df: &DataFrame) -> BTreeMap<String, u64> {
    let count = |n: &str| df.column(n).ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0);
    df.get_column_names().into_iter().map(|n| (n.to_string(), count(n))).filter(|(_, v)| *v > 0).collect()
}

/// A row's place in the input (file, then row): "read last" is the largest.
pub fn position() -> Expr {
    ((col("_file").cast(DataType::UInt64) * lit(1u64 << 32)) + col("_row").cast(DataType::UInt64)).alias("_pos")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orders_take_as_many_slices_as_half_the_limit_needs() {
        // 1,000 orders of 11-byte ids: 1,000 x (40 + 11) = 51,000 bytes.
        assert_eq!(order_slices(1_000, 11, 102_000), 1);
        assert_eq!(order_slices(1_000, 11, 101_998), 2);
        assert_eq!(order_slices(1_000, 11, 20_000), 6);
        assert_eq!(order_slices(0, 11, 1), 1);
    }
}
