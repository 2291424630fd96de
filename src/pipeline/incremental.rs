//! Incremental runs (docs/design.md, "Incremental runs"): whether a run starts from the state
//! the last run left (`store::state`), reading only the input files delivered since, or from
//! nothing. The state holds the routed rows of every file read, by source record: what a full
//! run would route from those files is what the state holds, as long as the files, the way
//! they are read and the erased people are the same, and new files sort after the files read.
//! Anything else starts from nothing, and the log and the manifest say why.

use super::bucket::FACT_TABLES;
use super::person_index::PersonIndex;
use super::route::{Routed, Since};
use crate::config::Plan;
use crate::error::{Error, Result};
use crate::io::{
    self,
    scan::{self, InputFile},
};
use crate::schema::Table;
use crate::store::state::{FileState, State, TableState, STATE_VERSION};
use crate::store::Accounting;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// How a run reads its inputs.
pub enum Start {
    /// Every file, into a new state; `reason` says why not from a state.
    Full { reason: String },
    /// Only the files delivered since `state` was left.
    Incremental(Box<State>),
}

impl Start {
    /// How many of `table`'s files (in read order) the state already holds: none of the
    /// requests (they are read whole every run).
    pub fn files_held(&self, table: Table) -> usize {
        match self {
            Start::Incremental(s) if table == Table::Customers || FACT_TABLES.contains(&table) => {
                s.tables.get(table.name()).map_or(0, |t| t.files.len())
            }
            _ => 0,
        }
    }

    /// `full` or `incremental`, for the log and the manifest.
    pub fn mode(&self) -> &'static str {
        match self {
            Start::Full { .. } => "full",
            Start::Incremental(_) => "incremental",
        }
    }

    /// Why a full run: none for an incremental one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Start::Full { reason } => Some(reason),
            Start::Incremental(_) => None,
        }
    }
}

/// sha256 of what decides how the customers and fact tables are read and cleaned: their
/// sources and column mappings, the time zone and the earliest plausible day. A change of the
/// features, scores, identity, requests or gates changes nothing the state holds (every run
/// computes them again).
pub fn inputs_sha256(plan: &Plan) -> String {
    let read_into_state = |t: Table| t == Table::Customers || FACT_TABLES.contains(&t);
    let tables: Vec<_> = plan.tables.iter().filter(|s| read_into_state(s.table)).collect();
    let read = format!("{tables:?}|{}|{}", plan.time_zone, plan.earliest);
    hex::encode(Sha256::digest(read.as_bytes()))
}

/// sha256 of the erased people's records (`source`, `source_customer_id`), in any order.
pub fn erased_sha256(erased: &DataFrame) -> String {
    let text = |name: &str| erased.column(name).ok().and_then(|c| c.str().ok().cloned());
    let mut records: Vec<String> = match (text("source"), text("source_customer_id")) {
        (Some(s), Some(i)) => s.iter().zip(i.iter()).map(|(s, i)| format!("{}\u{1f}{}", s.unwrap_or(""), i.unwrap_or(""))).collect(),
        _ => Vec::new(),
    };
    records.sort();
    hex::encode(Sha256::digest(records.join("\u{1e}").as_bytes()))
}

/// The start a run can take before it knows its people: from the state of `root` when the
/// run may (`[run] mode`, `--full`), the state is this version's, the inputs are read the same
/// way and every file it read is still there, unchanged, before any new one.
pub fn start(plan: &Plan, root: &Path) -> Start {
    decide(plan, State::load(root))
}

/// The start the next run of `plan` would take, as far as it can be told before it runs
/// (`start`, leaving the state as it is).
pub fn next_start(plan: &Plan, root: &Path) -> Start {
    decide(plan, State::read(root))
}

fn decide(plan: &Plan, state: Option<State>) -> Start {
    let full = |reason: String| Start::Full { reason };
    if !plan.run.incremental {
        return full("a full run was asked for (--full or [run] mode = \"full\")".into());
    }
    let Some(state) = state else { return full("no state from an earlier run".into()) };
    if state.version != STATE_VERSION || state.portrait != env!("CARGO_PKG_VERSION") {
        return full(format!("the state was left by portrait {}", state.portrait));
    }
    if state.inputs_sha256 != inputs_sha256(plan) {
        return full("the input tables' config changed".into());
    }
    for source in plan.tables.iter().filter(|s| !s.absent) {
        let held = state.tables.get(source.table.name()).map(|t| t.files.as_slice()).unwrap_or_default();
        let files = scan::discover(source).unwrap_or_default();
        if let Some(reason) = changed(held, &files) {
            return full(reason);
        }
    }
    Start::Incremental(Box::new(state))
}

