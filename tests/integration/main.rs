//! One integration test binary (ripgrep's layout); each module tests one promise.

mod accounting;
mod analysts;
mod bad_input;
mod campaigns;
mod commands;
mod config_edit;
mod deliveries;
mod determinism;
mod exit_codes;
mod exports;
mod fixture;
mod identity;
mod incremental;
mod kill;
mod layers;
mod layouts;
mod models;
mod privacy;
mod readers;
mod recommend;
mod scale;
mod util;
mod warehouse;
