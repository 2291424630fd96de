//! The commands' work: `run` (execute and publish one day), `validate` (check a config
//! completely without data) and `explain` (show the stages and optimised plans).

use crate::config::{self, Overrides, Plan};
use crate::error::{ConfigIssue, Error, Result};
use crate::io::{self, parquet::WriteOptions, publish};
use crate::pipeline;
use crate::schema::Table;
use crate::stages::features::{self, Clock, Inputs};
use crate::stages::ingest::dtype_of;
use crate::stages::write::{self, Accounting, Check, InputEntry, Manifest};
use crate::stages::{gates, identity, predict, privacy, score};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Load and fully check a pipeline: config structure, then every expression against the
/// columns it can see. All problems are reported together (exit 78).
pub fn validate(path: &Path, overrides: &Overrides) -> Result<Plan> {
    let (plan, mut issues) = config::load(path, overrides)?;
    issues.extend(check_expressions(&plan));
    if issues.is_empty() {
        Ok(plan)
    } else {
        Err(Error::Config { file: path.display().to_string(), issues })
    }
}

/// An empty frame with the canonical columns of `table` plus `extra` columns.
fn empty(table: Table, extra: &[(&str, DataType)]) -> LazyFrame {
    empty_df(table, extra).lazy()
}

fn empty_df(table: Table, extra: &[(&str, DataType)]) -> DataFrame {
    let mut cols: Vec<Column> = table.columns().iter().map(|c| Column::new_empty(c.name.into(), &dtype_of(c.kind))).collect();
    for (name, dtype) in extra {
        cols.push(Column::new_empty((*name).into(), dtype));
    }
    DataFrame::new_infer_height(cols).expect("distinct names")
}

/// Resolved customer records with no rows: what `identity::resolve` returns, for planning.
pub fn empty_resolved() -> DataFrame {
    let extra = [
        ("customer_key", DataType::String),
        ("_key", DataType::UInt32),
        ("match_rule", DataType::String),
        ("match_score", DataType::Float64),
        ("key_created", DataType::Date),
    ];
    empty_df(Table::Customers, &extra)
}

/// The profile plan over empty inputs, for learning column names and types without data.
fn empty_profile(plan: &Plan) -> LazyFrame {
    let clock = Clock { as_of: plan.as_of };
    let ts = |lf: LazyFrame| {
        lf.with_column(lit(NULL).cast(dtype_of(crate::schema::Kind::Datetime)).alias("order_ts"))
            .with_column(lit(NULL).cast(DataType::String).alias("status"))
    };
    let key = [("_key", DataType::UInt32)];
    let orders = empty(Table::Orders, &key);
    let inputs = Inputs {
        customers: identity::golden(empty_resolved().lazy(), &plan.spec.identity),
        orders: orders.clone(),
        items: ts(empty(Table::OrderItems, &key)),
        events: empty(Table::Events, &key),
        social: empty(Table::SocialInteractions, &key),
        feedback: empty(Table::Feedback, &key),
    };
    let profile = score::rfm(features::profile(&inputs, clock, &plan.spec), orders.clone(), clock, plan);
    predict::with_model_inputs(profile, orders.clone(), orders, plan)
}

/// The schema of every output table, from the plan over empty inputs (the data dictionary's
/// types). Personal-data hashes are added as the privacy stage adds them.
pub fn output_schemas(plan: &Plan) -> Result<Vec<(String, Schema)>> {
    let profile = io::collect(score::apply_features(empty_profile(plan), plan))?;
    let (mut predicted, outcome) = predict::predict(profile, plan, None)?;
    for field in &plan.spec.privacy.hash_fields {
        let hashed = Column::new_empty(privacy::hmac_column(field).into(), &DataType::String);
        predicted.with_column(hashed).map_err(|e| Error::internal("privacy columns", e))?;
    }
    let mut outputs: Vec<(String, LazyFrame)> =
        pipeline::outputs(plan, predicted.lazy(), &outcome, None)?.into_iter().map(|(n, lf)| (n.to_string(), lf)).collect();
    outputs.push(("identity_map".into(), pipeline::identity_map_output(identity::identity_map(empty_resolved().lazy()))));
    let extra = [("_file", DataType::UInt32), ("_row", DataType::UInt32), ("reason", DataType::String)];
    outputs.push(("quarantine".into(), pipeline::quarantine_rows(Table::Customers, &[], empty(Table::Customers, &extra))));
    outputs
        .into_iter()
        .map(|(name, mut lf)| {
            let schema = lf.collect_schema().map_err(|e| Error::internal(&format!("{name} schema"), e))?;
            Ok((name, (*schema).clone()))
        })
        .collect()
}

