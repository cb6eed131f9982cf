//! The statistics against values computed independently with SciPy 1.17.1 / NumPy (Python
//! 3.11), once. Lin's concordance and the probit line come from `scripts/stats_reference.py`
//! (committed; run it and paste its output); the rest from this script (ties included):
//!
//! ```python
//! import itertools, numpy as np, scipy.stats as st
//! a, b = np.array(A, float), np.array(B, float); n = len(a)
//! st.kendalltau(a, b).statistic                     # tau-b (scipy's default variant)
//! st.spearmanr(a, b).statistic                      # average ranks for ties
//! st.pearsonr(a, b).statistic
//! pairs = list(itertools.combinations(range(n), 2))
//! st.pearsonr([a[j]/a[i] - 1 for i, j in pairs], [b[j]/b[i] - 1 for i, j in pairs]).statistic
//! # exact permutation distribution: tau-b of a against every ordering of b (numpy, by the
//! # definition; its first entry equals scipy's tau), then
//! # p_two = mean(|tau_perm| >= |tau|), p_greater = mean(tau_perm >= tau)
//! # cross-checked: st.kendalltau(..., method='exact') for the case without ties
//! np.percentile(v, [2.5, 97.5])                     # numpy's default (linear) quantiles
//! ```

use repro::stats::bootstrap::quantile;
use repro::stats::probit::probit_fit;
use repro::stats::{kendall_tau_p_value, read_table_csv, PValueMethod, PointStats};

struct Case {
    a: &'static [f64],
    b: &'static [f64],
    tau: f64,
    rho: f64,
    r: f64,
    lin_log_improvement: f64,
    pairwise: f64,
    probit_slope: f64,
    probit_intercept: f64,
    probit_residuals: &'static [f64],
    p_two: f64,
    p_greater: f64,
    permutations: u64,
}

const CASES: [Case; 3] = [
    // Published ImageNet top-1 against a column with two tied pairs; n = 9 (9! pairings).
    Case {
        a: &[
            56.522, 72.376, 77.294, 78.312, 77.138, 74.042, 85.808, 81.072, 84.414,
        ],
        b: &[20.0, 35.5, 41.2, 44.0, 41.2, 38.0, 60.1, 52.3, 60.1],
        tau: 0.97182531580755,
        rho: 0.991631652042901,
        r: 0.9590869873280174,
        lin_log_improvement: 0.07323222729990535,
        pairwise: 0.9794368720296899,
        probit_slope: 1.2658890984500009,
        probit_intercept: -1.1058489283780697,
        probit_residuals: &[
            0.056346672200301984,
            -0.018006065345193556,
            -0.06415338345058935,
            -0.03602501143052908,
            -0.05761530124582953,
            -0.01567559821845088,
            0.005090211796201338,
            0.04885136163445743,
            0.08118711405963192,
        ],
        p_two: 2.2045855379188714e-05,
        p_greater: 1.1022927689594357e-05,
        permutations: 362_880,
    },
    // Ties in both columns, including a triple.
    Case {
        a: &[1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0],
        b: &[2.0, 1.0, 3.0, 3.0, 5.0, 4.0, 6.0, 6.0],
        tau: 0.8006407690254358,
        rho: 0.9007775105401477,
        r: 0.8767227853705734,
        lin_log_improvement: 0.3926921706305729,
        pairwise: 0.2676269418311527,
        probit_slope: 0.9113189020267344,
        probit_intercept: -0.09802460019371484,
        probit_residuals: &[
            0.16432047986501885,
            -0.35670307157153114,
            0.08885119431805855,
            -0.068766242038238,
            0.048604281489266654,
            -0.057228162811430394,
            0.13868431384388602,
            0.04223720690496924,
        ],
        p_two: 0.006845238095238095,
        p_greater: 0.0035714285714285713,
        permutations: 40_320,
    },
    // No ties, weak agreement (scipy's exact test gives the same p-values).
    Case {
        a: &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0],
        b: &[33.0, 12.0, 25.0, 41.0, 39.0, 18.0, 50.0],
        tau: 0.33333333333333337,
        rho: 0.4642857142857144,
        r: 0.439777475045518,
        lin_log_improvement: 0.09352983663806734,
        pairwise: -0.040294100786559546,
        probit_slope: 0.2542211493238425,
        probit_intercept: -0.4531233396660071,
        probit_residuals: &[
            0.33900768590329133,
            -0.5079055351058269,
            -0.08805270948342414,
            0.28998455476190665,
            0.17380430521855295,
            -0.526647939913856,
            0.31980963861935674,
        ],
        p_two: 0.3813492063492063,
        p_greater: 0.19067460317460316,
        permutations: 5_040,
    },
];

