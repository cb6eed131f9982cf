//! The statistics against values computed independently with SciPy 1.17.1 / NumPy (Python
//! 3.11), once, by this script (ties included):
//!
//! ```python
//! import itertools, numpy as np, scipy.stats as st
//! a, b = np.array(A, float), np.array(B, float); n = len(a)
//! st.kendalltau(a, b).statistic                     # tau-b (scipy's default variant)
//! st.spearmanr(a, b).statistic                      # average ranks for ties
//! st.pearsonr(a, b).statistic
//! st.pearsonr(a[1:] / a[0], b[1:] / b[0]).statistic # improvement from the first model
//! pairs = list(itertools.combinations(range(n), 2))
//! st.pearsonr([a[j]/a[i] - 1 for i, j in pairs], [b[j]/b[i] - 1 for i, j in pairs]).statistic
//! # exact permutation distribution: tau-b of a against every ordering of b (numpy, by the
//! # definition; its first entry equals scipy's tau), then
//! # p_two = mean(|tau_perm| >= |tau|), p_greater = mean(tau_perm >= tau)
//! # cross-checked: st.kendalltau(..., method='exact') for the case without ties
//! np.percentile(v, [2.5, 97.5])                     # numpy's default (linear) quantiles
//! ```

use repro::stats::bootstrap::quantile;
use repro::stats::{kendall_tau_p_value, read_table_csv, PValueMethod, PointStats};

struct Case {
    a: &'static [f64],
    b: &'static [f64],
    tau: f64,
    rho: f64,
    r: f64,
    improvement: f64,
    pairwise: f64,
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
        improvement: 0.9822676548358987,
        pairwise: 0.9794368720296899,
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
        improvement: 0.8855841344893546,
        pairwise: 0.2676269418311527,
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
        improvement: 0.6043496165465579,
        pairwise: -0.040294100786559546,
        p_two: 0.3813492063492063,
        p_greater: 0.19067460317460316,
        permutations: 5_040,
    },
];

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
            s.pearson_improvement_from_first,
            c.improvement,
            &format!("case {k} improvement"),
        );
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
        "pearson_improvement_from_first",
        "pearson_pairwise_improvement",
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
