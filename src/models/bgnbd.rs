//! BG/NBD ("beta-geometric / negative binomial distribution"; Fader, Hardie and Lee 2005,
//! "Counting your customers the easy way"): while alive a customer buys as a Poisson process
//! with rate λ ~ Gamma(r, α); after every purchase they die with probability p ~ Beta(a, b).
//! Inputs per customer: x repeat purchases, t_x the time of the last one, T the time since
//! the first purchase, all in one time unit from the customer's first purchase.

use super::optimize::{nelder_mead, Minimum, Settings};
use super::special::{hyp2f1, ln_gamma};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Params {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// One customer's purchase summary, or several identical ones (`weight`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rft {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
    pub weight: f64,
}

/// Group identical (x, t_x, T): the likelihood is evaluated once per distinct summary, which
/// makes a fit over a million customers cost what one over a few thousand does.
pub fn compress(rows: impl IntoIterator<Item = (f64, f64, f64)>) -> Vec<Rft> {
    let mut map: std::collections::BTreeMap<(u64, u64, u64), f64> = Default::default();
    for (x, t_x, t) in rows {
        *map.entry((x.to_bits(), t_x.to_bits(), t.to_bits())).or_default() += 1.0;
    }
    map.into_iter()
        .map(|((x, t_x, t), w)| Rft { x: f64::from_bits(x), t_x: f64::from_bits(t_x), t: f64::from_bits(t), weight: w })
        .collect()
}

/// ln L for one customer (paper eq. 6, in logs; the two terms added with log-sum-exp).
pub fn log_likelihood_one(p: &Params, c: &Rft) -> f64 {
    let Params { r, alpha, a, b } = *p;
    let x = c.x;
    let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
    let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
    let a3 = -(r + x) * (alpha + c.t).ln();
    if x > 0.0 {
        let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + c.t_x).ln();
        let m = a3.max(a4);
        a1 + a2 + m + ((a3 - m).exp() + (a4 - m).exp()).ln()
    } else {
        a1 + a2 + a3
    }
}

/// The summaries with their times replaced by indexes into the distinct times: times are
/// whole days in some unit, so there are far fewer distinct times than summaries, and the
/// logarithms of α + t are computed once per distinct time.
pub struct Prepared<'a> {
    data: &'a [Rft],
    times: Vec<f64>,
    t_idx: Vec<u32>,
    tx_idx: Vec<u32>,
    /// x is a whole count below a million (else the per-customer formula is used).
    integral: bool,
    max_x: usize,
}

impl<'a> Prepared<'a> {
    pub fn new(data: &'a [Rft]) -> Prepared<'a> {
        let mut times: Vec<f64> = data.iter().flat_map(|c| [c.t, c.t_x]).collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        let index = |v: f64| times.partition_point(|t| *t < v) as u32;
        let max_x = data.iter().map(|c| c.x).fold(0.0, f64::max);
        Prepared {
            t_idx: data.iter().map(|c| index(c.t)).collect(),
            tx_idx: data.iter().map(|c| index(c.t_x)).collect(),
            integral: data.iter().all(|c| c.x.fract() == 0.0 && c.x >= 0.0) && max_x < 1e6,
            max_x: max_x as usize,
            times,
            data,
        }
    }
}

/// Σ weight · ln L over all customers.
pub fn log_likelihood(p: &Params, data: &[Rft]) -> f64 {
    log_likelihood_prepared(p, &Prepared::new(data))
}

/// Σ weight · ln L. The gamma-function terms depend on x alone and x counts purchases, so
/// they are computed once per distinct x, the logarithms of α + t once per distinct time.
/// Chunk sums are added in a fixed order: a rayon `sum` adds in whatever order threads
/// finish, and the fit would differ in the last bits from run to run.
pub fn log_likelihood_prepared(p: &Params, prep: &Prepared) -> f64 {
    if !prep.integral {
        return prep.data.iter().map(|c| c.weight * log_likelihood_one(p, c)).sum();
    }
    let Params { r, alpha, a, b } = *p;
    let head = ln_gamma(a + b) - ln_gamma(r) - ln_gamma(b) + r * alpha.ln();
    let by_x: Vec<(f64, f64)> = (0..=prep.max_x)
        .map(|x| x as f64)
        .map(|x| (head + ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x), a.ln() - (b + x - 1.0).ln()))
        .collect();
    let ln_times: Vec<f64> = prep.times.iter().map(|t| (alpha + t).ln()).collect();
    let one = |i: usize| {
        let c = &prep.data[i];
        let x = c.x;
        let (gammas, ln_a_over) = by_x[x as usize];
        let a3 = -(r + x) * ln_times[prep.t_idx[i] as usize];
        let rest = if x > 0.0 {
            let a4 = ln_a_over - (r + x) * ln_times[prep.tx_idx[i] as usize];
            // ln(e^a3 + e^a4) with one exponential: the larger term's is 1.
            a3.max(a4) + (-(a3 - a4).abs()).exp().ln_1p()
        } else {
            a3
        };
        c.weight * (gammas + rest)
    };
    let n = prep.data.len();
    let chunks: Vec<f64> = (0..n.div_ceil(1024)).into_par_iter().map(|k| (k * 1024..((k + 1) * 1024).min(n)).map(one).sum()).collect();
    chunks.iter().sum()
}

pub type Fit = super::Fit<Params>;

fn from_log(v: &[f64]) -> Params {
    Params { r: v[0].exp(), alpha: v[1].exp(), a: v[2].exp(), b: v[3].exp() }
}

