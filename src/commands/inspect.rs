//! `portrait inspect`: a published day read back for a person — each table's schema and a
//! summary of its columns, or one customer's whole profile with the source records behind it
//! and why each segment, stage and tag rule fired (the rules come from the day's manifest).

use crate::config::{Closed, OutputTable};
use crate::day::Day;
use crate::error::{Error, Result};
use crate::store::Store;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

pub fn inspect(root: &Path, dt: Option<Day>, customer: Option<&str>, table: Option<&str>) -> Result<String> {
    let store = Store::new(root);
    let days = store.published_days();
    let day = match dt {
        Some(d) if days.contains(&d) => d,
        Some(d) => return Err(Error::MissingInput(format!("{d} is not published in {}", root.display()))),
        None => *days.last().ok_or_else(|| Error::MissingInput(format!("nothing is published in {}", root.display())))?,
    };
    match customer {
        Some(key) => customer_profile(&store, day, key),
        None => tables(&store, day, table),
    }
}

fn read(store: &Store, table: &str, day: Day) -> Result<DataFrame> {
    store.read_table(table, day)?.ok_or_else(|| Error::MissingInput(format!("no table `{table}` published for {day}")))
}

/// Every table (or one): rows, then per column its type, nulls, distinct values and range.
fn tables(store: &Store, day: Day, only: Option<&str>) -> Result<String> {
    let names: Vec<&str> = OutputTable::ALL.iter().map(|t| t.name()).filter(|n| only.is_none_or(|o| o == *n)).collect();
    if names.is_empty() {
        return Err(Error::Usage(format!("unknown table `{}`", only.unwrap_or_default())));
    }
    let mut out = format!("{} dt={day}\n", store.root.display());
    for name in names {
        let df = read(store, name, day)?;
        let _ = writeln!(out, "\n{name}: {} rows, {} columns", df.height(), df.width());
        let _ = writeln!(out, "  {:<32} {:<14} {:>8} {:>9}  range / most frequent", "column", "type", "nulls", "distinct");
        for c in df.columns() {
            let distinct = c.as_materialized_series().n_unique().map_or("-".to_string(), |n| n.to_string());
            let _ = writeln!(
                out,
                "  {:<32} {:<14} {:>8} {:>9}  {}",
                c.name().as_str(),
                format!("{:?}", c.dtype()),
                c.null_count(),
                distinct,
                summary(c)
            );
        }
    }
    Ok(out)
}

