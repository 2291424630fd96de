//! `report.html`: one self-contained page per published day for analysts — segment sizes
//! and revenue, the RFM grid, the lifecycle funnel, segment migration since the previous day,
//! the models' CLV and alive-probability distributions, the categories recommended most,
//! personas, quality gates and row accounting. Charts are inline SVG (`charts`), the page a minijinja template; labels and
//! text follow `pipeline.locale`.

mod charts;

use crate::config::{Locale, NamedExpr, Plan};
use crate::error::{Error, Result};
use crate::models::f64s;
use crate::stages::gates::GateResult;
use crate::stages::predict;
use crate::stages::score::NO_PURCHASE;
use crate::store::Accounting;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// The report's file name inside `report/dt=YYYY-MM-DD/`.
pub const FILE_NAME: &str = "report.html";
/// The report's folder: published with the day's tables.
pub const TABLE: &str = "report";

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// The columns of `profiles` the report reads (`Day::profiles` holds at least these).
pub fn profile_columns(plan: &Plan) -> Vec<String> {
    let read = ["rfm_monetary", "power_spend_12m", "rfm_r", "rfm_f", "lifecycle_stage", "pred_p_alive"];
    read.iter().map(|c| c.to_string()).chain([predict::clv_column(&plan.models)]).collect()
}

/// What one published day's report is made from.
pub struct Day<'a> {
    pub plan: &'a Plan,
    pub as_of: crate::day::Day,
    pub profiles: &'a DataFrame,
    pub segment_summary: &'a DataFrame,
    /// Customers with recommendations, and the categories recommended most.
    pub recommended_customers: u64,
    pub recommended_categories: &'a DataFrame,
    /// The day's `campaign_eval` rows.
    pub campaign_eval: &'a DataFrame,
    /// Pairs of records waiting for a steward's decision (`identity_review`).
    pub review_pairs: usize,
    pub accounting: &'a BTreeMap<String, Accounting>,
    pub gates: &'a [GateResult],
    /// The published day the migrations compare with.
    pub previous: Option<crate::day::Day>,
}

#[derive(Serialize)]
struct Chart {
    id: String,
    title: String,
    svg: String,
    caption: String,
}