fn check_expressions(plan: &Plan) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let mut lf = empty_profile(plan);
    let schema = |lf: &mut LazyFrame| lf.collect_schema().map(|s| (*s).clone());
    let base = match schema(&mut lf) {
        Ok(s) => s,
        Err(e) => return vec![ConfigIssue { key: "(plan)".into(), message: format!("internal error building the profile plan: {e}") }],
    };
    let mut names: Vec<String> = base.iter_names().map(|n| n.to_string()).collect();
    for f in &plan.features {
        if names.contains(&f.name) {
            issues.push(ConfigIssue { key: f.key.replace(".expr", ".name"), message: format!("`{}` already exists", f.name) });
            continue;
        }
        let mut next = lf.clone().with_column(f.expr.clone().alias(f.name.as_str()));
        match schema(&mut next) {
            Ok(_) => {
                lf = next;
                names.push(f.name.clone());
            }
            Err(e) => issues.push(ConfigIssue { key: f.key.clone(), message: format!("`{}`: {}", f.sql, first_line(&e)) }),
        }
    }
    let check_rules = |rules: &[config::NamedExpr], out_col: &str, lf: &mut LazyFrame, issues: &mut Vec<ConfigIssue>| {
        for r in rules {
            let mut probe = lf.clone().select([r.expr.clone().alias("_rule")]);
            match schema(&mut probe) {
                Ok(s) if s.get("_rule") == Some(&DataType::Boolean) => {}
                Ok(s) => issues.push(ConfigIssue {
                    key: r.key.clone(),
                    message: format!(
                        "`{}` must be true/false, it gives {}",
                        r.sql,
                        s.get("_rule").map(|d| d.to_string()).unwrap_or_default()
                    ),
                }),
                Err(e) => issues.push(ConfigIssue { key: r.key.clone(), message: format!("`{}`: {}", r.sql, first_line(&e)) }),
            }
        }
        *lf = lf.clone().with_column(lit(NULL).cast(DataType::String).alias(out_col));
    };
    // The models' columns, as the predict stage adds them (over the empty profile).
    let numeric = |d: &DataType| d.is_primitive_numeric() || d.is_bool();
    let current = schema(&mut lf).unwrap_or_default();
    let mut model_plan = plan.clone();
    for (i, f) in plan.spec.models.clusters.features.iter().enumerate() {
        let problem = match current.get(f.column.as_str()) {
            Some(d) if numeric(d) => continue,
            Some(d) => format!("`{}` is {d}, clustering needs a number", f.column),
            None => format!("unknown column `{}`", f.column),
        };
        issues.push(ConfigIssue { key: format!("models.clusters.features[{i}].column"), message: problem });
        model_plan.spec.models.clusters.features.clear(); // still check the rules below
    }
    match io::collect(lf.clone()).and_then(|df| predict::predict(df, &model_plan, None)) {
        Ok((df, _)) => lf = df.lazy(),
        Err(e) => return vec![ConfigIssue { key: "(models)".into(), message: format!("internal error planning the models: {e}") }],
    }
    check_rules(&plan.segments, "segment", &mut lf, &mut issues);
    check_rules(&plan.lifecycle, "lifecycle_stage", &mut lf, &mut issues);
    check_rules(&plan.tags, "tags", &mut lf, &mut issues);
    issues
}

fn first_line(e: &PolarsError) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("").trim();
    // polars lists every valid column after the name: too long for a config error.
    let line = line.split("; valid columns").next().unwrap_or(line);
    line.replace("not found: ", "").replace("ColumnNotFound: ", "unknown column ").replace("unable to find column", "unknown column")
}

