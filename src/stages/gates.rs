//! Data-quality gates (Soda / dbt tests): checks from the config on the inputs' accounting
//! and the computed outputs, before anything is published. A failing `fail` gate stops the
//! publish (exit 1); `warn` gates are logged and recorded.

use crate::config::spec::GateSpec;
use crate::stages::write::Accounting;
use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

pub const CHECKS: &[&str] = &["row_count_change", "null_share", "duplicate_share", "freshness", "unique_key", "accepted_values"];

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GateResult {
    pub name: String,
    pub check: String,
    pub table: String,
    pub column: Option<String>,
    pub severity: String,
    /// `pass`, `warn` or `fail`.
    pub status: String,
    pub observed: Option<f64>,
    pub max: Option<f64>,
    pub detail: String,
}

/// What the gates can see of this run and the previous published day.
pub struct Observed<'a> {
    pub as_of: NaiveDate,
    pub accounting: &'a BTreeMap<String, Accounting>,
    pub outputs: &'a [(&'a str, DataFrame)],
    /// The previous published day's manifest.
    pub previous: Option<&'a serde_json::Value>,
}

pub fn gate_name(g: &GateSpec) -> String {
    g.name.clone().unwrap_or_else(|| match &g.column {
        Some(c) => format!("{}_{}_{}", g.check, g.table, c),
        None => format!("{}_{}", g.check, g.table),
    })
}

/// Evaluate every gate. A gate whose table or column is absent fails (a config that names
/// what does not exist should not pass silently).
pub fn evaluate(gates: &[GateSpec], o: &Observed) -> Vec<GateResult> {
    gates.iter().map(|g| one(g, o)).collect()
}

fn one(g: &GateSpec, o: &Observed) -> GateResult {
    let (observed, detail) = measure(g, o);
    let violated = match (observed, g.max) {
        (Some(v), Some(max)) => v > max,
        (Some(v), None) => v > 0.0, // unique_key, accepted_values: count of offending rows
        (None, _) => detail.starts_with("cannot"),
    };
    let status = if !violated {
        "pass"
    } else if g.severity == "warn" {
        "warn"
    } else {
        "fail"
    };
    GateResult {
        name: gate_name(g),
        check: g.check.clone(),
        table: g.table.clone(),
        column: g.column.clone(),
        severity: g.severity.clone(),
        status: status.to_string(),
        observed,
        max: g.max,
        detail,
    }
}

fn output<'a>(o: &'a Observed, table: &str) -> Option<&'a DataFrame> {
    o.outputs.iter().find(|(n, _)| *n == table).map(|(_, df)| df)
}

fn measure(g: &GateSpec, o: &Observed) -> (Option<f64>, String) {
    let column = || g.column.as_deref().and_then(|c| output(o, &g.table).and_then(|df| df.column(c).ok()));
    match g.check.as_str() {
        "row_count_change" => {
            let (now, before) = if let Some(a) = o.accounting.get(&g.table) {
                let prev = o.previous.and_then(|m| m["accounting"][&g.table]["read"].as_u64());
                (a.read, prev)
            } else if let Some(df) = output(o, &g.table) {
                let prev = o.previous.and_then(|m| {
                    m["outputs"].as_array()?.iter().find(|e| e["table"] == g.table.as_str()).and_then(|e| e["rows"].as_u64())
                });
                (df.height() as u64, prev)
            } else {
                return (None, format!("cannot find table {}", g.table));
            };
            match before {
                None => (Some(0.0), format!("{now} rows; no previous published day to compare with")),
                Some(b) => {
                    let change = (now as f64 - b as f64).abs() / (b.max(1) as f64);
                    (Some(change), format!("{now} rows against {b} on the previous published day"))
                }
            }
        }
        "null_share" => match column() {
            Some(c) => {
                let share = if c.is_empty() { 0.0 } else { c.null_count() as f64 / c.len() as f64 };
                (Some(share), format!("{} of {} null", c.null_count(), c.len()))
            }
            None => (None, format!("cannot find column {}.{}", g.table, g.column.as_deref().unwrap_or("?"))),
        },
        "duplicate_share" => match o.accounting.get(&g.table) {
            Some(a) => (Some(a.duplicate as f64 / a.read.max(1) as f64), format!("{} re-sent of {} read", a.duplicate, a.read)),
            None => (None, format!("cannot find input table {}", g.table)),
        },
        "freshness" => match o.accounting.get(&g.table).map(|a| a.newest.clone()) {
            Some(Some(ts)) => match parse_ts(&ts) {
                Some(t) => {
                    let days = (o.as_of - t.date()).num_days() as f64;
                    (Some(days), format!("newest row {ts}, {days} days before as-of {}", o.as_of))
                }
                None => (None, format!("cannot read the newest timestamp {ts}")),
            },
            Some(None) => (None, format!("cannot judge freshness: {} has no dated rows up to as-of", g.table)),
            None => (None, format!("cannot find input table {}", g.table)),
        },
        "unique_key" => match column() {
            Some(c) => {
                // n_unique counts null as one value: repeated keys = non-null rows - distinct non-null.
                let nulls = c.null_count();
                let distinct = c.n_unique().unwrap_or(0) - usize::from(nulls > 0);
                let bad = nulls + (c.len() - nulls).saturating_sub(distinct);
                (Some(bad as f64), format!("{} nulls, {} distinct of {}", c.null_count(), distinct, c.len()))
            }
            None => (None, format!("cannot find column {}.{}", g.table, g.column.as_deref().unwrap_or("?"))),
        },
        "accepted_values" => match column().and_then(|c| c.cast(&DataType::String).ok()) {
            Some(c) => {
                let values = c.str().map(|s| s.iter().flatten().filter(|v| !g.values.iter().any(|a| a == v)).count()).unwrap_or(0);
                (Some(values as f64), format!("{values} values outside {:?}", g.values))
            }
            None => (None, format!("cannot find column {}.{}", g.table, g.column.as_deref().unwrap_or("?"))),
        },
        other => (None, format!("cannot evaluate unknown check {other}")),
    }
}