/// Maximum-likelihood fit. Starts at r = a = b = 1 and α = mean T (α is a time scale); when
/// that search does not converge, three other starts are tried and the best converged one
/// is kept. `None` when no start gives a finite likelihood (for example no customers).
pub fn fit(data: &[Rft], penalizer: f64) -> Option<Fit> {
    let n: f64 = data.iter().map(|c| c.weight).sum();
    if n == 0.0 {
        return None;
    }
    let mean_t = (data.iter().map(|c| c.weight * c.t).sum::<f64>() / n).max(1e-3);
    let prepared = Prepared::new(data);
    let objective = |v: &[f64]| {
        let p = from_log(v);
        let penalty = penalizer * (p.r * p.r + p.alpha * p.alpha + p.a * p.a + p.b * p.b);
        -log_likelihood_prepared(&p, &prepared) / n + penalty
    };
    let starts = [[1.0, mean_t, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.5, mean_t / 2.0, 0.5, 2.0], [2.0, 2.0 * mean_t, 2.0, 5.0]];
    let mut best: Option<Minimum> = None;
    for s in starts {
        let start: Vec<f64> = s.iter().map(|v: &f64| v.ln()).collect();
        let m = nelder_mead(objective, &start, &Settings::default());
        let better = match &best {
            None => m.f.is_finite(),
            Some(b) => m.f.is_finite() && ((m.converged && !b.converged) || (m.converged == b.converged && m.f < b.f)),
        };
        let done = m.converged;
        if better {
            best = Some(m);
        }
        if done {
            break;
        }
    }
    let m = best?;
    let params = from_log(&m.x);
    Some(Fit { params, log_likelihood: log_likelihood_prepared(&params, &prepared), iterations: m.iterations, converged: m.converged })
}

/// P(alive | x, t_x, T) (paper eq. 8): 1 for customers with no repeat purchase, since under
/// BG/NBD a customer can only die right after a purchase.
pub fn p_alive(p: &Params, x: f64, t_x: f64, t: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let ratio = ((p.alpha + t) / (p.alpha + t_x)).ln() * (p.r + x);
    1.0 / (1.0 + (p.a / (p.b + x - 1.0)) * ratio.exp())
}

/// E[Y(h) | x, t_x, T]: expected purchases in the next `h` time units (paper eq. 10).
pub fn expected_purchases(p: &Params, x: f64, t_x: f64, t: f64, h: f64) -> f64 {
    if h <= 0.0 {
        return 0.0;
    }
    let Params { r, alpha, a, b } = *p;
    let z = h / (alpha + t + h);
    let lead = (a + b + x - 1.0) / (a - 1.0);
    let power = ((alpha + t) / (alpha + t + h)).powf(r + x);
    let numerator = 1.0 - power * hyp2f1(r + x, b + x, a + b + x - 1.0, z);
    let denominator = if x > 0.0 { 1.0 + (a / (b + x - 1.0)) * ((alpha + t) / (alpha + t_x)).powf(r + x) } else { 1.0 };
    lead * numerator / denominator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihood_matches_the_paper_formula_by_hand() {
        // r=2, α=3, a=2, b=3. Customer x=2, t_x=4, T=6:
        //   B(2,5)/B(2,3) = (1/30)/(1/12) = 0.4; Γ(4)/Γ(2) · 3² = 54; (3+6)^4 = 6561
        //   B(3,4)/B(2,3) = (1/60)/(1/12) = 0.2; (3+4)^4 = 2401
        //   L = 0.4·54/6561 + 0.2·54/2401
        // Customer x=0, T=6: L = 1 · 3²/(3+6)² = 1/9.
        let p = Params { r: 2.0, alpha: 3.0, a: 2.0, b: 3.0 };
        let c1 = Rft { x: 2.0, t_x: 4.0, t: 6.0, weight: 1.0 };
        let c2 = Rft { x: 0.0, t_x: 0.0, t: 6.0, weight: 1.0 };
        let l1: f64 = 0.4 * 54.0 / 6561.0 + 0.2 * 54.0 / 2401.0;
        assert!((log_likelihood_one(&p, &c1) - l1.ln()).abs() < 1e-12);
        assert!((log_likelihood_one(&p, &c2) - (1.0f64 / 9.0).ln()).abs() < 1e-12);
        assert!((log_likelihood(&p, &[c1, Rft { weight: 3.0, ..c2 }]) - (l1.ln() + 3.0 * (1.0f64 / 9.0).ln())).abs() < 1e-11);
    }

    #[test]
    fn p_alive_is_one_without_repeat_purchases() {
        let p = Params { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        assert_eq!(p_alive(&p, 0.0, 0.0, 38.0), 1.0);
        // eq. 8 by hand: 1 / (1 + a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)), x = 3, T = 38:
        // last purchase at 5 -> 1 / (1 + 0.17917 · 4.5047^3.243) = 0.0406 (probably gone);
        // at 37 -> 1 / (1 + 0.17917 · 1.02415^3.243) = 0.8378 (it may still have died then).
        assert!((p_alive(&p, 3.0, 5.0, 38.0) - 0.0406).abs() < 1e-4);
        assert!((p_alive(&p, 3.0, 37.0, 38.0) - 0.8378).abs() < 1e-4);
    }

    #[test]
    fn conditional_expectation_matches_the_published_spreadsheet() {
        // Fader, Hardie & Lee's spreadsheet: E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226.
        let p = Params { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        let e = expected_purchases(&p, 2.0, 30.43, 38.86, 39.0);
        assert!((e - 1.226).abs() < 0.001, "{e}");
    }
}
