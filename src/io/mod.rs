//! All file I/O: scanning inputs, collecting lazy plans, writing Parquet, publishing.
//! Stages build lazy plans; only this module executes them, so polars API changes stay here.

pub mod parquet;
pub mod publish;
pub mod scan;

use crate::error::{Error, Result};
use polars::prelude::*;

/// Execute several plans together so shared sub-plans (cached scans) run once.
pub fn collect_all(plans: Vec<LazyFrame>) -> std::result::Result<Vec<DataFrame>, PolarsError> {
    if plans.is_empty() {
        return Ok(Vec::new());
    }
    let opt = plans[0].get_current_optimizations();
    let dsl: Vec<DslPlan> = plans.into_iter().map(|lf| lf.logical_plan).collect();
    LazyFrame::collect_all_with_engine(dsl, Engine::InMemory, opt)
}

/// Execute one plan.
pub fn collect(lf: LazyFrame, what: &str) -> Result<DataFrame> {
    lf.collect().map_err(|e| Error::internal(what, e))
}

/// The optimised plan as text, for `portrait explain`.
pub fn explain(lf: &LazyFrame) -> Result<String> {
    lf.explain(true).map_err(|e| Error::internal("explain", e))
}
