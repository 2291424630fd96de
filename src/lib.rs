//! `portrait`: a nightly batch pipeline that builds customer profile tables (客户画像).
//! docs/design.md is the design; docs/inputs.md the input contract; the README and
//! docs/data_dictionary.md the outputs'.
//!
//! # Layers
//! Data flows one way down: a module uses only modules on a lower line than its own. This list
//! is the one statement of the order; `tests/integration/layers.rs` reads it and fails on a use
//! of a higher or equal line, or an import cycle between files.
//! 1. `cli`
//! 2. `commands`
//! 3. `report`
//! 4. `dictionary`, `pipeline`
//! 5. `outputs`
//! 6. `stages`
//! 7. `sample`, `store`
//! 8. `io`, `models`
//! 9. `config`
//! 10. `expr`
//! 11. `day`, `schema`, `progress`
//! 12. `error`

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
