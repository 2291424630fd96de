//! `portrait sample-responses`: the customers' answer to a published day's campaigns, for
//! generated data. Each person in a `treatment` group of the day's `audiences` places, with
//! probability `uplift`, one extra paid order on a day drawn evenly from the campaign's
//! response window (the 1st to the `response_days`-th day after), under the first of their
//! records in the day's `identity_map`. Control groups get nothing. So the expected lift in
//! response rate is `uplift x (1 - control response rate)`: what `campaign_eval` should find.
//! The orders go to `<input>/orders/responses-<day>.parquet` (re-running the command for the
//! same day rewrites the file).

use crate::config::{OutputTable, Plan};
use crate::error::{Error, Result};
use crate::stages::campaign::TREATMENT;
use crate::store::Store;
use chrono::Duration;
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Write the responses to the campaigns of `plan.as_of`; returns a one-line summary.
pub fn respond(plan: &Plan, uplift: f64, seed: u64) -> Result<String> {
    if !(0.0..=1.0).contains(&uplift) {
        return Err(Error::Usage("--uplift must be 0..=1".into()));
    }
    let day = plan.as_of;
    let store = Store::new(&plan.output_root);
    let missing = |t: OutputTable| Error::MissingInput(format!("{} of {day} is not published in {}", t.name(), plan.output_root.display()));
    let audiences = store.read_table(OutputTable::Audiences.name(), day)?.ok_or_else(|| missing(OutputTable::Audiences))?;
    let map = store.scan_table(OutputTable::IdentityMap.name(), day)?.ok_or_else(|| missing(OutputTable::IdentityMap))?;
    // A person's first record, by (source, id).
    let first = map
        .sort(["customer_key", "source", "source_customer_id"], Default::default())
        .group_by([col("customer_key")])
        .agg([col("source").first(), col("source_customer_id").first()]);
    let treated = audiences
        .lazy()
        .filter(col("group").eq(lit(TREATMENT)))
        .join(first, [col("customer_key")], [col("customer_key")], JoinArgs::new(JoinType::Inner))
        .sort(["campaign", "customer_key"], Default::default());
    let treated = crate::io::collect(treated)?;
    let fail = |e: PolarsError| Error::internal("sample responses", e);
    let s = |c: &str| treated.column(c).and_then(|c| c.str().cloned()).map_err(fail);
    let (campaign, source, id) = (s("campaign")?, s("source")?, s("source_customer_id")?);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (day.epoch_days() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let start = day.0.and_hms_opt(0, 0, 0).expect("midnight");
    let mut orders = Orders::default();
    for i in 0..treated.height() {
        let (Some(c), Some(src), Some(cid)) = (campaign.get(i), source.get(i), id.get(i)) else { continue };
        let Some(spec) = plan.campaigns.iter().find(|k| k.rule.name == c) else { continue };
        if !rng.gen_bool(uplift) {
            continue;
        }
        let when = start + Duration::days(rng.gen_range(1..=spec.response_days as i64)) + Duration::minutes(rng.gen_range(9 * 60..22 * 60));
        let amount = (rng.gen_range(4.0f64..5.5)).exp();
        orders.push(
            src,
            format!("RSP-{day}-{:06}", orders.order_id.len()),
            cid,
            crate::sample::micros(when),
            (amount * 100.0).round() / 100.0,
        );
    }
    let n = orders.order_id.len();
    let path = plan.input_root.join("orders").join(format!("responses-{day}.parquet"));
    crate::io::parquet::write_part(&mut orders.frame().map_err(fail)?, &path)?;
    Ok(format!("{n} response orders of {} treated people to {}", treated.height(), path.display()))
}

#[derive(Default)]
struct Orders {
    source: Vec<String>,
    order_id: Vec<String>,
    customer: Vec<String>,
    ts: Vec<i64>,
    net: Vec<f64>,
}

impl Orders {
    fn push(&mut self, source: &str, order_id: String, customer: &str, ts: i64, net: f64) {
        self.source.push(source.to_string());
        self.order_id.push(order_id);
        self.customer.push(customer.to_string());
        self.ts.push(ts);
        self.net.push(net);
    }

    fn frame(self) -> PolarsResult<DataFrame> {
        let n = self.order_id.len();
        DataFrame::new_infer_height(vec![
            Column::new("source".into(), self.source),
            Column::new("order_id".into(), self.order_id),
            Column::new("source_customer_id".into(), self.customer),
            crate::sample::ts_column("order_ts", self.ts)?,
            Column::new("channel".into(), vec!["app"; n]),
            Column::new("status".into(), vec!["paid"; n]),
            Column::new("gross_amount".into(), self.net.clone()),
            Column::new("discount_amount".into(), vec![0.0; n]),
            Column::new("net_amount".into(), self.net),
        ])
    }
}
