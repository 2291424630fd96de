//! `portrait identity-eval`: the nightly run's identity resolution on one customers file,
//! scored against a truth file with pairwise precision, recall and F1 (the record-linkage
//! literature's measure: a pair of records is predicted a match when both land in one cluster).

use crate::config::{Identity, TableSource};
use crate::day::Times;
use crate::error::{Error, Result};
use crate::io::text::DecodedCopies;
use crate::schema::Table;
use crate::stages::{clean, identity, ingest};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct Report {
    pub records: usize,
    pub clusters: usize,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Reading, cleaning and resolving; not scoring.
    pub seconds: f64,
    /// Records whose (source, source_customer_id) the truth file does not list (not scored).
    pub records_without_truth: usize,
    /// True pairs that any matcher obeying the evidence rule could find: both records reach
    /// each other through records sharing an identifying value (birth date, id, phone, email,
    /// address or postcode). Pairs that share only a name, gender and city are not.
    pub linkable_pairs: u64,
    /// correct_pairs / linkable_pairs.
    pub recall_of_linkable: f64,
    /// Linkable pairs whose records reach each other through evidence that tells people
    /// apart (`identifies`): a pair of which one record has no name and the other shares
    /// only a birth date and a city is not, because many different people do.
    pub identifiable_pairs: u64,
    /// correct_pairs / identifiable_pairs.
    pub recall_of_identifiable: f64,
    /// Pairs left for a steward (`identity_review`), and how many of them are one person by
    /// the truth file.
    pub review_pairs: usize,
    pub review_true_matches: usize,
}

/// Evidence that tells one person from others: an agreeing national id, phone or email; or
/// two named records sharing a birth date, address or postcode (however alike the names look to
/// the comparator, so that a comparator that cannot read 王伟 as "Wang Wei" is not excused); or
/// two of birth date, address and postcode.
fn identifies(v: &[u8; identity::compare::N_FIELDS]) -> bool {
    use identity::compare::MISSING;
    use identity::fuzzy::field;
    let agrees = |f: usize, max: u8| v[f] != MISSING && v[f] <= max;
    let where_and_when = [agrees(field::BIRTH, 1), agrees(field::ADDRESS, 1), agrees(field::POSTCODE, 0)].iter().filter(|a| **a).count();
    agrees(field::ID, 1)
        || agrees(field::PHONE, 1)
        || agrees(field::EMAIL, 1)
        || (v[field::NAME] != MISSING && where_and_when >= 1)
        || where_and_when >= 2
}

/// Each true entity's records (their indexes), in entity order.
fn records_by_entity(truth: &[Option<u64>]) -> std::collections::BTreeMap<u64, Vec<usize>> {
    let mut by_entity: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    for (i, t) in truth.iter().enumerate() {
        if let Some(t) = t {
            by_entity.entry(*t).or_default().push(i);
        }
    }
    by_entity
}

/// Pairs within each true entity's groups of records connected by pairs meeting `evidence`.
fn linkable_pairs(
    records: &[identity::compare::Prepared],
    truth: &[Option<u64>],
    evidence: fn(&[u8; identity::compare::N_FIELDS]) -> bool,
) -> u64 {
    let mut total = 0;
    for members in records_by_entity(truth).values().filter(|m| m.len() > 1) {
        let mut uf = identity::UnionFind::new(members.len());
        for a in 0..members.len() {
            for b in a + 1..members.len() {
                let v = identity::compare::compare(&records[members[a]], &records[members[b]]);
                if evidence(&v) {
                    uf.union(a as u32, b as u32);
                }
            }
        }
        let mut sizes: HashMap<u32, u64> = HashMap::new();
        for a in 0..members.len() {
            *sizes.entry(uf.find(a as u32)).or_default() += 1;
        }
        total += sizes.values().map(|n| n * (n - 1) / 2).sum::<u64>();
    }
    total
}

