//! Step 1 of a run (docs/design.md), the customer records: the state's records, cleaned when
//! their files were read, then those of the files delivered since, cleaned now; in input order
//! (identity resolution's ties follow it). The new records join the state as they are read.

use super::incremental::{record_part_dir, Held, RecordParts, Start};
use super::route::{self, nonzero_counts, Counts};
use super::{group_bytes, ingest_all, name_the_file, Places};
use crate::config::Plan;
use crate::error::{Error, Result};
use crate::io;
use crate::schema::Table;
use crate::stages::clean;
use crate::stages::ingest::Ingested;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The customers to resolve: the cleaned, usable customer records.
pub fn records(customers: &Ingested) -> LazyFrame {
    clean::customers(customers.rows.clone())
}

/// Records in input order (file, then row). The streaming engine keeps the order of the
/// files' ordered union; sorting anyway holds a second copy of every record, so they are
/// sorted only when they are not in order.
fn in_input_order(records: DataFrame) -> Result<DataFrame> {
    let pos = io::collect(records.clone().lazy().select([route::position()]))?;
    let positions = pos.column("_pos").and_then(|c| c.u64().cloned()).map_err(|e| Error::internal("record positions", e))?;
    if positions.iter().zip(positions.iter().skip(1)).all(|(a, b)| a <= b) {
        return Ok(records);
    }
    io::collect(records.lazy().sort(["_file", "_row"], Default::default()))
}

/// Every table read lazily, and the customer records for real: those `held` holds and those of
/// the files after them, read per group of files in one streaming pass that also counts (read,
/// unparseable, invalid, quarantined) and written to the state as a new part. The customers'
/// `Ingested` is left with the counts of every file, held ones included.
pub fn read(plan: &Plan, start: &Start, held: &Held, places: &Places) -> Result<(DataFrame, RecordParts, BTreeMap<Table, Ingested>)> {
    let mut ingested = ingest_all(plan, places.copies, start)?;
    let cust = ingested.get_mut(&Table::Customers).ok_or_else(|| Error::Internal("customers not ingested".into()))?;
    let (mut new, counts) = Counts::with_rows(cust, group_bytes(plan), records).map_err(|e| name_the_file(plan, places.copies, e))?;
    let (mut read, unparseable, quarantine) = counts.total()?;
    let (mut invalid, mut unparseable) = (counts.invalid()?, nonzero_counts(&unparseable));
    let mut quarantine = vec![quarantine.lazy()];
    let mut parts = match start {
        Start::Incremental(s) => RecordParts { generation: s.generation.clone(), parts: held.parts(Table::Customers) },
        Start::Full { .. } => RecordParts { generation: places.run_id.to_string(), parts: BTreeSet::new() },
    };
    // Part by part: later parts hold later files.
    let mut records: Option<DataFrame> = None;
    for &p in &parts.parts {
        for file in io::parquet::files_under(&record_part_dir(places.root, &parts.generation, p)) {
            // Without the folders' `_b` and `_part`.
            let part = io::parquet::read(&file)?
                .select(new.get_column_names_owned())
                .map_err(|e| Error::internal("the state's customer records", e))?;
            append(&mut records, part)?;
        }
    }
    if let Some(t) = held.table(Table::Customers) {
        read += t.read;
        add(&mut unparseable, &t.unparseable);
        add(&mut invalid, &t.invalid);
        let missing: BTreeSet<String> = cust.missing_optional.iter().chain(&t.missing_optional).cloned().collect();
        cust.missing_optional = missing.into_iter().collect();
    }
    quarantine.extend(held.quarantine_of(Table::Customers)?.map(DataFrame::lazy));
    tracing::info!(held = records.as_ref().map_or(0, DataFrame::height), new = new.height(), "customer records");
    if new.height() > 0 {
        let part = match start {
            Start::Incremental(s) => s.next_part,
            Start::Full { .. } => 0,
        };
        io::parquet::write_part(&mut new, &record_part_dir(places.root, &parts.generation, part).join("records.parquet"))?;
        parts.parts.insert(part);
        append(&mut records, new)?;
    }
    let Some(records) = records else {
        let location = plan.tables.iter().find(|t| t.table == Table::Customers).map(|t| t.location.display().to_string());
        return Err(Error::input(location.unwrap_or_default(), "table customers has no usable rows: nothing to profile"));
    };
    let records = in_input_order(records)?;
    cust.read = df!("read" => [read]).map_err(|e| Error::internal("customers read", e))?.lazy();
    cust.unparseable = one_row(&unparseable)?.lazy();
    cust.quarantine = concat(quarantine, UnionArgs::default()).map_err(|e| Error::internal("customers' quarantine", e))?;
    cust.invalid = invalid;
    Ok((records, parts, ingested))
}

/// `part` under the records read so far.
fn append(records: &mut Option<DataFrame>, part: DataFrame) -> Result<()> {
    match records {
        Some(all) => {
            all.vstack_mut(&part).map_err(|e| Error::internal("the state's customer records", e))?;
        }
        None => *records = Some(part),
    }
    Ok(())
}

fn add(to: &mut BTreeMap<String, u64>, counts: &BTreeMap<String, u64>) {
    for (c, n) in counts {
        *to.entry(c.clone()).or_default() += n;
    }
}

/// Counts as a one-row frame, a u64 column each.
fn one_row(counts: &BTreeMap<String, u64>) -> Result<DataFrame> {
    let columns: Vec<Column> = counts.iter().map(|(c, n)| Column::new(c.as_str().into(), [*n])).collect();
    DataFrame::new(1, columns).map_err(|e| Error::internal("counts", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_input_order() {
        let rows = |files: [u32; 4], rows: [u32; 4]| df!("_file" => files, "_row" => rows, "v" => [1, 2, 3, 4]).unwrap();
        let ordered = in_input_order(rows([0, 0, 1, 1], [1, 2, 1, 2])).unwrap();
        assert_eq!(ordered.column("v").unwrap().i32().unwrap().to_vec(), [Some(1), Some(2), Some(3), Some(4)]);
        let shuffled = in_input_order(rows([1, 0, 1, 0], [2, 2, 1, 1])).unwrap();
        assert_eq!(shuffled.column("v").unwrap().i32().unwrap().to_vec(), [Some(4), Some(2), Some(3), Some(1)]);
    }
}
