//! "Buy till you die" models and customer clusters, fitted on every run: BG/NBD for how many
//! purchases a customer will make and whether they are still a customer, Gamma-Gamma for what
//! those purchases are worth, a discounted CLV from both, and k-means personas. The same code
//! serves the nightly run (`stages::predict`) and `portrait models`.

pub mod bgnbd;
pub mod gamma_gamma;
pub mod kmeans;
pub mod optimize;
pub mod special;
pub mod summary;

use crate::error::{Error, Result};
use polars::prelude::{DataFrame, DataType};
use rayon::prelude::*;
use serde::Serialize;

/// How the models are fitted and what they predict (the `[models]` config section).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Days per time unit of the fit (7: weeks, as in the paper).
    pub unit_days: f64,
    /// Expected purchases are predicted over this many days.
    pub horizon_days: f64,
    /// CLV sums discounted expected spend over this many days, in 30-day steps.
    pub clv_horizon_days: f64,
    pub annual_discount_rate: f64,
    /// L2 penalty on the BG/NBD parameters (0 = plain maximum likelihood).
    pub penalizer: f64,
    /// Fewer buyers than this: no fit, the model columns stay null.
    pub min_customers: usize,
}

/// Model inputs of one customer (times in the fit's unit); `None` for people who never bought.
#[derive(Clone, Copy, Debug)]
pub struct Customer {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
    /// Mean spend per repeat purchase day (None when x = 0).
    pub monetary: Option<f64>,
}

/// The outcome of a maximum-likelihood fit: parameters, log-likelihood, how the optimiser ended.
#[derive(Clone, Debug, Serialize)]
pub struct Fit<P> {
    pub params: P,
    pub log_likelihood: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// What was fitted, for the manifest and `params.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub unit_days: f64,
    pub customers: usize,
    pub repeat_customers: usize,
    pub bgnbd: Option<bgnbd::Fit>,
    pub gamma_gamma: Option<gamma_gamma::Fit>,
    /// Fallbacks taken, in words (also logged as warnings).
    pub warnings: Vec<String>,
}

/// Per-customer predictions, aligned with the input; None where the model could not say.
#[derive(Clone, Debug, Default)]
pub struct Predictions {
    pub p_alive: Vec<Option<f64>>,
    pub purchases: Vec<Option<f64>>,
    pub order_value: Vec<Option<f64>>,
    pub clv: Vec<Option<f64>>,
    /// Expected purchases over the holdout, when one was asked for.
    pub holdout: Option<Vec<Option<f64>>>,
}

