//! Probabilistic record linkage (Fellegi and Sunter 1969): candidate pairs from several
//! blocking keys, a comparison vector per pair, m and u probabilities estimated by EM on the
//! candidate pairs themselves (no labels), and a match probability per pair.

use super::compare::{compare, Prepared, Text, FIELDS, MISSING, N_FIELDS};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// One blocking key: records with equal non-null keys become candidate pairs.
type KeyFn = fn(&Prepared) -> Option<String>;

fn cat(parts: &[Option<&str>]) -> Option<String> {
    let mut out = String::new();
    for p in parts {
        out.push_str(p.filter(|s| !s.is_empty())?);
        out.push('\u{1f}');
    }
    Some(out)
}

fn prefix(s: &Text, n: usize) -> Option<String> {
    s.as_ref().map(|s| s.chars().take(n).collect())
}

/// An address as a blocking key: its numbers and letters without the administrative suffixes
/// one system writes and another leaves out (长沙市中山路12号 = 长沙中山路12号); the comparison
/// then weighs the rest.
fn address_key(p: &Prepared) -> Option<String> {
    let text: String = p.address_text.chars().filter(|c| !matches!(c, '省' | '市' | '区' | '县')).collect();
    p.has_address().then(|| format!("{}\u{1f}{text}", p.address_numbers.join(" ")))
}

/// The blocking keys, named for the log. Together they catch pairs with a typo in any one or
/// two fields: each leaves out several of name, birth date, postcode, address and id. (Given
/// name's first three letters + surname's first four + birth year is not one: its blocks grew
/// with the population and it found no link the others miss; docs/perf/history.md.)
pub const BLOCKING_KEYS: &[(&str, KeyFn)] = &[
    ("name+birth_date", |p| cat(&[p.name.as_deref(), p.birth.as_deref()])),
    // 王伟 and "Wang Wei" born the same day: a Chinese name's pinyin, a Latin name's letters.
    ("romanised_name+birth_date", |p| cat(&[super::compare::romanised(p).as_deref(), p.birth.as_deref()])),
    ("surname+birth_date", |p| cat(&[p.surname.as_deref(), p.birth.as_deref()])),
    ("given+birth_date", |p| cat(&[p.given.as_deref(), p.birth.as_deref()])),
    ("birth_date+given_initial", |p| cat(&[p.birth.as_deref(), prefix(&p.given, 1).as_deref()])),
    ("birth_date+city", |p| cat(&[p.birth.as_deref(), p.city.as_deref()])),
    ("postcode+given", |p| cat(&[p.postcode.as_deref(), p.given.as_deref()])),
    ("postcode+surname", |p| cat(&[p.postcode.as_deref(), p.surname.as_deref()])),
    ("address+surname", |p| cat(&[address_key(p).as_deref(), p.surname.as_deref()])),
    ("address+given", |p| cat(&[address_key(p).as_deref(), p.given.as_deref()])),
    // Records without a name: found by two of where and when.
    ("birth_date+address", |p| cat(&[p.birth.as_deref(), address_key(p).as_deref()])),
    ("address+postcode", |p| cat(&[address_key(p).as_deref(), p.postcode.as_deref()])),
    ("name+postcode", |p| cat(&[p.name.as_deref(), p.postcode.as_deref()])),
    // 王伟 in the shop and "WEI WANG" at the same address or postcode: no birth date to meet on.
    ("romanised_name+address", |p| cat(&[super::compare::romanised(p).as_deref(), address_key(p).as_deref()])),
    ("romanised_name+postcode", |p| cat(&[super::compare::romanised(p).as_deref(), p.postcode.as_deref()])),
    ("birth_date+postcode", |p| cat(&[p.birth.as_deref(), p.postcode.as_deref()])),
    ("id_number", |p| p.id_number.as_deref().map(str::to_string)),
    // All but the last two characters: catches a typo at the end of the id.
    ("id_number_stem", |p| p.id_number.as_ref().filter(|i| i.chars().count() > 4).map(|i| i.chars().take(i.chars().count() - 2).collect())),
    ("phone", |p| p.phone.as_deref().map(str::to_string)),
    ("email", |p| p.email.as_deref().map(str::to_string)),
];