/// `min .. max` of numbers and dates, the most frequent value of text.
fn summary(c: &Column) -> String {
    let s = c.as_materialized_series();
    if c.dtype().is_primitive_numeric() || c.dtype().is_temporal() {
        let (min, max) = (s.min_reduce(), s.max_reduce());
        return match (min, max) {
            (Ok(min), Ok(max)) => format!("{} .. {}", show(&min.value().clone().into_static()), show(&max.value().clone().into_static())),
            _ => String::new(),
        };
    }
    if c.dtype() == &DataType::String {
        let top = s.str().ok().and_then(|ca| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            ca.iter().flatten().for_each(|v| *counts.entry(v).or_default() += 1);
            counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        });
        return top.map(|(v, n)| format!("{} ({n}x)", clip(v, 40))).unwrap_or_default();
    }
    String::new()
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A value as a person reads it: text without quotes, numbers without trailing zeros, lists joined.
fn show(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => "null".into(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(f) => trim(*f),
        AnyValue::Float32(f) => trim(*f as f64),
        AnyValue::List(s) => {
            let items: Vec<String> = s.iter().map(|v| show(&v)).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn trim(f: f64) -> String {
    let text = format!("{f:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

const GROUPS: &[(&str, &str)] = &[
    ("basic_", "basic attributes 基本属性"),
    ("power_", "purchasing power 购买能力"),
    ("behavior_", "behaviour 行为特征"),
    ("social_", "social activity 社交特征"),
    ("psych_", "psychology 心理特征"),
    ("rfm_", "RFM"),
    ("pred_", "predictions"),
    ("clv_", "predictions"),
    ("cluster", "persona"),
];

/// One customer's profile by dimension, the records merged into them, and the rules that fired.
fn customer_profile(store: &Store, day: Day, key: &str) -> Result<String> {
    let profiles = read(store, "profiles", day)?;
    let keys = profiles.column("customer_key").and_then(|c| c.str().cloned()).map_err(|e| Error::internal("profiles", e))?;
    let row = keys
        .iter()
        .position(|k| k == Some(key))
        .ok_or_else(|| Error::MissingInput(format!("customer_key `{key}` is not in profiles of {day}")))?;
    let value = |name: &str| profiles.column(name).ok().and_then(|c| c.get(row).ok()).map(|v| v.into_static());
    let mut out = format!("customer {key} (profiles dt={day})\n");

    let mut last_group = "";
    for c in profiles.columns() {
        let name = c.name().as_str();
        let group = GROUPS.iter().find(|(p, _)| name.starts_with(p)).map_or("segment, lifecycle, tags", |(_, g)| *g);
        if name == "customer_key" {
            continue;
        }
        if group != last_group {
            let _ = writeln!(out, "\n{group}");
            last_group = group;
        }
        let _ = writeln!(out, "  {:<32} {}", name, value(name).map_or_else(String::new, |v| show(&v)));
    }

    if let Some(map) = store.read_table("identity_map", day)? {
        let mask =
            map.column("customer_key").and_then(|c| c.str().map(|s| s.equal(key))).map_err(|e| Error::internal("identity_map", e))?;
        let records = map.filter(&mask).map_err(|e| Error::internal("identity_map", e))?;
        let _ = writeln!(out, "\nsource records ({})", records.height());
        for i in 0..records.height() {
            let get = |c: &str| records.column(c).ok().and_then(|c| c.get(i).ok()).map_or_else(String::new, |v| show(&v));
            let _ =
                writeln!(out, "  {}:{}  {} (score {})", get("source"), get("source_customer_id"), get("match_rule"), get("match_score"));
        }
    }

    let rules = store.manifest(day).map(|m| m.rules).unwrap_or_default();
    let names: Vec<&str> = profiles.get_column_names().into_iter().map(|n| n.as_str()).collect();
    let evidence = |when: &str| -> String {
        let used: Vec<String> = names
            .iter()
            .filter(|n| mentions(when, n))
            .map(|n| format!("{n} = {}", value(n).map_or_else(String::new, |v| show(&v))))
            .collect();
        if used.is_empty() {
            String::new()
        } else {
            format!("  [{}]", used.join(", "))
        }
    };
    let _ = writeln!(out, "\nwhy");
    let single = |column: &str, section: &str, out: &mut String| {
        let chosen = value(column).map(|v| show(&v)).unwrap_or_default();
        match rules.get(section).and_then(|r| r.iter().find(|r| r.name == chosen)) {
            Some(r) => {
                let _ = writeln!(out, "  {column} {} ({}): first rule that holds: {}{}", r.name, r.label, r.when, evidence(&r.when));
            }
            None => {
                let _ = writeln!(out, "  {column} {chosen}: no rule holds");
            }
        }
    };
    single("segment", "segments", &mut out);
    single("lifecycle_stage", "lifecycle", &mut out);
    let tags = match value("tags") {
        Some(AnyValue::List(s)) => s.str().map(|s| s.iter().flatten().map(str::to_string).collect()).unwrap_or_default(),
        _ => Vec::new(),
    };
    if tags.is_empty() {
        let _ = writeln!(out, "  tags: none of the {} tag rules holds", rules.get("tags").map_or(0, Vec::len));
    }
    for tag in tags {
        match rules.get("tags").and_then(|r| r.iter().find(|r| r.name == tag)) {
            Some(r) => {
                let _ = writeln!(out, "  tag {} ({}): {}{}", r.name, r.label, r.when, evidence(&r.when));
            }
            None => {
                let _ = writeln!(out, "  tag {tag}: its rule is not in the manifest");
            }
        }
    }
    Ok(out)
}

/// Whether a rule's SQL mentions a column as a whole word (`rfm_r` is not in `rfm_rank`).
fn mentions(sql: &str, column: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    sql.match_indices(column).any(|(i, _)| {
        let before = sql[..i].chars().next_back().is_none_or(|c| !word(c));
        let after = sql[i + column.len()..].chars().next().is_none_or(|c| !word(c));
        before && after
    })
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn a_column_is_mentioned_only_as_a_whole_word() {
        assert!(mentions("rfm_r >= 4 AND rfm_fm >= 4", "rfm_r"));
        assert!(mentions("rfm_r >= 4 AND rfm_fm >= 4", "rfm_fm"));
        assert!(!mentions("rfm_rank >= 4", "rfm_r"));
        assert!(!mentions("x_rfm_r > 1", "rfm_r"));
        assert!(mentions("(pred_p_alive < 0.3)", "pred_p_alive"));
    }
}
