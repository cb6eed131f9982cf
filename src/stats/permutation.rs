//! The p-value of Kendall's τ under the null hypothesis that the two rankings are unrelated.
//!
//! The null distribution is the permutation distribution: hold column `a` fixed and pair it
//! with every ordering of column `b`. Ties are kept as they are, so the test is exact for tied
//! data too. Up to [`EXACT_MAX_N`] models every permutation is enumerated (9! = 362,880 for the
//! paper's nine models); above that a seeded Monte Carlo sample of permutations is drawn and
//! p = (1 + hits) / (1 + draws), which never reports an impossible p of 0.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Largest n for which all n! permutations are enumerated.
pub const EXACT_MAX_N: usize = 10;

/// Permutations drawn when n is above [`EXACT_MAX_N`].
pub const DEFAULT_MONTE_CARLO_DRAWS: u64 = 200_000;

/// How a p-value was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PValueMethod {
    /// All n! pairings enumerated.
    Exact,
    /// A seeded random sample of pairings.
    MonteCarlo,
}

/// The p-value of the observed τ-b.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TauPValue {
    /// P(|τ| ≥ |τ_observed|) under the null.
    pub two_sided: f64,
    /// P(τ ≥ τ_observed) under the null: the test that the rankings agree.
    pub greater: f64,
    pub method: PValueMethod,
    /// Pairings evaluated (n! when exact).
    pub permutations: u64,
}

/// Sign of b - a as −1, 0, 1.
fn sign(v: f64) -> i8 {
    (v > 0.0) as i8 - (v < 0.0) as i8
}

fn sign_matrix(x: &[f64]) -> Vec<Vec<i8>> {
    x.iter()
        .map(|xi| x.iter().map(|xj| sign(xj - xi)).collect())
        .collect()
}

/// The τ numerator S = concordant − discordant for column `b` taken in order `perm`. The τ-b
/// denominator depends only on the tie counts, which no permutation changes, so comparing S is
/// comparing τ-b — in integers, free of rounding.
fn score(sa: &[Vec<i8>], sb: &[Vec<i8>], perm: &[usize]) -> i64 {
    let n = perm.len();
    let mut s = 0i64;
    for i in 0..n {
        let (row_a, row_b) = (&sa[i], &sb[perm[i]]);
        for j in (i + 1)..n {
            s += i64::from(row_a[j] * row_b[perm[j]]);
        }
    }
    s
}

/// The permutation p-value of Kendall's τ-b between `a` and `b`; `None` where τ-b is undefined
/// (fewer than two models, or a column with every value equal). `seed` and `draws` matter only
/// above [`EXACT_MAX_N`] models.
pub fn kendall_tau_p_value(a: &[f64], b: &[f64], seed: u64, draws: u64) -> Option<TauPValue> {
    super::correlation::kendall_tau_b(a, b)?;
    let n = a.len();
    let (sa, sb) = (sign_matrix(a), sign_matrix(b));
    let identity: Vec<usize> = (0..n).collect();
    let observed = score(&sa, &sb, &identity);
    let (mut two, mut greater, mut total) = (0u64, 0u64, 0u64);
    let mut tally = |s: i64| {
        total += 1;
        two += u64::from(s.abs() >= observed.abs());
        greater += u64::from(s >= observed);
    };
    if n <= EXACT_MAX_N {
        for_each_permutation(n, |perm| tally(score(&sa, &sb, perm)));
        Some(TauPValue {
            two_sided: two as f64 / total as f64,
            greater: greater as f64 / total as f64,
            method: PValueMethod::Exact,
            permutations: total,
        })
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut perm = identity;
        for _ in 0..draws.max(1) {
            perm.shuffle(&mut rng);
            tally(score(&sa, &sb, &perm));
        }
        Some(TauPValue {
            two_sided: (1 + two) as f64 / (1 + total) as f64,
            greater: (1 + greater) as f64 / (1 + total) as f64,
            method: PValueMethod::MonteCarlo,
            permutations: total,
        })
    }
}

/// Calls `f` once with every permutation of 0..n (Heap's algorithm, iterative).
fn for_each_permutation(n: usize, mut f: impl FnMut(&[usize])) {
    let mut perm: Vec<usize> = (0..n).collect();
    let mut c = vec![0usize; n];
    f(&perm);
    let mut i = 1;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(c[i], i);
            }
            f(&perm);
            c[i] += 1;
            i = 1;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn heap_enumerates_every_permutation_once() {
        let mut seen = BTreeSet::new();
        for_each_permutation(5, |p| {
            assert!(seen.insert(p.to_vec()));
        });
        assert_eq!(seen.len(), 120);
    }

    #[test]
    fn perfect_agreement_of_four_has_p_one_in_24() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let p = kendall_tau_p_value(&x, &x, 0, 0).expect("defined");
        assert_eq!(p.method, PValueMethod::Exact);
        assert_eq!(p.permutations, 24);
        assert!((p.greater - 1.0 / 24.0).abs() < 1e-15);
        assert!((p.two_sided - 2.0 / 24.0).abs() < 1e-15);
    }

    #[test]
    fn monte_carlo_is_seeded_and_bounded_away_from_zero() {
        let x: Vec<f64> = (0..12).map(f64::from).collect();
        let p1 = kendall_tau_p_value(&x, &x, 7, 2_000).expect("defined");
        let p2 = kendall_tau_p_value(&x, &x, 7, 2_000).expect("defined");
        assert_eq!(p1, p2);
        assert_eq!(p1.method, PValueMethod::MonteCarlo);
        assert!(p1.greater > 0.0 && p1.greater < 0.01);
    }

    #[test]
    fn undefined_tau_has_no_p_value() {
        assert_eq!(
            kendall_tau_p_value(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], 0, 10),
            None
        );
    }
}
