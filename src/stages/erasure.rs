//! Erasure requests (个人信息保护法 art. 47, GDPR art. 17). The optional input table `erasures`
//! names records by their source id, or phones and emails by their HMAC under the privacy key.
//! From the run whose as-of is on or after a request, the person any named record resolves to
//! — all of their records, through identity resolution — is left out of every output, and
//! their input rows are counted as `erased`.

use super::ingest::Ingested;
use super::privacy::Key;
use crate::config::Plan;
use crate::day::Day;
use crate::error::{ConfigIssue, Error, Result};
use crate::expr::KEY;
use crate::io::{self, scan::InputFile};
use crate::schema::Table;
use crate::store::Accounting;
use polars::prelude::*;
use serde::Serialize;
use std::collections::HashSet;

/// The requests in force on the run's day (on or before as-of, naming something).
pub struct Requests {
    /// `(source, source_customer_id)` of the records named by id.
    ids: HashSet<(String, String)>,
    /// Lower-case hex HMACs of phones and of emails.
    phones: HashSet<String>,
    emails: HashSet<String>,
    /// The table's row accounting.
    pub accounting: Accounting,
    /// Rows ingest rejected (in quarantine's shape), and requests that name nothing (`_file`,
    /// `_row`, `reason` and the columns) from `files`.
    pub rejected: LazyFrame,
    pub unnamed: LazyFrame,
    pub files: Vec<InputFile>,
}

impl Requests {
    /// No table, no requests.
    pub fn none() -> Requests {
        let (rejected, unnamed) = (DataFrame::empty().lazy(), DataFrame::empty().lazy());
        let accounting = Accounting::default();
        Requests { ids: HashSet::new(), phones: HashSet::new(), emails: HashSet::new(), accounting, rejected, unnamed, files: Vec::new() }
    }

    /// Whether a request names a phone or an email by its HMAC (the key is then needed).
    pub fn need_key(&self) -> bool {
        !self.phones.is_empty() || !self.emails.is_empty()
    }

    fn len(&self) -> u64 {
        self.accounting.used
    }

    /// The records named by their id: `source`, `source_customer_id`.
    pub fn by_id(&self) -> Result<DataFrame> {
        let (source, id): (Vec<&str>, Vec<&str>) = self.ids.iter().map(|(s, i)| (s.as_str(), i.as_str())).unzip();
        df!("source" => source, "source_customer_id" => id).map_err(|e| Error::internal("erasure requests", e))
    }
}

/// Read the `erasures` table (or `suppressions`, named the same way). Requests dated after
/// `until` (a run's as-of) wait for a later run. A request that names neither a record nor a
/// hash is quarantined (and logged: a request not applied must be seen).
pub fn requests(ing: &Ingested, table: Table, until: Day) -> Result<Requests> {
    let text = |c: &str| col(c).str().strip_chars(lit(NULL)).str().to_lowercase();
    let until = col("requested_at").lt(until.end_lit());
    let by_id = col("source").is_not_null().and(col("source_customer_id").is_not_null());
    let named = by_id.or(col("phone_hmac").is_not_null()).or(col("email_hmac").is_not_null());
    // As clean writes them: sources in lower case (hex in lower case too).
    let rows = ing.rows.clone().with_columns([text("source"), text("phone_hmac"), text("email_hmac")]).with_column(named.alias("_named"));
    let why = "names no record: give source and source_customer_id, phone_hmac or email_hmac";
    let unnamed = rows.clone().filter(col("_named").not()).with_column(lit(why).alias("reason"));
    let frames = io::collect_all(vec![
        rows.clone().filter(col("_named").and(until.clone())),
        rows.filter(col("_named").and(until.not())).select([len().alias("n")]),
        ing.read.clone(),
        ing.quarantine.clone().select([len().alias("n")]),
        unnamed.clone().select([len().alias("n")]),
    ])?;
    let in_force = &frames[0];
    let strings = |c: &str| -> Result<Vec<Option<String>>> {
        let s = in_force.column(c).and_then(|c| c.str().cloned()).map_err(|e| Error::internal("erasure requests", e))?;
        Ok(s.iter().map(|v| v.map(str::to_string)).collect())
    };
    let (source, id) = (strings("source")?, strings("source_customer_id")?);
    let ids = source.into_iter().zip(id).filter_map(|(s, i)| Some((s?, i?))).collect();
    let hashes = |c: &str| -> Result<HashSet<String>> { Ok(strings(c)?.into_iter().flatten().collect()) };
    let count = |df: &DataFrame, c: &str| {
        df.column(c).ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0)
    };
    let accounting = Accounting {
        read: count(&frames[2], "read"),
        used: in_force.height() as u64,
        quarantined: count(&frames[3], "n") + count(&frames[4], "n"),
        after_as_of: count(&frames[1], "n"),
        missing_optional_columns: ing.missing_optional.clone(),
        ..Default::default()
    };
    if accounting.quarantined > 0 {
        tracing::warn!(table = table.name(), requests = accounting.quarantined, "requests that cannot be applied are in quarantine");
    }
    let (phones, emails) = (hashes("phone_hmac")?, hashes("email_hmac")?);
    Ok(Requests { ids, phones, emails, accounting, rejected: ing.quarantine.clone(), unnamed, files: ing.files.clone() })
}