/// Keys on fields of a fixed number of values alone, with the largest block each is compared
/// in: their blocks grow with the population, their pairs with its square, and agreeing on
/// values many share is weak evidence. Birth date + city finds a few links in small data and
/// none the other keys miss in large data, where its blocks were a third of the pairs
/// compared (docs/perf/history.md).
const SMALL_BLOCKS_ONLY: [(&str, usize); 1] = [("birth_date+city", 8)];

#[derive(Clone, Debug, Serialize, Default)]
pub struct BlockingReport {
    pub candidate_pairs: usize,
    /// Blocks skipped because they held more than `max_block_size` records, per key.
    pub skipped_blocks: HashMap<String, usize>,
}

/// Every candidate pair (i < j: records with equal values of a blocking key, in a block of
/// at most `max_block_size`, or its key's `SMALL_BLOCKS_ONLY` limit) is compared once, under the first key that pairs it, and the
/// pairs at or above `threshold` with identifying evidence come back with their probability;
/// those from `review_from` up to the threshold with their comparison vector, for review.
/// The candidate pairs themselves are never held: they grow faster than the records (blocks
/// grow with the data). Keys are compared as 64-bit hashes of their text;
/// two keys sharing a hash only add candidate pairs, which the comparison then judges.
pub fn matching_pairs(
    records: &[Prepared],
    max_block_size: usize,
    model: &Model,
    tf: Option<&TermFrequencies>,
    threshold: f64,
    review_from: f64,
) -> Matched {
    const K: usize = BLOCKING_KEYS.len();
    let hash = |k: String| std::hash::BuildHasher::hash_one(&FIXED_HASH, k).max(1); // 0: no key
    let keys: Vec<[u64; K]> = records
        .par_iter()
        .map(|r| {
            let mut h = [0u64; K];
            for (j, (_, key)) in BLOCKING_KEYS.iter().enumerate() {
                h[j] = key(r).map_or(0, hash);
            }
            h
        })
        .collect();
    let mut matched = Matched::default();
    let mut skipped: Vec<std::collections::HashSet<u64>> = Vec::new();
    for (k, (name, _)) in BLOCKING_KEYS.iter().enumerate() {
        let mut keyed: Vec<(u64, u32)> = keys.iter().enumerate().filter(|(_, h)| h[k] != 0).map(|(i, h)| (h[k], i as u32)).collect();
        keyed.par_sort_unstable(); // within a block, by record: a < b
        let blocks: Vec<&[(u64, u32)]> = keyed.chunk_by(|a, b| a.0 == b.0).filter(|b| b.len() > 1).collect();
        let limit = SMALL_BLOCKS_ONLY.iter().find(|(n, _)| n == name).map_or(max_block_size, |(_, l)| max_block_size.min(*l));
        let too_big: std::collections::HashSet<u64> = blocks.iter().filter(|b| b.len() > limit).map(|b| b[0].0).collect();
        let over_max = blocks.iter().filter(|b| b.len() > max_block_size).count();
        if over_max > 0 {
            tracing::warn!(key = *name, blocks = over_max, max_block_size, "blocks larger than identity.max_block_size skipped");
            matched.blocking.skipped_blocks.insert(name.to_string(), over_max);
        }
        skipped.push(too_big);
        // A pair an earlier key put in one of its (compared) blocks was compared there.
        let seen = |a: usize, b: usize| (0..k).any(|j| keys[a][j] != 0 && keys[a][j] == keys[b][j] && !skipped[j].contains(&keys[a][j]));
        let found = blocks
            .par_iter()
            .filter(|block| block.len() <= limit)
            .fold(Matched::default, |mut m, block| {
                for (x, &(_, a)) in block.iter().enumerate() {
                    for &(_, b) in &block[x + 1..] {
                        if seen(a as usize, b as usize) {
                            continue;
                        }
                        let (ra, rb) = (&records[a as usize], &records[b as usize]);
                        let v = compare(ra, rb);
                        m.blocking.candidate_pairs += 1;
                        m.patterns.insert(v);
                        let p = model.probability_with(&v, tf.map_or(0.0, |tf| tf.adjustment(ra, rb, &v, model)));
                        if p >= review_from && has_identifying_evidence(&v) {
                            if p >= threshold {
                                m.pairs.push((a, b, p, v));
                            } else {
                                m.grey.push((a, b, p, v));
                            }
                        }
                    }
                }
                m
            })
            .reduce(Matched::default, Matched::merge);
        // Which keys make the pairs (`PORTRAIT_LOG=debug`): at scale, keys on fields of a fixed
        // number of values (birth date, city) make blocks that grow with the population.
        // (The fields are evaluated only when debug is on.)
        tracing::debug!(
            key = *name,
            blocks = blocks.len(),
            largest = blocks.iter().map(|b| b.len()).filter(|&n| n <= limit).max().unwrap_or(0),
            compared = found.blocking.candidate_pairs,
            "blocking key"
        );
        matched = matched.merge(found);
    }
    matched
}

