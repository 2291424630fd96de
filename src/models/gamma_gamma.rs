//! Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee 2005, "RFM and CLV";
//! Fader and Hardie 2013, "The Gamma-Gamma model of monetary value"): a customer's
//! transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers. Fitted on
//! repeat customers' mean value per repeat transaction m̄ over x transactions.

use super::optimize::{nelder_mead, Settings};
use super::special::ln_gamma;
use rayon::prelude::*;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Params {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

pub type Fit = super::Fit<Params>;

/// ln of the density of m̄ given x (Fader & Hardie 2013, eq. 3).
pub fn log_likelihood_one(p: &Params, x: f64, m: f64) -> f64 {
    let Params { p, q, gamma } = *p;
    ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q) + q * gamma.ln() + (p * x - 1.0) * m.ln() + p * x * x.ln()
        - (p * x + q) * (gamma + x * m).ln()
}

/// The customers' (x, m̄) with what every evaluation of the likelihood shares: per distinct x
/// its count, and the sums of ln m̄ and x · ln m̄ (the likelihood is linear in them), so that an
/// evaluation takes one logarithm per customer.
struct Prepared<'a> {
    data: &'a [(f64, f64)],
    /// x is a whole count below a million (else the per-customer formula is used).
    per_x: Option<Vec<f64>>,
    sum_ln_m: f64,
    sum_x_ln_m: f64,
}

impl<'a> Prepared<'a> {
    fn new(data: &'a [(f64, f64)]) -> Prepared<'a> {
        let max_x = data.iter().map(|c| c.0).fold(0.0, f64::max);
        let per_x = (data.iter().all(|c| c.0.fract() == 0.0 && c.0 >= 0.0) && max_x < 1e6).then(|| {
            let mut counts = vec![0.0; max_x as usize + 1];
            for &(x, _) in data {
                counts[x as usize] += 1.0;
            }
            counts
        });
        let sum_ln_m = data.iter().map(|c| c.1.ln()).sum();
        let sum_x_ln_m = data.iter().map(|c| c.0 * c.1.ln()).sum();
        Prepared { data, per_x, sum_ln_m, sum_x_ln_m }
    }
}

/// Σ ln L over (x, m̄) (`Prepared`). Chunk sums are added in a fixed order so the fit is the
/// same on every run (see `bgnbd::log_likelihood`).
fn log_likelihood(p: &Params, prep: &Prepared) -> f64 {
    let Some(per_x) = &prep.per_x else {
        return prep.data.iter().map(|&(x, m)| log_likelihood_one(p, x, m)).sum();
    };
    let Params { p, q, gamma } = *p;
    let head = q * gamma.ln() - ln_gamma(q);
    let by_x: f64 = per_x
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0.0)
        .map(|(x, n)| {
            let x = x as f64;
            n * (head + ln_gamma(p * x + q) - ln_gamma(p * x) + p * x * x.ln())
        })
        .sum();
    let one = |&(x, m): &(f64, f64)| (p * x + q) * (gamma + x * m).ln();
    let chunks: Vec<f64> = prep.data.par_chunks(1024).map(|c| c.iter().map(one).sum()).collect();
    by_x + p * prep.sum_x_ln_m - prep.sum_ln_m - chunks.iter().sum::<f64>()
}

/// Fit on (x, m̄) of customers with x > 0 and m̄ > 0 (others carry no spend information).
/// `None` when fewer than 10 such customers exist or the likelihood is never finite.
pub fn fit(data: &[(f64, f64)]) -> Option<Fit> {
    let data: Vec<(f64, f64)> = data.iter().copied().filter(|&(x, m)| x > 0.0 && m > 0.0).collect();
    if data.len() < 10 {
        return None;
    }
    let n = data.len() as f64;
    let prepared = Prepared::new(&data);
    let ll = |p: &Params| log_likelihood(p, &prepared);
    let objective = |v: &[f64]| -ll(&Params { p: v[0].exp(), q: v[1].exp(), gamma: v[2].exp() }) / n;
    let m = nelder_mead(objective, &[0.0, 0.0, 0.0], &Settings::default());
    if !m.f.is_finite() {
        return None;
    }
    let params = Params { p: m.x[0].exp(), q: m.x[1].exp(), gamma: m.x[2].exp() };
    Some(Fit { params, log_likelihood: ll(&params), iterations: m.iterations, converged: m.converged })
}

/// E[M | x, m̄]: the expected value of this customer's future transactions, a weighted mean of
/// the population mean pγ/(q-1) and the customer's own m̄ (x = 0 gives the population mean).
/// `None` when q <= 1 (the population mean does not exist).
pub fn expected_value(p: &Params, x: f64, m: f64) -> Option<f64> {
    (p.q > 1.0).then(|| p.p * (p.gamma + x * m) / (p.p * x + p.q - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihood_by_hand() {
        // p=2, q=3, γ=4, x=1, m̄=2: Γ(5)/(Γ(2)Γ(3)) · 4³ · 2¹ · 1² / (4+2)^5 = 12 · 64 · 2 / 7776.
        let p = Params { p: 2.0, q: 3.0, gamma: 4.0 };
        let by_hand: f64 = 12.0 * 64.0 * 2.0 / 7776.0;
        assert!((log_likelihood_one(&p, 1.0, 2.0) - by_hand.ln()).abs() < 1e-12);
    }

    #[test]
    fn summed_likelihood_equals_the_sum_of_each_customers() {
        let p = Params { p: 6.25, q: 3.74, gamma: 15.44 };
        let data: Vec<(f64, f64)> = (1..3000).map(|i| ((i % 7 + 1) as f64, 5.0 + (i % 97) as f64 * 1.7)).collect();
        let each: f64 = data.iter().map(|&(x, m)| log_likelihood_one(&p, x, m)).sum();
        assert!((log_likelihood(&p, &Prepared::new(&data)) - each).abs() < 1e-9 * each.abs());
    }

    #[test]
    fn expected_value_shrinks_toward_the_population_mean() {
        let p = Params { p: 6.25, q: 3.74, gamma: 15.44 };
        let population = 6.25 * 15.44 / 2.74;
        assert!((expected_value(&p, 0.0, 0.0).unwrap() - population).abs() < 1e-9);
        let e = expected_value(&p, 10.0, 100.0).unwrap();
        assert!(e > population && e < 100.0);
        assert!(expected_value(&Params { q: 0.9, ..p }, 1.0, 1.0).is_none());
    }
}
