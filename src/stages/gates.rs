//! Data-quality gates (Soda / dbt tests): checks from the config on the inputs' accounting
//! and the computed outputs, before anything is published. A failing `fail` gate stops the
//! publish (exit 1); `warn` gates are logged and recorded.

use crate::config::{Gate, GateCheck, GateTable, OutputTable, Severity};
use crate::day::Day;
use crate::schema::Table;
use crate::store::{Accounting, Published};
use chrono::NaiveDateTime;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// How a gate came out.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// The gate's input table is declared absent: nothing to check.
    Skipped,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GateResult {
    pub name: String,
    pub check: GateCheck,
    pub table: &'static str,
    pub column: Option<String>,
    pub severity: Severity,
    pub status: Status,
    pub observed: Option<f64>,
    pub max: Option<f64>,
    pub detail: String,
}

/// What the gates can see of this run and the previous published day.
pub struct Observed<'a> {
    pub as_of: Day,
    pub accounting: &'a BTreeMap<Table, Accounting>,
    pub outputs: &'a [(OutputTable, &'a DataFrame)],
    /// The previous published day's manifest.
    pub previous: Option<&'a Published>,
    /// Input tables the pipeline declares absent: their gates are skipped.
    pub absent: &'a [Table],
}

/// What a freshness gate says of a table whose every row was lost.
const NO_DATED_ROWS: &str = "cannot judge freshness";

/// Evaluate every gate. A gate whose table or column is absent fails (a config that names
/// what does not exist should not pass silently).
pub fn evaluate(gates: &[Gate], o: &Observed) -> Vec<GateResult> {
    gates.iter().map(|g| one(g, o)).collect()
}

fn one(g: &Gate, o: &Observed) -> GateResult {
    if matches!(g.table, GateTable::Input(t) if o.absent.contains(&t)) {
        let detail = format!("skipped: {} is declared absent", g.table.name());
        return result(g, Status::Skipped, None, detail);
    }
    let (observed, detail) = measure(g, o);
    let violated = match (observed, g.max) {
        (Some(v), Some(max)) => v > max,
        (Some(v), None) => v > 0.0, // unique_key, accepted_values: count of offending rows
        (None, _) => detail.starts_with("cannot"),
    };
    // A table without one dated row lost its data (every timestamp unparseable or implausible,
    // an empty extract): that fails whatever the gate's severity.
    let lost = g.check == GateCheck::Freshness && observed.is_none() && detail.starts_with(NO_DATED_ROWS);
    let status = match (violated, g.severity) {
        (false, _) => Status::Pass,
        (true, _) if lost => Status::Fail,
        (true, Severity::Warn) => Status::Warn,
        (true, Severity::Fail) => Status::Fail,
    };
    result(g, status, observed, detail)
}

fn result(g: &Gate, status: Status, observed: Option<f64>, detail: String) -> GateResult {
    GateResult {
        name: g.name.clone(),
        check: g.check,
        table: g.table.name(),
        column: g.column.clone(),
        severity: g.severity,
        status,
        observed,
        max: g.max,
        detail,
    }
}

