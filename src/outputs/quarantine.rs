//! `quarantine`: input rows that could not be used, with the file and row they came from and
//! why. Ingest quarantines rows it cannot parse; later stages add rows they cannot use
//! (unknown status, customer or order) through `rows`.

use super::{column, ColumnDoc, TableDoc, Values};
use crate::error::{Error, Result};
use crate::io::scan::InputFile;
use crate::schema::Table;
use polars::prelude::*;

/// Rows a stage after ingest rejected, in the table's shape; `raw` holds the row's required
/// values (the full row is at `file`, `row`). `lf` carries `_file`, `_row`, `reason` and the
/// canonical columns.
pub fn rows(table: Table, files: &[InputFile], lf: LazyFrame) -> LazyFrame {
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

/// Every table's quarantined rows, sorted by table, file and row.
pub fn build(parts: Vec<LazyFrame>) -> Result<LazyFrame> {
    Ok(concat(parts, UnionArgs::default())
        .map_err(|e| Error::internal("quarantine union", e))?
        .sort(["table", "file", "row"], Default::default()))
}

pub const DOC: TableDoc = TableDoc {
    grain: "rejected input row",
    about: "Input rows that could not be used, with where they came from and why.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column(
        "table",
        "Input table of the row.",
        "",
        Values::OneOf(&["customers", "orders", "order_items", "events", "social_interactions", "feedback", "erasures"]),
    ),
    column("file", "File the row came from.", "", Values::Any),
    column("row", "Row number in the file (1 = first data row).", "", Values::Any),
    column("reason", "Why the row could not be used.", "", Values::Any),
    column(
        "raw",
        "The row's values as `column=value` pairs, a customer's personal data as `***` (after ingest: its required values).",
        "",
        Values::Any,
    ),
];
