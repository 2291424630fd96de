//! Identity resolution: which customer records are one person. Today deterministic links only
//! (same national id, normalised phone, email, or source id), clustered by union-find, keyed
//! stably, and summarised into a golden record by survivorship. Fuzzy matching grows here.

pub mod eval;

use crate::config::spec::IdentitySpec;
use crate::error::{Error, Result};
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Union-find with path halving and union by size.
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind { parent: (0..n as u32).collect(), size: vec![1; n] }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Returns true when `a` and `b` were in different clusters.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
        true
    }
}

fn str_col<'a>(df: &'a DataFrame, name: &str) -> Result<&'a StringChunked> {
    df.column(name).and_then(|c| c.str()).map_err(|e| Error::internal(&format!("identity: column {name}"), e))
}

/// The key of a cluster: a hash of its smallest member id, so it does not change while that
/// member stays in the cluster (and is the same on every run over the same data).
pub fn cluster_key(min_member: &str) -> String {
    let digest = Sha256::digest(min_member.as_bytes());
    format!("ck_{}", &hex::encode(digest)[..16])
}

/// Adds `customer_key`, `_key`, `match_rule` and `match_score` to every cleaned customer record.
/// `link_on` lists the rules in precedence order; the rule recorded for a record is the first
/// that linked it to another record (`singleton` when none did).
pub fn resolve(customers: &DataFrame, spec: &IdentitySpec) -> Result<DataFrame> {
    let link_on = &spec.link_on;
    let n = customers.height();
    let source = str_col(customers, "source")?;
    let sid = str_col(customers, "source_customer_id")?;
    let member: Vec<String> = source.iter().zip(sid.iter()).map(|(s, i)| format!("{}\u{1f}{}", s.unwrap_or(""), i.unwrap_or(""))).collect();

    let mut uf = UnionFind::new(n);
    let mut rule: Vec<Option<&str>> = vec![None; n];
    // The source id always links: two rows with one source id are the same record re-sent.
    let mut rules: Vec<&str> = link_on.iter().map(String::as_str).filter(|r| *r != "source_id").collect();
    rules.push("source_id");
    for r in rules {
        let values: Vec<Option<&str>> = match r {
            "source_id" => member.iter().map(|m| Some(m.as_str())).collect(),
            field => str_col(customers, field)?.iter().collect(),
        };
        let mut first: HashMap<&str, u32> = HashMap::with_capacity(n);
        for (i, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            let i = i as u32;
            match first.get(v) {
                Some(&j) => {
                    if uf.union(i, j) || rule[i as usize].is_none() {
                        rule[i as usize].get_or_insert(r);
                        rule[j as usize].get_or_insert(r);
                    }
                }
                None => {
                    first.insert(v, i);
                }
            }
        }
    }

    let mut min_member: HashMap<u32, &str> = HashMap::new();
    for (i, m) in member.iter().enumerate() {
        let root = uf.find(i as u32);
        let e = min_member.entry(root).or_insert(m.as_str());
        if m.as_str() < *e {
            *e = m.as_str();
        }
    }
    let keys: Vec<String> = (0..n as u32).map(|i| cluster_key(min_member[&uf.find(i)])).collect();
    // `_key`: a dense u32 per person (rank of its customer_key) for joins and group-bys on the
    // big tables; 4 bytes a row instead of a 19-character string.
    let mut sorted: Vec<&str> = keys.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let dense: HashMap<&str, u32> = sorted.iter().enumerate().map(|(i, k)| (*k, i as u32)).collect();
    let internal: Vec<u32> = keys.iter().map(|k| dense[k.as_str()]).collect();
    let rules: Vec<&str> = rule.iter().map(|r| r.unwrap_or("singleton")).collect();
    let mut out = customers.clone();
    out.with_column(Column::new("customer_key".into(), keys))
        .and_then(|df| df.with_column(Column::new("_key".into(), internal)))
        .and_then(|df| df.with_column(Column::new("match_rule".into(), rules)))
        .and_then(|df| df.with_column(Column::new("match_score".into(), vec![1.0f64; n])))
        .map_err(|e| Error::internal("identity: adding keys", e))?;
    Ok(out)
}

/// One row per (source, source_customer_id) with the person it belongs to (`_key` for
/// joins; the `identity_map` output drops it).
pub fn identity_map(resolved: LazyFrame) -> LazyFrame {
    resolved
        .select([col("source"), col("source_customer_id"), col("customer_key"), col("_key"), col("match_rule"), col("match_score")])
        .unique_stable(Some(cols(["source", "source_customer_id"])), UniqueKeepStrategy::First)
}

/// Fields of the golden record, chosen by survivorship: the newest non-null value by
/// `updated_at`, ties broken by source priority.
const SURVIVING: &[&str] = &[
    "name",
    "gender",
    "birth_date",
    "phone",
    "email",
    "id_number",
    "address",
    "postcode",
    "province",
    "city",
    "occupation",
    "education",
    "annual_income",
    "marketing_opt_in",
];

/// One row per person (`_key`, `customer_key`) with the surviving fields, first registration, record count and sources.
pub fn golden(resolved: LazyFrame, source_priority: &[String]) -> LazyFrame {
    let rank =
        source_priority.iter().enumerate().rev().fold(lit(source_priority.len() as i32), |acc, (i, s)| {
            when(col("source").eq(lit(s.as_str()))).then(lit(i as i32)).otherwise(acc)
        });
    let mut aggs: Vec<Expr> = SURVIVING.iter().map(|f| col(*f).drop_nulls().first().alias(*f)).collect();
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
            [col("_key"), col("updated_at"), col("_rank"), col("source_customer_id")],
            SortMultipleOptions::default().with_order_descending_multi([false, true, false, false]).with_nulls_last(true),
        )
        .group_by([col("_key")])
        .agg(aggs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_merges_chains() {
        let mut uf = UnionFind::new(5);
        assert!(uf.union(0, 1));
        assert!(uf.union(3, 4));
        assert!(uf.union(1, 4));
        assert!(!uf.union(0, 3), "already one cluster");
        assert_eq!(uf.find(0), uf.find(4));
        assert_ne!(uf.find(2), uf.find(0));
    }

    #[test]
    fn links_by_phone_then_email_and_keys_by_smallest_member() {
        let df = df!(
            "source" => ["shop", "crm", "wechat", "store"],
            "source_customer_id" => ["S1", "C1", "W1", "T1"],
            "id_number" => [None::<&str>, None, None, None],
            "phone" => [Some("+8613800000001"), Some("+8613800000001"), None, None],
            "email" => [Some("a@x.com"), None, Some("a@x.com"), Some("b@x.com")],
        )
        .unwrap();
        let out = resolve(&df, &IdentitySpec::default()).unwrap();
        let keys: Vec<&str> = out.column("customer_key").unwrap().str().unwrap().iter().map(|k| k.unwrap()).collect();
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[0], keys[2]);
        assert_ne!(keys[0], keys[3]);
        // "crm\u{1f}C1" sorts before "shop\u{1f}S1" and "wechat\u{1f}W1".
        assert_eq!(keys[0], cluster_key("crm\u{1f}C1"));
        let rule: Vec<&str> = out.column("match_rule").unwrap().str().unwrap().iter().map(|k| k.unwrap()).collect();
        assert_eq!(rule, vec!["phone", "phone", "email", "singleton"]);
    }
}
