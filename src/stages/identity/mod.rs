//! Identity resolution: which customer records are one person. Deterministic links first
//! (a re-sent source id, manual links, same national id / phone / email), then probabilistic
//! Fellegi-Sunter links (`fuzzy`), merged by union-find under guards against chaining; keys
//! stay stable across nights (`keys`); a golden record per person by survivorship.

mod clusters;
pub mod compare;
pub mod fuzzy;
mod golden;
pub mod keys;
mod overrides;
mod union_find;

pub use golden::{golden, identity_map};
pub use overrides::{read_overrides, Override};
pub use union_find::UnionFind;

use clusters::{Clusters, Joined};

use crate::config::{Identity, LinkRule};
use crate::day::Day;
use crate::error::{Error, Result};
use crate::expr::KEY;
use compare::Prepared;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

fn str_col<'a>(df: &'a DataFrame, name: &str) -> Result<&'a StringChunked> {
    df.column(name).and_then(|c| c.str()).map_err(|e| Error::internal(&format!("identity: column {name}"), e))
}

/// The key of a cluster: a hash of its smallest member id, so it does not change while that
/// member stays in the cluster (and is the same on every run over the same data).
pub fn cluster_key(min_member: &str) -> String {
    let digest = Sha256::digest(min_member.as_bytes());
    format!("ck_{}", hex::encode(&digest[..8])) // 16 hex digits
}

/// A record's identity in the map: source and id joined by the unit separator.
pub fn member_id(source: &str, id: &str) -> String {
    format!("{source}\u{1f}{id}")
}

/// Why two records were joined, in order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    SourceId,
    Override,
    Field(u8),
    Probabilistic,
}

#[derive(Clone, Copy, Debug)]
struct Link {
    a: u32,
    b: u32,
    rule: Rule,
    score: f64,
    /// The comparison vector of a probabilistic link (all `MISSING` for the others).
    pattern: [u8; compare::N_FIELDS],
}

const NO_PATTERN: [u8; compare::N_FIELDS] = [compare::MISSING; compare::N_FIELDS];

/// A pair of records for a data steward to decide (`identity_review`): in the grey zone below
/// the match threshold, or a link a guard refused.
#[derive(Clone, Debug)]
pub struct ReviewPair {
    pub a: u32,
    pub b: u32,
    /// The match probability (1 for a refused deterministic link).
    pub probability: f64,
    /// The comparison vector (all `MISSING` for a deterministic link).
    pub pattern: [u8; compare::N_FIELDS],
    /// The rule that proposed the link.
    pub rule: &'static str,
    /// `grey_zone`, `conflicting_phone_or_id` or `cluster_size`.
    pub reason: &'static str,
}

/// What resolution did, for the manifest and `identity-eval`.
#[derive(Clone, Debug, Serialize, Default)]
pub struct Report {
    pub records: usize,
    pub clusters: usize,
    pub links_by_rule: std::collections::BTreeMap<String, usize>,
    pub blocking: fuzzy::BlockingReport,
    pub model: Option<fuzzy::Model>,
    /// Links refused: would join different phones or national ids, exceed the cluster size cap, or break a manual split.
    pub refused_conflict: usize,
    pub refused_size: usize,
    pub refused_override: usize,
    pub keys: keys::KeyReport,
    /// Pairs published for review (`identity_review`).
    pub review_pairs: usize,
    /// Those pairs (records by their index in the input).
    #[serde(skip)]
    pub review: Vec<ReviewPair>,
}

/// A text column's values, borrowed; all missing when the frame lacks the (optional) column.
fn opt_strs<'a>(df: &'a DataFrame, name: &str) -> Result<Vec<Option<&'a str>>> {
    if df.column(name).is_err() {
        return Ok(vec![None; df.height()]);
    }
    Ok(str_col(df, name)?.iter().collect())
}

