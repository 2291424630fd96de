//! The data dictionary: every output table and column with its type, meaning, unit and
//! allowed values. Types come from the tables themselves, meanings from each table's module
//! in `outputs` (configured columns from the plan); it is published with every day and
//! `portrait docs` writes it without data. A test fails when a published column has no
//! entry, so it cannot drift from the code.

use crate::config::{Closed, OutputTable, Plan};
use crate::error::{Error, Result};
use crate::outputs;
use polars::prelude::Schema;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct ColumnDoc {
    pub name: String,
    pub dtype: String,
    pub meaning: String,
    pub unit: String,
    pub values: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableDoc {
    pub name: String,
    pub grain: &'static str,
    pub about: &'static str,
    pub columns: Vec<ColumnDoc>,
}

/// The dictionary of the pipeline's outputs, with each column's type from `schemas` (the
/// computed tables of a run, or the plan over empty inputs for `portrait docs`).
pub fn describe(plan: &Plan, schemas: &[(OutputTable, Schema)]) -> Result<Vec<TableDoc>> {
    let mut docs = Vec::new();
    for &table in OutputTable::ALL {
        let schema =
            schemas.iter().find(|(t, _)| *t == table).map(|(_, s)| s).ok_or_else(|| Error::Internal(format!("no schema for {table}")))?;
        let columns = schema
            .iter()
            .map(|(col, dtype)| {
                let (meaning, unit, values) = outputs::meaning(plan, table, col.as_str()).unwrap_or_default();
                let dtype = crate::io::parquet::published_dtype(dtype);
                ColumnDoc { name: col.to_string(), dtype: format!("{dtype:?}"), meaning, unit, values }
            })
            .collect();
        let doc = outputs::doc(table);
        docs.push(TableDoc { name: table.name().to_string(), grain: doc.grain, about: doc.about, columns });
    }
    Ok(docs)
}

/// The dictionary's file name, next to each day's report and under `portrait docs --out`.
pub const FILE_NAME: &str = "data_dictionary.md";

const TEMPLATE: &str = include_str!("../templates/data_dictionary.md");

/// The dictionary as Markdown.
pub fn markdown(plan: &Plan, docs: &[TableDoc]) -> Result<String> {
    let mut env = minijinja::Environment::new();
    // A `|` inside a cell would end it.
    env.add_filter("cell", |v: String| v.replace('|', "\\|"));
    env.add_template("dictionary", TEMPLATE).map_err(|e| Error::internal("dictionary template", e))?;
    let ctx = minijinja::context! {
        pipeline => plan.name,
        locale => plan.locale.name(),
        tables => docs,
    };
    env.get_template("dictionary").and_then(|t| t.render(ctx)).map_err(|e| Error::internal("dictionary template", e))
}
