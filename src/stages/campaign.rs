//! Campaigns (营销自动化): who of today's profiles each `[[campaigns]]` entry contacts, with a
//! random control group left out, and how the groups of earlier campaign days answered.
//!
//! Selection, per person, campaigns in priority order: the audience condition holds; the
//! golden `marketing_opt_in` is true; no `suppressions` request names them; they did not enter
//! this campaign within its cooldown; no earlier campaign of the day that is exclusive holds
//! them (and, for an exclusive campaign, no earlier campaign at all). Then a stable hash of
//! (campaign, customer_key) puts them in `control` when it falls below `control_share`, so a
//! re-run or a backfill assigns the same group.

use crate::config::{Campaign, Plan};
use crate::error::{Error, Result};
use polars::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

pub const TREATMENT: &str = "treatment";
pub const CONTROL: &str = "control";

/// A uniform draw in [0, 1) fixed by (campaign, customer_key): the first 8 bytes of
/// SHA-256(campaign, 0x1f, customer_key) over 2^64.
pub fn control_draw(campaign: &str, customer_key: &str) -> f64 {
    let digest = Sha256::new().chain_update(campaign.as_bytes()).chain_update([0x1f]).chain_update(customer_key.as_bytes()).finalize();
    let first = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    first as f64 / 18_446_744_073_709_551_616.0
}

/// The group `customer_key` is in when it enters `campaign`.
pub fn group(campaign: &Campaign, customer_key: &str) -> &'static str {
    if control_draw(&campaign.rule.name, customer_key) < campaign.control_share {
        CONTROL
    } else {
        TREATMENT
    }
}

/// Who is out of reach on the run's day.
#[derive(Default)]
pub struct Reach {
    /// Customer keys that `suppressions` requests in force name.
    pub suppressed: HashSet<String>,
    /// Per campaign, the customer keys that entered it within its cooldown (`cooling_down`).
    pub cooling_down: HashMap<String, HashSet<String>>,
}

/// Per campaign, who of the `earlier` audiences (`customer_key`, `campaign`, `day`: epoch day)
/// entered it within its cooldown before the run's day.
pub fn cooling_down(plan: &Plan, earlier: &DataFrame) -> Result<HashMap<String, HashSet<String>>> {
    let fail = |e: PolarsError| Error::internal("earlier audiences", e);
    let (key, name) = (
        earlier.column("customer_key").and_then(|c| c.str()).map_err(fail)?,
        earlier.column("campaign").and_then(|c| c.str()).map_err(fail)?,
    );
    let day = earlier.column("day").and_then(|c| c.i32()).map_err(fail)?;
    let today = plan.as_of.epoch_days();
    let cooldown = |n: &str| plan.campaigns.iter().find(|c| c.rule.name == n).map_or(0, |c| c.cooldown_days as i32);
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for i in 0..earlier.height() {
        if let (Some(k), Some(n), Some(d)) = (key.get(i), name.get(i), day.get(i)) {
            if today - d < cooldown(n) {
                out.entry(n.to_string()).or_default().insert(k.to_string());
            }
        }
    }
    Ok(out)
}

/// Per campaign, how many people its audience condition selected and why the ones left out
/// were left out (the manifest's `campaigns`; each person counted at the first reason).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub campaign: String,
    /// The audience condition held.
    pub matched: u64,
    /// `marketing_opt_in` is not true.
    pub no_consent: u64,
    pub suppressed: u64,
    /// Entered this campaign within its cooldown.
    pub cooling_down: u64,
    /// Taken by an earlier exclusive campaign (or already in one, for an exclusive campaign).
    pub in_other_campaign: u64,
    pub treatment: u64,
    pub control: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.matched += other.matched;
        self.no_consent += other.no_consent;
        self.suppressed += other.suppressed;
        self.cooling_down += other.cooling_down;
        self.in_other_campaign += other.in_other_campaign;
        self.treatment += other.treatment;
        self.control += other.control;
    }
}

/// One person entered in one campaign.
pub struct Entry {
    /// Row of the profiles frame.
    pub row: usize,
    /// Index into `plan.campaigns`.
    pub campaign: usize,
    pub group: &'static str,
}