/// Every record's fields prepared for comparison.
pub fn prepare(df: &DataFrame) -> Result<Vec<Prepared>> {
    let get = |n: &str| opt_strs(df, n);
    let (name, id, phone, email, address) = (get("name")?, get("id_number")?, get("phone")?, get("email")?, get("address")?);
    let (postcode, province, city, gender) = (get("postcode")?, get("province")?, get("city")?, get("gender")?);
    let birth: Vec<Option<chrono::NaiveDate>> = if df.column("birth_date").is_err() {
        vec![None; df.height()]
    } else {
        let c = df.column("birth_date").and_then(|c| c.cast(&DataType::Int32)).map_err(|e| Error::internal("identity: birth_date", e))?;
        c.i32()
            .map_err(|e| Error::internal("identity: birth_date", e))?
            .iter()
            .map(|d| d.and_then(Day::from_epoch_days).map(|d| d.0))
            .collect()
    };
    Ok((0..df.height())
        .into_par_iter()
        .map(|i| Prepared::new(name[i], birth[i], id[i], phone[i], email[i], address[i], postcode[i], province[i], city[i], gender[i]))
        .collect())
}

/// Records sharing a value are linked to the first record with it.
fn equal_value_links(values: &[Option<&str>], rule: Rule, links: &mut Vec<Link>) {
    let mut first: PlHashMap<&str, u32> = PlHashMap::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v else { continue };
        match first.get(v) {
            Some(&j) => links.push(Link { a: j, b: i as u32, rule, score: 1.0, pattern: NO_PATTERN }),
            None => {
                first.insert(v, i as u32);
            }
        }
    }
}

/// Inputs of `resolve` besides the records.
#[derive(Default)]
pub struct Context<'a> {
    /// The previous night's `identity_map` (source, source_customer_id, customer_key, key_created).
    pub previous: Option<&'a DataFrame>,
    pub overrides: &'a [Override],
    /// The run's date: when a new key is created.
    pub as_of: Option<chrono::NaiveDate>,
}

/// Adds `customer_key`, `_key`, `match_rule`, `match_score` and `key_created` to every cleaned
/// customer record. A record's rule is the first that linked it (precedence: source id,
/// override, `link_on` in order, probabilistic; `singleton` when none did); its score is 1
/// for deterministic links, else the best match probability that linked it.
pub fn resolve(customers: &DataFrame, spec: &Identity) -> Result<DataFrame> {
    resolve_with(customers, spec, &Context::default()).map(|(df, _)| df)
}

pub fn resolve_with(customers: &DataFrame, spec: &Identity, ctx: &Context) -> Result<(DataFrame, Report)> {
    let n = customers.height();
    let source = str_col(customers, "source")?;
    let sid = str_col(customers, "source_customer_id")?;
    let member: Vec<String> = source.iter().zip(sid.iter()).map(|(s, i)| member_id(s.unwrap_or(""), i.unwrap_or(""))).collect();
    let started = std::time::Instant::now();
    let records = prepare(customers)?;
    let mut report = Report { records: n, ..Default::default() };
    let prepared_s = started.elapsed().as_secs_f64();

    let mut links: Vec<Link> = Vec::new();
    equal_value_links(&member.iter().map(|m| Some(m.as_str())).collect::<Vec<_>>(), Rule::SourceId, &mut links);
    let (apart, alone) = override_links(&member, ctx.overrides, &mut links);
    // Records of one source id are always one person (above); the other rules by their field.
    let rules: Vec<LinkRule> = spec.link_on.iter().copied().filter(|r| *r != LinkRule::SourceId).collect();
    for (k, rule) in rules.iter().enumerate() {
        let values: Vec<Option<&str>> = records
            .iter()
            .map(|r| match rule {
                LinkRule::IdNumber => r.id_number.as_deref(),
                LinkRule::Phone => r.phone.as_deref(),
                LinkRule::Email | LinkRule::SourceId => r.email.as_deref(),
            })
            .collect();
        equal_value_links(&values, Rule::Field(k as u8), &mut links);
    }
    if spec.fuzzy {
        fuzzy_links(&records, spec, prepared_s, &mut links, &mut report);
    }
    // Strongest evidence first: rule precedence, then higher probability; ties by record.
    links.sort_by(|x, y| x.rule.cmp(&y.rule).then(y.score.total_cmp(&x.score)).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));

    let clusters = Clusters {
        uf: UnionFind::new(n),
        phones: value_ids(records.iter().map(|r| r.phone.as_deref())),
        ids: value_ids(records.iter().map(|r| r.id_number.as_deref().filter(|_| r.cn_id))),
        apart,
        alone,
    };
    let mut linked = apply_links(clusters, &links, &rules, spec.max_cluster_size, &mut report);
    undecided(&mut report.review, &mut linked.clusters);
    report.review_pairs = report.review.len();
    with_keys(customers, &member, linked, &rules, ctx, report)
}

