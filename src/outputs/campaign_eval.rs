//! `campaign_eval` (效果评估): how the treatment and control groups of each campaign day answered
//! — a paid order within the campaign's `response_days` after the day — and the lift with its
//! 95 % interval (`stages::campaign::effect`). Every run evaluates each campaign day whose
//! window is running (`partial`) or ends on the run's day (`final`).

use super::{column, ColumnDoc, TableDoc, Values, COUNT, DAYS, MONEY, SHARE};
use crate::config::Plan;
use crate::error::{Error, Result};
use crate::expr::KEY;
use crate::stages::campaign::{self, Answer, CONTROL, TREATMENT};
use polars::prelude::*;

/// The table. `earlier`: audiences of earlier days (`customer_key`, `campaign`, `group`, `day`:
/// epoch day); `keys`: today's people (`_key`, `customer_key`; members no longer among them —
/// erased — are left out); `orders`: today's paid orders of the last days (`_key`, `day`,
/// `net_amount`).
pub fn build(earlier: LazyFrame, keys: LazyFrame, orders: LazyFrame, plan: &Plan) -> Result<DataFrame> {
    let fail = |e: PolarsError| Error::internal("campaign_eval", e);
    let today = plan.as_of.epoch_days();
    let windows = df!(
        "campaign" => plan.campaigns.iter().map(|c| c.rule.name.as_str()).collect::<Vec<_>>(),
        "_days" => plan.campaigns.iter().map(|c| c.response_days as i32).collect::<Vec<_>>(),
    )
    .map_err(fail)?;
    let by = |c: &str| [col(c)];
    let members = earlier
        .join(windows.lazy(), by("campaign"), by("campaign"), JoinArgs::new(JoinType::Inner))
        .filter(col("day").gt_eq(lit(today) - col("_days")).and(col("day").lt(lit(today))))
        .join(keys, by("customer_key"), by("customer_key"), JoinArgs::new(JoinType::Inner));
    let members = crate::io::collect(members)?;
    let in_window = col("_order_day").gt(col("day")).and(col("_order_day").lt_eq(col("day") + col("_days")));
    let responses = members
        .clone()
        .lazy()
        .join(
            orders.select([col(KEY), col("day").alias("_order_day"), col("net_amount")]),
            by(KEY),
            by(KEY),
            JoinArgs::new(JoinType::Inner),
        )
        .filter(in_window)
        .group_by([col("customer_key"), col("campaign"), col("day")])
        .agg([col("net_amount").sum().alias("revenue")]);
    let answers = campaign::answers(&members, &crate::io::collect(responses)?)?;
    let mut rows = Rows::default();
    for c in &plan.campaigns {
        let mut days: Vec<i32> = answers.keys().filter(|(name, ..)| *name == c.rule.name).map(|(_, d, _)| *d).collect();
        days.sort_unstable();
        days.dedup();
        for day in days {
            let get = |g: &str| answers.get(&(c.rule.name.clone(), day, g.to_string())).cloned().unwrap_or_default();
            rows.push(&c.rule.name, day, c.response_days as i32, today, &get(TREATMENT), &get(CONTROL));
        }
    }
    rows.frame()
}

/// `build`'s `earlier` without rows.
pub fn no_earlier() -> Result<DataFrame> {
    df!("customer_key" => Vec::<String>::new(), "campaign" => Vec::<String>::new(), "group" => Vec::<String>::new(), "day" => Vec::<i32>::new())
        .map_err(|e| Error::internal("campaign_eval", e))
}

/// `build`'s `orders` without rows.
pub fn no_orders() -> Result<DataFrame> {
    df!(KEY => Vec::<u32>::new(), "day" => Vec::<i32>::new(), "net_amount" => Vec::<f64>::new())
        .map_err(|e| Error::internal("campaign_eval", e))
}

#[derive(Default)]
struct Rows {
    campaign: Vec<String>,
    day: Vec<i32>,
    window_end: Vec<i32>,
    status: Vec<&'static str>,
    days_observed: Vec<i32>,
    customers: [Vec<u64>; 2],
    responders: [Vec<u64>; 2],
    rate: [Vec<Option<f64>>; 2],
    revenue_per_customer: [Vec<Option<f64>>; 2],
    effect: [Vec<Option<f64>>; 6],
}