/// The page's words in both languages: (key, English, Chinese).
const WORDS: &[(&str, &str, &str)] = &[
    ("title", "Customer profile report", "客户画像日报"),
    ("customers", "customers", "客户"),
    ("buyers", "buyers", "购买客户"),
    ("revenue_12m", "revenue, last 12 months", "近12个月收入"),
    ("mean_clv", "mean predicted CLV", "平均预测客户终身价值"),
    ("review_pairs", "record pairs to review (identity_review)", "待人工核对的记录对（identity_review）"),
    ("dictionary", "Data dictionary: every table and column", "数据字典：所有表和字段"),
    ("segments", "Segments: size and revenue share", "客户分群：人数与收入占比"),
    ("segments_caption", "Share of all customers (blue) and of the last 12 months' revenue (orange) per RFM segment; no purchase = never bought.", "各RFM分群占全部客户的比例（蓝）与占近12个月收入的比例（橙）；未购买＝从未下单。"),
    ("customer_share", "customers", "客户占比"),
    ("revenue_share", "revenue, 12 months", "收入占比"),
    ("rfm", "RFM grid", "RFM矩阵"),
    ("rfm_caption", "Buyers by recency score (R, 5 = most recent) and frequency score (F); darker cells spend more on average (M), the number is the buyers in the cell.", "按最近购买得分R（5＝最近）和频次得分F统计购买客户；颜色越深平均消费（M）越高，数字为该格客户数。"),
    ("rfm_x", "R: recency score", "R 最近购买得分"),
    ("rfm_y", "F: frequency score", "F 购买频次得分"),
    ("funnel", "Lifecycle funnel", "生命周期漏斗"),
    ("funnel_caption", "Customers in each lifecycle stage, in the order of a customer's path (report.funnel).", "各生命周期阶段的客户数，按客户路径排列（report.funnel）。"),
    ("migration", "Segment migration", "分群迁移"),
    ("migration_caption", "Customers by their segment on the previous published day (rows) and today (columns); (new) and (gone) are customers present on one day only.", "客户在上一发布日（行）与今天（列）所属分群的人数；(new)与(gone)为只在其中一天出现的客户。"),
    ("migration_none", "No previous published day to compare with.", "没有可比较的上一发布日。"),
    ("migration_from", "previous day", "上一发布日"),
    ("migration_to", "today", "今天"),
    ("clv", "Predicted customer lifetime value", "预测客户终身价值"),
    ("clv_caption", "Buyers by expected discounted spend over the CLV horizon (BG/NBD × Gamma-Gamma); the last bar holds the top 1 %.", "按CLV期限内预期折现消费（BG/NBD × Gamma-Gamma）统计的购买客户；最后一栏为最高的1%。"),
    ("clv_x", "CLV", "客户终身价值"),
    ("alive", "Probability of still being a customer", "仍为活跃客户的概率"),
    ("recommendations", "Recommended categories", "推荐品类"),
    ("recommendations_caption", "Share of the customers with recommendations who have a sku of the category in their list. Customers with recommendations (a paid purchase):", "有推荐的客户中，推荐清单含该品类商品的比例。有推荐（有过付款购买）的客户："),
    ("recommended_share", "customers", "客户占比"),
    ("no_recommendations", "No paid purchase: nothing to recommend.", "没有付款购买记录：无推荐。"),
    ("alive_caption", "Buyers by the BG/NBD probability that they have not left; low values are the churn risk.", "按BG/NBD模型估计的未流失概率统计的购买客户；数值低即流失风险高。"),
    ("alive_x", "P(alive)", "存活概率"),
    ("count", "customers", "客户数"),
    ("not_fitted", "The models were not fitted on this day (see the manifest's models section).", "今天未拟合模型（见 manifest 的 models 部分）。"),
    ("personas", "Personas (k-means clusters)", "客户画像聚类（k-means）"),
    ("personas_caption", "Each persona is described by the features furthest from average.", "每个画像以偏离平均最多的特征描述。"),
    ("persona", "persona", "画像"),
    ("description", "description", "描述"),
    ("share", "share", "占比"),
    ("gates", "Data-quality gates", "数据质量检查"),
    ("gates_caption", "Checks run before publishing; a failing gate with severity fail would have stopped the run.", "发布前运行的检查；严重级别为 fail 的检查失败时不会发布。"),
    ("gate", "gate", "检查"),
    ("status", "status", "状态"),
    ("observed", "observed", "观测值"),
    ("max", "limit", "上限"),
    ("detail", "detail", "说明"),
    ("no_gates", "No gates are configured.", "未配置数据质量检查。"),
    ("accounting", "Row accounting", "行数核对"),
    ("accounting_caption", "Every input row is used, a duplicate, quarantined (see the quarantine table), newer than the run's date or of a person who asked to be erased. Values not used: read but rejected by cleaning (invalid) or not readable (unparseable, e.g. ids a spreadsheet wrote as numbers); their rows are used without them.", "每一行输入都被使用、判为重复、隔离（见 quarantine 表）、晚于运行日期或属于已申请删除个人信息的客户。未使用的值：读取后被清洗拒绝（无效）或无法读取（无法解析，例如被电子表格写成数字的编号）；其所在行仍被使用，但不含这些值。"),
    ("table", "table", "表"),
    ("read", "read", "读取"),
    ("used", "used", "使用"),
    ("duplicate", "duplicate", "重复"),
    ("quarantined", "quarantined", "隔离"),
    ("after_as_of", "after as-of", "晚于日期"),
    ("erased", "erased", "已删除"),
    ("not_usable", "values not used", "未使用的值"),
    ("invalid", "invalid", "无效"),
    ("unparseable", "unparseable", "无法解析"),
    ("no_purchase", "No purchase", "未购买"),
    ("campaign", "Campaign", "营销活动"),
    ("treatment", "treatment", "实验组"),
    ("control", "control (not contacted)", "对照组（未触达）"),
    ("final", "final", "最终"),
    ("partial", "so far", "进行中"),
    ("campaign_caption", "Share of each group with a paid order in the response window after the campaign day, with its 95 % interval. Lift (treatment − control) and its 95 % interval:", "活动日后响应窗口内有付款订单的客户比例及其95%区间。提升（实验组−对照组）及其95%区间："),
    ("incremental_revenue", "incremental revenue", "增量收入"),
    ("points", "pts", "个百分点"),
];