/// Why the files a state read (`held`) are not the start of `files` as found now, if they are not.
fn changed(held: &[FileState], files: &[InputFile]) -> Option<String> {
    for (i, was) in held.iter().enumerate() {
        let Some(now) = files.get(i) else { return Some(format!("{} is gone since it was read", was.path)) };
        let now = FileState::of(&now.path, now.bytes);
        if now.path != was.path {
            let gone = !files.iter().any(|f| f.path.display().to_string() == was.path);
            return Some(match gone {
                true => format!("{} is gone since it was read", was.path),
                false => format!("{} is new and sorts before {}, which was read before it", now.path, was.path),
            });
        }
        if now != *was {
            return Some(format!("{} changed since it was read", was.path));
        }
    }
    None
}

/// Whether the run, knowing its erased people and its bucket count, keeps its start: erasure
/// requests other than the state's start a new state without the people they name, and a
/// state whose buckets have grown too big for the memory limit is rebuilt with more.
pub fn confirm(start: Start, erased: &DataFrame, buckets: u32) -> Start {
    let Start::Incremental(state) = start else { return start };
    if state.erased_sha256 != erased_sha256(erased) {
        return Start::Full { reason: "the erasure requests changed: the state is built again without the people they name".into() };
    }
    if buckets > state.buckets {
        return Start::Full { reason: format!("the data outgrew the state's {} buckets: {buckets} are needed", state.buckets) };
    }
    Start::Incremental(state)
}

/// The bucket of every record (`PersonIndex::record_buckets`) and the part its rows are valid
/// from (`route::Since`), kept with a state of more than one bucket: a record whose person is
/// now in another bucket leaves its rows in the wrong one.
const RECORDS: &str = "records";
const SINCE: &str = "since";

/// Records whose person is in another bucket than on the last run (two people merged, or one
/// split): their rows are written again into the new bucket, valid there from this run's
/// first part on, and no longer in the old one.
#[derive(Default)]
pub struct Moves {
    /// Per old bucket, its records that moved.
    pub from: BTreeMap<u32, BTreeSet<u32>>,
    /// Which rows were valid before the run, and which after it.
    pub before: Since,
    pub after: Since,
}

impl Moves {
    /// The moves since `state` (none for a full run).
    pub fn since(root: &Path, start: &Start, persons: &PersonIndex) -> Result<Moves> {
        let Start::Incremental(state) = start else { return Ok(Moves::default()) };
        let Some(file) = &state.records else { return Ok(Moves::default()) };
        let was = io::parquet::read(&State::generation_dir(root, &state.generation).join(file))?;
        let column = |name: &str| was.column(name).and_then(|c| c.u32().cloned()).map_err(|e| Error::internal("the state's records", e));
        let (buckets, since) = (column(RECORDS)?, column(SINCE)?);
        let now = persons.record_buckets();
        let mut moves = Moves::default();
        let before: Vec<u32> = since.iter().map(|s| s.unwrap_or(0)).collect();
        let mut after = before.clone();
        after.resize(now.len(), 0);
        for (rec, (w, n)) in buckets.iter().zip(&now).enumerate() {
            if let Some(w) = w.filter(|w| *w < state.buckets && w != n) {
                moves.from.entry(w).or_default().insert(rec as u32);
                after[rec] = state.next_part;
            }
        }
        let moved: usize = moves.from.values().map(BTreeSet::len).sum();
        if moved > 0 {
            tracing::info!(records = moved, "records moved to a person in another bucket: their rows are moved");
        }
        moves.before = Since::new(before);
        moves.after = Since::new(after);
        Ok(moves)
    }
}

/// The state's parts that hold the run's customer records, in `generation`.
#[derive(Clone, Debug, Default)]
pub struct RecordParts {
    pub generation: String,
    pub parts: BTreeSet<u32>,
}

/// The folder of part `part` of the cleaned customer records in `generation` (one bucket).
pub fn record_part_dir(root: &Path, generation: &str, part: u32) -> std::path::PathBuf {
    State::rows_dir(root, generation, Table::Customers.name()).join("_b=0").join(format!("_part={part}"))
}

