//! The command line: what the user typed. `dispatch` turns it into library calls.

use crate::config::Overrides;
use crate::error::Result;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "portrait", version, about = "Nightly customer profile (客户画像) pipeline")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: human lines on a terminal, JSON lines otherwise (auto), or forced.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline for one day and publish its outputs.
    Run {
        #[arg(long)]
        pipeline: PathBuf,
        /// Logical date of the run (YYYY-MM-DD); default: the pipeline's `as_of`, else yesterday (UTC).
        #[arg(long, value_parser = parse_date, conflicts_with_all = ["from", "to"])]
        as_of: Option<NaiveDate>,
        /// Backfill: run every day from this date to `--to`, in order; published days are
        /// skipped unless `--force`; the first failure stops the backfill with its exit code.
        #[arg(long, value_parser = parse_date, requires = "to")]
        from: Option<NaiveDate>,
        #[arg(long, value_parser = parse_date, requires = "from")]
        to: Option<NaiveDate>,
        /// With `--from`/`--to`: also re-run days that are already published.
        #[arg(long, requires = "from")]
        force: bool,
        /// Input root (one folder per table); overrides the pipeline's `input`.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output root; overrides the pipeline's `output`.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List the published days of an output root: row counts, durations, gate results.
    Status {
        #[arg(long)]
        output: PathBuf,
    },
    /// Check a pipeline config completely without reading data; lists every problem.
    Validate {
        #[arg(long)]
        pipeline: PathBuf,
    },
    /// Print the stages and the optimised plan of every output.
    Explain {
        #[arg(long)]
        pipeline: PathBuf,
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Fit BG/NBD, Gamma-Gamma and CLV on any purchase history (canonical orders, CSV or
    /// Parquet) and write params.json and customers.parquet.
    Models {
        #[arg(long)]
        orders: PathBuf,
        /// Last day of the calibration (fitting) period.
        #[arg(long, value_parser = parse_date)]
        calibration_end: NaiveDate,
        /// Last day of a holdout period to compare predictions with.
        #[arg(long, value_parser = parse_date)]
        holdout_end: Option<NaiveDate>,
        #[arg(long, value_enum, default_value_t = Unit::Week)]
        unit: Unit,
        /// Prediction horizon in units; default the holdout's length, else one year.
        #[arg(long)]
        horizon: Option<f64>,
        /// Annual discount rate of the CLV.
        #[arg(long, default_value_t = 0.10)]
        discount_rate: f64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Resolve identities in one customers file (canonical schema, CSV or Parquet) with the
    /// nightly run's code and score them against a truth file; prints one JSON object.
    IdentityEval {
        #[arg(long)]
        customers: PathBuf,
        /// CSV `source,source_customer_id,entity_id`.
        #[arg(long)]
        truth: PathBuf,
        /// Take the `[identity]` settings from this pipeline (default: the built-in defaults).
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Also write every record's cluster, rule and score to this CSV.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the data dictionary of a pipeline's outputs (every table and column with type,
    /// meaning, unit and allowed values) as `data_dictionary.md` in DIR.
    Docs {
        #[arg(long)]
        pipeline: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a published day's tables (schema and summary), or one customer's whole profile
    /// with why each tag fired.
    Inspect {
        /// The output root a pipeline publishes into.
        output: PathBuf,
        /// Published day (default: the newest).
        #[arg(long, value_parser = parse_date)]
        dt: Option<NaiveDate>,
        /// A `customer_key`: print this customer's profile instead of the tables.
        #[arg(long)]
        customer: Option<String>,
        /// Only this table (default: all).
        #[arg(long, conflicts_with = "customer")]
        table: Option<String>,
    },
    /// Generate realistic, messy input data (and its ground truth) at a scale factor.
    Sample {
        /// Scale factor: 1 = 100,000 people (SCHEMA.md).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// Last day of generated history.
        #[arg(long, value_parser = parse_date, default_value = "2026-11-22")]
        as_of: NaiveDate,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    Day,
    Week,
}

fn parse_date(s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a date YYYY-MM-DD"))
}

/// Execute a parsed command line; the returned message is printed on success.
pub fn dispatch(command: Command) -> Result<String> {
    match command {
        Command::Run { pipeline, from: Some(from), to: Some(to), force, input, output, .. } => {
            if to < from {
                return Err(crate::error::Error::Usage("--to must not be before --from".into()));
            }
            let (mut published, mut skipped) = (0, 0);
            for day in from.iter_days().take_while(|d| *d <= to) {
                let plan = crate::run::validate(&pipeline, &Overrides { input: input.clone(), output: output.clone(), as_of: Some(day) })?;
                if !force && crate::run::is_published(&plan.output_root, day) {
                    tracing::info!(as_of = %day, "already published: skipped (use --force to re-run)");
                    skipped += 1;
                    continue;
                }
                crate::run::run(&plan)?;
                published += 1;
            }
            Ok(format!("backfill {from}..{to}: published {published} days, skipped {skipped} already published"))
        }
        Command::Run { pipeline, as_of, input, output, .. } => {
            let plan = crate::run::validate(&pipeline, &Overrides { input, output, as_of })?;
            let m = crate::run::run(&plan)?;
            let rows: Vec<String> = m.outputs.iter().map(|o| format!("{}={}", o.table, o.rows)).collect();
            Ok(format!("published dt={} to {} ({})", m.as_of, plan.output_root.display(), rows.join(", ")))
        }
        Command::Status { output } => crate::status::status(&output),
        Command::Validate { pipeline } => {
            let plan = crate::run::validate(&pipeline, &Overrides::default())?;
            Ok(format!(
                "{} is valid: {} features, {} segments, {} lifecycle stages, {} tags",
                pipeline.display(),
                plan.features.len(),
                plan.segments.len(),
                plan.lifecycle.len(),
                plan.tags.len()
            ))
        }
        Command::Explain { pipeline, input } => {
            let plan = crate::run::validate(&pipeline, &Overrides { input, ..Default::default() })?;
            crate::run::explain(&plan)
        }
        Command::Models { orders, calibration_end, holdout_end, unit, horizon, discount_rate, out } => {
            let unit_days = if unit == Unit::Week { 7.0 } else { 1.0 };
            let o = crate::models::command::Options {
                orders,
                calibration_end,
                holdout_end,
                unit_days,
                horizon,
                annual_discount_rate: discount_rate,
                out: out.clone(),
            };
            let p = crate::models::command::run(&o)?;
            let bg = p.report.bgnbd.as_ref().map_or("not fitted".to_string(), |f| {
                format!(
                    "r={:.4} alpha={:.4} a={:.4} b={:.4} LL={:.2}",
                    f.params.r, f.params.alpha, f.params.a, f.params.b, f.log_likelihood
                )
            });
            Ok(format!("{} customers; BG/NBD {bg}; wrote {}", p.report.customers, out.display()))
        }
        Command::IdentityEval { customers, truth, pipeline, out } => {
            let spec = match pipeline {
                Some(p) => crate::run::validate(&p, &Overrides::default())?.spec.identity,
                None => Default::default(),
            };
            let report = crate::stages::identity::eval::run(&customers, &truth, &spec, out.as_deref())?;
            serde_json::to_string(&report).map_err(|e| crate::error::Error::internal("report", e))
        }
        Command::Docs { pipeline, out } => {
            let plan = crate::run::validate(&pipeline, &Overrides::default())?;
            let docs = crate::dictionary::describe(&plan)?;
            let path = out.join(crate::dictionary::FILE_NAME);
            crate::io::publish::mkdirs(&out)?;
            std::fs::write(&path, crate::dictionary::markdown(&plan, &docs)?).map_err(|e| crate::error::Error::io(&path, e))?;
            Ok(format!("wrote {} ({} tables, {} columns)", path.display(), docs.len(), docs.iter().map(|t| t.columns.len()).sum::<usize>()))
        }
        Command::Inspect { output, dt, customer, table } => crate::inspect::inspect(&output, dt, customer.as_deref(), table.as_deref()),
        Command::Sample { scale, seed, out, as_of } => {
            if !(scale > 0.0) {
                return Err(crate::error::Error::Usage("--scale must be positive".into()));
            }
            let s = crate::sample::generate(&crate::sample::Options { scale, seed, as_of }, &out)?;
            Ok(format!("wrote {s} to {}", out.display()))
        }
    }
}
