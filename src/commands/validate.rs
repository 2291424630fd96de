//! `portrait validate`: a pipeline checked completely before any data is read — the config
//! (`config::load`), then every expression against the columns it can see, by planning the
//! pipeline over empty inputs. The same empty plan gives `portrait docs` its column types.

use crate::config::{self, OutputTable, Overrides, Plan};
use crate::error::{ConfigIssue, Error, Result};
use crate::expr::KEY;
use crate::schema::Table;
use crate::stages::features::Inputs;
use crate::stages::ingest::dtype_of;
use crate::stages::{identity, predict, privacy, score};
use crate::{io, outputs, pipeline};
use polars::prelude::*;
use std::path::Path;

/// Load and fully check a pipeline: config structure, then every expression against the
/// columns it can see. All problems are reported together (exit 78).
pub fn validate(path: &Path, overrides: &Overrides) -> Result<Plan> {
    let (plan, mut issues) = config::load(path, overrides)?;
    issues.extend(check_expressions(&plan));
    if !plan.privacy.hash_fields.is_empty() {
        if let Err(Error::Config { issues: key, .. }) = privacy::key(&plan.privacy) {
            issues.extend(key);
        }
    }
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
        ("_file", DataType::UInt32),
        ("_row", DataType::UInt32),
        ("customer_key", DataType::String),
        (KEY, DataType::UInt32),
        ("match_rule", DataType::String),
        ("match_score", DataType::Float64),
        ("key_created", DataType::Date),
    ];
    empty_df(Table::Customers, &extra)
}

/// The profile plan over empty inputs, for learning column names and types without data.
fn empty_profile(plan: &Plan) -> LazyFrame {
    let ts = |lf: LazyFrame| {
        lf.with_column(lit(NULL).cast(dtype_of(crate::schema::Kind::Datetime)).alias("order_ts"))
            .with_column(lit(NULL).cast(DataType::String).alias("status"))
    };
    let key = [(KEY, DataType::UInt32)];
    let orders = empty(Table::Orders, &key);
    let inputs = Inputs {
        customers: identity::golden(empty_resolved().lazy(), &plan.identity),
        orders: orders.clone(),
        items: ts(empty(Table::OrderItems, &key)),
        events: empty(Table::Events, &key),
        social: empty(Table::SocialInteractions, &key),
        feedback: empty(Table::Feedback, &key),
    };
    let per_person = pipeline::bucket::per_person(&inputs, orders, plan);
    pipeline::population::compared(per_person.clone(), pipeline::population::everyone(per_person, plan), plan)
}

/// The schema of every output table from the plan over empty inputs: the data dictionary's
/// types without data (`portrait docs`). Personal-data hashes are added as the privacy stage
/// adds them.
pub fn output_schemas(plan: &Plan) -> Result<Vec<(OutputTable, Schema)>> {
    let profile = io::collect(score::apply_features(empty_profile(plan), plan))?;
    let (mut predicted, outcome) = predict::predict(profile, plan, None)?;
    for &field in &plan.privacy.hash_fields {
        let hashed = Column::new_empty(privacy::hmac_column(field).into(), &DataType::String);
        predicted.with_column(hashed).map_err(|e| Error::internal("privacy columns", e))?;
    }
    let (p, s) = outputs::scored(plan, predicted.lazy(), &outcome)?;
    let keys = df!(KEY => Vec::<u32>::new(), "customer_key" => Vec::<String>::new()).map_err(|e| Error::internal("keys", e))?;
    let extra = [("_file", DataType::UInt32), ("_row", DataType::UInt32), ("reason", DataType::String)];
    let quarantine = outputs::quarantine::rows(Table::Customers, &[], empty(Table::Customers, &extra));
    let plans = [
        (OutputTable::Profiles, p.profiles),
        (OutputTable::Tags, p.tags),
        (OutputTable::Recommendations, outputs::recommendations::empty()?.lazy()),
        (OutputTable::Audiences, outputs::audiences::empty(plan)?.lazy()),
        (
            OutputTable::CampaignEval,
            outputs::campaign_eval::build(
                outputs::campaign_eval::no_earlier()?.lazy(),
                keys.lazy(),
                outputs::campaign_eval::no_orders()?.lazy(),
                plan,
            )?
            .lazy(),
        ),
        (OutputTable::IdentityMap, outputs::identity_map::build(identity::identity_map(empty_resolved().lazy()))),
        (OutputTable::IdentityReview, outputs::identity_review::build(&[], &empty_resolved())?.lazy()),
        (OutputTable::SegmentSummary, s.segment_summary),
        (OutputTable::ModelEval, s.model_eval),
        (OutputTable::ProfileChanges, s.profile_changes),
        (OutputTable::Quarantine, quarantine),
    ];
    plans
        .into_iter()
        .map(|(table, mut lf)| {
            let schema = lf.collect_schema().map_err(|e| Error::internal(&format!("{table} schema"), e))?;
            Ok((table, (*schema).clone()))
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
    for (i, f) in plan.models.clusters.features.iter().enumerate() {
        let problem = match current.get(f.column.as_str()) {
            Some(d) if numeric(d) => continue,
            Some(d) => format!("`{}` is {d}, clustering needs a number", f.column),
            None => format!("unknown column `{}`", f.column),
        };
        issues.push(ConfigIssue { key: format!("models.clusters.features[{i}].column"), message: problem });
        model_plan.models.clusters.features.clear(); // still check the rules below
    }
    match io::collect(lf.clone()).and_then(|df| predict::predict(df, &model_plan, None)) {
        Ok((df, outcome)) => match outputs::with_cluster_labels(df.lazy(), &outcome) {
            Ok(labelled) => lf = labelled,
            Err(e) => return vec![ConfigIssue { key: "(models)".into(), message: format!("internal error planning the models: {e}") }],
        },
        Err(e) => return vec![ConfigIssue { key: "(models)".into(), message: format!("internal error planning the models: {e}") }],
    }
    check_rules(&plan.segments, "segment", &mut lf, &mut issues);
    check_rules(&plan.lifecycle, "lifecycle_stage", &mut lf, &mut issues);
    check_rules(&plan.tags, "tags", &mut lf, &mut issues);
    // Audiences see every profile column and `tag_<name>` per tag.
    let tag_columns: Vec<Expr> = plan.tags.iter().map(|t| lit(false).alias(format!("tag_{}", t.name))).collect();
    let mut lf = lf.with_columns(tag_columns);
    let audiences: Vec<config::NamedExpr> = plan.campaigns.iter().map(|c| c.rule.clone()).collect();
    check_rules(&audiences, "_audience", &mut lf, &mut issues);
    issues
}

fn first_line(e: &PolarsError) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("").trim();
    // polars lists every valid column after the name: too long for a config error.
    let line = line.split("; valid columns").next().unwrap_or(line);
    line.replace("not found: ", "").replace("ColumnNotFound: ", "unknown column ").replace("unable to find column", "unknown column")
}