impl RecordParts {
    /// The parts as they must be listed in `generation`: a run that began from a state and
    /// then had to start a new generation (`incremental::confirm`) takes its records along.
    pub fn into_generation(self, root: &Path, generation: &str) -> Result<BTreeSet<u32>> {
        if self.generation != generation {
            for &p in &self.parts {
                let to = record_part_dir(root, generation, p);
                for file in io::parquet::files_under(&record_part_dir(root, &self.generation, p)) {
                    let target = to.join(file.file_name().unwrap_or_default());
                    crate::store::publish::mkdirs(&to)?;
                    if std::fs::hard_link(&file, &target).is_err() {
                        std::fs::copy(&file, &target).map_err(|e| Error::io(&target, e))?;
                    }
                }
            }
        }
        Ok(self.parts)
    }
}

/// What the state holds beside the routed rows, for the tables' accounting: counted while its
/// files were read, and the rows ingest rejected from them.
pub struct Held {
    tables: BTreeMap<String, TableState>,
    quarantine: Option<DataFrame>,
}

impl Held {
    pub fn read(root: &Path, start: &Start) -> Result<Held> {
        let Start::Incremental(state) = start else { return Ok(Held { tables: BTreeMap::new(), quarantine: None }) };
        let quarantine = match &state.quarantine {
            Some(file) => Some(io::parquet::read(&State::generation_dir(root, &state.generation).join(file))?),
            None => None,
        };
        Ok(Held { tables: state.tables.clone(), quarantine })
    }

    /// `r` with what was counted in the files the state holds.
    pub fn add_to(&self, r: &mut Routed) -> Result<()> {
        let Some(t) = self.table(r.table) else { return Ok(()) };
        r.read += t.read;
        r.erased += t.erased;
        for (c, n) in &t.unparseable {
            *r.unparseable.entry(c.clone()).or_default() += n;
        }
        for (c, n) in &t.invalid {
            *r.invalid.entry(c.clone()).or_default() += n;
        }
        let missing: BTreeSet<String> = r.missing_optional.iter().chain(&t.missing_optional).cloned().collect();
        r.missing_optional = missing.into_iter().collect();
        if let Some(mine) = self.quarantine_of(r.table)? {
            let held = concat([mine.lazy(), std::mem::take(&mut r.quarantine).lazy()], UnionArgs::default())
                .map_err(|e| Error::internal("quarantine of the state's files", e))?;
            r.quarantine = io::collect(held)?;
        }
        Ok(())
    }

    /// What the state counted reading `table`'s files.
    pub fn table(&self, table: Table) -> Option<&TableState> {
        self.tables.get(table.name())
    }

    /// The parts of `table`'s rows the state lists.
    pub fn parts(&self, table: Table) -> BTreeSet<u32> {
        self.table(table).map(|t| t.parts.clone()).unwrap_or_default()
    }

    /// The rows ingest rejected from `table`'s files the state holds.
    pub fn quarantine_of(&self, table: Table) -> Result<Option<DataFrame>> {
        let Some(q) = &self.quarantine else { return Ok(None) };
        io::collect(q.clone().lazy().filter(col("table").eq(lit(table.name())))).map(Some)
    }
}

/// What a run leaves for the next: `routes` written into `generation`, counted as
/// `accounting` says, the rows ingest rejected and (more than one bucket) every record's
/// bucket written beside them.
pub struct Next<'a> {
    pub plan: &'a Plan,
    pub root: &'a Path,
    pub run_id: &'a str,
    pub generation: String,
    pub buckets: u32,
    pub erased: &'a DataFrame,
    pub persons: &'a PersonIndex,
    /// From which part on each record's rows are valid.
    pub since: &'a Since,
    /// The parts of the generation that hold the customer records, and the rows ingest
    /// rejected from every customer file.
    pub customers: (BTreeSet<u32>, &'a DataFrame),
    pub held: Option<&'a State>,
}

