//! `portrait erase`: apply the erasure requests to the days already published. A run leaves
//! erased people out of its own day; the days before it still hold them until this rewrites
//! every day that does, one day at a time, with a run's lock, staging, verification and
//! manifest (new sha256s and an `erasures` entry), so no copy `portrait` keeps holds them
//! afterwards. A day holding none of them is not touched: running it twice changes nothing.

use crate::config::{OutputTable, Plan};
use crate::day::Day;
use crate::error::{Error, Result};
use crate::io::{self, parquet::WriteOptions};
use crate::pipeline;
use crate::schema::Table;
use crate::stages::{erasure, ingest, privacy};
use crate::store::manifest::FileEntry;
use crate::store::Store;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Rewrite every published day that holds a person an erasure request names; a summary line.
pub fn erase(plan: &Plan) -> Result<String> {
    let started = chrono::Utc::now();
    let erase_id = crate::store::run_id(started);
    let store = Store::new(&plan.output_root);
    let _lock = store.lock(&started.to_rfc3339())?;
    let published = store.published_days();
    let Some(&newest) = published.last() else { return Ok(format!("nothing is published in {}", store.root.display())) };
    let named = named_records(plan, newest)?;
    let (mut days, mut persons) = (Vec::new(), 0);
    for day in published {
        if let Some(n) = erase_day(plan, &store, &erase_id, day, &named)? {
            days.push(day.to_string());
            persons += n;
        }
    }
    tracing::info!(erase_id = %erase_id, days = days.len(), "erasure applied to the published days");
    if named.height() > 0 && crate::store::state::remove(&store.root)? {
        // It holds the erased people's rows: the next run reads every file without them.
        tracing::info!("the state of incremental runs was removed: the next run is a full run");
    }
    Ok(match days.is_empty() {
        true => format!("no published day in {} holds a person the erasure requests name", store.root.display()),
        false => format!("erased {persons} person-days from {} published days ({})", days.len(), days.join(", ")),
    })
}

/// The records the requests in force on the newest published day name (`source`,
/// `source_customer_id`): by id, and — for requests that name a phone or an email by its hash
/// — the input's customer records that carry it. (A request dated later is applied by the
/// run of its day, then by the next `erase`.)
fn named_records(plan: &Plan, newest: Day) -> Result<DataFrame> {
    let source = |t: Table| plan.tables.iter().find(|s| s.table == t);
    let erasures = source(Table::Erasures).ok_or_else(|| {
        Error::MissingInput(format!("table erasures: no file or folder at {}", plan.input_root.join(Table::Erasures.name()).display()))
    })?;
    let copies = io::text::DecodedCopies::temporary();
    let requests = erasure::requests(&ingest::ingest(erasures, &plan.times(), &copies)?, Table::Erasures, newest)?;
    let mut named = requests.by_id()?;
    if requests.need_key() {
        let key = privacy::key(&plan.privacy)?;
        let customers = source(Table::Customers).ok_or_else(|| Error::Internal("customers are not configured".into()))?;
        let records = io::collect(pipeline::customers::records(&ingest::ingest(customers, &plan.times(), &copies)?))?;
        let by_hash = records.filter(&erasure::named(&records, &requests, Some(&key))?).map_err(|e| Error::internal("erasure", e))?;
        let by_hash = by_hash.select(["source", "source_customer_id"]).map_err(|e| Error::internal("erasure", e))?;
        named.vstack_mut(&by_hash).map_err(|e| Error::internal("erasure", e))?;
    }
    Ok(named)
}

/// Rewrite one day if it holds a person `named` resolves to in that day's identity map: every
/// part of every table with a `customer_key` (and quarantine's rows of their records) without
/// them. The number of people taken out, None when the day holds none.
fn erase_day(plan: &Plan, store: &Store, erase_id: &str, day: Day, named: &DataFrame) -> Result<Option<usize>> {
    let Some(map) = store.scan_table(OutputTable::IdentityMap.name(), day)? else { return Ok(None) };
    let on = || [col("source"), col("source_customer_id")];
    let keys = map
        .clone()
        .join(named.clone().lazy(), on(), on(), JoinArgs::new(JoinType::Semi))
        .select([col("customer_key")])
        .unique(None, UniqueKeepStrategy::First);
    let keys = io::collect(keys)?;
    if keys.height() == 0 {
        return Ok(None);
    }
    let by_key = || [col("customer_key")];
    let records = io::collect(map.join(keys.clone().lazy(), by_key(), by_key(), JoinArgs::new(JoinType::Semi)))?;
    let path = store.manifest_path(day);
    let text = std::fs::read(&path).map_err(|e| Error::input(path.display(), format!("unreadable manifest: {e}")))?;
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| Error::input(path.display(), format!("unreadable manifest: {e}")))?;
    let outputs: Vec<FileEntry> = serde_json::from_value(manifest["outputs"].clone())
        .map_err(|e| Error::input(path.display(), format!("unreadable manifest: {e}")))?;
    let opts = WriteOptions::of(&plan.output);
    let (mut rewritten, mut staged, mut removed) = (Vec::new(), Vec::new(), BTreeMap::new());
    let mut tables: Vec<&str> = outputs.iter().map(|e| e.table.as_str()).collect();
    tables.dedup();
    for table in tables {
        let parts: Vec<&FileEntry> = outputs.iter().filter(|e| e.table == table).collect();
        let mut new_parts = Vec::new();
        let mut gone = 0;
        for e in &parts {
            let df = io::parquet::read(&store.root.join(&e.path))?;
            let kept = if df.schema().contains("customer_key") {
                let mut kept = df.clone().lazy().join(keys.clone().lazy(), by_key(), by_key(), JoinArgs::new(JoinType::Anti));
                // identity_review: the other record of a pair may be theirs too.
                if df.schema().contains("other_customer_key") {
                    kept = kept.join(keys.clone().lazy(), [col("other_customer_key")], by_key(), JoinArgs::new(JoinType::Anti));
                }
                io::collect(kept)?
            } else if table == OutputTable::Quarantine.name() {
                erasure::without_erased(df.clone(), &records)?.0
            } else {
                df.clone()
            };
            gone += (df.height() - kept.height()) as u64;
            new_parts.push((part_number(&e.path), kept));
        }
        if gone == 0 {
            rewritten.extend(parts.into_iter().cloned());
            continue;
        }
        for (part, df) in new_parts {
            let entry = store.stage_part(erase_id, table, day, part, &df, opts)?;
            staged.push(entry.clone());
            rewritten.push(entry);
        }
        removed.insert(table.to_string(), gone);
    }
    manifest["outputs"] = serde_json::to_value(&rewritten).map_err(|e| Error::internal("manifest", e))?;
    let entry = serde_json::json!({"erase_id": erase_id, "persons": keys.height(), "records": records.height(), "rows_removed": removed});
    match manifest.get_mut("erasures").and_then(|e| e.as_array_mut()) {
        Some(list) => list.push(entry),
        None => manifest["erasures"] = serde_json::json!([entry]),
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::internal("manifest json", e))?;
    store.publish_staged(erase_id, day, &staged, &[], &json)?;
    tracing::info!(dt = %day, persons = keys.height(), rows = removed.values().sum::<u64>(), "day rewritten without the erased people");
    Ok(Some(keys.height()))
}

/// `NNNNN` of `…/part-<run_id>-NNNNN.parquet`.
fn part_number(path: &str) -> u32 {
    path.trim_end_matches(".parquet").rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}