/// Each identifiable true pair whose records are in different clusters: both records, the
/// comparison levels per field (empty: missing) and the model's match probability.
fn write_missed(
    path: &Path,
    records: &[identity::compare::Prepared],
    truth: &[Option<u64>],
    keys: &[String],
    model: &identity::fuzzy::Model,
    sources: &[String],
    ids: &[String],
) -> Result<()> {
    use identity::compare::{FIELDS, MISSING};
    let io = |e: csv::Error| Error::io(path, std::io::Error::other(e.to_string()));
    let mut w = csv::Writer::from_path(path).map_err(io)?;
    let mut header = vec!["source", "source_customer_id", "other_source", "other_source_customer_id", "match_probability"];
    header.extend(FIELDS.iter().map(|(f, _)| *f));
    w.write_record(&header).map_err(io)?;
    for members in records_by_entity(truth).values() {
        for (n, &a) in members.iter().enumerate() {
            for &b in members[n + 1..].iter().filter(|&&b| keys[a] != keys[b]) {
                let v = identity::compare::compare(&records[a], &records[b]);
                if !identifies(&v) {
                    continue;
                }
                let mut row =
                    vec![sources[a].clone(), ids[a].clone(), sources[b].clone(), ids[b].clone(), format!("{:.6}", model.probability(&v))];
                row.extend(v.iter().map(|l| if *l == MISSING { String::new() } else { l.to_string() }));
                w.write_record(&row).map_err(io)?;
            }
        }
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// Pairs of records in one cluster, in one true entity, and in both.
pub fn pair_counts(predicted: &[u64], truth: &[u64]) -> (u64, u64, u64) {
    let pairs = |counts: HashMap<(u64, u64), u64>| counts.values().map(|&n| n * (n - 1) / 2).sum::<u64>();
    let mut by_pred = HashMap::new();
    let mut by_truth = HashMap::new();
    let mut by_both = HashMap::new();
    for (&p, &t) in predicted.iter().zip(truth) {
        *by_pred.entry((p, 0)).or_default() += 1;
        *by_truth.entry((t, 0)).or_default() += 1;
        *by_both.entry((p, t)).or_default() += 1;
    }
    (pairs(by_truth), pairs(by_pred), pairs(by_both))
}

fn read_truth(path: &Path) -> Result<HashMap<(String, String), u64>> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| Error::input(path.display(), e.to_string()))?;
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut truth = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| Error::input(path.display(), format!("row {}: {e}", i + 2)))?;
        let (Some(source), Some(id), Some(entity)) = (row.get(0), row.get(1), row.get(2)) else {
            return Err(Error::input(path.display(), format!("row {}: expected source,source_customer_id,entity_id", i + 2)));
        };
        let next = ids.len() as u64;
        let entity = *ids.entry(entity.to_string()).or_insert(next);
        truth.insert((source.trim().to_lowercase(), id.trim().to_string()), entity);
    }
    Ok(truth)
}