/// Keep the review pairs still open: not in one person already (another link joined them, or
/// a steward's `link`), not kept apart by a steward's `split`; the most likely first.
fn undecided(review: &mut Vec<ReviewPair>, clusters: &mut Clusters) {
    review.retain(|p| {
        let split = clusters.alone[p.a as usize]
            || clusters.alone[p.b as usize]
            || clusters.apart.get(&p.a).is_some_and(|o| o.contains(&p.b))
            || clusters.apart.get(&p.b).is_some_and(|o| o.contains(&p.a));
        !split && clusters.uf.find(p.a) != clusters.uf.find(p.b)
    });
    review.sort_by(|x, y| y.probability.total_cmp(&x.probability).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));
}

/// Per record its value as a one-element list of a dense number (equal values, equal numbers),
/// or an empty list.
fn value_ids<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<Vec<u32>> {
    let mut ids: PlHashMap<&str, u32> = PlHashMap::new();
    values
        .map(|v| match v {
            Some(v) => {
                let next = ids.len() as u32;
                vec![*ids.entry(v).or_insert(next)]
            }
            None => Vec::new(),
        })
        .collect()
}

/// The steward's decisions: `link` pairs become links; `split` pairs must stay apart and a
/// `split` of one record keeps it alone.
fn override_links(member: &[String], overrides: &[Override], links: &mut Vec<Link>) -> (PlHashMap<u32, Vec<u32>>, Vec<bool>) {
    let mut apart: PlHashMap<u32, Vec<u32>> = PlHashMap::new();
    let mut alone = vec![false; member.len()];
    if overrides.is_empty() {
        return (apart, alone);
    }
    let index: PlHashMap<&str, u32> = member.iter().enumerate().map(|(i, m)| (m.as_str(), i as u32)).collect();
    for o in overrides {
        match o {
            Override::Link(a, b) => {
                if let (Some(&a), Some(&b)) = (index.get(a.as_str()), index.get(b.as_str())) {
                    links.push(Link { a, b, rule: Rule::Override, score: 1.0, pattern: NO_PATTERN });
                }
            }
            Override::Split(a, Some(b)) => {
                if let (Some(&a), Some(&b)) = (index.get(a.as_str()), index.get(b.as_str())) {
                    apart.entry(a).or_default().push(b);
                }
            }
            Override::Split(a, None) => {
                if let Some(&a) = index.get(a.as_str()) {
                    alone[a as usize] = true;
                }
            }
        }
    }
    (apart, alone)
}

/// Fellegi-Sunter: candidate pairs by blocking, the model trained by EM, a link for every
/// pair at or above the threshold with identifying evidence.
fn fuzzy_links(records: &[Prepared], spec: &Identity, prepared_s: f64, links: &mut Vec<Link>, report: &mut Report) {
    let t = std::time::Instant::now();
    let model = fuzzy::train(records, spec.max_block_size);
    let train_s = t.elapsed().as_secs_f64();
    let tf = spec.term_frequencies.then(|| fuzzy::TermFrequencies::of(records));
    let matched = fuzzy::matching_pairs(records, spec.max_block_size, &model, tf.as_ref(), spec.match_threshold, spec.review_from);
    let compare_s = t.elapsed().as_secs_f64() - train_s;
    tracing::info!(prepare_s = prepared_s, train_s, compare_s, "identity timings");
    links.extend(matched.pairs.iter().map(|&(a, b, score, pattern)| Link { a, b, rule: Rule::Probabilistic, score, pattern }));
    report.review.extend(matched.grey.iter().map(|&(a, b, probability, pattern)| ReviewPair {
        a,
        b,
        probability,
        pattern,
        rule: "probabilistic",
        reason: "grey_zone",
    }));
    tracing::info!(
        candidate_pairs = matched.blocking.candidate_pairs,
        patterns = matched.patterns.len(),
        em_iterations = model.iterations,
        lambda = model.lambda,
        "fuzzy matching"
    );
    let blocking = matched.blocking;
    report.blocking = blocking;
    report.model = Some(model);
}