/// Term frequencies (Splink's term-frequency adjustment): agreeing on a common value is weaker
/// evidence than agreeing on a rare one. For a pair agreeing exactly on a field below, the
/// chance that two different people agree is that value's frequency among the run's records,
/// not the field's average `u`: the weight gains log2(u / frequency), which is negative for
/// common values (王伟) and positive for rare ones (欧阳娜娜). The frequency is floored at
/// u / `TF_MAX_GAIN`, so a value seen in two records only (a shared typo) adds at most
/// log2(`TF_MAX_GAIN`) bits.
pub struct TermFrequencies {
    /// Per adjusted field: occurrences of each value (by 64-bit hash) and records with a value.
    counts: Vec<(HashMap<u64, u32>, u64)>,
}

/// A field's value in a prepared record.
type FieldOf = fn(&Prepared) -> Option<&str>;

/// The fields adjusted, with the value an exact agreement is on.
const TF_FIELDS: [(usize, FieldOf); 3] =
    [(field::NAME, |p| p.name.as_deref()), (field::POSTCODE, |p| p.postcode.as_deref()), (field::PLACE, |p| p.city.as_deref())];

/// At most 2^5: a rare value counts like 32 times less likely than the average agreement.
pub const TF_MAX_GAIN: f64 = 32.0;

impl TermFrequencies {
    pub fn of(records: &[Prepared]) -> TermFrequencies {
        let counts = TF_FIELDS
            .iter()
            .map(|(_, value)| {
                let mut counts: HashMap<u64, u32> = HashMap::new();
                let mut total = 0;
                for v in records.iter().filter_map(value) {
                    *counts.entry(std::hash::BuildHasher::hash_one(&FIXED_HASH, v)).or_default() += 1;
                    total += 1;
                }
                (counts, total)
            })
            .collect();
        TermFrequencies { counts }
    }

    /// The bits to add to a pair's weight: per adjusted field on which `a` and `b` agree
    /// exactly (level 0, the same value), log2(u / max(frequency, u / TF_MAX_GAIN)).
    pub fn adjustment(&self, a: &Prepared, b: &Prepared, v: &[u8; N_FIELDS], model: &Model) -> f64 {
        let mut bits = 0.0;
        for ((f, value), (counts, total)) in TF_FIELDS.iter().zip(&self.counts) {
            let (Some(x), Some(y)) = (value(a), value(b)) else { continue };
            if v[*f] != 0 || x != y || *total == 0 {
                continue;
            }
            let n = counts.get(&std::hash::BuildHasher::hash_one(&FIXED_HASH, x)).copied().unwrap_or(1);
            let u = model.u[*f][0];
            let frequency = (n as f64 / *total as f64).max(u / TF_MAX_GAIN);
            bits += (u / frequency).log2();
        }
        bits
    }
}