/// `portrait explain`: the stages in order and the optimised plan of each output. Input
/// schemas are read; no data is; identity resolution is shown over an empty map.
pub fn explain(plan: &Plan) -> Result<String> {
    let mut out = String::from(
        "stages: ingest -> clean (normalise, dedupe, identity) -> features (basic, power, behavior, social, psych) -> score (rfm, config features, segment, lifecycle, tags) -> write\n",
    );
    let ingested = pipeline::ingest_all(plan)?;
    let mut built = pipeline::build(plan, ingested, empty_resolved())?;
    out.push_str(&format!("\n== profile (materialised before the models) ==\n{}\n", io::explain(&built.profile)?));
    // The outputs read the predicted profile; here an empty one with its columns.
    let schema = built.profile.collect_schema().map_err(|e| Error::internal("profile schema", e))?;
    let (predicted, outcome) = predict::predict(DataFrame::empty_with_schema(&schema), plan, None)?;
    let mut outputs = pipeline::outputs(plan, predicted.lazy(), &outcome, None)?;
    outputs.extend([("identity_map", built.identity_map.clone()), ("quarantine", built.quarantine.clone())]);
    for (name, lf) in outputs {
        out.push_str(&format!("\n== {name} ==\n{}\n", io::explain(&lf)?));
    }
    Ok(out)
}

/// A day is published when its manifest is in place (it is moved there last).
pub fn is_published(root: &Path, day: chrono::NaiveDate) -> bool {
    root.join(write::dt_folder(write::MANIFEST_TABLE, &day.format("%Y-%m-%d").to_string())).join("_manifest.json").exists()
}

/// Published days (with a manifest) before `as_of`, oldest first.
pub fn published_days(root: &Path) -> Vec<chrono::NaiveDate> {
    let Ok(entries) = std::fs::read_dir(root.join(write::MANIFEST_TABLE)) else { return Vec::new() };
    let mut days: Vec<chrono::NaiveDate> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| chrono::NaiveDate::parse_from_str(e.file_name().to_string_lossy().strip_prefix("dt=")?, "%Y-%m-%d").ok())
        .filter(|d| is_published(root, *d))
        .collect();
    days.sort();
    days
}

/// The newest published day before `as_of`, if any.
fn previous_day(root: &Path, as_of: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
    published_days(root).into_iter().filter(|d| *d < as_of).next_back()
}

/// A table of the newest published day before `as_of`, with that day (keys stay stable
/// across nights; profile changes are measured against it).
fn previous_table(root: &Path, table: &str, as_of: chrono::NaiveDate) -> Result<Option<(chrono::NaiveDate, DataFrame)>> {
    let Some(day) = previous_day(root, as_of) else { return Ok(None) };
    let df = read_published(root, table, day)?;
    if let Some(df) = &df {
        tracing::info!(dt = %day, table, rows = df.height(), "previous published day read");
    }
    Ok(df.map(|df| (day, df)))
}

/// All Parquet files of one table's published day as one frame (None without a folder or files).
pub fn read_published(root: &Path, table: &str, day: chrono::NaiveDate) -> Result<Option<DataFrame>> {
    let folder = root.join(write::dt_folder(table, &day.to_string()));
    let Ok(entries) = std::fs::read_dir(&folder) else { return Ok(None) };
    let mut files: Vec<std::path::PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "parquet")).collect();
    files.sort();
    let mut frames = Vec::new();
    for f in files {
        frames.push(io::parquet::read(&f)?);
    }
    let Some(mut df) = frames.pop() else { return Ok(None) };
    for f in frames {
        df.vstack_mut(&f).map_err(|e| Error::internal(table, e))?;
    }
    // The folder's Hive `dt` is not a column of the table.
    Ok(Some(df.drop("dt").unwrap_or(df)))
}

/// The first value of a Date column (None when null or absent).
fn first_date(df: &DataFrame, name: &str) -> Option<chrono::NaiveDate> {
    let days = df.column(name).ok()?.cast(&DataType::Int32).ok()?.i32().ok()?.get(0)?;
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days as i64))
}

/// A small table as JSON objects, one per row (for the manifest).
fn rows_as_json(df: &DataFrame) -> Vec<serde_json::Map<String, serde_json::Value>> {
    (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| {
                    let v = match c.get(i) {
                        Ok(AnyValue::String(s)) => serde_json::Value::from(s),
                        Ok(AnyValue::Null) | Err(_) => serde_json::Value::Null,
                        Ok(v) => v.extract::<f64>().map_or(serde_json::Value::Null, |f| {
                            if f.fract() == 0.0 && f.abs() < 1e15 {
                                serde_json::Value::from(f as i64)
                            } else {
                                serde_json::Value::from(f)
                            }
                        }),
                    };
                    (c.name().to_string(), v)
                })
                .collect()
        })
        .collect()
}

