//! Pipeline config: parse the TOML (`spec`), check everything that can be checked without
//! data, and resolve it into a `Plan` the stages run from. Problems are collected, not
//! returned one at a time, so a data engineer fixes a config in one round.

pub mod choice;
mod plan;
pub mod spec;

pub use plan::*;

pub use choice::{
    Checks, Closed, Encoding, EpochUnit, Format, GateCheck, GoldenField, LinkRule, Locale, OutputTable, PiiField, Severity, Survivorship,
};

use crate::day::Day;
use crate::error::{ConfigIssue, Error, Result};
use crate::schema::Table;
use sha2::{Digest, Sha256};
use spec::PipelineSpec;
pub use spec::{BehaviorSpec, ClusterFeature, ClustersSpec, ModelsSpec, OutputSpec, RecommendSpec, ReportSpec, RfmSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The identity rules a pipeline without an `[identity]` section gets.
impl Default for Identity {
    fn default() -> Self {
        resolve_identity(&spec::IdentitySpec::default(), Path::new("."), &mut Vec::new())
    }
}

/// Read and check a pipeline file. A TOML syntax error stops at once; every other problem is
/// returned in the list next to the best-effort plan.
pub fn load(path: &Path, overrides: &Overrides) -> Result<(Plan, Vec<ConfigIssue>)> {
    let file = path.display().to_string();
    let config_error = |key: &str, message: String| Error::Config { file: file.clone(), issues: vec![issue(key, message)] };
    let text = std::fs::read_to_string(path).map_err(|e| config_error("(file)", format!("cannot read: {e}")))?;
    let mut issues = Vec::new();
    let deserializer = toml::Deserializer::new(&text);
    let spec: PipelineSpec =
        serde_ignored::deserialize(deserializer, |unknown| issues.push(issue(&unknown.to_string(), "unknown key".into())))
            .map_err(|e| config_error("(syntax)", e.to_string().trim().to_string()))?;

    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let resolve = |p: &str| normalize(&base.join(p));
    let input_root = overrides.input.clone().or_else(|| spec.pipeline.input.as_deref().map(resolve)).unwrap_or_else(|| base.join("input"));
    let output_root = overrides.output.clone().or_else(|| spec.pipeline.output.as_deref().map(resolve)).unwrap_or_else(|| base.join("out"));
    let as_of = match (overrides.as_of, &spec.pipeline.as_of) {
        (Some(d), _) => d,
        (None, Some(s)) => Day::parse(s).unwrap_or_else(|| {
            issues.push(issue("pipeline.as_of", format!("`{s}` is not a date YYYY-MM-DD")));
            Day::yesterday_utc()
        }),
        (None, None) => Day::yesterday_utc(),
    };
    let locale = spec.pipeline.locale.resolve("pipeline.locale", &mut issues).unwrap_or(Locale::En);
    let time_zone = match spec.pipeline.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => tz.name().to_string(),
        Err(_) => {
            issues.push(issue(
                "pipeline.time_zone",
                format!("`{}` is not an IANA time zone (e.g. Asia/Shanghai, UTC)", spec.pipeline.time_zone),
            ));
            "UTC".to_string()
        }
    };
    let earliest = Day::parse(&spec.pipeline.earliest).unwrap_or_else(|| {
        issues.push(issue("pipeline.earliest", format!("`{}` is not a date YYYY-MM-DD", spec.pipeline.earliest)));
        Day(crate::day::EPOCH)
    });
    let run = resolve_run(&spec.run, overrides, &mut issues);
    let tables = resolve_tables(&spec, &input_root, &mut issues);
    let identity = resolve_identity(&spec.identity, &base, &mut issues);
    check_numbers(&spec, &mut issues);
    let privacy = resolve_privacy(&spec.privacy, &mut issues);
    let gates = resolve_gates(&spec.gates, &mut issues);
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
    let segments = parse_named(&spec.segments, "segments", "when", &mut issues);
    let lifecycle = parse_named(&spec.lifecycle, "lifecycle", "when", &mut issues);
    let tags = parse_named(&spec.tags, "tags", "when", &mut issues);
    let campaigns = resolve_campaigns(&spec.campaigns, spec.recommend.top_n, &mut issues);
    for (i, stage) in spec.report.funnel.iter().enumerate() {
        if !lifecycle.iter().any(|r| &r.name == stage) {
            issues.push(issue(&format!("report.funnel[{i}]"), format!("`{stage}` is not a [[lifecycle]] stage")));
        }
    }

    let plan = Plan {
        config_path: path.to_path_buf(),
        config_sha256: hex::encode(Sha256::digest(text.as_bytes())),
        name: spec.pipeline.name,
        input_root,
        output_root,
        as_of,
        locale,
        time_zone,
        earliest,
        tables,
        identity,
        behavior: spec.behavior,
        rfm: spec.rfm,
        recommend: spec.recommend,
        models: spec.models,
        output: spec.output,
        privacy,
        report: spec.report,
        features,
        segments,
        lifecycle,
        tags,
        campaigns,
        gates,
        run,
    };
    Ok((plan, issues))
}