fn measure(g: &Gate, o: &Observed) -> (Option<f64>, String) {
    let output = |t: OutputTable| o.outputs.iter().find(|(n, _)| *n == t).map(|(_, df)| *df);
    let column = || match g.table {
        GateTable::Output(t) => g.column.as_deref().and_then(|c| output(t)?.column(c).ok()),
        GateTable::Input(_) => None,
    };
    let missing_column = || (None, format!("cannot find column {}.{}", g.table.name(), g.column.as_deref().unwrap_or("?")));
    let input = match g.table {
        GateTable::Input(t) => o.accounting.get(&t),
        GateTable::Output(_) => None,
    };
    match g.check {
        GateCheck::RowCountChange => {
            let (now, before) = match (g.table, input) {
                (GateTable::Input(t), Some(a)) => (a.read, o.previous.and_then(|m| m.accounting.get(t.name()).map(|a| a.read))),
                (GateTable::Output(t), _) => match output(t) {
                    Some(df) => (df.height() as u64, o.previous.and_then(|m| m.output_rows(t.name()))),
                    None => return (None, format!("cannot find table {}", g.table.name())),
                },
                _ => return (None, format!("cannot find table {}", g.table.name())),
            };
            match before {
                None => (Some(0.0), format!("{now} rows; no previous published day to compare with")),
                Some(b) => {
                    let change = (now as f64 - b as f64).abs() / (b.max(1) as f64);
                    (Some(change), format!("{now} rows against {b} on the previous published day"))
                }
            }
        }
        GateCheck::NullShare => match column() {
            Some(c) => {
                let share = if c.is_empty() { 0.0 } else { c.null_count() as f64 / c.len() as f64 };
                (Some(share), format!("{} of {} null", c.null_count(), c.len()))
            }
            None => missing_column(),
        },
        GateCheck::DuplicateShare | GateCheck::QuarantineShare => match input {
            Some(a) if a.read < g.min_rows => (Some(0.0), format!("{} rows read, fewer than min_rows {}: not judged", a.read, g.min_rows)),
            Some(a) => {
                let (n, what) =
                    if g.check == GateCheck::DuplicateShare { (a.duplicate, "re-sent") } else { (a.quarantined, "quarantined") };
                (Some(n as f64 / a.read.max(1) as f64), format!("{n} {what} of {} read", a.read))
            }
            None => (None, format!("cannot find input table {}", g.table.name())),
        },
        GateCheck::InvalidShare => match (input, g.column.as_deref()) {
            (Some(a), Some(c)) if a.used < g.min_rows => {
                (Some(0.0), format!("{} rows used, fewer than min_rows {}: not judged ({c})", a.used, g.min_rows))
            }
            (Some(a), Some(c)) => {
                let n = [&a.invalid, &a.unparseable].iter().map(|counts| counts.get(c).copied().unwrap_or(0)).sum::<u64>();
                (
                    Some(n as f64 / a.used.max(1) as f64),
                    format!("{n} {c} values not usable (unparseable or invalid) of {} rows used", a.used),
                )
            }
            _ => (None, format!("cannot find input table {}", g.table.name())),
        },
        GateCheck::Freshness => match input.map(|a| a.newest.clone()) {
            Some(Some(ts)) => match parse_ts(&ts) {
                Some(t) => {
                    let days = (o.as_of.0 - t.date()).num_days() as f64;
                    (Some(days), format!("newest row {ts}, {days} days before as-of {}", o.as_of))
                }
                None => (None, format!("cannot read the newest timestamp {ts}")),
            },
            Some(None) => (None, format!("{NO_DATED_ROWS}: {} has no dated rows up to as-of", g.table.name())),
            None => (None, format!("cannot find input table {}", g.table.name())),
        },
        GateCheck::UniqueKey => match column() {
            Some(c) => {
                // n_unique counts null as one value: repeated keys = non-null rows - distinct non-null.
                let nulls = c.null_count();
                let distinct = c.n_unique().unwrap_or(0) - usize::from(nulls > 0);
                let bad = nulls + (c.len() - nulls).saturating_sub(distinct);
                (Some(bad as f64), format!("{} nulls, {} distinct of {}", c.null_count(), distinct, c.len()))
            }
            None => missing_column(),
        },
        GateCheck::AcceptedValues => match column().and_then(|c| c.cast(&DataType::String).ok()) {
            Some(c) => {
                let values = c.str().map(|s| s.iter().flatten().filter(|v| !g.values.iter().any(|a| a == v)).count()).unwrap_or(0);
                (Some(values as f64), format!("{values} values outside {:?}", g.values))
            }
            None => missing_column(),
        },
    }
}

