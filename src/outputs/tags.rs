//! `tags`: the profile's tags in long form, one row per (customer_key, tag), for BI filters.

use super::{column, ColumnDoc, TableDoc, Values};
use polars::prelude::*;

pub fn build(profiles: LazyFrame) -> LazyFrame {
    profiles
        .select([col("customer_key"), col("tags").alias("tag"), col("tag_labels").alias("label")])
        .explode(cols(["tag", "label"]), ExplodeOptions { empty_as_null: false, keep_nulls: false })
        .filter(col("tag").is_not_null())
        .sort(["customer_key", "tag"], Default::default())
}

pub const DOC: TableDoc = TableDoc { grain: "(person, tag)", about: "The profile's tags in long form, for BI filters.", columns: COLUMNS };

const COLUMNS: &[ColumnDoc] = &[
    column("customer_key", "The person.", "", Values::Said("a profiles.customer_key")),
    column("tag", "Tag name.", "", Values::Any),
    column("label", "The tag's label in the pipeline's locale.", "", Values::Any),
];