/// What `matching_pairs` found.
#[derive(Default)]
pub struct Matched {
    /// (a, b, match probability, comparison vector), a < b.
    pub pairs: Vec<(u32, u32, f64, [u8; N_FIELDS])>,
    /// (a, b, match probability, comparison vector) of the pairs in the grey zone, a < b.
    pub grey: Vec<(u32, u32, f64, [u8; N_FIELDS])>,
    pub blocking: BlockingReport,
    /// The distinct comparison vectors of the candidate pairs.
    pub patterns: std::collections::HashSet<[u8; N_FIELDS]>,
}

impl Matched {
    fn merge(mut self, other: Matched) -> Matched {
        self.pairs.extend(other.pairs);
        self.grey.extend(other.grey);
        self.blocking.candidate_pairs += other.blocking.candidate_pairs;
        self.blocking.skipped_blocks.extend(other.blocking.skipped_blocks);
        self.patterns.extend(other.patterns);
        self
    }
}

/// A hasher with fixed keys: blocks, and so the warnings about skipped blocks, are the same
/// on every run.
const FIXED_HASH: std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher> = std::hash::BuildHasherDefault::new();

/// Fellegi-Sunter parameters: per field and level P(level | match) and P(level | non-match),
/// and λ, the prior probability that two records match.
#[derive(Clone, Debug, Serialize)]
pub struct Model {
    pub lambda: f64,
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    pub iterations: usize,
    pub converged: bool,
}

impl Model {
    /// log2 Bayes factor of a comparison vector (missing fields add nothing).
    pub fn weight(&self, v: &[u8; N_FIELDS]) -> f64 {
        v.iter().enumerate().filter(|(_, l)| **l != MISSING).map(|(f, &l)| (self.m[f][l as usize] / self.u[f][l as usize]).log2()).sum()
    }

    pub fn probability(&self, v: &[u8; N_FIELDS]) -> f64 {
        self.probability_with(v, 0.0)
    }

    /// The probability with `extra` bits of weight (`TermFrequencies::adjustment`).
    pub fn probability_with(&self, v: &[u8; N_FIELDS], extra: f64) -> f64 {
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        1.0 / (1.0 + 2f64.powf(-(prior + self.weight(v) + extra)))
    }
}

/// P(level | non-match) per field from record pairs drawn at random (Splink's approach): almost
/// every random pair is a non-match, so no labels are needed. `samples` pairs from a fixed
/// seed; every pair when there are no more than that.
pub fn estimate_u(records: &[Prepared], samples: usize) -> Vec<Vec<f64>> {
    use rand::{Rng, SeedableRng};
    let n = records.len();
    let mut counts: Vec<Vec<f64>> = FIELDS.iter().map(|(_, l)| vec![0.0; *l as usize]).collect();
    let all_pairs = n.saturating_mul(n.saturating_sub(1)) / 2;
    let pairs: Vec<(usize, usize)> = if all_pairs <= samples {
        (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b))).collect()
    } else {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1969);
        (0..samples)
            .map(|_| {
                let a = rng.gen_range(0..n);
                let b = (a + rng.gen_range(1..n)) % n;
                (a, b)
            })
            .collect()
    };
    let vectors: Vec<[u8; N_FIELDS]> = pairs.par_iter().map(|&(a, b)| compare(&records[a], &records[b])).collect();
    for v in &vectors {
        for (f, &l) in v.iter().enumerate() {
            if l != MISSING {
                counts[f][l as usize] += 1.0;
            }
        }
    }
    normalise(&counts, 1.0)
}

/// Rows scaled to sum to 1 after adding `pseudo` to every cell (no level has probability 0).
fn normalise(acc: &[Vec<f64>], pseudo: f64) -> Vec<Vec<f64>> {
    acc.iter()
        .map(|row| {
            let s: f64 = row.iter().sum::<f64>() + pseudo * row.len() as f64;
            row.iter().map(|x| (x + pseudo) / s).collect()
        })
        .collect()
}