/// The clusters after the links (strongest first) and, per record, the first rule that
/// linked it and its best score.
struct Linked {
    clusters: Clusters,
    rule_of: Vec<Option<Rule>>,
    score: Vec<f64>,
}

/// Join the links' records through the guards (conflicting ids, cluster size, overrides).
fn apply_links(mut clusters: Clusters, links: &[Link], rules: &[LinkRule], max_cluster_size: usize, report: &mut Report) -> Linked {
    let n = clusters.alone.len();
    let mut rule_of: Vec<Option<Rule>> = vec![None; n];
    let mut score = vec![0.0f64; n];
    for l in links {
        let guarded = !matches!(l.rule, Rule::SourceId | Rule::Override);
        let joined = match l.rule {
            // A re-sent record is the same record whatever else happens.
            Rule::SourceId => {
                clusters.uf.union(l.a, l.b);
                Joined::Yes
            }
            _ => {
                let id_link = matches!(l.rule, Rule::Field(k) if rules[k as usize] == LinkRule::IdNumber);
                clusters.join(l.a, l.b, guarded, !id_link, max_cluster_size)
            }
        };
        match joined {
            Joined::Yes | Joined::Already => {
                if matches!(joined, Joined::Yes) || rule_of[l.a as usize].is_none() || rule_of[l.b as usize].is_none() {
                    for r in [l.a, l.b] {
                        rule_of[r as usize].get_or_insert(l.rule);
                        score[r as usize] = score[r as usize].max(l.score);
                    }
                }
                if matches!(joined, Joined::Yes) {
                    *report.links_by_rule.entry(rule_name(l.rule, rules).to_string()).or_default() += 1;
                }
            }
            Joined::Conflict | Joined::Size => {
                let conflict = matches!(joined, Joined::Conflict);
                if conflict {
                    report.refused_conflict += 1;
                } else {
                    report.refused_size += 1;
                }
                let reason = if conflict { "conflicting_phone_or_id" } else { "cluster_size" };
                let rule = rule_name(l.rule, rules);
                report.review.push(ReviewPair { a: l.a, b: l.b, probability: l.score, pattern: l.pattern, rule, reason });
            }
            // A steward's split: decided already.
            Joined::Override => report.refused_override += 1,
        }
    }
    if report.refused_conflict + report.refused_size > 0 {
        tracing::info!(
            conflicting_ids = report.refused_conflict,
            size_cap = report.refused_size,
            "identity links refused by the chain guards"
        );
    }
    Linked { clusters, rule_of, score }
}