impl Next<'_> {
    pub fn state(
        self,
        routes: &BTreeMap<Table, Routed>,
        customers: &[InputFile],
        accounting: &BTreeMap<Table, Accounting>,
    ) -> Result<State> {
        let dir = State::generation_dir(self.root, &self.generation);
        let quarantine = format!("quarantine-{}.parquet", self.run_id);
        let (customer_parts, customers_rejected) = self.customers;
        let rejected = routes.values().map(|r| r.quarantine.clone().lazy()).chain([customers_rejected.clone().lazy()]).collect::<Vec<_>>();
        let mut rejected = io::collect(concat(rejected, UnionArgs::default()).map_err(|e| Error::internal("the state's quarantine", e))?)?;
        io::parquet::write_part(&mut rejected, &dir.join(&quarantine))?;
        let records = if self.buckets > 1 {
            let file = format!("{RECORDS}-{}.parquet", self.run_id);
            let mut since = self.since.by_record().to_vec();
            let buckets = self.persons.record_buckets();
            since.resize(buckets.len(), 0);
            let mut df = df!(RECORDS => buckets, SINCE => since).map_err(|e| Error::internal("the state's records", e))?;
            io::parquet::write_part(&mut df, &dir.join(&file))?;
            Some(file)
        } else {
            None
        };
        let files = |list: &[InputFile]| list.iter().map(|f| FileState::of(&f.path, f.bytes)).collect::<Vec<_>>();
        let mut tables = BTreeMap::new();
        let mut next_part = self.held.map_or(0, |s| s.next_part).max(customer_parts.last().map_or(0, |p| p + 1));
        let a = accounting.get(&Table::Customers).cloned().unwrap_or_default();
        let t = TableState {
            files: files(customers),
            parts: customer_parts,
            read: a.read,
            unparseable: a.unparseable,
            invalid: a.invalid,
            missing_optional: a.missing_optional_columns,
            ..Default::default()
        };
        tables.insert(Table::Customers.name().to_string(), t);
        for (table, r) in routes {
            let held = self.held.and_then(|s| s.tables.get(table.name()));
            let mut parts = held.map(|t| t.parts.clone()).unwrap_or_default();
            parts.extend(r.parts.clone());
            let mut rewritten = held.map(|t| t.rewritten.clone()).unwrap_or_default();
            rewritten.extend(r.rows.from_part.iter().map(|(b, p)| (*b, *p)));
            next_part = next_part.max(r.parts.end);
            let a = accounting.get(table).cloned().unwrap_or_default();
            let t = TableState {
                files: files(&r.files),
                parts,
                rewritten,
                read: a.read,
                unparseable: a.unparseable,
                invalid: a.invalid,
                erased: a.erased,
                missing_optional: a.missing_optional_columns,
            };
            tables.insert(table.name().to_string(), t);
        }
        Ok(State {
            version: STATE_VERSION,
            portrait: env!("CARGO_PKG_VERSION").to_string(),
            run_id: self.run_id.to_string(),
            as_of: self.plan.as_of.to_string(),
            generation: self.generation.clone(),
            inputs_sha256: inputs_sha256(self.plan),
            erased_sha256: erased_sha256(self.erased),
            buckets: self.buckets,
            next_part,
            quarantine: Some(quarantine),
            records,
            tables,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_kept_only_while_its_files_are_the_first_found_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            InputFile { path, format: crate::config::Format::Csv, bytes: text.len() as u64, duplicate_of: None }
        };
        let (a, b) = (file("dt=1.csv", "x\n1\n"), file("dt=2.csv", "x\n2\n"));
        let held = vec![FileState::of(&a.path, a.bytes)];
        assert_eq!(changed(&held, &[a.clone(), b.clone()]), None);
        assert_eq!(changed(&held, std::slice::from_ref(&b)).unwrap(), format!("{} is gone since it was read", a.path.display()));
        let early = file("dt=0.csv", "x\n0\n");
        assert!(changed(&held, &[early, a.clone()]).unwrap().contains("sorts before"));
        let grown = file("dt=1.csv", "x\n1\n3\n");
        assert_eq!(changed(&held, &[grown]).unwrap(), format!("{} changed since it was read", a.path.display()));
    }

    #[test]
    fn the_erased_records_hash_ignores_their_order() {
        let a = df!("source" => ["shop", "crm"], "source_customer_id" => ["1", "2"]).unwrap();
        let b = df!("source" => ["crm", "shop"], "source_customer_id" => ["2", "1"]).unwrap();
        let c = df!("source" => ["crm"], "source_customer_id" => ["2"]).unwrap();
        assert_eq!(erased_sha256(&a), erased_sha256(&b));
        assert_ne!(erased_sha256(&a), erased_sha256(&c));
    }
}
