//! Every polars read, collect and write: scanning inputs, executing plans, Parquet files.
//! Stages build lazy plans; only this module executes them, so polars API changes stay here.

pub mod excel;
pub mod export;
pub mod parquet;
pub mod scan;
pub mod text;

use crate::error::{Error, Result};
use polars::prelude::*;

/// The file of an input error polars raised while executing a plan over many files (see
/// `pipeline::name_the_file`).
pub const UNKNOWN_FILE: &str = "(while reading inputs)";

/// Execute several plans together so shared sub-plans (cached scans) run once.
pub fn collect_all(plans: Vec<LazyFrame>) -> Result<Vec<DataFrame>> {
    if plans.is_empty() {
        return Ok(Vec::new());
    }
    // The in-memory engine: on these plans 0.55's streaming engine was slower and peaked
    // higher, because the shared sub-plans are cached either way.
    let opt = plans[0].get_current_optimizations();
    let dsl: Vec<DslPlan> = plans.into_iter().map(|lf| lf.logical_plan).collect();
    guarded(|| LazyFrame::collect_all_with_engine(dsl, Engine::InMemory, opt))
}

/// Execute several plans together on the streaming engine: small results of large scans
/// (counts, the few rejected rows) without holding the scanned rows.
pub fn collect_all_streaming(plans: Vec<LazyFrame>) -> Result<Vec<DataFrame>> {
    let Some(first) = plans.first() else { return Ok(Vec::new()) };
    let opt = first.get_current_optimizations();
    let dsl: Vec<DslPlan> = plans.into_iter().map(|lf| lf.logical_plan).collect();
    guarded(|| LazyFrame::collect_all_with_engine(dsl, Engine::Streaming, opt))
}

/// Execute one plan.
pub fn collect(lf: LazyFrame) -> Result<DataFrame> {
    guarded(|| lf.collect())
}

/// Run polars: a data error while executing (corrupt page, unparseable file) is an input
/// error; a panic inside polars or any other error is a bug, reported as one, not a crash.
fn guarded<T>(f: impl FnOnce() -> PolarsResult<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e @ (PolarsError::ComputeError(_) | PolarsError::IO { .. } | PolarsError::SchemaMismatch(_) | PolarsError::NoData(_)))) => {
            Err(Error::input(UNKNOWN_FILE, first_paragraph(&e.to_string())))
        }
        Ok(Err(e)) => Err(Error::internal("executing the plan", e)),
        Err(p) => {
            let text = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(Error::Internal(format!("polars panicked: {}", text.unwrap_or_default())))
        }
    }
}

/// Polars appends the whole query plan to its errors; users need the first paragraph.
fn first_paragraph(text: &str) -> String {
    text.split("\n\n").next().unwrap_or(text).trim().to_string()
}

/// The optimised plan as text, for `portrait explain`.
pub fn explain(lf: &LazyFrame) -> Result<String> {
    lf.explain(true).map_err(|e| Error::internal("explain", e))
}

/// Bytes of the files under `dir`, recursively (0 when it does not exist).
pub fn folder_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => folder_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