/// The entries of the people in `profiles` (one bucket's rows: `customer_key`,
/// `basic_marketing_opt_in` and the columns the audiences read), in row then priority order.
pub fn select(profiles: &DataFrame, plan: &Plan, reach: &Reach) -> Result<(Vec<Entry>, Vec<Counts>)> {
    let mut counts: Vec<Counts> = plan.campaigns.iter().map(|c| Counts { campaign: c.rule.name.clone(), ..Default::default() }).collect();
    if plan.campaigns.is_empty() {
        return Ok((Vec::new(), counts));
    }
    let fail = |e: PolarsError| Error::internal("campaign audiences", e);
    let conditions: Vec<Expr> =
        plan.campaigns.iter().enumerate().map(|(i, c)| c.rule.expr.clone().fill_null(lit(false)).alias(format!("_audience_{i}"))).collect();
    let tags: Vec<Expr> = plan.tags.iter().map(|t| t.expr.clone().fill_null(lit(false)).alias(format!("tag_{}", t.name))).collect();
    let held = crate::io::collect(profiles.clone().lazy().with_columns(tags).select(conditions))?;
    let audiences: Vec<BooleanChunked> = held.columns().iter().map(|c| c.bool().cloned()).collect::<PolarsResult<_>>().map_err(fail)?;
    let keys = profiles.column("customer_key").and_then(|c| c.str()).map_err(fail)?;
    let consent = profiles.column("basic_marketing_opt_in").and_then(|c| c.bool()).map_err(fail)?;
    let mut entries = Vec::new();
    for row in 0..profiles.height() {
        let Some(key) = keys.get(row) else { continue };
        let (mut in_any, mut in_exclusive) = (false, false);
        for (i, campaign) in plan.campaigns.iter().enumerate() {
            if audiences[i].get(row) != Some(true) {
                continue;
            }
            let n = &mut counts[i];
            n.matched += 1;
            if consent.get(row) != Some(true) {
                n.no_consent += 1;
            } else if reach.suppressed.contains(key) {
                n.suppressed += 1;
            } else if reach.cooling_down.get(&campaign.rule.name).is_some_and(|keys| keys.contains(key)) {
                n.cooling_down += 1;
            } else if in_exclusive || (campaign.exclusive && in_any) {
                n.in_other_campaign += 1;
            } else {
                let group = group(campaign, key);
                if group == CONTROL {
                    n.control += 1;
                } else {
                    n.treatment += 1;
                }
                entries.push(Entry { row, campaign: i, group });
                (in_any, in_exclusive) = (true, in_exclusive || campaign.exclusive);
            }
        }
    }
    Ok((entries, counts))
}

/// One group's answer to one campaign day: customers, responders and each customer's revenue
/// in the window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub customers: u64,
    pub responders: u64,
    /// Revenue of the group in the window, and the sample variance of revenue per customer.
    pub revenue: f64,
    pub revenue_variance: f64,
}

impl Answer {
    pub fn rate(&self) -> Option<f64> {
        (self.customers > 0).then(|| self.responders as f64 / self.customers as f64)
    }

    pub fn revenue_per_customer(&self) -> Option<f64> {
        (self.customers > 0).then(|| self.revenue / self.customers as f64)
    }
}

/// z of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Treatment against control: the lift in response rate with its 95 % interval (Newcombe's
/// hybrid score interval for a difference of two proportions, from each rate's Wilson
/// interval: unlike the normal approximation it stays inside -1..1 and does not shrink to a
/// point when a small group's rate is 0 or 1), and the incremental revenue (treatment's
/// customers times the difference in revenue per customer) with its 95 % interval (Welch's
/// standard error of the difference of means).
#[derive(Clone, Debug, PartialEq)]
pub struct Effect {
    pub lift: f64,
    pub lift_low: f64,
    pub lift_high: f64,
    pub incremental_revenue: f64,
    pub incremental_revenue_low: f64,
    pub incremental_revenue_high: f64,
}

/// The Wilson score interval of `successes` of `n` (n > 0).
pub fn wilson(successes: u64, n: u64) -> (f64, f64) {
    let (n, p, z2) = (n as f64, successes as f64 / n as f64, Z95 * Z95);
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (centre - half, centre + half)
}

/// None unless both groups have customers.
pub fn effect(treatment: &Answer, control: &Answer) -> Option<Effect> {
    let (pt, pc) = (treatment.rate()?, control.rate()?);
    let ((lt, ut), (lc, uc)) = (wilson(treatment.responders, treatment.customers), wilson(control.responders, control.customers));
    let lift = pt - pc;
    let (nt, nc) = (treatment.customers as f64, control.customers as f64);
    let per_customer = treatment.revenue_per_customer()? - control.revenue_per_customer()?;
    let revenue_se = (treatment.revenue_variance / nt + control.revenue_variance / nc).sqrt();
    Some(Effect {
        lift,
        lift_low: lift - ((pt - lt).powi(2) + (uc - pc).powi(2)).sqrt(),
        lift_high: lift + ((ut - pt).powi(2) + (pc - lc).powi(2)).sqrt(),
        incremental_revenue: nt * per_customer,
        incremental_revenue_low: nt * (per_customer - Z95 * revenue_se),
        incremental_revenue_high: nt * (per_customer + Z95 * revenue_se),
    })
}