fn parse_ts(s: &str) -> Option<NaiveDateTime> {
    let s = s.get(..19).unwrap_or(s);
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(check: &str, table: &str, column: Option<&str>, max: Option<f64>) -> GateSpec {
        GateSpec {
            name: None,
            check: check.into(),
            table: table.into(),
            column: column.map(Into::into),
            max,
            values: vec![],
            severity: "fail".into(),
        }
    }

    #[test]
    fn gates_by_hand() {
        let profiles = df!("customer_key" => [Some("a"), Some("a"), None, Some("b")], "stage" => ["new", "new", "odd", "lost"]).unwrap();
        let outputs = [("profiles", profiles)];
        let mut accounting = BTreeMap::new();
        accounting.insert(
            "orders".to_string(),
            Accounting { read: 150, duplicate: 30, used: 120, newest: Some("2026-11-19 08:00:00.000000".into()), ..Default::default() },
        );
        let previous = serde_json::json!({"accounting": {"orders": {"read": 100}}, "outputs": [{"table": "profiles", "rows": 4}]});
        let o = Observed {
            as_of: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            accounting: &accounting,
            outputs: &outputs,
            previous: Some(&previous),
        };
        let r = |g: GateSpec| one(&g, &o);
        // 150 read against 100: +50 %.
        assert_eq!(r(gate("row_count_change", "orders", None, Some(0.4))).observed, Some(0.5));
        assert_eq!(r(gate("row_count_change", "orders", None, Some(0.4))).status, "fail");
        assert_eq!(r(gate("row_count_change", "profiles", None, Some(0.0))).status, "pass", "4 rows as before");
        assert_eq!(r(gate("null_share", "profiles", Some("customer_key"), Some(0.2))).observed, Some(0.25));
        assert_eq!(r(gate("duplicate_share", "orders", None, Some(0.1))).observed, Some(0.2));
        assert_eq!(r(gate("freshness", "orders", None, Some(2.0))).observed, Some(3.0), "2026-11-19 to 11-22");
        // One null and one repeated key: 2 offending rows.
        assert_eq!(r(gate("unique_key", "profiles", Some("customer_key"), None)).observed, Some(2.0));
        let mut accepted = gate("accepted_values", "profiles", Some("stage"), None);
        accepted.values = vec!["new".into(), "lost".into()];
        assert_eq!(r(accepted.clone()).observed, Some(1.0));
        accepted.severity = "warn".into();
        assert_eq!(r(accepted).status, "warn");
        assert_eq!(r(gate("null_share", "profiles", Some("nope"), Some(0.0))).status, "fail", "a missing column fails");
    }
}
