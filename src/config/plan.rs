//! The resolved plan a run executes: every table's source, the identity rules, the features,
//! scores, models, campaigns, gates and how the run uses the machine. `load` (in `config`)
//! builds it from a checked pipeline file; nothing here reads a file.

use super::choice::*;
use super::spec::{BehaviorSpec, ModelsSpec, OutputSpec, RecommendSpec, ReportSpec, RfmSpec};
use crate::day::{Day, Times};
use crate::schema::Table;
use polars::prelude::Expr;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

impl Format {
    /// The format a file's name says (`.parquet`, `.csv`, `.ndjson`, …; `.gz` ignored).
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".parquet") || name.ends_with(".pq") {
            Some(Format::Parquet)
        } else if name.ends_with(".csv") || name.ends_with(".tsv") {
            Some(Format::Csv)
        } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
            Some(Format::Ndjson)
        } else if name.ends_with(".xlsx") || name.ends_with(".xlsm") || name.ends_with(".xls") {
            Some(Format::Xlsx)
        } else {
            None
        }
    }
}

/// Where one canonical table comes from.
#[derive(Clone, Debug)]
pub struct TableSource {
    pub table: Table,
    /// A file, a folder (read recursively, Hive partitions included) or a glob.
    pub location: PathBuf,
    /// `Auto`: by each file's extension.
    pub format: Format,
    /// Text files' encoding.
    pub encoding: Encoding,
    /// Excel: the sheet to read (None: the first).
    pub sheet: Option<String>,
    /// Timestamp columns holding epoch numbers of a known unit.
    pub epoch_units: BTreeMap<String, EpochUnit>,
    /// canonical column -> source column
    pub rename: BTreeMap<String, String>,
    /// Optional columns this pipeline requires.
    pub extra_required: BTreeSet<String>,
    /// The company has no such system (`absent = true`): no files are read, the table has no rows.
    pub absent: bool,
}

impl TableSource {
    /// A table read from `location` with the canonical column names (`portrait models`, identity-eval).
    pub fn canonical(table: Table, location: PathBuf) -> TableSource {
        TableSource {
            table,
            location,
            format: Format::Auto,
            encoding: Encoding::Utf8,
            sheet: None,
            epoch_units: BTreeMap::new(),
            rename: BTreeMap::new(),
            extra_required: BTreeSet::new(),
            absent: false,
        }
    }
}

/// A named SQL rule or feature, parsed.
#[derive(Clone, Debug)]
pub struct NamedExpr {
    pub name: String,
    pub sql: String,
    pub expr: Expr,
    pub key: String,
    pub description: String,
    /// Display names (rules only; features leave them empty): English and Chinese.
    pub label_en: String,
    pub label_zh: String,
}

impl NamedExpr {
    /// The display name in the report's language.
    pub fn label(&self, locale: Locale) -> &str {
        match locale {
            Locale::En => &self.label_en,
            Locale::Zh => &self.label_zh,
        }
    }
}

/// `[identity]`, resolved.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Sources in order of trust: on equally new values the earlier source wins.
    pub source_priority: Vec<String>,
    /// Deterministic link rules in order of precedence.
    pub link_on: Vec<LinkRule>,
    pub fuzzy: bool,
    pub match_threshold: f64,
    /// The grey zone's lower end (`identity_review`).
    pub review_from: f64,
    /// Adjust agreement on names, postcodes and cities by the value's frequency.
    pub term_frequencies: bool,
    pub max_block_size: usize,
    pub max_cluster_size: usize,
    /// The overrides CSV (resolved against the config's folder).
    pub overrides: Option<PathBuf>,
    /// Fields without an entry survive by `Newest`.
    pub survivorship: BTreeMap<GoldenField, Survivorship>,
}

impl Identity {
    pub fn survivorship(&self, field: GoldenField) -> Survivorship {
        self.survivorship.get(&field).copied().unwrap_or(Survivorship::Newest)
    }
}

/// One `[[campaigns]]` entry, resolved (`stages::campaign`).
#[derive(Clone, Debug)]
pub struct Campaign {
    /// Name, audience condition (`sql`, `expr`), labels and description.
    pub rule: NamedExpr,
    pub action: String,
    pub channel: String,
    pub control_share: f64,
    pub response_days: u32,
    pub cooldown_days: u32,
    pub priority: i32,
    pub exclusive: bool,
    pub recommendations: usize,
}

/// `[privacy]`, resolved.
#[derive(Clone, Debug, Default)]
pub struct Privacy {
    pub hash_fields: Vec<PiiField>,
    /// Environment variable holding the HMAC key (read and checked by `stages::privacy::key`).
    pub key_env: String,
    /// Published days older than this many days before as-of are removed by the run.
    pub retention_days: Option<u32>,
}

