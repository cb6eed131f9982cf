#!/usr/bin/env python3
"""Reference values for tests/stats_reference.rs, computed independently with SciPy / NumPy.

Run once and paste the output into the test (it prints Rust):
    python3 scripts/stats_reference.py
Cases include ties in one and in both columns. Accuracies are in percent.
"""
import itertools

import numpy as np
import scipy
import scipy.stats as st

CASES = [
    ([56.522, 72.376, 77.294, 78.312, 77.138, 74.042, 85.808, 81.072, 84.414],
     [20.0, 35.5, 41.2, 44.0, 41.2, 38.0, 60.1, 52.3, 60.1]),
    ([1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0],
     [2.0, 1.0, 3.0, 3.0, 5.0, 4.0, 6.0, 6.0]),
    ([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0],
     [33.0, 12.0, 25.0, 41.0, 39.0, 18.0, 50.0]),
]


def lin_ccc(x, y):
    """Lin (1989): 2 s_xy / (s_x^2 + s_y^2 + (mean x - mean y)^2), divisor n."""
    sxy = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * sxy / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def rust(v):
    return repr(float(v))


print(f"// scipy {scipy.__version__}, numpy {np.__version__}")
for a, b in CASES:
    a, b = np.array(a), np.array(b)
    pairs = list(itertools.combinations(range(len(a)), 2))
    fit = st.linregress(st.norm.ppf(a / 100), st.norm.ppf(b / 100))
    resid = st.norm.ppf(b / 100) - (fit.slope * st.norm.ppf(a / 100) + fit.intercept)
    print("Case {")
    print(f"    tau: {rust(st.kendalltau(a, b).statistic)},")
    print(f"    rho: {rust(st.spearmanr(a, b).statistic)},")
    print(f"    r: {rust(st.pearsonr(a, b).statistic)},")
    print(f"    lin_log_improvement: {rust(lin_ccc(np.log(a[1:] / a[0]), np.log(b[1:] / b[0])))},")
    pw = st.pearsonr([a[j] / a[i] - 1 for i, j in pairs], [b[j] / b[i] - 1 for i, j in pairs])
    print(f"    pairwise: {rust(pw.statistic)},")
    print(f"    probit_slope: {rust(fit.slope)},")
    print(f"    probit_intercept: {rust(fit.intercept)},")
    print(f"    probit_residuals: &[{', '.join(rust(v) for v in resid)}],")
    print("},")