fn resolve_run(spec: &spec::RunSpec, overrides: &Overrides, issues: &mut Vec<ConfigIssue>) -> Run {
    let (key, written) = match (&overrides.memory_limit, &spec.memory_limit) {
        (Some(m), _) => ("--memory-limit", Some(m)),
        (None, m) => ("run.memory_limit", m.as_ref()),
    };
    let memory_limit = written.map(|m| {
        parse_bytes(m).unwrap_or_else(|| {
            issues.push(issue(key, format!("`{m}` is not an amount of memory (e.g. 8GB, 512MiB)")));
            default_memory_limit()
        })
    });
    let buckets = spec.buckets.filter(|b| (1..=MAX_BUCKETS).contains(b));
    if spec.buckets.is_some() && buckets.is_none() {
        issues.push(issue("run.buckets", format!("must be 1..={MAX_BUCKETS}")));
    }
    let incremental = match spec.mode.as_deref() {
        None | Some("incremental") => !overrides.full,
        Some("full") => false,
        Some(other) => {
            issues.push(issue("run.mode", format!("`{other}` is not a mode: incremental or full")));
            false
        }
    };
    Run { memory_limit: memory_limit.unwrap_or_else(default_memory_limit), buckets, incremental }
}

/// Ranges of the numeric settings.
fn check_numbers(spec: &PipelineSpec, issues: &mut Vec<ConfigIssue>) {
    if spec.recommend.top_n == 0 || spec.recommend.top_n > 100 {
        issues.push(issue("recommend.top_n", format!("must be 1..=100, got {}", spec.recommend.top_n)));
    }
    if spec.rfm.bins < 2 || spec.rfm.bins > 10 {
        issues.push(issue("rfm.bins", format!("must be 2..=10, got {}", spec.rfm.bins)));
    }
    if spec.rfm.window_days == 0 {
        issues.push(issue("rfm.window_days", "must be at least 1".to_string()));
    }
    check_models(&spec.models, issues);
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
    if spec.behavior.windows_days.contains(&0) {
        issues.push(issue("behavior.windows_days", "windows must be at least 1 day".to_string()));
    }
}

