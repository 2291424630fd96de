//! `portrait`: a nightly batch pipeline that builds customer profile tables (客户画像).
//! See DESIGN.md for the stages and the contract of every output.

pub mod cli;
pub mod config;
pub mod dictionary;
pub mod error;
pub mod inspect;
pub mod io;
pub mod models;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod run;
pub mod sample;
pub mod schema;
pub mod stages;
pub mod status;

pub use error::{Error, Result};