fn words(locale: Locale) -> BTreeMap<&'static str, &'static str> {
    WORDS.iter().map(|(k, en, zh)| (*k, if locale == Locale::Zh { *zh } else { *en })).collect()
}

fn strs(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .ok()
        .and_then(|c| c.cast(&DataType::String).ok())
        .map_or_else(Vec::new, |c| c.str().map(|s| s.iter().map(|v| v.map(str::to_string)).collect()).unwrap_or_default())
}

fn rows_of(summary: &DataFrame, grouping: &str) -> Result<DataFrame> {
    crate::io::collect(summary.clone().lazy().filter(col("grouping").eq(lit(grouping))))
}

/// A rule name as the locale shows it (names of no rule stay as they are).
fn label_of(rules: &[NamedExpr], name: &str, locale: Locale, w: &BTreeMap<&str, &str>) -> String {
    if name == NO_PURCHASE {
        return w["no_purchase"].to_string();
    }
    rules.iter().find(|r| r.name == name).map_or_else(|| name.to_string(), |r| r.label(locale).to_string())
}

/// The report of one day as HTML.
pub fn render(day: &Day) -> Result<String> {
    let plan = day.plan;
    let locale = plan.locale;
    let w = words(locale);
    let clv: Vec<f64> = f64s(day.profiles, &predict::clv_column(&plan.models))?.into_iter().flatten().collect();
    let customers = day.profiles.height();
    let buyers = f64s(day.profiles, "rfm_monetary")?.iter().filter(|v| v.is_some()).count();
    let revenue: f64 = f64s(day.profiles, "power_spend_12m")?.into_iter().flatten().sum();
    let mean_clv = if clv.is_empty() { None } else { Some(clv.iter().sum::<f64>() / clv.len() as f64) };

    let mut env = minijinja::Environment::new();
    env.add_template("report", TEMPLATE).map_err(|e| Error::internal("report template", e))?;
    let ctx = minijinja::context! {
        w => w,
        lang => locale.name(),
        pipeline => plan.name,
        as_of => day.as_of.to_string(),
        dictionary => crate::dictionary::FILE_NAME,
        kpis => vec![
            (w["customers"], thousands(customers as f64)),
            (w["buyers"], thousands(buyers as f64)),
            (w["revenue_12m"], thousands(revenue)),
            (w["mean_clv"], mean_clv.map_or_else(|| "–".to_string(), thousands)),
            (w["review_pairs"], thousands(day.review_pairs as f64)),
        ],
        charts => charts_of(day, &w, &clv)?,
        personas => personas(day.segment_summary, locale)?,
        gates => day.gates,
        accounting => day.accounting,
    };
    env.get_template("report").and_then(|t| t.render(ctx)).map_err(|e| Error::internal("report template", e))
}

