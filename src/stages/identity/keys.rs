//! Stable person keys across nights. A person keeps the `customer_key` their records had in
//! the previous night's `identity_map`; when clusters merge the oldest key survives; when a
//! cluster splits, the part holding most of its records keeps the key and the others get new
//! ones. New keys hash the cluster's smallest member, made unique if that key was ever used.

use super::cluster_key;
use crate::day::Day;
use crate::error::{Error, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Clone, Debug, Serialize, Default)]
pub struct KeyReport {
    /// Clusters that kept a previous key.
    pub kept: usize,
    /// Clusters with a new key (new people, and the smaller parts of splits).
    pub new: usize,
    /// Previous keys retired because their cluster merged into one with an older key.
    pub merged: usize,
    /// Clusters holding records with a previous key they could not keep (split off).
    pub split: usize,
}

type Previous = HashMap<String, (String, Option<NaiveDate>)>;

fn previous_keys(df: &DataFrame) -> Result<Previous> {
    let s = |n: &str| df.column(n).and_then(|c| c.str().cloned()).map_err(|e| Error::internal(&format!("previous identity_map: {n}"), e));
    let (source, id, key) = (s("source")?, s("source_customer_id")?, s("customer_key")?);
    let created: Vec<Option<NaiveDate>> = match df.column("key_created").and_then(|c| c.cast(&DataType::Int32)) {
        Ok(c) => {
            c.i32().map_err(|e| Error::internal("key_created", e))?.iter().map(|d| d.and_then(Day::from_epoch_days).map(|d| d.0)).collect()
        }
        Err(_) => vec![None; df.height()],
    };
    let mut out = HashMap::with_capacity(df.height());
    for i in 0..df.height() {
        if let (Some(s), Some(id), Some(k)) = (source.get(i), id.get(i), key.get(i)) {
            out.insert(super::member_id(s, id), (k.to_string(), created[i]));
        }
    }
    Ok(out)
}

/// The key and its creation day for every record, given each record's cluster root.
pub fn assign(
    member: &[String],
    roots: &[u32],
    previous: Option<&DataFrame>,
    as_of: Option<NaiveDate>,
) -> Result<(Vec<String>, Vec<Option<NaiveDate>>, KeyReport)> {
    let previous = previous.map(previous_keys).transpose()?.unwrap_or_default();
    // Clusters in a fixed order: by smallest member.
    let mut by_root: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in roots.iter().enumerate() {
        by_root.entry(*r).or_default().push(i);
    }
    let mut clusters: Vec<(&str, Vec<usize>)> =
        by_root.into_values().map(|m| (m.iter().map(|&i| member[i].as_str()).min().unwrap_or(""), m)).collect();
    clusters.sort_unstable_by(|a, b| a.0.cmp(b.0));

    // Each previous key goes to the cluster holding most of its records (ties: smallest member).
    let mut holders: BTreeMap<&str, (usize, usize, Option<NaiveDate>)> = BTreeMap::new(); // key -> (records, cluster, created)
    for (c, (_, members)) in clusters.iter().enumerate() {
        let mut counts: BTreeMap<&str, (usize, Option<NaiveDate>)> = BTreeMap::new();
        for &i in members {
            if let Some((k, created)) = previous.get(&member[i]) {
                counts.entry(k.as_str()).or_insert((0, *created)).0 += 1;
            }
        }
        for (k, (count, created)) in counts {
            let better = holders.get(k).is_none_or(|h| count > h.0);
            if better {
                holders.insert(k, (count, c, created));
            }
        }
    }
    let mut won: Vec<Vec<(Option<NaiveDate>, &str)>> = vec![Vec::new(); clusters.len()];
    for (k, (_, c, created)) in &holders {
        won[*c].push((*created, k));
    }
    let mut used: HashSet<String> = previous.values().map(|(k, _)| k.clone()).collect();
    let mut report = KeyReport::default();
    let mut key_of = vec![String::new(); member.len()];
    let mut created_of = vec![None; member.len()];
    for (c, (min_member, members)) in clusters.iter().enumerate() {
        let (key, created) = if won[c].is_empty() {
            if members.iter().any(|&i| previous.contains_key(&member[i])) {
                report.split += 1;
            }
            report.new += 1;
            let mut key = cluster_key(min_member);
            let mut salt = 0;
            while used.contains(&key) {
                salt += 1;
                key = cluster_key(&format!("{min_member}\u{1f}{}\u{1f}{salt}", as_of.map(|d| d.to_string()).unwrap_or_default()));
            }
            (key, as_of)
        } else {
            // The oldest key survives a merge (unknown creation days count as oldest).
            won[c].sort();
            report.kept += 1;
            report.merged += won[c].len() - 1;
            (won[c][0].1.to_string(), won[c][0].0)
        };
        used.insert(key.clone());
        for &i in members {
            key_of[i] = key.clone();
            created_of[i] = created;
        }
    }
    Ok((key_of, created_of, report))
}