/// Fit BG/NBD and Gamma-Gamma on the buyers and predict for every customer.
/// `holdout_days`: also predict purchases over that many days (for the self-evaluation).
pub fn fit_and_predict(customers: &[Option<Customer>], s: &Settings, holdout_days: Option<f64>) -> (Report, Predictions) {
    let buyers: Vec<&Customer> = customers.iter().flatten().collect();
    let mut warnings = Vec::new();
    let bg = if buyers.len() < s.min_customers.max(1) {
        warnings.push(format!("BG/NBD not fitted: {} buyers, fewer than models.min_customers = {}", buyers.len(), s.min_customers));
        None
    } else {
        let fit = bgnbd::fit(&bgnbd::compress(buyers.iter().map(|c| (c.x, c.t_x, c.t))), s.penalizer);
        match &fit {
            None => warnings.push("BG/NBD fit failed from every start (likelihood not finite): pred_* and clv_* are null".into()),
            Some(f) if !f.converged => warnings
                .push(format!("BG/NBD did not converge in {} iterations from any start; the best parameters found are used", f.iterations)),
            _ => {}
        }
        fit
    };
    let repeat: Vec<(f64, f64)> = buyers.iter().filter_map(|c| c.monetary.map(|m| (c.x, m))).collect();
    let gg = gamma_gamma::fit(&repeat);
    let gg_usable = gg.as_ref().filter(|f| f.params.q > 1.0).map(|f| f.params);
    // Fallback without a usable spend model: the customer's own mean, else the repeat buyers' mean.
    let mean_repeat = (!repeat.is_empty()).then(|| repeat.iter().map(|r| r.1).sum::<f64>() / repeat.len() as f64);
    if gg_usable.is_none() && !buyers.is_empty() {
        warnings.push(format!(
            "Gamma-Gamma not usable ({}): pred_order_value is the customer's own mean spend, else the repeat buyers' mean",
            match &gg {
                None => "fewer than 10 repeat buyers or no finite likelihood".to_string(),
                Some(f) => format!("q = {:.3} <= 1", f.params.q),
            }
        ));
    }
    // Planning runs (validate, explain) predict over no rows: nothing to warn about.
    if customers.is_empty() {
        warnings.clear();
    }
    for w in &warnings {
        tracing::warn!(warning = %w, "models");
    }
    let unit = s.unit_days;
    let per_step = (1.0 + s.annual_discount_rate).powf(30.0 / 365.0) - 1.0;
    let steps = (s.clv_horizon_days / 30.0).ceil() as usize;
    // What BG/NBD says depends on (x, t_x, T) alone, and many customers share one: each
    // distinct summary is evaluated once (the series behind E[Y] are the costly part).
    // Per summary: P(alive), E[Y(horizon)], Σ over 30-day steps of the step's expected
    // purchases discounted (times the order value, that is the CLV), E[Y(holdout)].
    let key = |c: &Customer| (c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits());
    let by_summary: std::collections::HashMap<(u64, u64, u64), [f64; 4]> = match bg.as_ref().map(|f| f.params) {
        None => Default::default(),
        Some(p) => {
            let distinct: std::collections::BTreeSet<(u64, u64, u64)> = buyers.iter().map(|c| key(c)).collect();
            let distinct: Vec<(u64, u64, u64)> = distinct.into_iter().collect();
            distinct
                .par_iter()
                .map(|&k| {
                    let (x, t_x, t) = (f64::from_bits(k.0), f64::from_bits(k.1), f64::from_bits(k.2));
                    let expect = |days: f64| bgnbd::expected_purchases(&p, x, t_x, t, days / unit);
                    let mut previous = 0.0;
                    let discounted: f64 = (1..=steps)
                        .map(|i| {
                            let cumulative = expect((i as f64 * 30.0).min(s.clv_horizon_days));
                            let step = cumulative - previous;
                            previous = cumulative;
                            step / (1.0 + per_step).powi(i as i32)
                        })
                        .sum();
                    let holdout = holdout_days.map_or(f64::NAN, expect);
                    (k, [bgnbd::p_alive(&p, x, t_x, t), expect(s.horizon_days), discounted, holdout])
                })
                .collect()
        }
    };
    let one = |c: &Option<Customer>| -> [Option<f64>; 5] {
        let Some(c) = c else { return [None; 5] };
        let value = match gg_usable {
            Some(p) => gamma_gamma::expected_value(&p, c.monetary.map_or(0.0, |_| c.x), c.monetary.unwrap_or(0.0)),
            None => c.monetary.or(mean_repeat),
        };
        let Some([alive, purchases, discounted, holdout]) = by_summary.get(&key(c)).copied() else {
            return [None, None, value, None, None];
        };
        [Some(alive), Some(purchases), value, value.map(|v| v * discounted), holdout_days.map(|_| holdout)]
    };
    let rows: Vec<[Option<f64>; 5]> = customers.par_iter().map(one).collect();
    let column = |i: usize| rows.iter().map(|r| r[i]).collect::<Vec<_>>();
    let predictions = Predictions {
        p_alive: column(0),
        purchases: column(1),
        order_value: column(2),
        clv: column(3),
        holdout: holdout_days.map(|_| column(4)),
    };
    let report = Report { unit_days: unit, customers: buyers.len(), repeat_customers: repeat.len(), bgnbd: bg, gamma_gamma: gg, warnings };
    (report, predictions)
}

/// A column as floats (None for nulls).
pub fn f64s(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = df.column(name).and_then(|c| c.cast(&DataType::Float64)).map_err(|e| Error::internal(name, e))?;
    Ok(c.f64().map_err(|e| Error::internal(name, e))?.iter().collect())
}

/// The model inputs of every row of a summary frame, from the columns named
/// x, t_x, T and monetary (in that order); None for rows without purchases.
pub fn customers_of(df: &DataFrame, names: [&str; 4]) -> Result<Vec<Option<Customer>>> {
    let (x, t_x, t, m) = (f64s(df, names[0])?, f64s(df, names[1])?, f64s(df, names[2])?, f64s(df, names[3])?);
    Ok((0..df.height())
        .map(|i| match (x[i], t_x[i], t[i]) {
            (Some(x), Some(t_x), Some(t)) => Some(Customer { x, t_x, t, monetary: m[i] }),
            _ => None,
        })
        .collect())
}