/// The page's charts in order: segments, RFM grid, funnel, migration, CLV, P(alive).
fn charts_of(day: &Day, w: &BTreeMap<&str, &str>, clv: &[f64]) -> Result<Vec<Chart>> {
    let plan = day.plan;
    let locale = plan.locale;
    let chart =
        |id: &str, title: &str, svg: String, caption: &str| Chart { id: id.into(), title: title.into(), svg, caption: caption.into() };
    let mut list = Vec::new();

    // Segments by size, largest first.
    let seg = rows_of(day.segment_summary, "segment")?
        .sort(["customers"], SortMultipleOptions::default().with_order_descending(true))
        .map_err(|e| Error::internal("report", e))?;
    let names: Vec<String> =
        strs(&seg, "segment").into_iter().map(|s| label_of(&plan.segments, &s.unwrap_or_default(), locale, w)).collect();
    let share = |c| f64s(&seg, c).map(|v| v.into_iter().map(|v| v.unwrap_or(0.0)).collect::<Vec<_>>());
    let svg =
        charts::share_bars(&names, &[(w["customer_share"], share("customer_share")?), (w["revenue_share"], share("revenue_share")?)])?;
    list.push(chart("segments", w["segments"], svg, w["segments_caption"]));

    list.push(chart("rfm", w["rfm"], rfm_grid(day.profiles, plan.rfm.bins as usize, w)?, w["rfm_caption"]));

    // The funnel in report.funnel's order, else the rules'.
    let stages: Vec<String> =
        if plan.report.funnel.is_empty() { plan.lifecycle.iter().map(|r| r.name.clone()).collect() } else { plan.report.funnel.clone() };
    let in_stage = strs(day.profiles, "lifecycle_stage");
    let counts: Vec<(String, u64)> = stages
        .iter()
        .map(|s| (label_of(&plan.lifecycle, s, locale, w), in_stage.iter().filter(|v| v.as_deref() == Some(s.as_str())).count() as u64))
        .collect();
    list.push(chart("funnel", w["funnel"], charts::funnel(&counts)?, w["funnel_caption"]));

    let (migration_svg, caption) = match &day.previous {
        Some(prev) => (migration(day.segment_summary, plan, w)?, format!("{} ({prev} → {})", w["migration_caption"], day.as_of)),
        None => (charts::message(w["migration_none"])?, w["migration_caption"].to_string()),
    };
    list.push(chart("migration", w["migration"], migration_svg, &caption));

    let clv_svg = if clv.is_empty() {
        charts::message(w["not_fitted"])?
    } else {
        let mut sorted = clv.to_vec();
        sorted.sort_by(f64::total_cmp);
        let p99 = sorted[((sorted.len() - 1) as f64 * 0.99).round() as usize].max(1.0);
        charts::histogram(clv, 0.0, p99, 20, w["clv_x"], w["count"])?
    };
    list.push(chart("clv", w["clv"], clv_svg, w["clv_caption"]));
    let alive: Vec<f64> = f64s(day.profiles, "pred_p_alive")?.into_iter().flatten().collect();
    let alive_svg = if alive.is_empty() {
        charts::message(w["not_fitted"])?
    } else {
        charts::histogram(&alive, 0.0, 1.0, 10, w["alive_x"], w["count"])?
    };
    list.push(chart("alive", w["alive"], alive_svg, w["alive_caption"]));
    list.push(recommendations(day, w)?);
    list.extend(campaigns(day, w)?);
    Ok(list)
}