/// `out`: also write every record's cluster and how it was linked (CSV) for inspection.
/// `missed`: also write the identifiable true pairs left in different clusters, with their
/// comparison vector and match probability (what to look at when tuning).
pub fn run(customers: &Path, truth: &Path, spec: &Identity, out: Option<&Path>, missed: Option<&Path>) -> Result<Report> {
    let truth = read_truth(truth)?;
    let started = Instant::now();
    let copies = DecodedCopies::temporary();
    let ing = ingest::ingest(&TableSource::canonical(Table::Customers, PathBuf::from(customers)), &Times::permissive(), &copies)?;
    let records = crate::io::collect(clean::customers(ing.rows))?;
    let (resolved, identity_report) = identity::resolve_with(&records, spec, &identity::Context::default())?;
    let seconds = started.elapsed().as_secs_f64();
    let col = |name: &str| -> Result<Vec<String>> {
        let c = resolved.column(name).and_then(|c| c.str().cloned()).map_err(|e| Error::internal(name, e))?;
        Ok(c.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    };
    let (sources, ids, keys) = (col("source")?, col("source_customer_id")?, col("customer_key")?);
    if let Some(out) = out {
        let rules = col("match_rule")?;
        let scores = resolved.column("match_score").and_then(|c| c.f64().cloned()).map_err(|e| Error::internal("match_score", e))?;
        let mut w = csv::Writer::from_path(out).map_err(|e| Error::io(out, std::io::Error::other(e.to_string())))?;
        let io = |e: csv::Error| Error::io(out, std::io::Error::other(e.to_string()));
        w.write_record(["source", "source_customer_id", "customer_key", "match_rule", "match_score"]).map_err(io)?;
        for i in 0..resolved.height() {
            let score = format!("{:.6}", scores.get(i).unwrap_or(0.0));
            w.write_record([&sources[i], &ids[i], &keys[i], &rules[i], &score]).map_err(io)?;
        }
        w.flush().map_err(|e| Error::io(out, e))?;
    }
    let mut key_ids: HashMap<&str, u64> = HashMap::new();
    let (mut predicted, mut actual) = (Vec::new(), Vec::new());
    let mut without = 0;
    let mut truth_of = vec![None; resolved.height()];
    for i in 0..resolved.height() {
        match truth.get(&(sources[i].clone(), ids[i].clone())) {
            Some(&t) => {
                truth_of[i] = Some(t);
                let next = key_ids.len() as u64;
                predicted.push(*key_ids.entry(keys[i].as_str()).or_insert(next));
                actual.push(t);
            }
            None => without += 1,
        }
    }
    let (true_pairs, predicted_pairs, correct) = pair_counts(&predicted, &actual);
    let precision = if predicted_pairs == 0 { 1.0 } else { correct as f64 / predicted_pairs as f64 };
    let recall = if true_pairs == 0 { 1.0 } else { correct as f64 / true_pairs as f64 };
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    let prepared = identity::prepare(&records)?;
    let linkable = linkable_pairs(&prepared, &truth_of, identity::fuzzy::has_identifying_evidence);
    let identifiable = linkable_pairs(&prepared, &truth_of, identifies);
    if let (Some(path), Some(model)) = (missed, &identity_report.model) {
        write_missed(path, &prepared, &truth_of, &keys, model, &sources, &ids)?;
    }
    let same = |a: u32, b: u32| truth_of[a as usize].is_some() && truth_of[a as usize] == truth_of[b as usize];
    let review_true_matches = identity_report.review.iter().filter(|p| same(p.a, p.b)).count();
    Ok(Report {
        records: resolved.height(),
        clusters: key_ids.len(),
        true_pairs,
        predicted_pairs,
        correct_pairs: correct,
        precision,
        recall,
        f1,
        seconds,
        records_without_truth: without,
        linkable_pairs: linkable,
        recall_of_linkable: if linkable == 0 { 1.0 } else { correct as f64 / linkable as f64 },
        identifiable_pairs: identifiable,
        recall_of_identifiable: if identifiable == 0 { 1.0 } else { correct as f64 / identifiable as f64 },
        review_pairs: identity_report.review_pairs,
        review_true_matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_that_tells_people_apart() {
        // name, birth, id, phone, email, address, postcode, place, gender; 255 = missing
        const M: u8 = 255;
        assert!(identifies(&[M, M, M, 0, M, M, M, M, M]), "a phone alone");
        assert!(identifies(&[2, 0, M, M, M, M, M, 0, 0]), "a dropped character and the birth date");
        assert!(identifies(&[M, 0, M, M, M, 1, M, M, M]), "no name: birth date and address");
        assert!(!identifies(&[M, 0, M, M, M, M, M, 0, 0]), "no name: birth date, city and gender");
        assert!(!identifies(&[0, M, M, M, M, 3, 2, 0, 0]), "a name and a city");
        assert!(identifies(&[3, 0, M, M, M, M, M, 0, 0]), "both named, same birth date: the names are the comparator's problem");
    }

    #[test]
    fn pairwise_counts_by_hand() {
        // Truth {0,1,2} {3,4}; predicted {0,1} {2,3,4}: true pairs 3 + 1 = 4, predicted
        // 1 + 3 = 4, correct (0,1) and (3,4) = 2.
        assert_eq!(pair_counts(&[7, 7, 9, 9, 9], &[0, 0, 0, 1, 1]), (4, 4, 2));
    }
}
