//! `portrait run`: one day as a list of phases, each handing a typed result to the next —
//! read the customers, resolve identities, one pass over every input, the models, the output
//! tables, the built-in checks and the gates, writing, publishing. `backfill` runs days in
//! order.

use super::validate::validate;
use crate::config::{GateTable, OutputTable, Overrides, Plan};
use crate::day::Day;
use crate::error::{Error, Result};
use crate::expr::KEY;
use crate::io::{self, parquet::WriteOptions, text::DecodedCopies};
use crate::outputs::{self, Tables};
use crate::pipeline::{self, Executed};
use crate::schema::Table;
use crate::stages::gates::{self, GateResult, Status};
use crate::stages::ingest::{self, Ingested};
use crate::stages::predict::Outcome;
use crate::stages::{campaign, erasure, identity, privacy};
use crate::store::{Accounting, Check, DocumentEntry, InputEntry, Manifest, RuleEntry, Store};
use polars::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

mod manifest;
mod phases;

pub use manifest::{Execution, Privacy, RunManifest, RunSections};
use phases::Stages;

/// `portrait run --from --to`: every day in order; published days are skipped unless `force`.
pub fn backfill(pipeline: &std::path::Path, from: Day, to: Day, force: bool, overrides: Overrides) -> Result<String> {
    if to < from {
        return Err(Error::Usage("--to must not be before --from".into()));
    }
    let (mut published, mut skipped) = (0, 0);
    for day in from.0.iter_days().take_while(|d| *d <= to.0).map(Day) {
        let plan = validate(pipeline, &Overrides { as_of: Some(day), ..overrides.clone() })?;
        if !force && Store::new(&plan.output_root).is_published(day) {
            tracing::info!(as_of = %day, "already published: skipped (use --force to re-run)");
            skipped += 1;
            continue;
        }
        run(&plan)?;
        published += 1;
    }
    Ok(format!("backfill {from}..{to}: published {published} days, skipped {skipped} already published"))
}

