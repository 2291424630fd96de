//! What identity resolution publishes per record (the identity map) and per person (the
//! golden record, by survivorship rules).

use crate::config::{Closed, GoldenField, Identity, Survivorship};
use crate::expr::KEY;
use polars::prelude::*;

/// One row per (source, source_customer_id) with the person it belongs to (`_key` for
/// joins; the `identity_map` output drops it).
pub fn identity_map(resolved: LazyFrame) -> LazyFrame {
    resolved
        .select([
            col("source"),
            col("source_customer_id"),
            col("customer_key"),
            col(KEY),
            col("match_rule"),
            col("match_score"),
            col("key_created"),
        ])
        .unique_stable(Some(cols(["source", "source_customer_id"])), UniqueKeepStrategy::First)
}

/// One row per person (`_key`, `customer_key`) with the surviving fields, first registration,
/// record count and sources. Per field (`identity.survivorship`): `newest` non-null value by
/// `updated_at` (ties: source priority; the default), `source_priority` (the most trusted
/// source's value, ties: newest) or `most_frequent` (ties: the smallest value).
pub fn golden(resolved: LazyFrame, spec: &Identity) -> LazyFrame {
    let source_priority = &spec.source_priority;
    let rank =
        source_priority.iter().enumerate().rev().fold(lit(source_priority.len() as i32), |acc, (i, s)| {
            when(col("source").eq(lit(s.as_str()))).then(lit(i as i32)).otherwise(acc)
        });
    let mut aggs: Vec<Expr> = GoldenField::ALL
        .iter()
        .map(|&f| {
            let value = col(f.name());
            match spec.survivorship(f) {
                Survivorship::SourcePriority => {
                    value.sort_by([col("_rank")], SortMultipleOptions::default().with_maintain_order(true)).drop_nulls().first()
                }
                Survivorship::MostFrequent => value.drop_nulls().mode(true).sort(Default::default()).first(),
                Survivorship::Newest => value.drop_nulls().first(),
            }
            .alias(f.name())
        })
        .collect();
    aggs.extend([
        col("customer_key").first(),
        col("registered_at").min().alias("registered_at"),
        len().cast(DataType::UInt32).alias("record_count"),
        col("source").unique().sort(Default::default()).str().join(",", true).alias("sources"),
        col("source").n_unique().cast(DataType::UInt32).alias("source_count"),
    ]);
    resolved
        .with_column(rank.alias("_rank"))
        .sort_by_exprs(
            [col(KEY), col("updated_at"), col("_rank"), col("source_customer_id")],
            // Stable: equal keys (a record sent twice) keep input order, in any bucket.
            SortMultipleOptions::default()
                .with_order_descending_multi([false, true, false, false])
                .with_nulls_last(true)
                .with_maintain_order(true),
        )
        .group_by([col(KEY)])
        .agg(aggs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survivorship_rules_per_field() {
        // One person, three records: crm (oldest), shop, wechat (newest).
        let mut df = df!(
            KEY => [0u32, 0, 0],
            "customer_key" => ["k", "k", "k"],
            "source" => ["crm", "shop", "wechat"],
            "source_customer_id" => ["1", "2", "3"],
            "updated_at" => [1i64, 2, 3],
            "registered_at" => [1i64, 2, 3],
            "name" => [None, Some("王小伟"), Some("王伟伟")],
            "phone" => [Some("+861"), Some("+862"), None],
            "email" => [Some("b@x"), Some("b@x"), Some("a@x")],
        )
        .unwrap();
        for f in GoldenField::ALL.iter().map(|f| f.name()).filter(|f| !["name", "phone", "email"].contains(f)) {
            df.with_column(Column::full_null(f.into(), 3, &DataType::String)).unwrap();
        }
        let spec = Identity {
            survivorship: [(GoldenField::Name, Survivorship::SourcePriority), (GoldenField::Email, Survivorship::MostFrequent)].into(),
            ..Default::default()
        };
        let g = golden(df.lazy(), &spec).collect().unwrap();
        let get = |c: &str| g.column(c).unwrap().str().unwrap().get(0).map(str::to_string);
        assert_eq!(get("name").as_deref(), Some("王小伟"), "crm has none; shop is trusted before wechat");
        assert_eq!(get("phone").as_deref(), Some("+862"), "newest non-null (wechat has none)");
        assert_eq!(get("email").as_deref(), Some("b@x"), "twice, though the newest says a@x");
    }
}
