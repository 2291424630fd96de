//! `portrait status`: what an output root holds — every published day with its row counts,
//! duration and gate results, and runs rejected by a gate.

use crate::error::{Error, Result};
use std::fmt::Write;
use std::path::Path;

pub fn status(root: &Path) -> Result<String> {
    if !root.is_dir() {
        return Err(Error::MissingInput(format!("output folder {} does not exist", root.display())));
    }
    let mut out = String::new();
    let days = crate::run::published_days(root);
    let _ = writeln!(out, "{} published day(s) in {}", days.len(), root.display());
    if !days.is_empty() {
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>12} {:>9}  gates (pass/warn/fail)  run_id",
            "dt", "profiles", "tags", "input rows", "seconds"
        );
    }
    for day in &days {
        let path = root.join(format!("_manifest/dt={day}/_manifest.json"));
        let m: serde_json::Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| Error::input(path.display(), "unreadable manifest"))?;
        let rows = |t: &str| {
            m["outputs"].as_array().and_then(|o| o.iter().find(|e| e["table"] == t)).and_then(|e| e["rows"].as_u64()).unwrap_or(0)
        };
        let input: u64 = m["accounting"].as_object().map(|a| a.values().filter_map(|v| v["read"].as_u64()).sum()).unwrap_or(0);
        let seconds: f64 = m["stage_seconds"].as_object().map(|s| s.values().filter_map(|v| v.as_f64()).sum()).unwrap_or(0.0);
        let count = |status: &str| m["gates"].as_array().map(|g| g.iter().filter(|g| g["status"] == status).count()).unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>12} {:>9.1}  {}/{}/{}  {}",
            day.to_string(),
            rows("profiles"),
            rows("tags"),
            input,
            seconds,
            count("pass"),
            count("warn"),
            count("fail"),
            m["run_id"].as_str().unwrap_or("")
        );
    }
    if let Ok(entries) = std::fs::read_dir(root.join("_rejected")) {
        let mut rejected: Vec<String> = entries
            .filter_map(|e| e.ok())
            .flat_map(|d| {
                std::fs::read_dir(d.path()).into_iter().flatten().filter_map(|e| e.ok()).map(move |f| (d.file_name(), f.file_name()))
            })
            .map(|(dt, f)| format!("{} {}", dt.to_string_lossy(), f.to_string_lossy()))
            .collect();
        rejected.sort();
        if !rejected.is_empty() {
            let _ = writeln!(out, "{} run(s) rejected by a quality gate (reports under _rejected/):", rejected.len());
            for r in rejected {
                let _ = writeln!(out, "  {r}");
            }
        }
    }
    Ok(out.trim_end().to_string())
}