/// One day: execute, check, publish. Returns the published manifest.
pub fn run(plan: &Plan) -> Result<RunManifest> {
    let started = chrono::Utc::now();
    let run_id = crate::store::run_id(started);
    let store = Store::new(&plan.output_root);
    let _lock = store.lock(&started.to_rfc3339())?;
    // Every event of the run carries its id and day (`spans` in JSON logs).
    let _run_span = tracing::info_span!("run", run_id = %run_id, as_of = %plan.as_of).entered();
    let whole = Instant::now();
    tracing::info!(run_id = %run_id, as_of = %plan.as_of, input = %plan.input_root.display(), output = %store.root.display(), "run started");
    let mut stages = Stages::start();
    let work = store.work_dir(&run_id);
    let copies = DecodedCopies::under(work.join("decoded"));

    let start = pipeline::incremental::start(plan, &store.root);
    let held = pipeline::incremental::Held::read(&store.root, &start)?;
    let places = pipeline::Places { work: &work, root: &store.root, run_id: &run_id, copies: &copies };
    let (customers, customer_parts, mut ingested) = pipeline::customers::read(plan, &start, &held, &places)?;
    stages.done(customers.height(), customers.height());
    let (resolved, mut identity) = resolve_identities(plan, &store, &customers)?;
    let review = outputs::identity_review::build(&std::mem::take(&mut identity.review), &resolved)?;
    let requests = Requests::read(plan, &copies, &mut ingested)?;
    let (resolved, erased, suppressed, key) = apply_requests(plan, &requests, resolved)?;
    stages.done(customers.height(), identity.clusters);
    drop(customers); // `resolved` holds the records; execute frees them once it has what it needs
    let mut executed = pipeline::execute(plan, ingested, (resolved, customer_parts), &erased.records, start, &held, &places)
        .map_err(|e| pipeline::name_the_file(plan, &copies, e))?;
    requests.account(&mut executed)?;
    warn_lost_digits(&executed);
    stages.done(executed.accounting.values().map(|a| a.read as usize).sum(), executed.persons);
    let people = executed.persons;
    let fitted = fit_models(plan, &executed)?;
    stages.done(people, fitted.predictions.height());
    let earlier = earlier_audiences(plan, &store)?;
    let reach = campaign::Reach { suppressed, cooling_down: campaign::cooling_down(plan, &earlier)? };
    let review = without_erased(review, &erased)?;
    let (tables, models, campaigns) =
        build_tables(plan, &store, &run_id, &executed, fitted, key.as_ref(), &erased, (&reach, earlier), review)?;
    let _ = std::fs::remove_dir_all(&work);
    stages.done(people, tables.rows());
    let Executed { accounting, files, buckets, work_bytes, state, mode, full_because, .. } = executed;
    let execution = Execution { memory_limit_bytes: plan.run.memory_limit, buckets, mode, full_because };

    let checks = built_in_checks(&accounting, &tables.profiles)?;
    let gates = pass_gates(plan, &store, &run_id, &accounting, &tables)?;
    let accounting = by_name(accounting);
    let (outputs, documents) = write(plan, &store, &run_id, &tables, &accounting, &gates)?;
    stages.done(tables.rows(), outputs.len());
    let expired = plan.privacy.retention_days.map(|days| store.older_than(plan.as_of, days)).unwrap_or_default();
    let privacy = Privacy {
        key_id: key.map(|k| k.id),
        hash_fields: plan.privacy.hash_fields.iter().map(|f| f.name().to_string()).collect(),
        erasure: erased.report,
        retention_days: plan.privacy.retention_days,
        removed_days: expired.iter().map(|d| d.to_string()).collect(),
    };

    let manifest = Manifest {
        schema_version: io::parquet::SCHEMA_VERSION,
        run_id,
        as_of: plan.as_of.to_string(),
        pipeline: plan.config_path.display().to_string(),
        pipeline_sha256: plan.config_sha256.clone(),
        versions: BTreeMap::from([("portrait", env!("CARGO_PKG_VERSION")), ("polars", "0.55.2")]),
        inputs: input_entries(&files),
        accounting,
        outputs,
        documents,
        checks,
        run: RunSections {
            gates,
            identity,
            models,
            rules: rules(plan),
            model_eval: rows_as_json(&tables.model_eval),
            stage_seconds: stages.seconds,
            peak_memory_bytes: peak_memory_bytes(),
            work_disk_bytes: work_bytes,
            execution,
            privacy,
            campaigns,
        },
    };
    store.publish(plan.as_of, &manifest)?;
    state.save(&store.root)?;
    store.remove_days(&expired)?;
    tracing::info!(
        as_of = %manifest.as_of,
        profiles = tables.profiles.height(),
        input_rows = manifest.accounting.values().map(|a| a.read).sum::<u64>(),
        quarantined = manifest.accounting.values().map(|a| a.quarantined).sum::<u64>(),
        seconds = whole.elapsed().as_secs_f64(),
        peak_memory_mib = manifest.run.peak_memory_bytes.map(|b| b / (1 << 20)),
        work_disk_mib = manifest.run.work_disk_bytes >> 20,
        buckets = manifest.run.execution.buckets,
        "published"
    );
    Ok(manifest)
}

/// The `erasures` and `suppressions` requests in force on the day, when the tables are there.
struct Requests {
    erasures: Option<erasure::Requests>,
    suppressions: Option<erasure::Requests>,
}

impl Requests {
    fn read(plan: &Plan, copies: &DecodedCopies, ingested: &mut BTreeMap<Table, Ingested>) -> Result<Requests> {
        let mut read = |table: Table| match ingested.remove(&table) {
            Some(ing) => erasure::requests(&ing, table, plan.as_of).map(Some).map_err(|e| pipeline::name_the_file(plan, copies, e)),
            None => Ok(None),
        };
        Ok(Requests { erasures: read(Table::Erasures)?, suppressions: read(Table::Suppressions)? })
    }

    /// Their row accounting and quarantine, into the executed run's.
    fn account(self, executed: &mut Executed) -> Result<()> {
        let mut quarantine = vec![std::mem::replace(&mut executed.quarantine, DataFrame::empty()).lazy()];
        for (table, requests) in [(Table::Erasures, self.erasures), (Table::Suppressions, self.suppressions)] {
            if let Some(r) = requests {
                executed.accounting.insert(table, r.accounting);
                quarantine.push(r.rejected);
                quarantine.push(outputs::quarantine::rows(table, &r.files, r.unnamed));
            }
        }
        executed.quarantine = io::collect(outputs::quarantine::build(quarantine)?)?;
        Ok(())
    }
}

