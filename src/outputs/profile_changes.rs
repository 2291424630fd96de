//! `profile_changes`: customers whose segment, lifecycle stage or tags changed since the
//! previous published day (the comparison itself is the history stage's).

use super::{column, ColumnDoc, TableDoc, Values};
use crate::error::Result;
use crate::stages::history::History;
use polars::prelude::LazyFrame;

pub fn build(history: &History) -> Result<LazyFrame> {
    history.changes()
}

pub const DOC: TableDoc = TableDoc {
    grain: "(person, changed field)",
    about: "Customers whose segment, lifecycle stage or tags changed since the previous published day.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("customer_key", "The person.", "", Values::Any),
    column("field", "The changed field.", "", Values::OneOf(&["segment", "lifecycle_stage", "tags"])),
    column("before", "Value on the previous published day (tags as a comma list); null for a new customer.", "", Values::Any),
    column("after", "Value now; null for a customer gone (e.g. merged).", "", Values::Any),
];