/// Each group's `Answer` per (campaign, campaign day): `members` (`customer_key`, `campaign`,
/// `group`, `day`: epoch day) and every member's revenue in the window (`customer_key`,
/// `campaign`, `day`, `revenue`; members without a paid order in it absent).
pub fn answers(members: &DataFrame, responses: &DataFrame) -> Result<HashMap<(String, i32, String), Answer>> {
    let fail = |e: PolarsError| Error::internal("campaign answers", e);
    let on = || [col("customer_key"), col("campaign"), col("day")];
    let per_group = members
        .clone()
        .lazy()
        .join(responses.clone().lazy(), on(), on(), JoinArgs::new(JoinType::Left))
        .with_columns([col("revenue").is_not_null().alias("_responded"), col("revenue").fill_null(lit(0.0))])
        .group_by([col("campaign"), col("day"), col("group")])
        .agg([
            len().cast(DataType::UInt64).alias("customers"),
            col("_responded").sum().cast(DataType::UInt64).alias("responders"),
            col("revenue").sum().alias("revenue"),
            col("revenue").var(1).fill_null(lit(0.0)).alias("revenue_variance"),
        ]);
    let df = crate::io::collect(per_group)?;
    let s = |c: &str| df.column(c).and_then(|c| c.str().cloned()).map_err(fail);
    let u = |c: &str| df.column(c).and_then(|c| c.cast(&DataType::UInt64)).and_then(|c| c.u64().cloned()).map_err(fail);
    let f = |c: &str| df.column(c).and_then(|c| c.cast(&DataType::Float64)).and_then(|c| c.f64().cloned()).map_err(fail);
    let day = df.column("day").and_then(|c| c.cast(&DataType::Int32)).and_then(|c| c.i32().cloned()).map_err(fail)?;
    let (campaign, group) = (s("campaign")?, s("group")?);
    let (customers, responders, revenue, variance) = (u("customers")?, u("responders")?, f("revenue")?, f("revenue_variance")?);
    let mut out = HashMap::new();
    for i in 0..df.height() {
        let (Some(c), Some(d), Some(g)) = (campaign.get(i), day.get(i), group.get(i)) else { continue };
        let answer = Answer {
            customers: customers.get(i).unwrap_or(0),
            responders: responders.get(i).unwrap_or(0),
            revenue: revenue.get(i).unwrap_or(0.0),
            revenue_variance: variance.get(i).unwrap_or(0.0),
        };
        out.insert((c.to_string(), d, g.to_string()), answer);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_draws_are_stable_and_uniform() {
        assert_eq!(control_draw("win_back", "K1"), control_draw("win_back", "K1"));
        assert_ne!(control_draw("win_back", "K1"), control_draw("new_products", "K1"));
        // 20,000 keys at a 10 % share: 2,000 expected, sd 42.4; within 4 sd.
        let n = (0..20_000).filter(|i| control_draw("win_back", &format!("C{i:08}")) < 0.1).count();
        assert!((1830..=2170).contains(&n), "{n}");
    }

    #[test]
    fn lift_and_interval_by_hand() {
        // Treatment 30 of 100 responded, control 10 of 50: lift 0.1. Wilson (z = 1.959964,
        // z^2 = 3.841459): 30/100 -> centre 0.319207/1.038415 = 0.307399, half 1.887458 x
        // sqrt(0.0021 + 0.000096) = 0.088448: 0.218951..0.395847; 10/50 -> centre
        // 0.238415/1.076829 = 0.221404, half 1.820127 x sqrt(0.0032 + 0.000384) = 0.108967:
        // 0.112437..0.330371. Newcombe: 0.1 - sqrt(0.081049^2 + 0.130371^2) = -0.053512,
        // 0.1 + sqrt(0.095847^2 + 0.087563^2) = 0.229823.
        // Revenue 1000 (variance 400) vs 300 (variance 100): per customer 10 vs 6, so
        // incremental 100 x 4 = 400; se = sqrt(400/100 + 100/50) = 2.449490,
        // 100 x (4 -+ 4.800912) = -80.091 .. 880.091.
        let t = Answer { customers: 100, responders: 30, revenue: 1000.0, revenue_variance: 400.0 };
        let c = Answer { customers: 50, responders: 10, revenue: 300.0, revenue_variance: 100.0 };
        let e = effect(&t, &c).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-5;
        let (l, u) = wilson(30, 100);
        assert!(close(l, 0.218951) && close(u, 0.395847), "{l} {u}");
        assert!(close(e.lift, 0.1) && close(e.lift_low, -0.053512) && close(e.lift_high, 0.229823), "{e:?}");
        assert!(close(e.incremental_revenue, 400.0), "{e:?}");
        assert!((e.incremental_revenue_low + 80.091).abs() < 1e-3 && (e.incremental_revenue_high - 880.091).abs() < 1e-3, "{e:?}");
        // Groups of one, 1 of 1 against 0 of 1: Wilson 1/(1 + z^2) = 0.206549..1 and
        // 0..0.793451, so the lift 1 has the interval 1 - sqrt(2 x 0.793451^2) = -0.122109 .. 1.
        let one = |r| Answer { customers: 1, responders: r, ..Default::default() };
        let e = effect(&one(1), &one(0)).unwrap();
        assert!(close(e.lift, 1.0) && close(e.lift_low, -0.122109) && close(e.lift_high, 1.0), "{e:?}");
        assert_eq!(effect(&t, &Answer::default()), None);
    }
}