fn resolve_campaigns(specs: &[spec::CampaignSpec], top_n: usize, issues: &mut Vec<ConfigIssue>) -> Vec<Campaign> {
    let rules: Vec<spec::RuleSpec> = specs
        .iter()
        .map(|c| spec::RuleSpec {
            name: c.name.clone(),
            when: c.audience.clone(),
            description: c.description.clone(),
            label: c.label.clone(),
            label_zh: c.label_zh.clone(),
        })
        .collect();
    let parsed = parse_named(&rules, "campaigns", "audience", issues);
    let mut out = Vec::new();
    for (i, c) in specs.iter().enumerate() {
        let key = |k: &str| format!("campaigns[{i}].{k}");
        for (k, v) in [("action", &c.action), ("channel", &c.channel)] {
            if !is_identifier(v) {
                issues.push(issue(&key(k), format!("`{v}` must be lower_snake_case")));
            }
        }
        if !(c.control_share > 0.0 && c.control_share < 1.0) {
            issues.push(issue(&key("control_share"), format!("must be between 0 and 1, got {}", c.control_share)));
        }
        if !(1..=365).contains(&c.response_days) {
            issues.push(issue(&key("response_days"), format!("must be 1..=365, got {}", c.response_days)));
        }
        if c.cooldown_days.is_some_and(|d| d > 365) {
            issues.push(issue(&key("cooldown_days"), "must be 0..=365".to_string()));
        }
        if c.recommendations > top_n {
            issues.push(issue(&key("recommendations"), format!("at most recommend.top_n ({top_n}), got {}", c.recommendations)));
        }
        if let Some(rule) = parsed.iter().find(|r| r.key == key("audience")) {
            out.push(Campaign {
                rule: rule.clone(),
                action: c.action.clone(),
                channel: c.channel.clone(),
                control_share: c.control_share,
                response_days: c.response_days,
                cooldown_days: c.cooldown_days.unwrap_or(c.response_days),
                priority: c.priority,
                exclusive: c.exclusive,
                recommendations: c.recommendations,
            });
        }
    }
    out.sort_by_key(|c| c.priority); // stable: config order among equals
    out
}

fn resolve_privacy(p: &spec::PrivacySpec, issues: &mut Vec<ConfigIssue>) -> Privacy {
    let hash_fields: Vec<PiiField> =
        p.hash_fields.iter().enumerate().filter_map(|(i, f)| f.resolve(&format!("privacy.hash_fields[{i}]"), issues)).collect();
    if p.retention_days == Some(0) {
        issues.push(issue("privacy.retention_days", "must be at least 1 (leave it out to keep every day)".to_string()));
    }
    Privacy { hash_fields, key_env: p.key_env.clone(), retention_days: p.retention_days }
}

fn resolve_gates(gates: &[spec::GateSpec], issues: &mut Vec<ConfigIssue>) -> Vec<Gate> {
    let mut out = Vec::new();
    for (i, g) in gates.iter().enumerate() {
        let key = |k: &str| format!("gates[{i}].{k}");
        let severity = g.severity.resolve(&key("severity"), issues);
        let Some(check) = g.check.resolve(&key("check"), issues) else { continue };
        let input = Table::from_name(&g.table).map(GateTable::Input);
        let output = OutputTable::parse(&g.table).map(GateTable::Output);
        let table = match check.checks() {
            Checks::Inputs => input,
            Checks::Outputs => output,
            Checks::Both => input.or(output),
        };
        if table.is_none() {
            issues.push(issue(&key("table"), format!("`{}` is not a table `{check}` can check", g.table)));
        }
        if check.needs_column() && g.column.is_none() {
            issues.push(issue(&key("column"), format!("`{check}` needs a column")));
        }
        if !check.counts_offenders() && g.max.is_none() {
            issues.push(issue(&key("max"), format!("`{check}` needs max")));
        }
        let validated = table.and_then(|t| match t {
            GateTable::Input(t) => Some(t.validated_columns()),
            GateTable::Output(_) => None,
        });
        if let (GateCheck::InvalidShare, Some(columns), Some(c)) = (check, validated, &g.column) {
            if !columns.contains(&c.as_str()) {
                let which = if columns.is_empty() { "none".to_string() } else { columns.join(", ") };
                issues.push(issue(&key("column"), format!("cleaning checks no `{c}` in {}; it checks: {which}", g.table)));
            }
        }
        if check == GateCheck::AcceptedValues && g.values.is_empty() {
            issues.push(issue(&key("values"), "list the accepted values".to_string()));
        }
        let (Some(table), Some(severity)) = (table, severity) else { continue };
        let name = g.name.clone().unwrap_or_else(|| match &g.column {
            Some(c) => format!("{check}_{}_{c}", g.table),
            None => format!("{check}_{}", g.table),
        });
        out.push(Gate {
            name,
            check,
            table,
            column: g.column.clone(),
            max: g.max,
            values: g.values.clone(),
            min_rows: g.min_rows,
            severity,
        });
    }
    out
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
        .filter(|t| !t.optional() || spec.tables.contains_key(t.name()) || input_root.join(t.name()).exists())
        .map(|&table| {
            let default = spec::TableSpec::default();
            let ts = spec.tables.get(table.name()).unwrap_or(&default);
            let key = format!("tables.{}", table.name());
            let format = ts.format.resolve(&format!("{key}.format"), issues).unwrap_or(Format::Auto);
            let encoding = ts.encoding.resolve(&format!("{key}.encoding"), issues).unwrap_or(Encoding::Utf8);
            let mut epoch_units = BTreeMap::new();
            for (column, unit) in &ts.epoch_units {
                let unit_key = format!("{key}.epoch_units.{column}");
                match table.column(column) {
                    Some(c) if c.kind == crate::schema::Kind::Datetime => {}
                    _ => issues.push(issue(&unit_key, format!("`{column}` is not a timestamp column of {}", table.name()))),
                }
                if let Some(u) = unit.resolve(&unit_key, issues) {
                    epoch_units.insert(column.clone(), u);
                }
            }
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
            if ts.absent {
                let has_files = location.exists() || glob::glob(&location.to_string_lossy()).is_ok_and(|mut g| g.next().is_some());
                if !table.may_be_absent() {
                    issues.push(issue(
                        &format!("{key}.absent"),
                        format!("{} cannot be absent: every profile is built from it", table.name()),
                    ));
                } else if has_files {
                    let message = format!("the table is declared absent but {} exists: remove `absent` or the files", location.display());
                    issues.push(issue(&format!("{key}.absent"), message));
                }
            }
            TableSource {
                table,
                location,
                format,
                encoding,
                sheet: ts.sheet.clone(),
                epoch_units,
                rename: ts.columns.clone(),
                extra_required: ts.required.iter().cloned().collect(),
                absent: ts.absent,
            }
        })
        .collect()
}

