//! Point statistics of two paired columns: Kendall τ-b, Spearman ρ, Pearson r, Lin's
//! concordance of log improvement over the first model, and the pairwise-improvement
//! correlation of the ImageNot paper.
//!
//! Every function takes the columns in chronological model order (index 0 = the baseline) and
//! returns `None` where the statistic is undefined (a constant column, too few models): an
//! undefined value is reported as such, never as 0 or NaN.

/// Kendall's τ-b: (concordant − discordant) / √((n0 − n1)(n0 − n2)), where n0 = n(n−1)/2 and
/// n1, n2 count the pairs tied in `x` and in `y`. A pair tied in either column is neither
/// concordant nor discordant. O(n²), which is right for tens of models.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n != y.len() || n < 2 {
        return None;
    }
    let (mut score, mut tied_x, mut tied_y, mut pairs) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in (i + 1)..n {
            pairs += 1;
            let sx = sign(x[j] - x[i]);
            let sy = sign(y[j] - y[i]);
            if sx == 0 {
                tied_x += 1;
            }
            if sy == 0 {
                tied_y += 1;
            }
            score += i64::from(sx * sy);
        }
    }
    let denom = ((pairs - tied_x) as f64 * (pairs - tied_y) as f64).sqrt();
    if denom == 0.0 {
        None
    } else {
        Some(score as f64 / denom)
    }
}

/// Spearman's ρ: Pearson's r of the average ranks (ties share the mean of their positions).
pub fn spearman_rho(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson_r(&average_ranks(x), &average_ranks(y))
}

/// Pearson's product-moment correlation. `None` when either column has no variance.
pub fn pearson_r(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n != y.len() || n < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    // Relative threshold: a column of identical values can leave rounding dust in sxx.
    let scale_x = x.iter().map(|v| v * v).sum::<f64>().max(f64::MIN_POSITIVE);
    let scale_y = y.iter().map(|v| v * v).sum::<f64>().max(f64::MIN_POSITIVE);
    if sxx <= 1e-24 * scale_x || syy <= 1e-24 * scale_y {
        return None;
    }
    // One square root of the product: identical columns then give exactly 1.
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// 1-based ranks, ascending, with tied values given the average of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold equal values: ranks start+1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &k in &order[start..end] {
            ranks[k] = rank;
        }
        start = end;
    }
    ranks
}

/// Ranks for display: 1 = best (highest value), ties share the average rank.
pub fn ranks_descending(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    average_ranks(x).into_iter().map(|r| n + 1.0 - r).collect()
}

/// Lin's concordance correlation of log improvement over the first model: with
/// x_i = ln(a_i/a_0) and y_i = ln(b_i/b_0) over the models after the first,
/// ρ_c = 2 s_xy / (s_x² + s_y² + (x̄ − ȳ)²), moments with divisor n (Lin 1989).
///
/// Unlike Pearson's r of the ratios (which is r of the accuracies without the first model,
/// since r ignores dividing a column by a constant), ρ_c is 1 only when both datasets give the
/// same improvements, not merely proportional ones; logs make a doubling and a halving
/// symmetric. `None` when a baseline is not positive, an accuracy is 0, fewer than two models
/// follow the first, or both columns are constant.
pub fn lin_ccc_log_improvement(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 || a.iter().chain(b).any(|&v| v <= 0.0) {
        return None;
    }
    let x: Vec<f64> = a[1..].iter().map(|v| (v / a[0]).ln()).collect();
    let y: Vec<f64> = b[1..].iter().map(|v| (v / b[0]).ln()).collect();
    lin_ccc(&x, &y)
}

/// Lin's concordance correlation coefficient of two paired columns (population moments).
pub fn lin_ccc(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n != y.len() || n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = x.iter().sum::<f64>() / nf;
    let my = y.iter().sum::<f64>() / nf;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let denom = sxx / nf + syy / nf + (mx - my) * (mx - my);
    if denom <= 0.0 {
        return None;
    }
    Some((2.0 * sxy / nf / denom).clamp(-1.0, 1.0))
}