/// A training set for EM: pairs agreeing exactly on strong `fixed` identifiers. Such sets are
/// mostly matches, so EM is well identified there (in sets of weak keys such as a postcode,
/// correlated fields let EM mistake "same area" for "same person"); every other field's m is
/// learnt in them, the fixed fields' own m in the other sets.
struct Training {
    fixed: &'static [usize],
    key: KeyFn,
}

const TRAINING: &[Training] = &[
    Training { fixed: &[field::ID], key: |p| p.id_number.as_deref().map(str::to_string) },
    Training { fixed: &[field::PHONE], key: |p| p.phone.as_deref().map(str::to_string) },
    Training { fixed: &[field::EMAIL], key: |p| p.email.as_deref().map(str::to_string) },
    Training { fixed: &[field::NAME, field::BIRTH], key: |p| cat(&[p.name.as_deref(), p.birth.as_deref()]) },
];

/// Estimate the model: u from random pairs, m by EM on each training set, λ (the probability
/// that two random records match) from how many matches each set holds.
pub fn train(records: &[Prepared], max_block_size: usize) -> Model {
    let u = estimate_u(records, 1_000_000);
    let levels: Vec<usize> = FIELDS.iter().map(|(_, n)| *n as usize).collect();
    let mut m_sum: Vec<Vec<f64>> = levels.iter().map(|&n| vec![0.0; n]).collect();
    let mut m_count = vec![0usize; levels.len()];
    let mut m_weight = vec![0.0f64; levels.len()];
    let mut sets: Vec<(&[usize], f64, f64)> = Vec::new(); // (fixed fields, pairs, share of matches)
    let mut iterations = 0;
    let mut converged = true;
    for t in TRAINING {
        let pairs = block_pairs(records, t.key, max_block_size, 2_000_000);
        if pairs.len() < 10 {
            continue;
        }
        let (_, patterns) = compare_pairs(records, &pairs);
        let free: Vec<bool> = (0..levels.len()).map(|f| !t.fixed.contains(&f)).collect();
        let fit = em(&patterns, &u, &free);
        iterations += fit.iterations;
        converged &= fit.converged;
        let matches = fit.lambda * pairs.len() as f64;
        for f in (0..levels.len()).filter(|&f| free[f]) {
            for (s, v) in m_sum[f].iter_mut().zip(&fit.m[f]) {
                *s += v * matches;
            }
            m_count[f] += 1;
            m_weight[f] += matches;
        }
        sets.push((t.fixed, pairs.len() as f64, fit.lambda));
    }
    let m: Vec<Vec<f64>> = m_sum
        .iter()
        .zip(&m_count)
        .zip(&levels)
        .zip(&m_weight)
        .map(|(((row, &c), &n), &w)| if c == 0 || w <= 0.0 { agreeing(n) } else { row.iter().map(|v| v / w).collect() })
        .collect();
    // Matches in a set / P(a match agrees on the set's fields) = matches overall.
    // A pair can only agree on a field both records have: divide by that chance too.
    let present = |f: usize| records.iter().filter(|r| has_field(r, f)).count() as f64 / records.len().max(1) as f64;
    let estimates: Vec<f64> =
        sets.iter().map(|(fixed, n, share)| share * n / fixed.iter().map(|&f| m[f][0] * present(f).powi(2)).product::<f64>()).collect();
    for ((fixed, n, share), e) in sets.iter().zip(&estimates) {
        tracing::debug!(set = FIELDS[fixed[0]].0, pairs = n, share, matches = e, "EM training set");
    }
    let total_pairs = records.len() as f64 * (records.len() as f64 - 1.0) / 2.0;
    // The median: one set with a poorly estimated agreement rate must not dominate.
    let mut sorted = estimates.clone();
    sorted.sort_by(f64::total_cmp);
    let matches = if sorted.is_empty() { 0.0 } else { (sorted[(sorted.len() - 1) / 2] + sorted[sorted.len() / 2]) / 2.0 };
    let lambda = (matches / total_pairs.max(1.0)).clamp(1e-12, 0.5);
    for (f, (name, _)) in FIELDS.iter().enumerate() {
        tracing::debug!(field = *name, m = ?m[f], u = ?u[f], "Fellegi-Sunter parameters");
    }
    Model { lambda, m, u, iterations, converged }
}

