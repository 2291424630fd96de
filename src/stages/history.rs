//! History (动态性): how customers moved since the previous published day. `profile_changes`
//! lists every customer whose segment, lifecycle stage or tags changed (new and vanished
//! customers included); `segment_summary` gets the migration matrices as rows
//! (`grouping` = `migration:segment` / `migration:lifecycle_stage`, `segment` = `from -> to`).

use crate::error::{Error, Result};
use crate::stages::score::NO_PURCHASE;
use polars::prelude::*;

/// Marks a customer absent on one of the two days.
const NEW: &str = "(new)";
const GONE: &str = "(gone)";

pub struct History {
    /// Current and previous values side by side, one row per customer of either day.
    joined: Option<LazyFrame>,
}

const FIELDS: [&str; 3] = ["segment", "lifecycle_stage", "tags"];

fn comparable(lf: LazyFrame, prefix: &str) -> LazyFrame {
    lf.select([
        col("customer_key"),
        col("segment").alias(format!("{prefix}segment")),
        col("lifecycle_stage").alias(format!("{prefix}lifecycle_stage")),
        col("tags").list().join(lit(","), true).alias(format!("{prefix}tags")),
        lit(true).alias(format!("{prefix}present")),
    ])
}

impl History {
    pub fn new(current: LazyFrame, previous: Option<LazyFrame>) -> History {
        let joined = previous.map(|prev| {
            comparable(current, "now_")
                .join(
                    comparable(prev, "was_"),
                    [col("customer_key")],
                    [col("customer_key")],
                    JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
                )
                .cache()
        });
        History { joined }
    }

    /// `profile_changes`: customer_key, field, before, after (null before: a new customer;
    /// null after: the customer is gone, e.g. merged into another).
    pub fn changes(&self) -> Result<LazyFrame> {
        let empty = || {
            df!("customer_key" => Vec::<String>::new(), "field" => Vec::<String>::new(), "before" => Vec::<String>::new(), "after" => Vec::<String>::new())
                .map(|d| d.lazy())
                .map_err(|e| Error::internal("profile_changes", e))
        };
        let Some(joined) = &self.joined else { return empty() };
        let parts: Vec<LazyFrame> = FIELDS
            .iter()
            .map(|f| {
                let (now, was) = (col(format!("now_{f}")), col(format!("was_{f}")));
                let presence_changed = col("now_present").is_null().or(col("was_present").is_null());
                joined.clone().filter(presence_changed.or(now.clone().eq_missing(was.clone()).not())).select([
                    col("customer_key"),
                    lit(*f).alias("field"),
                    was.cast(DataType::String).alias("before"),
                    now.cast(DataType::String).alias("after"),
                ])
            })
            .collect();
        Ok(concat(parts, UnionArgs::default())
            .map_err(|e| Error::internal("profile_changes", e))?
            .sort(["customer_key", "field"], Default::default()))
    }

    /// `summary` with one row per (from, to) pair of segments and of lifecycle stages.
    pub fn with_migrations(&self, summary: LazyFrame) -> Result<LazyFrame> {
        let Some(joined) = &self.joined else { return Ok(summary) };
        let mut summary = summary;
        let schema = summary.collect_schema().map_err(|e| Error::internal("segment_summary schema", e))?;
        let side = |f: &str, prefix: &str, absent: &str| {
            when(col(format!("{prefix}present")).is_null())
                .then(lit(absent))
                .otherwise(col(format!("{prefix}{f}")).fill_null(lit(if f == "segment" { NO_PURCHASE } else { "none" })))
        };
        let mut parts = vec![summary];
        for f in ["segment", "lifecycle_stage"] {
            let moves = joined
                .clone()
                .group_by([side(f, "was_", NEW).alias("_from"), side(f, "now_", GONE).alias("_to")])
                .agg([len().cast(DataType::UInt64).alias("customers")])
                .select([
                    lit(format!("migration:{f}")).alias("grouping"),
                    concat_str([col("_from"), col("_to")], " -> ", false).alias("segment"),
                    col("customers"),
                ])
                .sort(["segment"], Default::default());
            // The summary's other columns, null on migration rows.
            let shaped: Vec<Expr> = schema
                .iter()
                .map(|(name, dtype)| match name.as_str() {
                    "grouping" | "segment" | "customers" => col(name.clone()),
                    _ => lit(NULL).cast(dtype.clone()).alias(name.clone()),
                })
                .collect();
            parts.push(moves.select(shaped));
        }
        concat(parts, UnionArgs::default()).map_err(|e| Error::internal("segment_summary migrations", e))
    }
}
