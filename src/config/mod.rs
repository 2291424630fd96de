//! Pipeline config: parse the TOML (`spec`), check everything that can be checked without
//! data, and resolve it into a `Plan` the stages run from. Problems are collected, not
//! returned one at a time, so a data engineer fixes a config in one round.

pub mod spec;

use crate::error::{ConfigIssue, Error, Result};
use crate::schema::Table;
use chrono::NaiveDate;
use polars::prelude::Expr;
use sha2::{Digest, Sha256};
use spec::PipelineSpec;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Input file formats ingest can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    Ndjson,
}

impl Format {
    pub fn parse(s: &str) -> Option<Option<Format>> {
        match s {
            "auto" => Some(None),
            "parquet" => Some(Some(Format::Parquet)),
            "csv" => Some(Some(Format::Csv)),
            "ndjson" | "jsonl" => Some(Some(Format::Ndjson)),
            _ => None,
        }
    }

    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".parquet") || name.ends_with(".pq") {
            Some(Format::Parquet)
        } else if name.ends_with(".csv") || name.ends_with(".tsv") {
            Some(Format::Csv)
        } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
            Some(Format::Ndjson)
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
    pub format: Option<Format>,
    /// canonical column -> source column
    pub rename: BTreeMap<String, String>,
    /// Optional columns this pipeline requires.
    pub extra_required: BTreeSet<String>,
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

/// The language of labels in the profile's `*_label` columns and the report (`pipeline.locale`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Zh,
}

impl Locale {
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Zh => "zh",
        }
    }
}

/// `churn_risk` -> `Churn risk`: the English label when the config gives none.
fn default_label(name: &str) -> String {
    let text = name.replace('_', " ");
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The validated, resolved pipeline: everything a run needs besides the data.
#[derive(Clone, Debug)]
pub struct Plan {
    pub config_path: PathBuf,
    pub config_sha256: String,
    pub spec: PipelineSpec,
    pub input_root: PathBuf,
    pub output_root: PathBuf,
    pub as_of: NaiveDate,
    pub locale: Locale,
    pub tables: Vec<TableSource>,
    pub features: Vec<NamedExpr>,
    pub segments: Vec<NamedExpr>,
    pub lifecycle: Vec<NamedExpr>,
    pub tags: Vec<NamedExpr>,
}

/// What the command line may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub as_of: Option<NaiveDate>,
}

/// Read and check a pipeline file. A TOML syntax error stops at once; every other problem is
/// returned in the list next to the best-effort plan.
pub fn load(path: &Path, overrides: &Overrides) -> Result<(Plan, Vec<ConfigIssue>)> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        file: file.clone(),
        issues: vec![ConfigIssue { key: "(file)".into(), message: format!("cannot read: {e}") }],
    })?;
    let mut issues = Vec::new();
    let deserializer = toml::Deserializer::new(&text);
    let spec: PipelineSpec = serde_ignored::deserialize(deserializer, |unknown| {
        issues.push(ConfigIssue { key: unknown.to_string(), message: "unknown key".into() });
    })
    .map_err(|e| Error::Config {
        file: file.clone(),
        issues: vec![ConfigIssue { key: "(syntax)".into(), message: e.to_string().trim().to_string() }],
    })?;

    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let resolve = |p: &str| normalize(&base.join(p));
    let input_root = overrides.input.clone().or_else(|| spec.pipeline.input.as_deref().map(resolve)).unwrap_or_else(|| base.join("input"));
    let output_root = overrides.output.clone().or_else(|| spec.pipeline.output.as_deref().map(resolve)).unwrap_or_else(|| base.join("out"));
    let as_of = match (overrides.as_of, &spec.pipeline.as_of) {
        (Some(d), _) => d,
        (None, Some(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| {
            issues.push(issue("pipeline.as_of", format!("`{s}` is not a date YYYY-MM-DD")));
            yesterday_utc()
        }),
        (None, None) => yesterday_utc(),
    };

    let tables = resolve_tables(&spec, &input_root, &mut issues);
    check_identity(&spec, &mut issues);
    if spec.rfm.bins < 2 || spec.rfm.bins > 10 {
        issues.push(issue("rfm.bins", format!("must be 2..=10, got {}", spec.rfm.bins)));
    }
    if spec.rfm.window_days == 0 {
        issues.push(issue("rfm.window_days", "must be at least 1".to_string()));
    }
    check_models(&spec.models, &mut issues);
    check_gates(&spec.gates, &mut issues);
    for (i, f) in spec.privacy.hash_fields.iter().enumerate() {
        if !crate::stages::privacy::FIELDS.contains(&f.as_str()) {
            issues.push(issue(
                &format!("privacy.hash_fields[{i}]"),
                format!("`{f}` is not one of {}", crate::stages::privacy::FIELDS.join(", ")),
            ));
        }
    }
    if !spec.privacy.hash_fields.is_empty() && std::env::var(&spec.privacy.key_env).map_or(true, |k| k.is_empty()) {
        issues.push(issue(
            "privacy.key_env",
            format!("hashing is asked for but the environment variable {} holding the key is not set", spec.privacy.key_env),
        ));
    }
    if !(1..=22).contains(&spec.output.zstd_level) {
        issues.push(issue("output.zstd_level", "must be 1..=22".to_string()));
    }
    if spec.output.row_group_size == 0 {
        issues.push(issue("output.row_group_size", "must be at least 1".to_string()));
    }
    for (i, t) in spec.behavior.event_types.iter().enumerate() {
        if !is_identifier(t) {
            issues.push(issue(&format!("behavior.event_types[{i}]"), format!("`{t}` must be lower_snake_case")));
        }
    }
    if spec.behavior.windows_days.iter().any(|&w| w == 0) {
        issues.push(issue("behavior.windows_days", "windows must be at least 1 day".to_string()));
    }

    let locale = match spec.pipeline.locale.as_str() {
        "en" => Locale::En,
        "zh" => Locale::Zh,
        other => {
            issues.push(issue("pipeline.locale", format!("`{other}` is not one of en, zh")));
            Locale::En
        }
    };
    let features: Vec<spec::RuleSpec> = spec
        .features
        .iter()
        .map(|f| spec::RuleSpec {
            name: f.name.clone(),
            when: f.expr.clone(),
            description: f.description.clone(),
            label: None,
            label_zh: None,
        })
        .collect();
    let features = parse_named(&features, "features", "expr", &mut issues);
    let rules = |v: &Vec<spec::RuleSpec>, section: &str, issues: &mut Vec<ConfigIssue>| parse_named(v, section, "when", issues);
    let segments = rules(&spec.segments, "segments", &mut issues);
    let lifecycle = rules(&spec.lifecycle, "lifecycle", &mut issues);
    let tags = rules(&spec.tags, "tags", &mut issues);

    for (i, stage) in spec.report.funnel.iter().enumerate() {
        if !lifecycle.iter().any(|r| &r.name == stage) {
            issues.push(issue(&format!("report.funnel[{i}]"), format!("`{stage}` is not a [[lifecycle]] stage")));
        }
    }

    let plan = Plan {
        config_path: path.to_path_buf(),
        config_sha256: hex::encode(Sha256::digest(text.as_bytes())),
        spec,
        input_root,
        output_root,
        as_of,
        locale,
        tables,
        features,
        segments,
        lifecycle,
        tags,
    };
    Ok((plan, issues))
}

