//! The example bootstrap against what is known without it: a resampled accuracy's 95%
//! percentile interval is close to the normal-approximation binomial interval
//! p ± 1.96 √(p(1 − p)/m); intervals are reproducible for a seed and change with it.

use repro::stats::{analyze, BootstrapConfig, Column, ColumnInfo};

fn info(label: &str) -> ColumnInfo {
    ColumnInfo {
        label: label.into(),
        source: "test".into(),
        examples: None,
    }
}

/// Four models, 2,000 examples, accuracies 30, 40, 50, 60 %, with correct answers spread
/// through the examples by a different stride per model.
fn column() -> Column {
    Column::Examples(
        (0..4)
            .map(|k| {
                (0..2000)
                    .map(|e| (e * (7 + 2 * k) + k) % 10 < 3 + k)
                    .collect()
            })
            .collect(),
    )
}

fn models() -> Vec<String> {
    (0..4).map(|k| format!("m{k}")).collect()
}

#[test]
fn accuracy_intervals_match_the_binomial_normal_approximation() {
    let published = Column::Fixed(vec![50.0, 60.0, 70.0, 80.0]);
    let cfg = BootstrapConfig {
        resamples: 4000,
        seed: 3,
        level: 0.95,
    };
    let r = analyze(
        &models(),
        (info("x"), &column()),
        (info("p"), &published),
        &cfg,
    )
    .expect("ok");
    for m in &r.models {
        let p = m.a / 100.0;
        let half = 100.0 * 1.96 * (p * (1.0 - p) / 2000.0).sqrt();
        let ci = m.a_interval.as_ref().expect("interval");
        assert!(
            ci.lo < m.a && m.a < ci.hi,
            "{}: {} not inside {ci:?}",
            m.model,
            m.a
        );
        let width = ci.hi - ci.lo;
        assert!(
            (width / (2.0 * half) - 1.0).abs() < 0.12,
            "{}: width {width}, normal {}",
            m.model,
            2.0 * half
        );
        assert_eq!(ci.defined, 4000);
    }
}

#[test]
fn intervals_are_reproducible_for_a_seed() {
    let published = Column::Fixed(vec![50.0, 55.0, 70.0, 65.0]);
    let run = |seed| {
        let cfg = BootstrapConfig {
            resamples: 1000,
            seed,
            level: 0.95,
        };
        analyze(
            &models(),
            (info("x"), &column()),
            (info("p"), &published),
            &cfg,
        )
        .expect("ok")
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a.intervals, c.intervals);
    let tau = a.intervals.kendall_tau_b.as_ref().expect("interval");
    assert!(tau.lo <= a.point.kendall_tau_b.expect("tau") && tau.hi <= 1.0);
}
