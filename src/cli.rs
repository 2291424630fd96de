//! The command line: what the user typed. `dispatch` hands it to `commands`.

use crate::config::Overrides;
use crate::day::Day;
use crate::error::Result;
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
        as_of: Option<Day>,
        /// Backfill: run every day from this date to `--to`, in order; published days are
        /// skipped unless `--force`; the first failure stops the backfill with its exit code.
        #[arg(long, value_parser = parse_date, requires = "to")]
        from: Option<Day>,
        #[arg(long, value_parser = parse_date, requires = "from")]
        to: Option<Day>,
        /// With `--from`/`--to`: also re-run days that are already published.
        #[arg(long, requires = "from")]
        force: bool,
        /// Input root (one folder per table); overrides the pipeline's `input`.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output root; overrides the pipeline's `output`.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Peak memory to stay under, e.g. `8GB`; overrides `[run] memory_limit` (default: half
        /// of the machine's memory).
        #[arg(long)]
        memory_limit: Option<String>,
        /// Read every input file again and start a new state, whatever state the last run
        /// left (default: only the files delivered since, when the state is usable).
        #[arg(long)]
        full: bool,
    },
    /// Apply the erasure requests (the input table `erasures`) to every published day that
    /// still holds a person they name: each such day is rewritten without them, atomically.
    Erase {
        /// The output root whose days are rewritten.
        #[arg(long)]
        output: PathBuf,
        /// The pipeline whose input holds the requests (default: the one that published the
        /// newest day, as its manifest names it).
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Input root; overrides the pipeline's `input`.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// List the published days of an output root: row counts, durations, gate results; and
    /// the state incremental runs carry: its day, files, people and bytes.
    Status {
        #[arg(long)]
        output: PathBuf,
        /// Also say whether the next run of this pipeline will be incremental or full, and why.
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Input root of that run; overrides the pipeline's `input`.
        #[arg(long, requires = "pipeline")]
        input: Option<PathBuf>,
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
        calibration_end: Day,
        /// Last day of a holdout period to compare predictions with.
        #[arg(long, value_parser = parse_date)]
        holdout_end: Option<Day>,
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
        /// Also write the identifiable true pairs it did not join, with their comparison
        /// levels and match probability, to this CSV.
        #[arg(long)]
        missed: Option<PathBuf>,
    },
    /// Backtest the recommendations on canonical orders and order lines (CSV or Parquet): the
    /// last `--test-days` days are the test window; prints one JSON object with the chosen
    /// method's and the baselines' HitRate, Recall and NDCG at `--top` and category HitRate@5.
    RecommendEval {
        #[arg(long)]
        orders: PathBuf,
        #[arg(long)]
        items: PathBuf,
        #[arg(long, default_value_t = 28)]
        test_days: u32,
        #[arg(long, default_value_t = 10)]
        top: usize,
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
        dt: Option<Day>,
        /// A `customer_key`: print this customer's profile instead of the tables.
        #[arg(long)]
        customer: Option<String>,
        /// Only this table (default: all).
        #[arg(long, conflicts_with = "customer")]
        table: Option<String>,
    },
    /// Generate realistic, messy input data (and its ground truth) at a scale factor.
    Sample {
        /// Scale factor: 1 = 100,000 people (docs/inputs.md).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// Last day of generated history.
        #[arg(long, value_parser = parse_date, default_value = "2026-11-22")]
        as_of: Day,
        /// Share of a Chinese-named person's further records written in another script
        /// (traditional characters at stores, pinyin elsewhere); 0 switches it off.
        #[arg(long, default_value_t = 0.2)]
        name_variants: f64,
        /// Deliver the last N days day by day, as a company does: the history before them as
        /// one initial load, then one `dt=YYYY-MM-DD` folder per table and day, two
        /// deliveries a day, with late rows, re-sent orders and new customer records.
        #[arg(long, default_value_t = 0)]
        deliveries: u32,
    },
    /// For generated data: the treatment groups of a published day's campaigns answer — each
    /// buys once more with probability UPLIFT within the campaign's response window (orders
    /// written to <input>/orders/responses-<day>.parquet).
    SampleResponses {
        #[arg(long)]
        pipeline: PathBuf,
        /// The published day whose audiences answer.
        #[arg(long, value_parser = parse_date)]
        as_of: Day,
        #[arg(long, default_value_t = 0.3)]
        uplift: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Input root; overrides the pipeline's `input`.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output root; overrides the pipeline's `output`.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    Day,
    Week,
}

fn parse_date(s: &str) -> std::result::Result<Day, String> {
    Day::parse(s).ok_or_else(|| format!("`{s}` is not a date YYYY-MM-DD"))
}

/// Execute a parsed command line; the returned message is printed on success.
pub fn dispatch(command: Command) -> Result<String> {
    use crate::commands::{self, validate::validate};
    match command {
        Command::Run { pipeline, from: Some(from), to: Some(to), force, input, output, memory_limit, full, .. } => {
            commands::run::backfill(&pipeline, from, to, force, Overrides { input, output, as_of: None, memory_limit, full })
        }
        Command::Run { pipeline, as_of, input, output, memory_limit, full, .. } => {
            let plan = validate(&pipeline, &Overrides { input, output, as_of, memory_limit, full })?;
            let m = commands::run::run(&plan)?;
            let mut tables: Vec<&str> = m.outputs.iter().map(|o| o.table.as_str()).collect();
            tables.dedup(); // a table written by bucket has several parts
            let rows: Vec<String> =
                tables.iter().map(|t| format!("{t}={}", m.outputs.iter().filter(|o| o.table == *t).map(|o| o.rows).sum::<u64>())).collect();
            Ok(format!("published dt={} to {} ({})", m.as_of, plan.output_root.display(), rows.join(", ")))
        }
        Command::Erase { output, pipeline, input } => {
            let pipeline = match pipeline {
                Some(p) => p,
                None => crate::store::Store::new(&output).newest_pipeline().ok_or_else(|| {
                    crate::error::Error::Usage(format!("no published day in {} names its pipeline: give --pipeline", output.display()))
                })?,
            };
            commands::erase::erase(&validate(&pipeline, &Overrides { input, output: Some(output), ..Default::default() })?)
        }
        Command::Status { output, pipeline, input } => {
            let plan = match pipeline {
                Some(p) => Some(validate(&p, &Overrides { input, output: Some(output.clone()), ..Default::default() })?),
                None => None,
            };
            commands::status::status(&output, plan.as_ref())
        }
        Command::Validate { pipeline } => {
            let plan = validate(&pipeline, &Overrides::default())?;
            Ok(format!(
                "{} is valid: {} features, {} segments, {} lifecycle stages, {} tags, {} campaigns",
                pipeline.display(),
                plan.features.len(),
                plan.segments.len(),
                plan.lifecycle.len(),
                plan.tags.len(),
                plan.campaigns.len()
            ))
        }
        Command::Explain { pipeline, input } => {
            commands::explain::explain(&validate(&pipeline, &Overrides { input, ..Default::default() })?)
        }
        Command::Models { orders, calibration_end, holdout_end, unit, horizon, discount_rate, out } => {
            let unit_days = if unit == Unit::Week { 7.0 } else { 1.0 };
            let o = commands::models::Options {
                orders,
                calibration_end: calibration_end.0,
                holdout_end: holdout_end.map(|d| d.0),
                unit_days,
                horizon,
                annual_discount_rate: discount_rate,
                out: out.clone(),
            };
            let p = commands::models::run(&o)?;
            let bg = p.report.bgnbd.as_ref().map_or("not fitted".to_string(), |f| {
                format!(
                    "r={:.4} alpha={:.4} a={:.4} b={:.4} LL={:.2}",
                    f.params.r, f.params.alpha, f.params.a, f.params.b, f.log_likelihood
                )
            });
            Ok(format!("{} customers; BG/NBD {bg}; wrote {}", p.report.customers, out.display()))
        }
        Command::IdentityEval { customers, truth, pipeline, out, missed } => {
            let spec = match pipeline {
                Some(p) => validate(&p, &Overrides::default())?.identity,
                None => Default::default(),
            };
            let report = commands::identity_eval::run(&customers, &truth, &spec, out.as_deref(), missed.as_deref())?;
            serde_json::to_string(&report).map_err(|e| crate::error::Error::internal("report", e))
        }
        Command::RecommendEval { orders, items, test_days, top } => {
            let report = commands::recommend_eval::run(&commands::recommend_eval::Options { orders, items, test_days, top })?;
            serde_json::to_string(&report).map_err(|e| crate::error::Error::internal("report", e))
        }
        Command::Docs { pipeline, out } => commands::docs::docs(&validate(&pipeline, &Overrides::default())?, &out),
        Command::Inspect { output, dt, customer, table } => commands::inspect::inspect(&output, dt, customer.as_deref(), table.as_deref()),
        Command::SampleResponses { pipeline, as_of, uplift, seed, input, output } => {
            let plan = validate(&pipeline, &Overrides { input, output, as_of: Some(as_of), ..Default::default() })?;
            commands::sample_responses::respond(&plan, uplift, seed)
        }
        Command::Sample { scale, seed, out, as_of, name_variants, deliveries } => {
            if scale.is_nan() || scale <= 0.0 {
                return Err(crate::error::Error::Usage("--scale must be positive".into()));
            }
            if !(0.0..=1.0).contains(&name_variants) {
                return Err(crate::error::Error::Usage("--name-variants must be 0..=1".into()));
            }
            let s = crate::sample::generate(&crate::sample::Options { scale, seed, as_of: as_of.0, name_variants, deliveries }, &out)?;
            Ok(format!("wrote {s} to {}", out.display()))
        }
    }
}