fn has_field(r: &Prepared, f: usize) -> bool {
    match f {
        field::NAME => r.name.is_some(),
        field::BIRTH => r.birth.is_some(),
        field::ID => r.id_number.is_some(),
        field::PHONE => r.phone.is_some(),
        field::EMAIL => r.email.is_some(),
        field::ADDRESS => r.has_address(),
        field::POSTCODE => r.postcode.is_some(),
        _ => true,
    }
}

/// Pairs (i < j) of records with equal keys, at most `limit`, blocks of more than
/// `max_block_size` records left out (the training sets).
fn block_pairs(records: &[Prepared], key: KeyFn, max_block_size: usize, limit: usize) -> Vec<(u32, u32)> {
    let mut keyed: Vec<(String, u32)> = records.iter().enumerate().filter_map(|(i, r)| key(r).map(|k| (k, i as u32))).collect();
    keyed.sort_unstable(); // within a block, by record: a.1 < b.1
    let mut pairs = Vec::new();
    for block in keyed.chunk_by(|a, b| a.0 == b.0).filter(|b| b.len() <= max_block_size) {
        for (x, a) in block.iter().enumerate() {
            for b in &block[x + 1..] {
                if pairs.len() >= limit {
                    return pairs;
                }
                pairs.push((a.1, b.1));
            }
        }
    }
    pairs
}

/// Starting m: "matches agree" (level 0 with 0.9, the rest shared).
fn agreeing(levels: usize) -> Vec<f64> {
    (0..levels).map(|l| if l == 0 { 0.9 } else { 0.1 / (levels - 1) as f64 }).collect()
}

/// EM for m (of the `free` fields) and the share of matches, u held at the random-pair
/// estimate; fixed fields take no part. Over the distinct comparison vectors weighted by
/// count; stops when no parameter moves by 1e-6.
fn em(patterns: &HashMap<[u8; N_FIELDS], u64>, u: &[Vec<f64>], free: &[bool]) -> Model {
    let m0: Vec<Vec<f64>> = u.iter().map(|row| agreeing(row.len())).collect();
    let mut model = Model { lambda: 0.5, m: m0, u: u.to_vec(), iterations: 0, converged: false };
    let mut list: Vec<([u8; N_FIELDS], f64)> = patterns
        .iter()
        .map(|(p, n)| {
            let mut p = *p;
            for (f, l) in p.iter_mut().enumerate() {
                if !free[f] {
                    *l = MISSING;
                }
            }
            (p, *n as f64)
        })
        .collect();
    list.sort_by_key(|a| a.0); // a fixed order: sums do not depend on hashing
    let total: f64 = list.iter().map(|p| p.1).sum();
    for iteration in 1..=1000 {
        let mut m_acc: Vec<Vec<f64>> = model.m.iter().map(|row| vec![0.0; row.len()]).collect();
        let mut matches = 0.0;
        for (v, n) in &list {
            let p = model.probability(v);
            matches += n * p;
            for (f, &l) in v.iter().enumerate() {
                if l != MISSING {
                    m_acc[f][l as usize] += n * p;
                }
            }
        }
        let m = normalise(&m_acc, 1e-3);
        let lambda = (matches / total).clamp(1e-9, 1.0 - 1e-9);
        let moved =
            m.iter().flatten().zip(model.m.iter().flatten()).map(|(a, b)| (a - b).abs()).fold((lambda - model.lambda).abs(), f64::max);
        model.m = m;
        model.lambda = lambda;
        model.iterations = iteration;
        if moved < 1e-6 {
            model.converged = true;
            break;
        }
    }
    model
}

