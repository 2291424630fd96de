//! `identity_map`: which person every source record was resolved to, and by which rule.

use super::{column, ColumnDoc, TableDoc, Values};
use crate::expr::KEY;
use polars::prelude::*;

/// The published map: the identity stage's map without the internal row key, sorted.
pub fn build(id_map: LazyFrame) -> LazyFrame {
    id_map.drop(cols([KEY])).sort(["source", "source_customer_id"], Default::default())
}

pub const DOC: TableDoc =
    TableDoc { grain: "source record", about: "Which person every source record was resolved to, and by which rule.", columns: COLUMNS };

const COLUMNS: &[ColumnDoc] = &[
    column("source", "Source system of the record.", "", Values::Said("source names")),
    column("source_customer_id", "The record's id in its source.", "", Values::Any),
    column("customer_key", "The person the record belongs to.", "", Values::Said("a profiles.customer_key")),
    column(
        "match_rule",
        "The strongest rule that linked the record.",
        "",
        Values::OneOf(&["source_id", "override", "id_number", "phone", "email", "probabilistic", "singleton"]),
    ),
    column("match_score", "1 for deterministic links, else the best match probability.", "probability", Values::Between(0.0, 1.0)),
    column("key_created", "The day the person's key was first issued.", "date", Values::Any),
];
