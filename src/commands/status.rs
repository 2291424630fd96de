//! `portrait status`: what an output root holds — every published day with its row counts,
//! duration and gate results, and runs rejected by a gate.

use crate::error::{Error, Result};
use crate::store::Store;
use std::fmt::Write;
use std::path::Path;

pub fn status(root: &Path) -> Result<String> {
    if !root.is_dir() {
        return Err(Error::MissingInput(format!("output folder {} does not exist", root.display())));
    }
    let store = Store::new(root);
    let mut out = String::new();
    let days = store.published_days();
    let _ = writeln!(out, "{} published day(s) in {}", days.len(), root.display());
    if !days.is_empty() {
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>12} {:>9}  gates (pass/warn/fail)  run_id",
            "dt", "profiles", "tags", "input rows", "seconds"
        );
    }
    for day in days {
        let m = store.manifest(day)?;
        let input: u64 = m.accounting.values().map(|a| a.read).sum();
        let seconds: f64 = m.stage_seconds.values().sum();
        let count = |status: &str| m.gates.iter().filter(|g| g.status == status).count();
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>12} {:>9.1}  {}/{}/{}  {}",
            day.to_string(),
            m.output_rows("profiles").unwrap_or(0),
            m.output_rows("tags").unwrap_or(0),
            input,
            seconds,
            count("pass"),
            count("warn"),
            count("fail"),
            m.run_id
        );
    }
    let rejected = store.rejected_runs();
    if !rejected.is_empty() {
        let _ = writeln!(out, "{} run(s) rejected by a quality gate (reports under _rejected/):", rejected.len());
        for r in rejected {
            let _ = writeln!(out, "  {r}");
        }
    }
    Ok(out.trim_end().to_string())
}
