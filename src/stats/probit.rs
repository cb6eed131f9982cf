//! The linear fit of two datasets' accuracies in probit space (Recht et al. 2019, "Do ImageNet
//! classifiers generalize to ImageNet?", Figure 1): each accuracy p (a fraction) becomes
//! Φ⁻¹(p), and Φ⁻¹(b) = slope · Φ⁻¹(a) + intercept is fitted by ordinary least squares. On that
//! scale accuracies of models that generalize alike fall on a line; the residual of a model
//! says how far it sits above (positive) or below the line on dataset `b`.

use serde::{Deserialize, Serialize};

/// An ordinary least-squares line y = slope · x + intercept and each point's residual y − ŷ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearFit {
    pub slope: f64,
    pub intercept: f64,
    pub residuals: Vec<f64>,
}

/// Fit Φ⁻¹(b/100) on Φ⁻¹(a/100) for accuracies in percent. `None` when an accuracy is 0 or 100
/// (its probit is infinite), the columns differ in length, fewer than three models are given
/// (two points always lie on a line), or `a` is constant.
pub fn probit_fit(a: &[f64], b: &[f64]) -> Option<LinearFit> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let x = a
        .iter()
        .map(|v| probit(v / 100.0))
        .collect::<Option<Vec<_>>>()?;
    let y = b
        .iter()
        .map(|v| probit(v / 100.0))
        .collect::<Option<Vec<_>>>()?;
    least_squares(&x, &y)
}

/// The ordinary least-squares line of `y` on `x`; `None` when `x` has no variance.
pub fn least_squares(x: &[f64], y: &[f64]) -> Option<LinearFit> {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
    }
    if sxx <= 1e-24 * x.iter().map(|v| v * v).sum::<f64>().max(f64::MIN_POSITIVE) {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let residuals = x
        .iter()
        .zip(y)
        .map(|(a, b)| b - (slope * a + intercept))
        .collect();
    Some(LinearFit {
        slope,
        intercept,
        residuals,
    })
}

/// The standard normal quantile Φ⁻¹(p) for p in (0, 1); `None` outside.
///
/// Newton's method on Φ(x) − p from x = 0: Φ is convex below 0 and concave above, so from 0
/// the iterates approach the root from one side without overshooting, for every p. Φ comes
/// from libm's `erfc`, accurate in both tails, so the result is good to a few ulps.
pub fn probit(p: f64) -> Option<f64> {
    if !(p > 0.0 && p < 1.0) {
        return None;
    }
    let mut x = 0.0f64;
    for _ in 0..200 {
        let cdf = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
        let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        if pdf == 0.0 {
            break;
        }
        let step = (cdf - p) / pdf;
        x -= step;
        if step.abs() <= 1e-15 * x.abs().max(1.0) {
            break;
        }
    }
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probit_inverts_the_normal_cdf() {
        // scipy.stats.norm.ppf
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.025, -1.9599639845400545),
            (0.0418, -1.7301694770882556),
            (1e-6, -4.753424308822899),
        ];
        for (p, want) in cases {
            let got = probit(p).expect("defined");
            assert!(
                (got - want).abs() < 1e-9,
                "probit({p}) = {got}, want {want}"
            );
        }
        assert_eq!(probit(0.0), None);
        assert_eq!(probit(1.0), None);
        assert_eq!(probit(f64::NAN), None);
    }

    #[test]
    fn a_line_in_probit_space_is_recovered() {
        let a = [20.0, 40.0, 55.0, 70.0, 90.0];
        let b: Vec<f64> = a
            .iter()
            .map(|v| {
                let x = probit(v / 100.0).expect("defined");
                100.0 * 0.5 * libm::erfc(-(0.8 * x - 0.3) / std::f64::consts::SQRT_2)
            })
            .collect();
        let fit = probit_fit(&a, &b).expect("defined");
        assert!((fit.slope - 0.8).abs() < 1e-9 && (fit.intercept + 0.3).abs() < 1e-9);
        assert!(fit.residuals.iter().all(|r| r.abs() < 1e-9));
        assert_eq!(probit_fit(&[0.0, 50.0, 60.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(probit_fit(&[50.0, 50.0, 50.0], &[1.0, 2.0, 3.0]), None);
    }
}