/// A table a gate looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateTable {
    Input(Table),
    Output(OutputTable),
}

impl GateTable {
    pub fn name(self) -> &'static str {
        match self {
            GateTable::Input(t) => t.name(),
            GateTable::Output(t) => t.name(),
        }
    }
}

/// One `[[gates]]` entry, resolved.
#[derive(Clone, Debug)]
pub struct Gate {
    /// `<check>_<table>[_<column>]` unless the config names it.
    pub name: String,
    pub check: GateCheck,
    pub table: GateTable,
    pub column: Option<String>,
    pub max: Option<f64>,
    pub values: Vec<String>,
    /// Shares are judged from this many rows read.
    pub min_rows: u64,
    pub severity: Severity,
}

/// The validated, resolved pipeline: everything a run needs besides the data. Stages read
/// this, never the TOML as written.
#[derive(Clone, Debug)]
pub struct Plan {
    pub config_path: PathBuf,
    pub config_sha256: String,
    /// `pipeline.name`.
    pub name: String,
    pub input_root: PathBuf,
    pub output_root: PathBuf,
    pub as_of: Day,
    pub locale: Locale,
    /// The business's IANA time zone: local days, windows and hours are counted in it.
    pub time_zone: String,
    /// Timestamps before this day are implausible.
    pub earliest: Day,
    pub tables: Vec<TableSource>,
    pub identity: Identity,
    pub behavior: BehaviorSpec,
    pub rfm: RfmSpec,
    pub recommend: RecommendSpec,
    pub models: ModelsSpec,
    pub output: OutputSpec,
    pub privacy: Privacy,
    pub report: ReportSpec,
    pub features: Vec<NamedExpr>,
    pub segments: Vec<NamedExpr>,
    pub lifecycle: Vec<NamedExpr>,
    pub tags: Vec<NamedExpr>,
    /// In the order they are filled (priority, then config order).
    pub campaigns: Vec<Campaign>,
    pub gates: Vec<Gate>,
    pub run: Run,
}

/// More buckets than this only adds per-bucket overhead (and open files).
pub const MAX_BUCKETS: u32 = 4096;

/// `[run]` resolved.
#[derive(Debug, Clone)]
pub struct Run {
    /// Bytes of memory the run aims to stay under.
    pub memory_limit: u64,
    /// A fixed bucket count, else chosen from `memory_limit` and the input size.
    pub buckets: Option<u32>,
    /// Start from the state the last run left, when it is usable (`[run] mode`, `--full`).
    pub incremental: bool,
}

/// `8GB`, `512MiB`, `2000000`: bytes (decimal units are powers of 1000, binary ones of 1024).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024f64.powi(2),
        "gib" => 1024f64.powi(3),
        "tib" => 1024f64.powi(4),
        _ => return None,
    };
    let bytes = number * scale;
    (bytes >= 1.0 && bytes.is_finite()).then_some(bytes as u64)
}

impl Plan {
    /// Days of earlier audiences a run reads: the longest response window or cooldown.
    pub fn campaign_lookback_days(&self) -> u32 {
        self.campaigns.iter().map(|c| c.response_days.max(c.cooldown_days)).max().unwrap_or(0)
    }

    /// How this run reads timestamps: in its time zone, from `earliest` to the day after the
    /// later of as-of and today (UTC). Rows after as-of but not after that wait for a later
    /// run (`after_as_of`); a backfill of a past day keeps them for the model's evaluation.
    pub fn times(&self) -> Times {
        let today = Day(chrono::Utc::now().date_naive());
        Times {
            zone: self.time_zone.clone(),
            earliest: self.earliest.start(),
            latest: self.as_of.max(today).end() + chrono::Duration::days(1),
        }
    }
}

/// What the command line may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub as_of: Option<Day>,
    /// `--memory-limit`, as written.
    pub memory_limit: Option<String>,
    /// `--full`: read every input file, whatever state the last run left.
    pub full: bool,
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn memory_amounts_in_decimal_and_binary_units() {
        assert_eq!(parse_bytes("8GB"), Some(8_000_000_000));
        assert_eq!(parse_bytes("512MiB"), Some(512 * 1024 * 1024));
        assert_eq!(parse_bytes(" 1.5 GiB "), Some(1_610_612_736));
        assert_eq!(parse_bytes("2000000"), Some(2_000_000));
        assert_eq!(parse_bytes("12gb"), Some(12_000_000_000));
        for bad in ["", "GB", "8 gigabytes", "0", "-1GB", "1e9"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }
}