fn resolve_identity(id: &spec::IdentitySpec, base: &Path, issues: &mut Vec<ConfigIssue>) -> Identity {
    let link_on = id.link_on.iter().enumerate().filter_map(|(i, r)| r.resolve(&format!("identity.link_on[{i}]"), issues)).collect();
    if !(id.match_threshold > 0.0 && id.match_threshold < 1.0) {
        issues.push(issue("identity.match_threshold", format!("must be between 0 and 1, got {}", id.match_threshold)));
    }
    if id.max_block_size < 2 {
        issues.push(issue("identity.max_block_size", "must be at least 2".to_string()));
    }
    if !(id.review_from > 0.0 && id.review_from <= id.match_threshold) {
        issues.push(issue("identity.review_from", format!("must be above 0 and at most match_threshold, got {}", id.review_from)));
    }
    if id.max_cluster_size < 2 {
        issues.push(issue("identity.max_cluster_size", "must be at least 2".to_string()));
    }
    let mut survivorship = BTreeMap::new();
    for (field, rule) in &id.survivorship {
        let key = format!("identity.survivorship.{field}");
        let golden = GoldenField::parse(field);
        if golden.is_none() {
            issues.push(issue(&key, format!("`{field}` is not a golden-record field")));
        }
        if let (Some(golden), Some(rule)) = (golden, rule.resolve(&key, issues)) {
            survivorship.insert(golden, rule);
        }
    }
    Identity {
        source_priority: id.source_priority.clone(),
        link_on,
        fuzzy: id.fuzzy,
        match_threshold: id.match_threshold,
        review_from: id.review_from,
        term_frequencies: id.term_frequencies,
        max_block_size: id.max_block_size,
        max_cluster_size: id.max_cluster_size,
        overrides: id.overrides.as_deref().map(|p| base.join(p)),
        survivorship,
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

/// `churn_risk` -> `Churn risk`: the English label when the config gives none.
fn default_label(name: &str) -> String {
    let text = name.replace('_', " ");
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Half of the machine's physical memory (Linux `/proc/meminfo`; 8 GiB where it cannot be read).
fn default_memory_limit() -> u64 {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()));
    total_kib.map(|k| k * 1024 / 2).unwrap_or(8 << 30)
}