/// Take out the people erasure requests name (`stages::erasure`) and find those suppression
/// requests name: the kept records, the erased ones, the suppressed people's keys and the
/// privacy key when the run needs one.
fn apply_requests(
    plan: &Plan,
    requests: &Requests,
    resolved: DataFrame,
) -> Result<(DataFrame, erasure::Erased, HashSet<String>, Option<privacy::Key>)> {
    let none = erasure::Requests::none();
    let erasures = requests.erasures.as_ref().unwrap_or(&none);
    let suppressions = requests.suppressions.as_ref().unwrap_or(&none);
    let key = erasure::key_for(plan, &[(Table::Erasures, erasures), (Table::Suppressions, suppressions)])?;
    let (kept, erased) = erasure::erase(resolved, erasures, key.as_ref())?;
    let suppressed = erasure::named_people(&kept, suppressions, key.as_ref())?;
    Ok((kept, erased, suppressed, key))
}

/// Records -> persons, keeping the previous published day's keys and the steward's overrides.
fn resolve_identities(plan: &Plan, store: &Store, customers: &DataFrame) -> Result<(DataFrame, identity::Report)> {
    let previous = match store.previous_scan(OutputTable::IdentityMap.name(), plan.as_of)? {
        Some(map) => Some(io::collect(map.select([col("source"), col("source_customer_id"), col("customer_key"), col("key_created")]))?),
        None => None,
    };
    let overrides = match &plan.identity.overrides {
        Some(p) => identity::read_overrides(p)?,
        None => Vec::new(),
    };
    let ctx = identity::Context { previous: previous.as_ref(), overrides: &overrides, as_of: Some(plan.as_of.0) };
    identity::resolve_with(customers, &plan.identity, &ctx)
}

/// `identity_review` without the pairs that hold an erased person's record.
fn without_erased(review: DataFrame, erased: &erasure::Erased) -> Result<DataFrame> {
    if erased.records.height() == 0 {
        return Ok(review);
    }
    let key = |c: &str| [col(c)];
    let anti = JoinArgs::new(JoinType::Anti);
    let kept = review.lazy().join(erased.keys(), key("customer_key"), key("customer_key"), anti.clone()).join(
        erased.keys(),
        key("other_customer_key"),
        key("customer_key"),
        anti,
    );
    io::collect(kept)
}

/// The audiences of the days campaigns look back on (`customer_key`, `campaign`, `group`,
/// `day`: epoch day), from the published days among them.
fn earlier_audiences(plan: &Plan, store: &Store) -> Result<DataFrame> {
    let mut days = Vec::new();
    for back in 1..=plan.campaign_lookback_days() as i64 {
        let day = Day(plan.as_of.0 - chrono::Duration::days(back));
        if let Some(lf) = store.scan_table(OutputTable::Audiences.name(), day)? {
            let columns = [col("customer_key"), col("campaign"), col("group"), lit(day.epoch_days()).alias("day")];
            days.push(lf.select(columns));
        }
    }
    match days.is_empty() {
        true => outputs::campaign_eval::no_earlier(),
        false => io::collect(concat(days, UnionArgs::default()).map_err(|e| Error::internal("earlier audiences", e))?),
    }
}

/// What the population steps found: the statistics each person is compared with, every
/// person's predictions and the models' report.
struct Fitted {
    everyone: DataFrame,
    predictions: DataFrame,
    models: Outcome,
}

/// The population steps (step 4 of a run, docs/design.md) on a few columns of every person.
fn fit_models(plan: &Plan, executed: &Executed) -> Result<Fitted> {
    let people = executed.people.all()?;
    let everyone = io::collect(pipeline::population::everyone(people.clone(), plan))?;
    let holdout_days = executed.newest_after.map(|d| d.days_after(plan.as_of) as f64);
    let (predictions, models) = pipeline::population::models(people, everyone.clone().lazy(), plan, holdout_days)?;
    Ok(Fitted { everyone, predictions, models })
}