/// Comparison vectors of all pairs (parallel), and how often each distinct vector occurs.
pub fn compare_pairs(records: &[Prepared], pairs: &[(u32, u32)]) -> (Vec<[u8; N_FIELDS]>, HashMap<[u8; N_FIELDS], u64>) {
    let vectors: Vec<[u8; N_FIELDS]> = pairs.par_iter().map(|&(a, b)| compare(&records[a as usize], &records[b as usize])).collect();
    let mut counts: HashMap<[u8; N_FIELDS], u64> = HashMap::new();
    for v in &vectors {
        *counts.entry(*v).or_default() += 1;
    }
    (vectors, counts)
}

/// Field indexes in a comparison vector.
pub mod field {
    pub const NAME: usize = 0;
    pub const BIRTH: usize = 1;
    pub const ID: usize = 2;
    pub const PHONE: usize = 3;
    pub const EMAIL: usize = 4;
    pub const ADDRESS: usize = 5;
    pub const POSTCODE: usize = 6;
    pub const PLACE: usize = 7;
}

/// A fuzzy link needs agreement (level 0-1) on at least one identifying field: birth date,
/// national id, phone, email or address, or the exact postcode. Names, gender and places
/// alone are shared by too many people to link on, however well they agree.
pub fn has_identifying_evidence(v: &[u8; N_FIELDS]) -> bool {
    let agrees = |f: usize, max: u8| v[f] != MISSING && v[f] <= max;
    agrees(field::BIRTH, 1)
        || agrees(field::ID, 1)
        || agrees(field::PHONE, 1)
        || agrees(field::EMAIL, 1)
        || agrees(field::ADDRESS, 1)
        || agrees(field::POSTCODE, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_keys_without_administrative_suffixes() {
        let at = |a: &str| address_key(&Prepared::new(None, None, None, None, None, Some(a), None, None, None, None));
        assert_eq!(at("长沙市中山路12号"), at("长沙中山路12号"));
        assert_eq!(at("湖南省长沙市岳麓区中山路12号"), at("湖南长沙岳麓中山路12号"));
        assert_ne!(at("长沙中山路12号"), at("长沙中山路21号"), "another house");
    }

    #[test]
    fn term_frequency_weights_by_hand() {
        // 998 records named 王伟 and 2 named 欧阳娜娜; the model's u for exact name agreement 0.1.
        let named = |n: &str| Prepared::new(Some(n), None, None, None, None, None, None, None, None, None);
        let mut records: Vec<Prepared> = (0..998).map(|_| named("王伟")).collect();
        records.extend([named("欧阳娜娜"), named("欧阳娜娜")]);
        let tf = TermFrequencies::of(&records);
        let levels = |n: u8| vec![1.0 / n as f64; n as usize];
        let mut u: Vec<Vec<f64>> = FIELDS.iter().map(|(_, n)| levels(*n)).collect();
        u[field::NAME] = vec![0.1, 0.2, 0.3, 0.4];
        let model = Model { lambda: 0.01, m: u.clone(), u, iterations: 0, converged: true };
        let adjust = |a: usize, b: usize| tf.adjustment(&records[a], &records[b], &compare(&records[a], &records[b]), &model);
        // 王伟: frequency 998/1000, log2(0.1 / 0.998) = -3.3190 bits.
        assert!((adjust(0, 1) - (0.1f64 / 0.998).log2()).abs() < 1e-12 && (adjust(0, 1) + 3.3190).abs() < 1e-4);
        // 欧阳娜娜: frequency 2/1000 = 0.002, below the floor 0.1 / 32 = 0.003125: + log2(32) = 5 bits.
        assert!((adjust(998, 999) - 5.0).abs() < 1e-12);
        // No exact agreement, no adjustment.
        assert_eq!(adjust(0, 998), 0.0);
    }
}