/// The ratios a_i/a_0 and b_i/b_0 for every model (the first is 1), as drawn in Figure 1.
pub fn improvement_from_first(a: &[f64], b: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    if a.len() != b.len() || a.is_empty() || a[0] == 0.0 || b[0] == 0.0 {
        return None;
    }
    Some((
        a.iter().map(|v| v / a[0]).collect(),
        b.iter().map(|v| v / b[0]).collect(),
    ))
}

/// Relative improvement of model j over model i, a_j/a_i − 1, for all pairs i < j in
/// chronological order: `(i, j, on a, on b)`. `None` when a divisor is zero.
pub fn pairwise_improvements(a: &[f64], b: &[f64]) -> Option<Vec<(usize, usize, f64, f64)>> {
    if a.len() != b.len() {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * a.len().saturating_sub(1) / 2);
    for i in 0..a.len() {
        if a[i] == 0.0 || b[i] == 0.0 {
            return None;
        }
        for j in (i + 1)..a.len() {
            out.push((i, j, a[j] / a[i] - 1.0, b[j] / b[i] - 1.0));
        }
    }
    Some(out)
}

/// Pearson r between a_j/a_i − 1 and b_j/b_i − 1 over all pairs i < j.
pub fn pearson_pairwise_improvement(a: &[f64], b: &[f64]) -> Option<f64> {
    let pairs = pairwise_improvements(a, b)?;
    let x: Vec<f64> = pairs.iter().map(|p| p.2).collect();
    let y: Vec<f64> = pairs.iter().map(|p| p.3).collect();
    pearson_r(&x, &y)
}

fn sign(v: f64) -> i32 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn identical_orders_are_perfectly_correlated() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!(close(kendall_tau_b(&x, &x), 1.0));
        assert!(close(spearman_rho(&x, &x), 1.0));
        assert!(close(pearson_r(&x, &x), 1.0));
        let rev = [4.0, 3.0, 2.0, 1.0];
        assert!(close(kendall_tau_b(&x, &rev), -1.0));
    }

    #[test]
    fn ties_follow_the_tau_b_definition() {
        // x has one tied pair, y none: n0 = 6, n1 = 1, n2 = 0; C = 5, D = 0.
        let x = [1.0, 1.0, 2.0, 3.0];
        let y = [1.0, 2.0, 3.0, 4.0];
        assert!(close(kendall_tau_b(&x, &y), 5.0 / (5.0f64 * 6.0).sqrt()));
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        assert_eq!(
            ranks_descending(&[3.0, 1.0, 3.0, 2.0]),
            vec![1.5, 4.0, 1.5, 3.0]
        );
    }

    #[test]
    fn constant_columns_are_undefined() {
        let c = [0.5, 0.5, 0.5];
        let y = [0.1, 0.2, 0.3];
        assert_eq!(kendall_tau_b(&c, &y), None);
        assert_eq!(spearman_rho(&c, &y), None);
        assert_eq!(pearson_r(&c, &y), None);
    }

    #[test]
    fn improvements_are_ratios_to_the_first() {
        let a = [50.0, 60.0, 75.0];
        let b = [20.0, 24.0, 30.0];
        let (ra, rb) = improvement_from_first(&a, &b).expect("defined");
        assert_eq!(ra, vec![1.0, 1.2, 1.5]);
        assert_eq!(rb, vec![1.0, 1.2, 1.5]);
        assert!(close(lin_ccc_log_improvement(&a, &b), 1.0));
        // Proportional but unequal improvements: Pearson would say 1, Lin does not.
        let c = [20.0, 26.0, 35.0];
        assert!(lin_ccc_log_improvement(&a, &c).is_some_and(|v| v < 0.95));
        let pairs = pairwise_improvements(&a, &b).expect("defined");
        assert_eq!(pairs.len(), 3);
        assert!((pairs[2].2 - 0.25).abs() < 1e-12);
        assert!(close(pearson_pairwise_improvement(&a, &b), 1.0));
        assert_eq!(lin_ccc_log_improvement(&[0.0, 1.0, 2.0], &b), None);
    }
}
