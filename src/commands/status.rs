//! `portrait status`: what an output root holds — every published day with its row counts,
//! duration and gate results, runs rejected by a gate, and the state incremental runs carry
//! (with a pipeline: whether its next run will be incremental or full, and why).

use crate::config::Plan;
use crate::error::{Error, Result};
use crate::pipeline::incremental::{self, Start};
use crate::store::state::State;
use crate::store::Store;
use std::fmt::Write;
use std::path::Path;

pub fn status(root: &Path, next: Option<&Plan>) -> Result<String> {
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
    match State::read(root) {
        Some(state) => {
            let files: usize = state.tables.values().map(|t| t.files.len()).sum();
            let people = crate::day::Day::parse(&state.as_of).and_then(|d| store.manifest(d).ok()?.output_rows("profiles"));
            let _ = writeln!(
                out,
                "state for incremental runs: as-of {}, {files} input files read, {} people, {} buckets, {:.1} MiB (holds personal data), left by run {}",
                state.as_of,
                people.map_or("?".to_string(), |p| p.to_string()),
                state.buckets,
                State::bytes(root) as f64 / (1 << 20) as f64,
                state.run_id
            );
        }
        None => {
            let _ = writeln!(out, "no state for incremental runs");
        }
    }
    if let Some(plan) = next {
        let _ = match incremental::next_start(plan, root) {
            Start::Incremental(_) => {
                writeln!(out, "next run: incremental (unless its erasure requests changed or the data outgrew the buckets)")
            }
            Start::Full { reason } => writeln!(out, "next run: full, because {reason}"),
        };
    }
    Ok(out.trim_end().to_string())
}