/// Per campaign its newest evaluated day (the newest final one, else the newest running one):
/// both groups' response rates with their Wilson intervals; the lift in the caption.
fn campaigns(day: &Day, w: &BTreeMap<&str, &str>) -> Result<Vec<Chart>> {
    let eval = day.campaign_eval;
    let (names, days, status) = (strs(eval, "campaign"), strs(eval, "campaign_day"), strs(eval, "status"));
    let number = |c: &str| f64s(eval, c);
    let (tc, tr, cc, cr) =
        (number("treatment_customers")?, number("treatment_responders")?, number("control_customers")?, number("control_responders")?);
    let (lift, low, high, revenue) = (number("lift")?, number("lift_low")?, number("lift_high")?, number("incremental_revenue")?);
    let mut charts = Vec::new();
    for (c, campaign) in day.plan.campaigns.iter().enumerate() {
        let rows = (0..eval.height()).filter(|&i| names[i].as_deref() == Some(campaign.rule.name.as_str()));
        // Newest final first, else newest: rows are by day within a campaign.
        let Some(i) = rows.clone().filter(|&i| status[i].as_deref() == Some("final")).last().or_else(|| rows.last()) else { continue };
        let groups = [(w["treatment"], tc[i], tr[i]), (w["control"], cc[i], cr[i])];
        let present: Vec<_> = groups.iter().filter(|(_, n, _)| n.unwrap_or(0.0) > 0.0).collect();
        let categories: Vec<String> = present.iter().map(|(name, n, _)| format!("{name} ({})", thousands(n.unwrap_or(0.0)))).collect();
        let rates: Vec<f64> = present.iter().map(|(_, n, r)| r.unwrap_or(0.0) / n.unwrap_or(1.0)).collect();
        let intervals: Vec<(f64, f64)> =
            present.iter().map(|(_, n, r)| crate::stages::campaign::wilson(r.unwrap_or(0.0) as u64, n.unwrap_or(1.0) as u64)).collect();
        let state = w[status[i].as_deref().unwrap_or("partial")];
        let title =
            format!("{}: {} ({}, {state})", w["campaign"], campaign.rule.label(day.plan.locale), days[i].clone().unwrap_or_default());
        let points = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{:+.1}", v * 100.0));
        let caption = format!(
            "{} {} {} [{}, {}]; {} {}.",
            w["campaign_caption"],
            points(lift[i]),
            w["points"],
            points(low[i]),
            points(high[i]),
            w["incremental_revenue"],
            revenue[i].map_or_else(|| "–".to_string(), thousands)
        );
        charts.push(Chart {
            id: format!("campaign-{}", c + 1),
            title,
            svg: charts::bars_with_intervals(&categories, &rates, &intervals)?,
            caption,
        });
    }
    Ok(charts)
}

/// The categories recommended to most customers, as shares of the customers with
/// recommendations; the caption gives the coverage.
fn recommendations(day: &Day, w: &BTreeMap<&str, &str>) -> Result<Chart> {
    let covered = day.recommended_customers;
    let customers = day.profiles.height().max(1);
    let caption = format!(
        "{} {} / {} ({:.1}%)",
        w["recommendations_caption"],
        thousands(covered as f64),
        thousands(customers as f64),
        100.0 * covered as f64 / customers as f64
    );
    let names: Vec<String> = strs(day.recommended_categories, "category").into_iter().map(Option::unwrap_or_default).collect();
    let shares: Vec<f64> =
        f64s(day.recommended_categories, "customers")?.into_iter().map(|v| v.unwrap_or(0.0) / covered.max(1) as f64).collect();
    let svg = if names.is_empty() {
        charts::message(w["no_recommendations"])?
    } else {
        charts::share_bars(&names, &[(w["recommended_share"], shares)])?
    };
    Ok(Chart { id: "recommendations".into(), title: w["recommendations"].into(), svg, caption })
}

/// Personas: the summary's cluster rows (numbered by size, so largest first).
fn personas(summary: &DataFrame, locale: Locale) -> Result<Vec<BTreeMap<&'static str, String>>> {
    let clusters = rows_of(summary, "cluster")?
        .sort(["customers"], SortMultipleOptions::default().with_order_descending(true))
        .map_err(|e| Error::internal("report", e))?;
    let description = if locale == Locale::Zh { "description_zh" } else { "description" };
    let (names, texts) = (strs(&clusters, "segment"), strs(&clusters, description));
    let (sizes, shares, clvs) = (f64s(&clusters, "customers")?, f64s(&clusters, "customer_share")?, f64s(&clusters, "mean_clv")?);
    Ok((0..clusters.height())
        .map(|i| {
            let number = names[i].as_deref().unwrap_or_default().trim_start_matches("cluster_").to_string();
            BTreeMap::from([
                ("cluster", number),
                ("description", texts[i].clone().unwrap_or_default()),
                ("customers", sizes[i].map_or_else(String::new, |v| format!("{v:.0}"))),
                ("share", shares[i].map_or_else(String::new, |s| format!("{:.1}%", s * 100.0))),
                ("mean_clv", clvs[i].map_or_else(String::new, |v| format!("{v:.0}"))),
            ])
        })
        .collect())
}