fn parse_ts(s: &str) -> Option<NaiveDateTime> {
    let s = s.get(..19).unwrap_or(s);
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(check: GateCheck, table: GateTable, column: Option<&str>, max: Option<f64>) -> Gate {
        Gate {
            name: String::new(),
            check,
            table,
            column: column.map(Into::into),
            max,
            values: vec![],
            min_rows: 0,
            severity: Severity::Fail,
        }
    }

    #[test]
    fn gates_by_hand() {
        use GateCheck::*;
        let (orders, profiles_t) = (GateTable::Input(Table::Orders), GateTable::Output(OutputTable::Profiles));
        let profiles = df!("customer_key" => [Some("a"), Some("a"), None, Some("b")], "stage" => ["new", "new", "odd", "lost"]).unwrap();
        let outputs = [(OutputTable::Profiles, &profiles)];
        let mut accounting = BTreeMap::new();
        accounting.insert(
            Table::Orders,
            Accounting { read: 150, duplicate: 30, used: 120, newest: Some("2026-11-19 08:00:00.000000".into()), ..Default::default() },
        );
        let previous: Published = serde_json::from_value(serde_json::json!({
            "accounting": {"orders": {"read": 100, "used": 100, "duplicate": 0, "quarantined": 0, "after_as_of": 0}},
            "outputs": [{"table": "profiles", "path": "p", "rows": 4, "bytes": 1, "sha256": ""}]
        }))
        .unwrap();
        let o = Observed {
            as_of: Day::parse("2026-11-22").unwrap(),
            accounting: &accounting,
            outputs: &outputs,
            previous: Some(&previous),
            absent: &[],
        };
        let r = |g: Gate| one(&g, &o);
        // 150 read against 100: +50 %.
        assert_eq!(r(gate(RowCountChange, orders, None, Some(0.4))).observed, Some(0.5));
        assert_eq!(r(gate(RowCountChange, orders, None, Some(0.4))).status, Status::Fail);
        assert_eq!(r(gate(RowCountChange, profiles_t, None, Some(0.0))).status, Status::Pass, "4 rows as before");
        assert_eq!(r(gate(NullShare, profiles_t, Some("customer_key"), Some(0.2))).observed, Some(0.25));
        assert_eq!(r(gate(DuplicateShare, orders, None, Some(0.1))).observed, Some(0.2));
        // No quarantined row of 150; with min_rows above 150 the share is not judged.
        assert_eq!(r(gate(QuarantineShare, orders, None, Some(0.05))).observed, Some(0.0));
        let mut few = gate(DuplicateShare, orders, None, Some(0.1));
        few.min_rows = 1000;
        assert_eq!(r(few).status, Status::Pass, "150 rows are too few to judge");
        // Every row lost: freshness cannot be judged, and that fails even a warning gate.
        let mut lost = accounting.clone();
        lost.insert(Table::Events, Accounting { read: 10, quarantined: 10, ..Default::default() });
        let o2 = Observed { accounting: &lost, ..o };
        let mut fresh = gate(Freshness, GateTable::Input(Table::Events), None, Some(7.0));
        fresh.severity = Severity::Warn;
        assert_eq!(one(&fresh, &o2).status, Status::Fail);
        assert_eq!(r(gate(Freshness, orders, None, Some(2.0))).observed, Some(3.0), "2026-11-19 to 11-22");
        // One null and one repeated key: 2 offending rows.
        assert_eq!(r(gate(UniqueKey, profiles_t, Some("customer_key"), None)).observed, Some(2.0));
        let mut accepted = gate(AcceptedValues, profiles_t, Some("stage"), None);
        accepted.values = vec!["new".into(), "lost".into()];
        assert_eq!(r(accepted.clone()).observed, Some(1.0));
        accepted.severity = Severity::Warn;
        assert_eq!(r(accepted).status, Status::Warn);
        assert_eq!(r(gate(NullShare, profiles_t, Some("nope"), Some(0.0))).status, Status::Fail, "a missing column fails");
    }
}