fn check_gates(gates: &[spec::GateSpec], issues: &mut Vec<ConfigIssue>) {
    use crate::stages::gates::CHECKS;
    const INPUTS: &[&str] = &["customers", "orders", "order_items", "events", "social_interactions", "feedback"];
    const OUTPUTS: &[&str] = &["profiles", "tags", "identity_map", "segment_summary", "model_eval", "quarantine"];
    for (i, g) in gates.iter().enumerate() {
        let key = |k: &str| format!("gates[{i}].{k}");
        if !CHECKS.contains(&g.check.as_str()) {
            issues.push(issue(&key("check"), format!("`{}` is not one of {}", g.check, CHECKS.join(", "))));
            continue;
        }
        let input_only = matches!(g.check.as_str(), "duplicate_share" | "freshness");
        let output_only = matches!(g.check.as_str(), "null_share" | "unique_key" | "accepted_values");
        let valid = if input_only {
            INPUTS.contains(&g.table.as_str())
        } else if output_only {
            OUTPUTS.contains(&g.table.as_str())
        } else {
            INPUTS.contains(&g.table.as_str()) || OUTPUTS.contains(&g.table.as_str())
        };
        if !valid {
            issues.push(issue(&key("table"), format!("`{}` is not a table `{}` can check", g.table, g.check)));
        }
        if output_only && g.column.is_none() {
            issues.push(issue(&key("column"), format!("`{}` needs a column", g.check)));
        }
        if !matches!(g.check.as_str(), "unique_key" | "accepted_values") && g.max.is_none() {
            issues.push(issue(&key("max"), format!("`{}` needs max", g.check)));
        }
        if g.check == "accepted_values" && g.values.is_empty() {
            issues.push(issue(&key("values"), "list the accepted values".to_string()));
        }
        if !["warn", "fail"].contains(&g.severity.as_str()) {
            issues.push(issue(&key("severity"), format!("`{}` is not warn or fail", g.severity)));
        }
    }
}

fn check_models(m: &spec::ModelsSpec, issues: &mut Vec<ConfigIssue>) {
    for (key, value) in [("unit_days", m.unit_days), ("horizon_days", m.horizon_days), ("clv_horizon_days", m.clv_horizon_days)] {
        if value == 0 {
            issues.push(issue(&format!("models.{key}"), "must be at least 1".to_string()));
        }
    }
    if !(0.0..=1.0).contains(&m.annual_discount_rate) {
        issues.push(issue("models.annual_discount_rate", format!("must be 0..=1, got {}", m.annual_discount_rate)));
    }
    if m.penalizer < 0.0 {
        issues.push(issue("models.penalizer", "must not be negative".to_string()));
    }
    let c = &m.clusters;
    if c.k == 1 || (c.k == 0 && (c.k_min < 2 || c.k_max < c.k_min)) {
        issues.push(issue("models.clusters.k", "k must be 0 (choose) or at least 2; k_min >= 2 and k_max >= k_min".to_string()));
    }
    if c.features.is_empty() {
        issues.push(issue("models.clusters.features", "list at least one profile column".to_string()));
    }
    if c.sample_size < 100 {
        issues.push(issue("models.clusters.sample_size", "must be at least 100".to_string()));
    }
}