/// What the run's erasure took out (the manifest's `privacy.erasure`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Requests in force on the day.
    pub requests: u64,
    /// People left out, and their customer records.
    pub persons: u64,
    pub records: u64,
}

/// The erased people's records.
pub struct Erased {
    /// `source`, `source_customer_id`, `customer_key` of every record of every erased person.
    pub records: DataFrame,
    pub report: Report,
}

impl Erased {
    /// Their customer keys, as a one-column frame (`customer_key`) for anti-joins.
    pub fn keys(&self) -> LazyFrame {
        self.records.clone().lazy().select([col("customer_key")]).unique(None, UniqueKeepStrategy::First)
    }
}

/// Which of the customer `records` (`source`, `source_customer_id`, cleaned `phone` and
/// `email`) a request names. `key` is needed when a request names a hash.
pub fn named(records: &DataFrame, requests: &Requests, key: Option<&Key>) -> Result<BooleanChunked> {
    let str_col = |c: &str| records.column(c).and_then(|c| c.str().cloned()).map_err(|e| Error::internal("erasure", e));
    let (source, id, phone, email) = (str_col("source")?, str_col("source_customer_id")?, str_col("phone")?, str_col("email")?);
    if requests.need_key() && key.is_none() {
        return Err(Error::Internal("erasure requests by hash without a key".into()));
    }
    let hashed = |values: &StringChunked, wanted: &HashSet<String>, i: usize| match (key, values.get(i)) {
        (Some(key), Some(v)) if !wanted.is_empty() => wanted.contains(&key.hmac_hex(v)),
        _ => false,
    };
    Ok((0..records.height())
        .map(|i| {
            let by_id = match (source.get(i), id.get(i)) {
                (Some(s), Some(c)) => requests.ids.contains(&(s.to_string(), c.to_string())),
                _ => false,
            };
            by_id || hashed(&phone, &requests.phones, i) || hashed(&email, &requests.emails, i)
        })
        .collect())
}

/// The `customer_key`s of the people any of whose resolved `records` a request names
/// (`suppressions` name people as `erasures` do).
pub fn named_people(records: &DataFrame, requests: &Requests, key: Option<&Key>) -> Result<HashSet<String>> {
    if requests.len() == 0 {
        return Ok(HashSet::new());
    }
    let named = named(records, requests, key)?;
    let keys = records.column("customer_key").and_then(|c| c.str()).map_err(|e| Error::internal("requests", e))?;
    Ok(keys.iter().zip(named.iter()).filter_map(|(k, n)| if n == Some(true) { k.map(str::to_string) } else { None }).collect())
}