/// The records with their person's stable `customer_key`, dense `_key`, rule, score and the
/// day the key was created.
fn with_keys(
    customers: &DataFrame,
    member: &[String],
    mut linked: Linked,
    rules: &[LinkRule],
    ctx: &Context,
    mut report: Report,
) -> Result<(DataFrame, Report)> {
    let n = member.len();
    let roots: Vec<u32> = (0..n as u32).map(|i| linked.clusters.uf.find(i)).collect();
    let assigned = keys::assign(member, &roots, ctx.previous, ctx.as_of)?;
    report.keys = assigned.report;
    report.clusters = assigned.keys.len();
    // `_key`: a dense u32 per person (rank of its customer_key) for joins and group-bys on the
    // big tables; 4 bytes a row instead of a 19-character string.
    let mut by_key: Vec<u32> = (0..assigned.keys.len() as u32).collect();
    by_key.sort_unstable_by(|a, b| assigned.keys[*a as usize].cmp(&assigned.keys[*b as usize]));
    let mut rank = vec![0u32; by_key.len()];
    for (r, &p) in by_key.iter().enumerate() {
        rank[p as usize] = r as u32;
    }
    let internal: Vec<u32> = assigned.person_of.iter().map(|&p| rank[p as usize]).collect();
    let keys: Vec<&str> = assigned.person_of.iter().map(|&p| assigned.keys[p as usize].as_str()).collect();
    let created: Vec<Option<i32>> = assigned.person_of.iter().map(|&p| assigned.created[p as usize].map(|d| Day(d).epoch_days())).collect();
    let rule_names: Vec<&str> = linked.rule_of.iter().map(|r| r.map_or("singleton", |r| rule_name(r, rules))).collect();
    let scores: Vec<f64> = linked.rule_of.iter().zip(&linked.score).map(|(r, s)| if r.is_some() { *s } else { 1.0 }).collect();
    let mut out = customers.clone();
    let created =
        Column::new("key_created".into(), created).cast(&DataType::Date).map_err(|e| Error::internal("identity: key_created", e))?;
    for c in [
        Column::new("customer_key".into(), keys),
        Column::new(KEY.into(), internal),
        Column::new("match_rule".into(), rule_names),
        Column::new("match_score".into(), scores),
        created,
    ] {
        out.with_column(c).map_err(|e| Error::internal("identity: adding keys", e))?;
    }
    Ok((out, report))
}

fn rule_name(r: Rule, fields: &[LinkRule]) -> &'static str {
    match r {
        Rule::SourceId => "source_id",
        Rule::Override => "override",
        Rule::Field(k) => fields[k as usize].name(),
        Rule::Probabilistic => "probabilistic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn chains_cannot_merge_people_with_different_phones() {
        // A and B share an email with C but have different phones: C may join one of them,
        // never both (the first link by record order wins; the second is refused).
        let df = df!(
            "source" => ["shop", "crm", "wechat"],
            "source_customer_id" => ["A", "B", "C"],
            "name" => ["张伟", "张伟", "张伟"],
            "phone" => [Some("+8613800000001"), Some("+8613900000002"), None],
            "email" => [Some("zw@x.com"), Some("zw@x.com"), Some("zw@x.com")],
        )
        .unwrap();
        let (out, report) = resolve_with(&df, &Identity::default(), &Context::default()).unwrap();
        let keys: Vec<&str> = out.column("customer_key").unwrap().str().unwrap().iter().map(|k| k.unwrap()).collect();
        assert_ne!(keys[0], keys[1], "two phones, two people");
        assert_eq!(keys[0], keys[2], "C joins the first");
        assert!(report.refused_conflict >= 1);
        // Equal emails link each record to the first with it: A-B (refused: two phones) and
        // A-C (joined). The refused one waits for a steward.
        let queued: Vec<(u32, u32, &str, &str)> = report.review.iter().map(|p| (p.a, p.b, p.rule, p.reason)).collect();
        assert_eq!(queued, vec![(0, 1, "email", "conflicting_phone_or_id")]);
        assert_eq!(report.review_pairs, 1);
    }

    #[test]
    fn cluster_size_cap_stops_long_chains() {
        // Five records chained by one email: a cap of 3 keeps them in clusters of at most 3.
        let df = df!(
            "source" => ["s", "s", "s", "s", "s"],
            "source_customer_id" => ["1", "2", "3", "4", "5"],
            "email" => ["e@x.com", "e@x.com", "e@x.com", "e@x.com", "e@x.com"],
        )
        .unwrap();
        let spec = Identity { max_cluster_size: 3, ..Default::default() };
        let (out, report) = resolve_with(&df, &spec, &Context::default()).unwrap();
        let mut sizes: HashMap<&str, usize> = HashMap::new();
        for k in out.column("customer_key").unwrap().str().unwrap().iter() {
            *sizes.entry(k.unwrap()).or_default() += 1;
        }
        assert!(sizes.values().all(|&n| n <= 3), "{sizes:?}");
        assert!(report.refused_size >= 1);
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
        let out = resolve(&df, &Identity::default()).unwrap();
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