fn count(df: &DataFrame, name: &str) -> u64 {
    df.column(name).ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok().and_then(|ca| ca.get(0))).unwrap_or(0)
}

/// `portrait run` for one day: execute, check, publish. Returns the published manifest.
pub fn run(plan: &Plan) -> Result<Manifest> {
    let started = chrono::Utc::now();
    let run_id = format!("{}-{}", started.format("%Y%m%dT%H%M%S%3fZ"), std::process::id());
    let root = &plan.output_root;
    let _lock = publish::Lock::acquire(root, &started.to_rfc3339())?;
    // Every event of the run carries its id and day (`spans` in JSON logs).
    let _run_span = tracing::info_span!("run", run_id = %run_id, as_of = %plan.as_of).entered();
    let whole = Instant::now();
    tracing::info!(run_id = %run_id, as_of = %plan.as_of, input = %plan.input_root.display(), output = %root.display(), "run started");
    publish::clean_stale_staging(root); // we hold the lock: any staging folder is a dead run's
    let mut timings = BTreeMap::new();
    let mut clock = Instant::now();
    // One event per finished stage: its rows in and out and seconds (also in the manifest).
    let progress = crate::progress::Progress::start("reading customers");
    let mut stage_span = Some(tracing::info_span!("stage", stage = "ingest_customers").entered());
    let mut lap = |name: &str, rows_in: usize, rows_out: usize, timings: &mut BTreeMap<String, f64>| {
        let seconds = (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        tracing::info!(stage = name, rows_in, rows_out, seconds, "stage finished");
        let (next, doing) = match name {
            "ingest_customers" => ("identity", "identity resolution"),
            "identity" => ("execute", "reading every input and building the profile"),
            "execute" => ("models", "models"),
            "models" => ("score", "segments, lifecycle, tags, summaries"),
            "score" => ("write", "quality gates, writing"),
            _ => ("publish", "publishing"),
        };
        progress.stage(doing);
        // Events of the next stage carry its name (`spans` in JSON logs).
        stage_span.take();
        stage_span = Some(tracing::info_span!("stage", stage = next).entered());
        timings.insert(name.to_string(), seconds);
        clock = Instant::now();
    };

    let mut ingested = pipeline::ingest_all(plan)?;
    // The customers file is parsed once: its quarantine and counts are kept from this pass.
    let cust = ingested.get_mut(&Table::Customers).ok_or_else(|| Error::Internal("customers not ingested".into()))?;
    let [customers, quarantine, read, unparseable]: [DataFrame; 4] =
        io::collect_all(vec![pipeline::customer_records_of(cust), cust.quarantine.clone(), cust.read.clone(), cust.unparseable.clone()])?
            .try_into()
            .map_err(|_| Error::Internal("frame count".into()))?;
    (cust.quarantine, cust.read, cust.unparseable) = (quarantine.lazy(), read.lazy(), unparseable.lazy());
    if customers.height() == 0 {
        return Err(Error::input(plan.tables[0].location.display(), "table customers has no usable rows: nothing to profile"));
    }
    lap("ingest_customers", customers.height(), customers.height(), &mut timings);
    let previous = previous_table(root, "identity_map", plan.as_of)?.map(|(_, df)| df);
    let overrides = match &plan.spec.identity.overrides {
        Some(p) => identity::read_overrides(&plan.config_path.parent().unwrap_or(Path::new(".")).join(p))?,
        None => Vec::new(),
    };
    let ctx = identity::Context { previous: previous.as_ref(), overrides: &overrides, as_of: Some(plan.as_of) };
    let (resolved, identity_report) = identity::resolve_with(&customers, &plan.spec.identity, &ctx)?;
    lap("identity", customers.height(), identity_report.clusters, &mut timings);

    let built = pipeline::build(plan, ingested, resolved)?;
    // One pass over the inputs computes everything the models do not change; the model
    // stage then needs the whole profile in memory.
    let mut plans = vec![built.profile.clone(), built.newest_after.clone(), built.identity_map.clone(), built.quarantine.clone()];
    let n_acc = built.accounting.len();
    plans.extend(built.accounting.iter().map(|(_, lf)| lf.clone()));
    plans.extend(built.unparseable.iter().map(|(_, lf)| lf.clone()));
    let mut frames = io::collect_all(plans)?;
    let unparse_frames = frames.split_off(4 + n_acc);
    let acc_frames = frames.split_off(4);
    let [profile, newest, identity_map, quarantine]: [DataFrame; 4] =
        frames.try_into().map_err(|_| Error::Internal("frame count".into()))?;
    lap("execute", acc_frames.iter().map(|df| count(df, "read") as usize).sum(), profile.height(), &mut timings);
    let holdout_days = first_date(&newest, "last_day").map(|d| (d - plan.as_of).num_days() as f64);
    let people = profile.height();
    let (predicted, outcome) = predict::predict(profile, plan, holdout_days)?;
    let predicted = privacy::hash_fields(predicted, &plan.spec.privacy)?;
    lap("models", people, predicted.height(), &mut timings);
    let previous_profiles = previous_table(root, "profiles", plan.as_of)?.map(|(_, df)| df.lazy());
    let scored = pipeline::outputs(plan, predicted.lazy(), &outcome, previous_profiles)?;
    let names: Vec<&str> = scored.iter().map(|(n, _)| *n).collect();
    let mut tables: Vec<(&str, DataFrame)> =
        names.into_iter().zip(io::collect_all(scored.into_iter().map(|(_, lf)| lf).collect())?).collect();
    tables.insert(2, ("identity_map", identity_map));
    tables.push(("quarantine", quarantine));
    lap("score", people, tables.iter().map(|(_, df)| df.height()).sum(), &mut timings);

    let mut accounting = BTreeMap::new();
    let mut checks = Vec::new();
    let unparseable: BTreeMap<Table, &DataFrame> = built.unparseable.iter().map(|(t, _)| *t).zip(&unparse_frames).collect();
    for ((table, _), df) in built.accounting.iter().zip(&acc_frames) {
        let a = Accounting {
            read: count(df, "read"),
            used: count(df, "used"),
            duplicate: count(df, "duplicate"),
            quarantined: count(df, "quarantined"),
            after_as_of: count(df, "after_as_of"),
            unparseable: unparseable.get(table).map(|df| unp_counts(df)).unwrap_or_default(),
            missing_optional_columns: built.missing_optional.get(table).cloned().unwrap_or_default(),
            newest: df.column("newest").ok().and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string))),
        };
        if !a.balanced() {
            return Err(Error::Internal(format!("row accounting of {} does not balance: {a:?}", table.name())));
        }
        checks.push(Check {
            name: format!("rows_accounted_{}", table.name()),
            status: "pass",
            detail: format!(
                "read {} = used {} + duplicate {} + quarantined {} + after_as_of {}",
                a.read, a.used, a.duplicate, a.quarantined, a.after_as_of
            ),
        });
        accounting.insert(table.name().to_string(), a);
    }
    checks.push(key_check(&tables[0].1)?);
    for (name, df) in &tables {
        tracing::info!(table = *name, rows = df.height(), "output computed");
    }

    let previous_manifest = previous_day(root, plan.as_of)
        .map(|d| root.join(write::dt_folder(write::MANIFEST_TABLE, &d.to_string())).join("_manifest.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let observed = gates::Observed { as_of: plan.as_of, accounting: &accounting, outputs: &tables, previous: previous_manifest.as_ref() };
    let gate_results = gates::evaluate(&plan.spec.gates, &observed);
    for g in gate_results.iter().filter(|g| g.status != "pass") {
        tracing::warn!(gate = %g.name, status = %g.status, observed = ?g.observed, max = ?g.max, detail = %g.detail, "quality gate");
    }
    let failed: Vec<&gates::GateResult> = gate_results.iter().filter(|g| g.status == "fail").collect();
    if !failed.is_empty() {
        let report =
            serde_json::json!({"run_id": run_id, "as_of": plan.as_of.to_string(), "gates": gate_results, "accounting": accounting});
        let path = root.join("_rejected").join(format!("dt={}", plan.as_of)).join(format!("{run_id}.json"));
        publish::write_file(&path, serde_json::to_string_pretty(&report).unwrap_or_default().as_bytes())?;
        let names: Vec<String> = failed.iter().map(|g| format!("{} ({})", g.name, g.detail)).collect();
        return Err(Error::QualityGate(format!("{} failed; nothing published; report in {}", names.join("; "), path.display())));
    }
    tracing::info!(
        gates = gate_results.len(),
        warnings = gate_results.iter().filter(|g| g.status == "warn").count(),
        "quality gates passed"
    );

    let as_of = plan.as_of.format("%Y-%m-%d").to_string();
    let opts = WriteOptions { row_group_size: plan.spec.output.row_group_size, zstd_level: plan.spec.output.zstd_level };
    let outputs = write::stage_tables(root, &run_id, &as_of, &tables, opts)?;
    let documents = write::stage_documents(
        root,
        &run_id,
        &as_of,
        crate::report::TABLE,
        &documents(plan, &as_of, &tables, &accounting, &gate_results)?,
    )?;
    lap("write", tables.iter().map(|(_, df)| df.height()).sum(), outputs.len(), &mut timings);
    let inputs = built
        .files
        .iter()
        .flat_map(|(t, files)| {
            files.iter().map(move |f| InputEntry {
                table: t.name().into(),
                path: f.path.display().to_string(),
                bytes: f.bytes,
                duplicate_of: f.duplicate_of.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect();
    let manifest = Manifest {
        schema_version: io::parquet::SCHEMA_VERSION,
        run_id,
        as_of,
        pipeline: plan.config_path.display().to_string(),
        pipeline_sha256: plan.config_sha256.clone(),
        versions: BTreeMap::from([("portrait", env!("CARGO_PKG_VERSION")), ("polars", "0.55.2")]),
        inputs,
        accounting,
        outputs,
        documents,
        checks,
        gates: gate_results,
        identity: identity_report,
        models: outcome,
        rules: write::rules(plan),
        model_eval: rows_as_json(&tables.iter().find(|(n, _)| *n == "model_eval").expect("model_eval output").1),
        stage_seconds: timings.clone(),
    };
    write::publish(root, &manifest)?;
    let rows: u64 = manifest.accounting.values().map(|a| a.read).sum();
    let quarantined: u64 = manifest.accounting.values().map(|a| a.quarantined).sum();
    tracing::info!(
        as_of = %manifest.as_of,
        profiles = manifest.outputs[0].rows,
        input_rows = rows,
        quarantined,
        seconds = whole.elapsed().as_secs_f64(),
        "published"
    );
    Ok(manifest)
}

/// The day's `report.html` and the data dictionary it links to.
/// (No run id in them: the same day run twice gives the same files.)
fn documents(
    plan: &Plan,
    as_of: &str,
    tables: &[(&str, DataFrame)],
    accounting: &BTreeMap<String, Accounting>,
    gates: &[gates::GateResult],
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let table = |name: &str| &tables.iter().find(|(n, _)| *n == name).expect("every output is computed").1;
    let day = crate::report::Day {
        plan,
        as_of,
        profiles: table("profiles"),
        segment_summary: table("segment_summary"),
        accounting,
        gates,
        previous: previous_day(&plan.output_root, plan.as_of).map(|d| d.to_string()),
    };
    let report = crate::report::render(&day)?;
    let dictionary = crate::dictionary::markdown(plan, &crate::dictionary::describe(plan)?)?;
    Ok(vec![(crate::report::FILE_NAME, report.into_bytes()), (crate::dictionary::FILE_NAME, dictionary.into_bytes())])
}

fn unp_counts(df: &DataFrame) -> BTreeMap<String, u64> {
    df.get_column_names().into_iter().map(|n| (n.to_string(), count(df, n))).filter(|(_, v)| *v > 0).collect()
}

/// `customer_key` must be unique and non-null in profiles.
fn key_check(profiles: &DataFrame) -> Result<Check> {
    let key = profiles.column("customer_key").map_err(|e| Error::internal("profiles", e))?;
    let nulls = key.null_count();
    let unique = key.n_unique().map_err(|e| Error::internal("profiles", e))?;
    if nulls > 0 || unique != profiles.height() {
        return Err(Error::Internal(format!(
            "customer_key is not a unique non-null key: {nulls} nulls, {unique} distinct of {}",
            profiles.height()
        )));
    }
    Ok(Check { name: "customer_key_unique_not_null".into(), status: "pass", detail: format!("{unique} keys") })
}
