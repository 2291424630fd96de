//! `identity_review`: pairs of customer records identity resolution could not decide — a match
//! probability in the grey zone (`[identity] review_from` up to the match threshold), or a link
//! a guard refused — for a data steward. A decision goes into the overrides CSV
//! (`[identity] overrides`: `link` or `split` with the same four id columns) and is honoured
//! from the next run on; a decided pair leaves the queue.

use super::{column, ColumnDoc, TableDoc, Values};
use crate::error::{Error, Result};
use crate::stages::identity::compare::{FIELDS, MISSING};
use crate::stages::identity::ReviewPair;
use polars::prelude::*;

/// The table from the pairs of `identity::Report::review`; `records`: the resolved records in
/// input order (`source`, `source_customer_id`, `customer_key`), which the pairs index.
pub fn build(pairs: &[ReviewPair], records: &DataFrame) -> Result<DataFrame> {
    let fail = |e: PolarsError| Error::internal("identity_review", e);
    let s = |c: &str| records.column(c).and_then(|c| c.str().cloned()).map_err(fail);
    let (source, id, key) = (s("source")?, s("source_customer_id")?, s("customer_key")?);
    let of = |values: &StringChunked, first: bool| -> Vec<Option<String>> {
        pairs.iter().map(|p| values.get(if first { p.a } else { p.b } as usize).map(str::to_string)).collect()
    };
    // A field agrees at its best two levels (exactly or nearly), disagrees at its last.
    let fields = |agree: bool| -> ListChunked {
        pairs
            .iter()
            .map(|p| {
                let names: Vec<&str> = FIELDS
                    .iter()
                    .zip(p.pattern)
                    .filter(|((_, levels), l)| *l != MISSING && if agree { *l <= 1.min(levels - 2) } else { *l == levels - 1 })
                    .map(|((name, _), _)| *name)
                    .collect();
                Some(Series::new("".into(), names))
            })
            .collect()
    };
    let columns = vec![
        Column::new("source".into(), of(&source, true)),
        Column::new("source_customer_id".into(), of(&id, true)),
        Column::new("other_source".into(), of(&source, false)),
        Column::new("other_source_customer_id".into(), of(&id, false)),
        Column::new("customer_key".into(), of(&key, true)),
        Column::new("other_customer_key".into(), of(&key, false)),
        Column::new("match_probability".into(), pairs.iter().map(|p| p.probability).collect::<Vec<_>>()),
        Column::new("rule".into(), pairs.iter().map(|p| p.rule).collect::<Vec<_>>()),
        Column::new("reason".into(), pairs.iter().map(|p| p.reason).collect::<Vec<_>>()),
        fields(true).with_name("agreed".into()).cast(&DataType::List(Box::new(DataType::String))).map_err(fail)?.into_column(),
        fields(false).with_name("disagreed".into()).cast(&DataType::List(Box::new(DataType::String))).map_err(fail)?.into_column(),
    ];
    DataFrame::new_infer_height(columns).map_err(fail)
}

pub const DOC: TableDoc = TableDoc {
    grain: "pair of source records",
    about: "Pairs of customer records identity resolution left for a data steward: a match probability from `[identity] review_from` up to the match threshold (`grey_zone`), or a link a guard refused (`conflicting_phone_or_id`: it would join different phones or national ids; `cluster_size`: the person would exceed `max_cluster_size`). Most likely first. To decide, add `link` or `split` with the four id columns to the overrides CSV; the next run honours it and the pair leaves the queue.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("source", "The first record's source.", "", Values::Any),
    column("source_customer_id", "The first record's id in its source.", "", Values::Any),
    column("other_source", "The second record's source.", "", Values::Any),
    column("other_source_customer_id", "The second record's id in its source.", "", Values::Any),
    column("customer_key", "The person the first record is in today.", "", Values::Said("a profiles.customer_key")),
    column("other_customer_key", "The person the second record is in today.", "", Values::Said("a profiles.customer_key")),
    column(
        "match_probability",
        "The Fellegi-Sunter match probability (1 for a refused deterministic link).",
        "probability 0..1",
        Values::Any,
    ),
    column("rule", "The rule that proposed the link.", "", Values::OneOf(&["probabilistic", "id_number", "phone", "email"])),
    column("reason", "Why it waits for a decision.", "", Values::OneOf(&["grey_zone", "conflicting_phone_or_id", "cluster_size"])),
    column(
        "agreed",
        "Fields on which the two records agree exactly or nearly.",
        "",
        Values::OneOf(&["name", "birth_date", "id_number", "phone", "email", "address", "postcode", "place", "gender"]),
    ),
    column("disagreed", "Fields on which they disagree.", "", Values::Any),
];