impl Rows {
    fn push(&mut self, campaign: &str, day: i32, response_days: i32, today: i32, treatment: &Answer, control: &Answer) {
        self.campaign.push(campaign.to_string());
        self.day.push(day);
        self.window_end.push(day + response_days);
        self.status.push(if day + response_days <= today { "final" } else { "partial" });
        self.days_observed.push(response_days.min(today - day));
        for (i, a) in [treatment, control].into_iter().enumerate() {
            self.customers[i].push(a.customers);
            self.responders[i].push(a.responders);
            self.rate[i].push(a.rate());
            self.revenue_per_customer[i].push(a.revenue_per_customer());
        }
        let e = campaign::effect(treatment, control);
        let values =
            e.map(|e| [e.lift, e.lift_low, e.lift_high, e.incremental_revenue, e.incremental_revenue_low, e.incremental_revenue_high]);
        for (i, column) in self.effect.iter_mut().enumerate() {
            column.push(values.map(|v| v[i]));
        }
    }

    fn frame(self) -> Result<DataFrame> {
        let fail = |e: PolarsError| Error::internal("campaign_eval", e);
        let date = |name: &str, v: Vec<i32>| Column::new(name.into(), v).cast(&DataType::Date).map_err(fail);
        let mut columns = vec![
            Column::new("campaign".into(), self.campaign),
            date("campaign_day", self.day)?,
            date("window_end", self.window_end)?,
            Column::new("status".into(), self.status),
            Column::new("days_observed".into(), self.days_observed),
        ];
        let [tc, cc] = self.customers;
        let [tr, cr] = self.responders;
        let [trate, crate_] = self.rate;
        let [trev, crev] = self.revenue_per_customer;
        for (prefix, customers, responders, rate, revenue) in [("treatment", tc, tr, trate, trev), ("control", cc, cr, crate_, crev)] {
            columns.push(Column::new(format!("{prefix}_customers").into(), customers));
            columns.push(Column::new(format!("{prefix}_responders").into(), responders));
            columns.push(Column::new(format!("{prefix}_response_rate").into(), rate));
            columns.push(Column::new(format!("{prefix}_revenue_per_customer").into(), revenue));
        }
        let names = ["lift", "lift_low", "lift_high", "incremental_revenue", "incremental_revenue_low", "incremental_revenue_high"];
        for (name, values) in names.into_iter().zip(self.effect) {
            columns.push(Column::new(name.into(), values));
        }
        DataFrame::new_infer_height(columns).map_err(fail)
    }
}

pub const DOC: TableDoc = TableDoc {
    grain: "(campaign, campaign day)",
    about: "How the treatment and control groups of each campaign day in `audiences` answered: a response is a paid order in the `response_days` after the campaign day. Each run evaluates the campaign days whose window is running (`partial`, so far) or ended on its day (`final`). Members erased since are left out.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("campaign", "The campaign's name.", "", Values::Said("a [[campaigns]] name")),
    column("campaign_day", "The day of the audience evaluated.", "", Values::Any),
    column("window_end", "Last day of the response window (campaign_day + response_days).", "", Values::Any),
    column("status", "`final` when the window has ended by this run's day, else `partial`.", "", Values::OneOf(&["final", "partial"])),
    column("days_observed", "Days of the window seen so far.", DAYS, Values::Any),
    column("treatment_customers", "Customers in the treatment group.", COUNT, Values::Any),
    column("treatment_responders", "Of them, those with a paid order in the window.", COUNT, Values::Any),
    column("treatment_response_rate", "treatment_responders / treatment_customers.", SHARE, Values::Any),
    column("treatment_revenue_per_customer", "Net amount of the group's paid orders in the window / its customers.", MONEY, Values::Any),
    column("control_customers", "Customers in the control group (not contacted).", COUNT, Values::Any),
    column("control_responders", "Of them, those with a paid order in the window.", COUNT, Values::Any),
    column("control_response_rate", "control_responders / control_customers.", SHARE, Values::Any),
    column("control_revenue_per_customer", "Net amount of the group's paid orders in the window / its customers.", MONEY, Values::Any),
    column("lift", "treatment_response_rate - control_response_rate (null without both groups).", SHARE, Values::Any),
    column(
        "lift_low",
        "Lower end of the lift's 95 % interval (Newcombe's hybrid score interval from each rate's Wilson interval).",
        SHARE,
        Values::Any,
    ),
    column("lift_high", "Upper end of the lift's 95 % interval.", SHARE, Values::Any),
    column("incremental_revenue", "treatment_customers x (treatment - control revenue per customer).", MONEY, Values::Any),
    column("incremental_revenue_low", "Lower end of its 95 % interval (Welch's standard error).", MONEY, Values::Any),
    column("incremental_revenue_high", "Upper end of its 95 % interval.", MONEY, Values::Any),
];