/// The probit goes through an iterative normal quantile: agreement to 1e-9, well inside the
/// 1e-6 the reports need.
fn near(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what} undefined"));
    assert!((got - want).abs() < 1e-9, "{what}: got {got}, scipy {want}");
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what} undefined"));
    assert!(
        (got - want).abs() < 1e-12,
        "{what}: got {got}, scipy {want}"
    );
}

#[test]
fn point_statistics_match_scipy() {
    for (k, c) in CASES.iter().enumerate() {
        let s = PointStats::of(c.a, c.b);
        assert_eq!(s.n, c.a.len());
        close(s.kendall_tau_b, c.tau, &format!("case {k} tau-b"));
        close(s.spearman_rho, c.rho, &format!("case {k} rho"));
        close(s.pearson_r, c.r, &format!("case {k} r"));
        close(
            s.lin_ccc_log_improvement,
            c.lin_log_improvement,
            &format!("case {k} Lin's concordance of log improvement"),
        );
        near(
            s.probit_slope,
            c.probit_slope,
            &format!("case {k} probit slope"),
        );
        near(
            s.probit_intercept,
            c.probit_intercept,
            &format!("case {k} probit intercept"),
        );
        let fit = probit_fit(c.a, c.b).expect("defined");
        for (i, (&got, &want)) in fit.residuals.iter().zip(c.probit_residuals).enumerate() {
            near(Some(got), want, &format!("case {k} residual {i}"));
        }
        close(
            s.pearson_pairwise_improvement,
            c.pairwise,
            &format!("case {k} pairwise"),
        );
    }
}

#[test]
fn exact_p_values_match_the_enumerated_permutation_distribution() {
    for (k, c) in CASES.iter().enumerate() {
        let p = kendall_tau_p_value(c.a, c.b, 0, 0).expect("defined");
        assert_eq!(p.method, PValueMethod::Exact);
        assert_eq!(p.permutations, c.permutations, "case {k}");
        close(Some(p.two_sided), c.p_two, &format!("case {k} two-sided p"));
        close(
            Some(p.greater),
            c.p_greater,
            &format!("case {k} one-sided p"),
        );
    }
}

#[test]
fn quantiles_match_numpy_percentile() {
    let mut v = vec![3.1, 0.2, 5.5, 2.2, 9.9, 4.4, 7.0];
    v.sort_by(f64::total_cmp);
    close(quantile(&v, 0.025), NUMPY_P2_5, "2.5th percentile");
    close(quantile(&v, 0.975), NUMPY_P97_5, "97.5th percentile");
}

#[test]
fn table_csv_gives_the_json_fields() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("t.csv");
    let c = &CASES[1];
    let mut text = String::from("model,a,b\n");
    for (i, (a, b)) in c.a.iter().zip(c.b).enumerate() {
        text.push_str(&format!("m{i},{a},{b}\n"));
    }
    std::fs::write(&path, text).expect("write");
    let stats = read_table_csv(&path).expect("valid").stats();
    let json = serde_json::to_value(&stats).expect("json");
    for field in [
        "kendall_tau_b",
        "spearman_rho",
        "lin_ccc_log_improvement",
        "pearson_pairwise_improvement",
        "probit_slope",
        "probit_intercept",
        "n",
        "kendall_tau_p_value",
    ] {
        assert!(
            json.get(field).is_some_and(|v| !v.is_null()),
            "field {field} in {json}"
        );
    }
    close(json["kendall_tau_b"].as_f64(), c.tau, "json tau");
    close(json["kendall_tau_p_value"].as_f64(), c.p_two, "json p");
    assert_eq!(json["n"], 8);
}

/// `np.percentile([3.1, 0.2, 5.5, 2.2, 9.9, 4.4, 7.0], [2.5, 97.5])`.
const NUMPY_P2_5: f64 = 0.5;
const NUMPY_P97_5: f64 = 9.465;