/// Every output table of the day: the score pass stages `profiles` and `tags` bucket by
/// bucket; the tables over everyone are read from those parts and the previous day's (without
/// the people erased today, who must not show up as changes either).
#[allow(clippy::too_many_arguments)] // what each earlier phase of the run produced, handed over once
fn build_tables(
    plan: &Plan,
    store: &Store,
    run_id: &str,
    executed: &Executed,
    fitted: Fitted,
    key: Option<&privacy::Key>,
    erased: &erasure::Erased,
    (reach, earlier): (&campaign::Reach, DataFrame),
    identity_review: DataFrame,
) -> Result<(Tables, Outcome, Vec<campaign::Counts>)> {
    let opts = WriteOptions::of(&plan.output);
    let Fitted { everyone, predictions, models } = fitted;
    let stage = |t: OutputTable, b: u32, df: &DataFrame| store.stage_part(run_id, t.name(), plan.as_of, b, df, opts);
    let passed = pipeline::score_pass::Passed {
        people: &executed.people,
        bought: &executed.bought,
        catalogue: &executed.catalogue,
        buckets: executed.buckets,
    };
    let scored =
        pipeline::score_pass::ScorePass { plan, passed, everyone: &everyone, predictions: &predictions, outcome: &models, key, reach }
            .run(stage)?;
    drop(predictions);
    // A staged table's parts, and the columns of it that gates, checks and the report read.
    let staged = |t: OutputTable| match scored.staged.get(&t) {
        Some(s) => Ok((store.scan_staged(run_id, &s.files)?, observed_columns(plan, t, &s.schema), s.files.iter().map(|f| f.rows).sum())),
        None => Err(Error::Internal(format!("{} was not staged", t.name()))),
    };
    let ((profiles, profile_columns, _), (tags, tag_columns, tag_rows)) = (staged(OutputTable::Profiles)?, staged(OutputTable::Tags)?);
    let (recommendations, recommendation_columns, recommendation_rows) = staged(OutputTable::Recommendations)?;
    let (audiences, audience_columns, audience_rows) = staged(OutputTable::Audiences)?;
    let keys = executed.people.all()?.select([col(KEY), col("customer_key")]);
    let campaign_eval = outputs::campaign_eval::build(earlier.lazy(), keys, executed.recent_orders.clone().lazy(), plan)?;
    // A table none of whose columns is read is held as its row count alone.
    let held =
        |df: DataFrame, columns_read: usize, rows: u64| if columns_read == 0 { DataFrame::empty_with_height(rows as usize) } else { df };
    let (tag_columns_read, recommendation_columns_read) = (tag_columns.len(), recommendation_columns.len());
    let previous = store
        .previous_scan(OutputTable::Profiles.name(), plan.as_of)?
        .map(|p| p.join(erased.keys(), [col("customer_key")], [col("customer_key")], JoinArgs::new(JoinType::Anti)));
    let s = outputs::summaries(plan, profiles.clone(), scored.holdout.lazy(), scored.recommendations_checked.lazy(), &models, previous)?;
    let frames = io::collect_all(vec![
        profiles.select(profile_columns),
        tags.select(tag_columns),
        recommendations.clone().select(recommendation_columns),
        audiences.select(audience_columns.clone()),
        s.segment_summary,
        s.model_eval,
        s.profile_changes,
        recommended_categories(recommendations.clone()),
        recommendations.filter(col("kind").eq(lit("sku")).and(col("rank").eq(lit(1u32)))).select([len().alias("n")]),
    ])?;
    let [profiles, tags, recommendations, audiences, segment_summary, model_eval, profile_changes, recommended_categories, recommended]: [DataFrame;
        9] = frames.try_into().map_err(|_| Error::Internal("a plan was not executed".into()))?;
    let recommended_customers = recommended.column("n").ok().and_then(|c| c.get(0).ok()?.extract::<u64>()).unwrap_or(0);
    let (tags, recommendations) =
        (held(tags, tag_columns_read, tag_rows), held(recommendations, recommendation_columns_read, recommendation_rows));
    let audiences = held(audiences, audience_columns.len(), audience_rows);
    let tables = Tables {
        profiles,
        tags,
        recommendations,
        audiences,
        campaign_eval,
        identity_map: executed.identity_map.clone(),
        identity_review,
        segment_summary,
        model_eval,
        profile_changes,
        quarantine: executed.quarantine.clone(),
        staged: scored.staged,
        recommended_categories,
        recommended_customers,
    };
    for (table, df) in tables.all() {
        tracing::info!(table = table.name(), rows = df.height(), "output computed");
    }
    Ok((tables, models, scored.campaigns))
}

/// The categories in most customers' recommendations (the report's chart): `category`,
/// `customers`, the 10 most.
fn recommended_categories(recommendations: LazyFrame) -> LazyFrame {
    recommendations
        .filter(col("kind").eq(lit("sku")))
        .group_by([col("category")])
        .agg([col("customer_key").n_unique().cast(DataType::UInt64).alias("customers")])
        .sort_by_exprs([col("customers"), col("category")], SortMultipleOptions::default().with_order_descending_multi([true, false]))
        .limit(10)
}

