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
use std::collections::HashMap;

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
    for (i, created) in created.into_iter().enumerate() {
        if let (Some(s), Some(id), Some(k)) = (source.get(i), id.get(i), key.get(i)) {
            out.insert(super::member_id(s, id), (k.to_string(), created));
        }
    }
    Ok(out)
}

/// Every person's key and its creation day, and each record's person (an index into them),
/// given each record's cluster root.
pub struct Assigned {
    pub person_of: Vec<u32>,
    pub keys: Vec<String>,
    pub created: Vec<Option<NaiveDate>>,
    pub report: KeyReport,
}

/// The key of every cluster of records (`roots`), persons numbered in the order of their
/// smallest member.
pub fn assign(member: &[String], roots: &[u32], previous: Option<&DataFrame>, as_of: Option<NaiveDate>) -> Result<Assigned> {
    let previous = previous.map(previous_keys).transpose()?.unwrap_or_default();
    // Clusters in a fixed order: by smallest member. Records are grouped by sorting them by
    // their root (cheaper than a hash map of a million roots to a list each).
    let mut by_root: Vec<u32> = (0..roots.len() as u32).collect();
    by_root.sort_unstable_by_key(|&i| (roots[i as usize], i));
    let mut clusters: Vec<(&str, &[u32])> = by_root
        .chunk_by(|a, b| roots[*a as usize] == roots[*b as usize])
        .map(|m| (m.iter().map(|&i| member[i as usize].as_str()).min().unwrap_or(""), m))
        .collect();
    clusters.sort_unstable_by(|a, b| a.0.cmp(b.0));

    // Each previous key goes to the cluster holding most of its records (ties: smallest member,
    // the first cluster in this order).
    let mut holders: PlHashMap<&str, (usize, usize, Option<NaiveDate>)> = PlHashMap::new(); // key -> (records, cluster, created)
    if !previous.is_empty() {
        let mut counts: Vec<(&str, Option<NaiveDate>)> = Vec::new();
        for (c, (_, members)) in clusters.iter().enumerate() {
            counts.clear();
            counts.extend(members.iter().filter_map(|&i| previous.get(&member[i as usize]).map(|(k, created)| (k.as_str(), *created))));
            counts.sort_by(|a, b| a.0.cmp(b.0)); // stable: a key's first record gives its day
            for same in counts.chunk_by(|a, b| a.0 == b.0) {
                let (k, created, count) = (same[0].0, same[0].1, same.len());
                if holders.get(k).is_none_or(|h| count > h.0) {
                    holders.insert(k, (count, c, created));
                }
            }
        }
    }
    let mut won: Vec<Vec<(Option<NaiveDate>, &str)>> = vec![Vec::new(); clusters.len()];
    for (k, (_, c, created)) in &holders {
        won[*c].push((*created, k));
    }
    // Every key ever given: the previous night's and those given now.
    let previous_keys: PlHashSet<&str> = previous.values().map(|(k, _)| k.as_str()).collect();
    let mut given: PlHashSet<String> = PlHashSet::new();
    let mut out = Assigned {
        person_of: vec![0; member.len()],
        keys: Vec::with_capacity(clusters.len()),
        created: Vec::with_capacity(clusters.len()),
        report: KeyReport::default(),
    };
    for (c, (min_member, members)) in clusters.iter().enumerate() {
        let (key, created) = if won[c].is_empty() {
            if !previous.is_empty() && members.iter().any(|&i| previous.contains_key(&member[i as usize])) {
                out.report.split += 1;
            }
            out.report.new += 1;
            let mut key = cluster_key(min_member);
            let mut salt = 0;
            while previous_keys.contains(key.as_str()) || given.contains(&key) {
                salt += 1;
                key = cluster_key(&format!("{min_member}\u{1f}{}\u{1f}{salt}", as_of.map(|d| d.to_string()).unwrap_or_default()));
            }
            (key, as_of)
        } else {
            // The oldest key survives a merge (unknown creation days count as oldest).
            won[c].sort();
            out.report.kept += 1;
            out.report.merged += won[c].len() - 1;
            (won[c][0].1.to_string(), won[c][0].0)
        };
        given.insert(key.clone());
        for &i in *members {
            out.person_of[i as usize] = c as u32;
        }
        out.keys.push(key);
        out.created.push(created);
    }
    Ok(out)
}