/// `pipelines/../out` -> `out`, lexically (the folder may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn issue(key: &str, message: String) -> ConfigIssue {
    ConfigIssue { key: key.to_string(), message }
}

fn yesterday_utc() -> NaiveDate {
    chrono::Utc::now().date_naive().pred_opt().expect("a date before today exists")
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn resolve_tables(spec: &PipelineSpec, input_root: &Path, issues: &mut Vec<ConfigIssue>) -> Vec<TableSource> {
    for name in spec.tables.keys() {
        if Table::from_name(name).is_none() {
            let known: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
            issues.push(issue(&format!("tables.{name}"), format!("unknown table; known tables: {}", known.join(", "))));
        }
    }
    Table::ALL
        .iter()
        .map(|&table| {
            let default = spec::TableSpec::default();
            let ts = spec.tables.get(table.name()).unwrap_or(&default);
            let key = format!("tables.{}", table.name());
            let format = match ts.format.as_deref() {
                None => None,
                Some(f) => Format::parse(f).unwrap_or_else(|| {
                    issues.push(issue(&format!("{key}.format"), format!("`{f}` is not one of auto, parquet, csv, ndjson")));
                    None
                }),
            };
            for canonical in ts.columns.keys() {
                if table.column(canonical).is_none() {
                    issues.push(issue(&format!("{key}.columns.{canonical}"), format!("`{canonical}` is not a column of {}", table.name())));
                }
            }
            for (i, r) in ts.required.iter().enumerate() {
                if table.column(r).is_none() {
                    issues.push(issue(&format!("{key}.required[{i}]"), format!("`{r}` is not a column of {}", table.name())));
                }
            }
            let location = input_root.join(ts.path.as_deref().unwrap_or(table.name()));
            TableSource { table, location, format, rename: ts.columns.clone(), extra_required: ts.required.iter().cloned().collect() }
        })
        .collect()
}

fn check_identity(spec: &PipelineSpec, issues: &mut Vec<ConfigIssue>) {
    for (i, rule) in spec.identity.link_on.iter().enumerate() {
        if !["id_number", "phone", "email", "source_id"].contains(&rule.as_str()) {
            issues.push(issue(&format!("identity.link_on[{i}]"), format!("`{rule}` is not one of id_number, phone, email, source_id")));
        }
    }
    let id = &spec.identity;
    if !(id.match_threshold > 0.0 && id.match_threshold < 1.0) {
        issues.push(issue("identity.match_threshold", format!("must be between 0 and 1, got {}", id.match_threshold)));
    }
    if id.max_block_size < 2 {
        issues.push(issue("identity.max_block_size", "must be at least 2".to_string()));
    }
    if id.max_cluster_size < 2 {
        issues.push(issue("identity.max_cluster_size", "must be at least 2".to_string()));
    }
    for (field, rule) in &id.survivorship {
        if !crate::stages::identity::SURVIVING.contains(&field.as_str()) {
            issues.push(issue(&format!("identity.survivorship.{field}"), format!("`{field}` is not a golden-record field")));
        }
        if !["newest", "most_frequent", "source_priority"].contains(&rule.as_str()) {
            issues.push(issue(
                &format!("identity.survivorship.{field}"),
                format!("`{rule}` is not one of newest, most_frequent, source_priority"),
            ));
        }
    }
}

/// Parse rules (or features, their SQL in `when`) into expressions; names must be identifiers
/// and unique. Labels default to the name in words (English), then to the English label.
fn parse_named(items: &[spec::RuleSpec], section: &str, field: &str, issues: &mut Vec<ConfigIssue>) -> Vec<NamedExpr> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, spec::RuleSpec { name, when: sql, description, label, label_zh }) in items.iter().enumerate() {
        let key = format!("{section}[{i}]");
        if !is_identifier(name) {
            issues.push(issue(&format!("{key}.name"), format!("`{name}` must be lower_snake_case (letters, digits, _)")));
        }
        if !seen.insert(name.clone()) {
            issues.push(issue(&format!("{key}.name"), format!("`{name}` is defined twice")));
        }
        match polars::sql::sql_expr(sql) {
            Ok(expr) => out.push(NamedExpr {
                name: name.clone(),
                sql: sql.clone(),
                expr,
                key: format!("{key}.{field}"),
                description: description.clone(),
                label_en: label.clone().unwrap_or_else(|| default_label(name)),
                label_zh: label_zh.clone().or_else(|| label.clone()).unwrap_or_else(|| default_label(name)),
            }),
            Err(e) => issues.push(issue(&format!("{key}.{field}"), format!("`{sql}` does not parse: {e}"))),
        }
    }
    out
}
