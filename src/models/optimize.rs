//! Nelder-Mead minimisation. The models fit a handful of positive parameters, so they search
//! over their logarithms (no bounds needed) with a derivative-free method that tolerates the
//! flat ridges BG/NBD likelihoods have; restarts from the best point guard against the
//! simplex collapsing early (the usual Nelder-Mead failure).

/// The outcome of a minimisation.
#[derive(Clone, Debug)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    pub iterations: usize,
    /// The simplex shrank below the tolerances before the iteration limit.
    pub converged: bool,
}

pub struct Settings {
    pub max_iterations: usize,
    /// Stop when the function values across the simplex differ by less than this.
    pub f_tol: f64,
    /// ... and the simplex is smaller than this in every coordinate.
    pub x_tol: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_iterations: 20_000, f_tol: 1e-10, x_tol: 1e-8 }
    }
}

/// Minimise `f` from `x0`; non-finite values count as +∞ (the method steps away from them).
pub fn nelder_mead(f: impl Fn(&[f64]) -> f64, x0: &[f64], settings: &Settings) -> Minimum {
    let eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let mut best = Minimum { x: x0.to_vec(), f: eval(x0), iterations: 0, converged: false };
    // Restart from the best point until a restart no longer improves it.
    for _ in 0..10 {
        let run = one_run(&eval, &best.x, settings, settings.max_iterations.saturating_sub(best.iterations));
        let improved = run.f < best.f - settings.f_tol;
        best = Minimum { iterations: best.iterations + run.iterations, ..run };
        if !improved || !best.converged {
            break;
        }
    }
    best
}

fn one_run(f: &impl Fn(&[f64]) -> f64, x0: &[f64], s: &Settings, budget: usize) -> Minimum {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut p = x0.to_vec();
        p[i] += if p[i].abs() > 1e-3 { 0.1 * p[i].abs().max(1.0) } else { 0.25 };
        simplex.push(p);
    }
    let mut values: Vec<f64> = simplex.iter().map(|p| f(p)).collect();
    let mut iterations = 0;
    let mut converged = false;
    while iterations < budget {
        iterations += 1;
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let spread = values[n] - values[0];
        let size =
            (1..=n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| (simplex[i][j] - simplex[0][j]).abs()).fold(0.0, f64::max);
        if spread.is_finite() && spread < s.f_tol && size < s.x_tol {
            converged = true;
            break;
        }
        let centroid: Vec<f64> = (0..n).map(|j| simplex[..n].iter().map(|p| p[j]).sum::<f64>() / n as f64).collect();
        let toward = |t: f64| -> Vec<f64> { (0..n).map(|j| centroid[j] + t * (simplex[n][j] - centroid[j])).collect() };
        let reflected = toward(-1.0);
        let fr = f(&reflected);
        if fr < values[0] {
            let expanded = toward(-2.0);
            let fe = f(&expanded);
            if fe < fr {
                (simplex[n], values[n]) = (expanded, fe);
            } else {
                (simplex[n], values[n]) = (reflected, fr);
            }
        } else if fr < values[n - 1] {
            (simplex[n], values[n]) = (reflected, fr);
        } else {
            let (contracted, fc) = if fr < values[n] {
                let c = toward(-0.5);
                let v = f(&c);
                (c, v)
            } else {
                let c = toward(0.5);
                let v = f(&c);
                (c, v)
            };
            if fc < values[n].min(fr) {
                (simplex[n], values[n]) = (contracted, fc);
            } else {
                // Shrink toward the best point.
                for i in 1..=n {
                    simplex[i] = (0..n).map(|j| simplex[0][j] + 0.5 * (simplex[i][j] - simplex[0][j])).collect();
                    values[i] = f(&simplex[i]);
                }
            }
        }
    }
    let best = (0..=n).min_by(|&a, &b| values[a].total_cmp(&values[b])).unwrap_or(0);
    Minimum { x: simplex[best].clone(), f: values[best], iterations, converged }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = nelder_mead(rosen, &[-1.2, 1.0], &Settings::default());
        assert!(m.converged);
        assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4, "{:?}", m.x);
    }

    #[test]
    fn steps_away_from_non_finite_values() {
        // ln is undefined below 0: the search must stay inside and find x = 2.
        let f = |x: &[f64]| (x[0] - 2.0).powi(2) - x[0].ln() * 0.0 + if x[0] <= 0.0 { f64::NAN } else { 0.0 };
        let m = nelder_mead(f, &[0.1], &Settings::default());
        assert!((m.x[0] - 2.0).abs() < 1e-4);
    }
}
