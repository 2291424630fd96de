//! Excel workbooks as input tables (calamine): one sheet, its first row the header, every
//! cell as text (like CSV, so ingest parses and quarantines values the same way), `_row` the
//! 1-based data row.

use crate::error::{Error, Result};
use calamine::{open_workbook_auto, Data, Reader};
use polars::prelude::*;
use std::path::Path;

/// The sheet named `sheet` (default: the first) as a frame of text columns plus `_row`.
pub fn read(path: &Path, sheet: Option<&str>) -> Result<DataFrame> {
    let fail = |m: String| Error::input(path.display(), m);
    let mut book = open_workbook_auto(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
    let names = book.sheet_names();
    let range = match sheet {
        Some(name) if names.iter().any(|n| n == name) => book.worksheet_range(name),
        Some(name) => return Err(fail(format!("no sheet `{name}` (sheets: {}); set [tables.<table>] sheet", names.join(", ")))),
        None => book.worksheet_range_at(0).ok_or_else(|| fail("the workbook has no sheet".into()))?,
    }
    .map_err(|e| fail(format!("cannot read the sheet: {e}")))?;
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().map(|r| r.iter().map(|c| text(c).unwrap_or_default()).collect()).unwrap_or_default();
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); header.len()];
    let mut n = 0u32;
    for row in rows {
        for (i, column) in values.iter_mut().enumerate() {
            column.push(row.get(i).and_then(text));
        }
        n += 1;
    }
    let mut columns = vec![Column::new("_row".into(), (1..=n).collect::<Vec<u32>>())];
    for (name, v) in header.iter().zip(values) {
        columns.push(Column::new(name.trim().into(), v));
    }
    DataFrame::new_infer_height(columns).map_err(|e| fail(format!("the header row is not usable: {e}")))
}

/// A cell as text; empty and error cells are missing. Whole numbers are written without a
/// fraction (ids, epoch numbers); dates and times as `YYYY-MM-DD HH:MM:SS`.
fn text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty | Data::Error(_) => None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) => d.as_datetime().map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
    }
}