/// Split the resolved records (`_key`: person) into the kept ones and the records of every
/// person a request names.
pub fn erase(resolved: DataFrame, requests: &Requests, key: Option<&Key>) -> Result<(DataFrame, Erased)> {
    let person = resolved.column(KEY).and_then(|c| c.u32().cloned()).map_err(|e| Error::internal("erasure", e))?;
    let mut persons = HashSet::new();
    if requests.len() > 0 {
        let named = named(&resolved, requests, key)?;
        persons.extend(person.iter().zip(named.iter()).filter_map(|(p, n)| if n == Some(true) { p } else { None }));
    }
    let columns = ["source", "source_customer_id", "customer_key"];
    let (kept, records) = if persons.is_empty() {
        // The usual night: no copy of every record.
        let none = resolved.select(columns).map_err(|e| Error::internal("erasure", e))?.clear();
        (resolved, none)
    } else {
        let erased: BooleanChunked = person.iter().map(|p| p.is_some_and(|p| persons.contains(&p))).collect();
        let records = resolved.select(columns).and_then(|r| r.filter(&erased)).map_err(|e| Error::internal("erasure", e))?;
        (resolved.filter(&!&erased).map_err(|e| Error::internal("erasure", e))?, records)
    };
    let report = Report { requests: requests.len(), persons: persons.len() as u64, records: records.height() as u64 };
    if report.persons > 0 {
        tracing::info!(persons = report.persons, records = report.records, "erasure requests applied: these people are left out");
    }
    Ok((kept, Erased { records, report }))
}

/// The privacy key when the run needs one: to hash profile fields, or to match requests (of
/// `erasures`, `suppressions`) that name a phone or an email by its hash.
pub fn key_for(plan: &Plan, requests: &[(Table, &Requests)]) -> Result<Option<Key>> {
    if !plan.privacy.hash_fields.is_empty() {
        return super::privacy::key(&plan.privacy).map(Some);
    }
    if let Some((table, _)) = requests.iter().find(|(_, r)| r.need_key()) {
        return super::privacy::key(&plan.privacy).map(Some).map_err(|e| match e {
            Error::Config { file, mut issues } => {
                issues.push(ConfigIssue {
                    key: format!("tables.{}", table.name()),
                    message: "requests name phones or emails by their HMAC: the privacy key is needed to match them".into(),
                });
                Error::Config { file, issues }
            }
            e => e,
        });
    }
    Ok(None)
}

/// Rows of `quarantine` (ingest's rejects of a table with a customer id) that belong to an
/// erased record, by the `source=` and `source_customer_id=` in `raw`: the kept rows and how
/// many were taken out.
pub fn without_erased(quarantine: DataFrame, erased: &DataFrame) -> Result<(DataFrame, u64)> {
    if erased.height() == 0 || quarantine.height() == 0 {
        return Ok((quarantine, 0));
    }
    let str_col = |df: &DataFrame, c: &str| df.column(c).and_then(|c| c.str().cloned()).map_err(|e| Error::internal("erasure", e));
    let (source, id) = (str_col(erased, "source")?, str_col(erased, "source_customer_id")?);
    let records: HashSet<(&str, &str)> = source.iter().zip(id.iter()).filter_map(|(s, i)| Some((s?, i?))).collect();
    let raw = str_col(&quarantine, "raw")?;
    let of_erased: BooleanChunked = raw
        .iter()
        .map(|r| {
            let value = |name: &str| r?.split("; ").find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='));
            matches!((value("source"), value("source_customer_id")), (Some(s), Some(i)) if records.contains(&(s, i)))
        })
        .collect();
    let n = of_erased.sum().unwrap_or(0) as u64;
    Ok((quarantine.filter(&!&of_erased).map_err(|e| Error::internal("erasure", e))?, n))
}
