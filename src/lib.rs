//! `portrait`: a nightly batch pipeline that builds customer profile tables (客户画像).
//! Data flows one way down: `cli` -> `commands` -> `pipeline`, `outputs`, `report`,
//! `dictionary` -> `stages` -> `models` -> `store`, `io` -> `config`, `schema`, `day`, `expr`.
//! docs/inputs.md is the input contract; the README and docs/data_dictionary.md the outputs'.

pub mod cli;
pub mod commands;
pub mod config;
pub mod day;
pub mod dictionary;
pub mod error;
pub mod expr;
pub mod io;
pub mod models;
pub mod outputs;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod sample;
pub mod schema;
pub mod stages;
pub mod store;

pub use error::{Error, Result};