/// 1234567.8 -> "1,234,568".
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Buyers per (R, F) score cell, shaded by the cell's mean monetary value.
fn rfm_grid(profiles: &DataFrame, bins: usize, w: &BTreeMap<&str, &str>) -> Result<String> {
    let cells = crate::io::collect(
        profiles
            .clone()
            .lazy()
            .filter(col("rfm_r").is_not_null().and(col("rfm_f").is_not_null()))
            .group_by([col("rfm_r"), col("rfm_f")])
            .agg([len().alias("n"), col("rfm_monetary").mean().alias("m")])
            .sort(["rfm_r", "rfm_f"], Default::default()), // group order varies run to run
    )?;
    if cells.height() == 0 {
        return charts::message(w["not_fitted"]);
    }
    let (r, f, n, m) = (f64s(&cells, "rfm_r")?, f64s(&cells, "rfm_f")?, f64s(&cells, "n")?, f64s(&cells, "m")?);
    let (lo, hi) = m.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let shade = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let grid: Vec<(usize, usize, f64, String)> = (0..cells.height())
        .filter_map(|i| {
            let (r, f) = (r[i]? as usize, f[i]? as usize);
            Some((r - 1, f - 1, shade(m[i].unwrap_or(lo)), format!("{}", n[i]? as u64)))
        })
        .collect();
    let scores: Vec<String> = (1..=bins).map(|s| s.to_string()).collect();
    charts::heatmap(&scores, &scores, &grid, w["rfm_x"], w["rfm_y"])
}

/// Customers moving between segments since the previous day, as a from × to grid shaded
/// by the share of the `from` row.
fn migration(summary: &DataFrame, plan: &Plan, w: &BTreeMap<&str, &str>) -> Result<String> {
    let rows = rows_of(summary, "migration:segment")?;
    let moves: Vec<(String, String, f64)> = strs(&rows, "segment")
        .into_iter()
        .zip(f64s(&rows, "customers")?)
        .filter_map(|(s, n)| {
            let s = s?;
            let (from, to) = s.split_once(" -> ")?;
            Some((from.to_string(), to.to_string(), n?))
        })
        .collect();
    if moves.is_empty() {
        return charts::message(w["migration_none"]);
    }
    // Segments in config order, then never-bought, then anything else (new / gone).
    let mut order: Vec<String> = plan.segments.iter().map(|r| r.name.clone()).collect();
    order.push(NO_PURCHASE.into());
    for (from, to, _) in &moves {
        for s in [from, to] {
            if !order.contains(s) {
                order.push(s.clone());
            }
        }
    }
    let used: Vec<&String> = order.iter().filter(|s| moves.iter().any(|(f, t, _)| f == *s || t == *s)).collect();
    let labels: Vec<String> = used.iter().map(|s| label_of(&plan.segments, s, plan.locale, w)).collect();
    let index = |s: &String| used.iter().position(|u| *u == s).expect("listed above");
    let row_total = |from: &String| moves.iter().filter(|(f, ..)| f == from).map(|(.., n)| n).sum::<f64>();
    // Rows top to bottom in order: the y axis counts from the bottom.
    let k = used.len();
    let cells: Vec<(usize, usize, f64, String)> =
        moves.iter().map(|(f, t, n)| (index(t), k - 1 - index(f), n / row_total(f).max(1.0), format!("{n:.0}"))).collect();
    let rows_bottom_up: Vec<String> = labels.iter().rev().cloned().collect();
    charts::heatmap(&labels, &rows_bottom_up, &cells, w["migration_to"], w["migration_from"])
}