/// The columns of a staged table that the gates, the built-in checks and the report read
/// (every row of them is held; the table itself is not).
fn observed_columns(plan: &Plan, table: OutputTable, schema: &Schema) -> Vec<Expr> {
    let mut names = Vec::new();
    if table == OutputTable::Profiles {
        names.push("customer_key".to_string());
        names.extend(crate::report::profile_columns(plan));
    }
    for g in &plan.gates {
        if let (GateTable::Output(t), Some(c)) = (g.table, &g.column) {
            if t == table {
                names.push(c.clone());
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    names.into_iter().filter(|n| schema.contains(n) && seen.insert(n.clone())).map(|n| col(n.as_str())).collect()
}

/// One warning per input column in which a spreadsheet wrote ids or phones as numbers (their
/// values were not used; `unparseable` counts them), naming the table's files and what to do.
fn warn_lost_digits(executed: &Executed) {
    for (table, a) in &executed.accounting {
        for (column, n) in a.unparseable.iter().filter(|(c, n)| **n > 0 && ingest::DIGITS.contains(&c.as_str())) {
            let files: Vec<String> = executed.files.get(table).into_iter().flatten().map(|f| f.path.display().to_string()).collect();
            let files = match files.len() {
                0..=3 => files.join(", "),
                n => format!("{} and {} more", files[..3].join(", "), n - 3),
            };
            tracing::warn!(table = table.name(), column = %column, values = n, files = %files, "{}", ingest::LOST_DIGITS);
        }
    }
}

/// Rows accounted in every input table (already checked by `pipeline::execute`) and
/// `customer_key` unique and non-null: failing either is a bug (exit 70).
fn built_in_checks(accounting: &BTreeMap<Table, Accounting>, profiles: &DataFrame) -> Result<Vec<Check>> {
    let mut checks: Vec<Check> = accounting
        .iter()
        .map(|(table, a)| Check {
            name: format!("rows_accounted_{}", table.name()),
            status: "pass",
            detail: format!(
                "read {} = used {} + duplicate {} + quarantined {} + after_as_of {} + erased {}",
                a.read, a.used, a.duplicate, a.quarantined, a.after_as_of, a.erased
            ),
        })
        .collect();
    let key = profiles.column("customer_key").map_err(|e| Error::internal("profiles", e))?;
    let nulls = key.null_count();
    let unique = key.n_unique().map_err(|e| Error::internal("profiles", e))?;
    if nulls > 0 || unique != profiles.height() {
        return Err(Error::Internal(format!(
            "customer_key is not a unique non-null key: {nulls} nulls, {unique} distinct of {}",
            profiles.height()
        )));
    }
    checks.push(Check { name: "customer_key_unique_not_null".into(), status: "pass", detail: format!("{unique} keys") });
    Ok(checks)
}

/// The configured gates; a failing `fail` gate leaves its report in `_rejected/` and stops
/// the run (exit 1) with nothing published.
fn pass_gates(
    plan: &Plan,
    store: &Store,
    run_id: &str,
    accounting: &BTreeMap<Table, Accounting>,
    tables: &Tables,
) -> Result<Vec<GateResult>> {
    let previous = store.previous_day(plan.as_of).and_then(|d| store.manifest(d).ok());
    let outputs: Vec<(OutputTable, &DataFrame)> = tables.all().collect();
    let absent: Vec<Table> = plan.tables.iter().filter(|t| t.absent).map(|t| t.table).collect();
    let observed = gates::Observed { as_of: plan.as_of, accounting, outputs: &outputs, previous: previous.as_ref(), absent: &absent };
    let results = gates::evaluate(&plan.gates, &observed);
    for g in results.iter().filter(|g| matches!(g.status, Status::Warn | Status::Fail)) {
        tracing::warn!(gate = %g.name, status = ?g.status, observed = ?g.observed, max = ?g.max, detail = %g.detail, "quality gate");
    }
    let failed: Vec<String> = results.iter().filter(|g| g.status == Status::Fail).map(|g| format!("{} ({})", g.name, g.detail)).collect();
    if !failed.is_empty() {
        let report = serde_json::json!({"run_id": run_id, "as_of": plan.as_of.to_string(), "gates": results, "accounting": by_name(accounting.clone())});
        let path = store.reject(plan.as_of, run_id, serde_json::to_string_pretty(&report).unwrap_or_default().as_bytes())?;
        return Err(Error::QualityGate(format!("{} failed; nothing published; report in {}", failed.join("; "), path.display())));
    }
    let count = |status: Status| results.iter().filter(|g| g.status == status).count();
    tracing::info!(gates = results.len(), warnings = count(Status::Warn), skipped = count(Status::Skipped), "quality gates passed");
    Ok(results)
}

/// Stage every table and the day's documents: `report.html` and the data dictionary it links
/// to (no run id in them: the same day run twice gives the same files).
fn write(
    plan: &Plan,
    store: &Store,
    run_id: &str,
    tables: &Tables,
    accounting: &BTreeMap<String, Accounting>,
    gates: &[GateResult],
) -> Result<(Vec<crate::store::manifest::FileEntry>, Vec<DocumentEntry>)> {
    let mut outputs = Vec::new();
    for (t, df) in tables.all() {
        match tables.staged.get(&t) {
            Some(staged) => outputs.extend(staged.files.iter().cloned()),
            None => outputs.push(store.stage_part(run_id, t.name(), plan.as_of, 0, df, WriteOptions::of(&plan.output))?),
        }
    }
    let day = crate::report::Day {
        plan,
        as_of: plan.as_of,
        profiles: &tables.profiles,
        segment_summary: &tables.segment_summary,
        recommended_customers: tables.recommended_customers,
        recommended_categories: &tables.recommended_categories,
        campaign_eval: &tables.campaign_eval,
        review_pairs: tables.identity_review.height(),
        accounting,
        gates,
        previous: store.previous_day(plan.as_of),
    };
    let schemas: Vec<(OutputTable, Schema)> = tables.all().map(|(t, _)| (t, tables.schema(t))).collect();
    let dictionary = crate::dictionary::markdown(plan, &crate::dictionary::describe(plan, &schemas)?)?;
    let documents =
        [(crate::report::FILE_NAME, crate::report::render(&day)?.into_bytes()), (crate::dictionary::FILE_NAME, dictionary.into_bytes())];
    let documents = documents
        .iter()
        .map(|(name, data)| store.stage_document(run_id, crate::report::TABLE, plan.as_of, name, data))
        .collect::<Result<Vec<_>>>()?;
    Ok((outputs, documents))
}

/// Peak resident memory so far: `VmHWM` of /proc/self/status (Linux).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse::<u64>().ok()?;
    Some(kib * 1024)
}

/// Accounting keyed by table name, as the manifest and the report show it.
fn by_name(accounting: BTreeMap<Table, Accounting>) -> BTreeMap<String, Accounting> {
    accounting.into_iter().map(|(t, a)| (t.name().to_string(), a)).collect()
}

fn input_entries(files: &BTreeMap<Table, Vec<crate::io::scan::InputFile>>) -> Vec<InputEntry> {
    files
        .iter()
        .flat_map(|(t, files)| {
            files.iter().map(move |f| InputEntry {
                table: t.name().into(),
                path: f.path.display().to_string(),
                bytes: f.bytes,
                duplicate_of: f.duplicate_of.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect()
}

/// The manifest's `rules`: `segments`, `lifecycle` and `tags` in config order.
fn rules(plan: &Plan) -> BTreeMap<&'static str, Vec<RuleEntry>> {
    let entries = |rules: &[crate::config::NamedExpr]| {
        rules
            .iter()
            .map(|r| RuleEntry {
                name: r.name.clone(),
                when: r.sql.clone(),
                label: r.label_en.clone(),
                label_zh: r.label_zh.clone(),
                description: r.description.clone(),
            })
            .collect()
    };
    BTreeMap::from([("segments", entries(&plan.segments)), ("lifecycle", entries(&plan.lifecycle)), ("tags", entries(&plan.tags))])
}

/// A small table as JSON objects, one per row (for the manifest).
fn rows_as_json(df: &DataFrame) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let value = |v: AnyValue| match v {
        AnyValue::String(s) => serde_json::Value::from(s),
        AnyValue::Null => serde_json::Value::Null,
        v => v.extract::<f64>().map_or(serde_json::Value::Null, |f| {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                serde_json::Value::from(f as i64)
            } else {
                serde_json::Value::from(f)
            }
        }),
    };
    (0..df.height())
        .map(|i| df.columns().iter().map(|c| (c.name().to_string(), c.get(i).map_or(serde_json::Value::Null, value))).collect())
        .collect()
}
