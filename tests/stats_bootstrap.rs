//! The example bootstrap against what is known without it: a resampled accuracy's 95%
//! percentile interval is close to the normal-approximation binomial interval
//! p ± 1.96 √(p(1 − p)/m); intervals are reproducible for a seed and change with it; the same
//! predictions get the same intervals in every comparison; and with several seeds per model the
//! hierarchical bootstrap covers a known truth at its stated rate (a seeded simulation).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use repro::stats::{analyze, BootstrapConfig, Column, ColumnInfo, Runs};

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

fn runs(key: &str, correct: Vec<Vec<Vec<bool>>>) -> Column {
    Column::Runs(Runs {
        examples_key: key.into(),
        correct,
        majority_rate: None,
    })
}

/// The same predictions get the same intervals whatever they are compared with: the example
/// draws belong to the examples (their key), not to the comparison.
#[test]
fn identical_predictions_give_identical_intervals_in_every_comparison() {
    let cfg = BootstrapConfig {
        resamples: 1000,
        seed: 0,
        level: 0.95,
    };
    let x = || match column().runs() {
        Some(r) => runs("val of x", r.correct),
        None => panic!("an examples column has runs"),
    };
    let other: Vec<Vec<Vec<bool>>> = (0..4)
        .map(|k| vec![(0..500).map(|e| (e * 3 + k) % 7 < 2 + k).collect()])
        .collect();
    let with_published = analyze(
        &models(),
        (info("x"), &x()),
        (info("p"), &Column::Fixed(vec![50.0, 60.0, 70.0, 80.0])),
        &cfg,
    )
    .expect("ok");
    let with_other = analyze(
        &models(),
        (info("y"), &runs("val of y", other)),
        (info("x"), &x()),
        &cfg,
    )
    .expect("ok");
    let with_itself = analyze(&models(), (info("x"), &x()), (info("x2"), &x()), &cfg).expect("ok");
    for k in 0..4 {
        let base = &with_published.models[k];
        assert_eq!(
            base.a_interval, with_other.models[k].b_interval,
            "model {k}"
        );
        assert_eq!(
            base.a_interval, with_itself.models[k].a_interval,
            "model {k}"
        );
        // Paired within a comparison too: the same examples drawn for both columns.
        assert_eq!(
            with_itself.models[k].a_interval,
            with_itself.models[k].b_interval
        );
        assert_eq!(base.rank_a_interval, with_other.models[k].rank_b_interval);
    }
    // Identical columns drawn together never disagree, so τ is 1 in every replicate.
    let tau = with_itself
        .intervals
        .kendall_tau_b
        .as_ref()
        .expect("interval");
    assert_eq!((tau.lo, tau.hi), (1.0, 1.0));
}

/// Standard normal draws (Box–Muller) from a seeded stream.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// A synthetic study with known truth: a model's expected accuracy is `truth`; each training
/// seed lands at truth + N(0, 4 points), and is scored on a fresh test set of 400 examples.
/// The hierarchical bootstrap (seeds, then examples) must cover the truth at about its stated
/// 90%; the example-only bootstrap of one seed, blind to seed variance, falls well short.
#[test]
fn hierarchical_bootstrap_covers_the_truth_at_the_stated_rate() {
    let (truth, seed_sd, seeds, m, trials) = ([0.45, 0.6], 0.04, 10, 400, 150);
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut covered_hier, mut covered_one, mut total) = (0, 0, 0);
    for trial in 0..trials {
        let correct: Vec<Vec<Vec<bool>>> = truth
            .iter()
            .map(|&t| {
                (0..seeds)
                    .map(|_| {
                        let p: f64 = (t + seed_sd * normal(&mut rng)).clamp(0.0, 1.0);
                        (0..m).map(|_| rng.gen::<f64>() < p).collect()
                    })
                    .collect()
            })
            .collect();
        let one: Vec<Vec<Vec<bool>>> = correct.iter().map(|s| vec![s[0].clone()]).collect();
        let cfg = BootstrapConfig {
            resamples: 400,
            seed: trial,
            level: 0.9,
        };
        let fixed = Column::Fixed(vec![1.0, 2.0]);
        let two: Vec<String> = vec!["m0".into(), "m1".into()];
        let hier = analyze(
            &two,
            (info("h"), &runs("t", correct)),
            (info("f"), &fixed),
            &cfg,
        )
        .expect("ok");
        let single = analyze(
            &two,
            (info("s"), &runs("t", one)),
            (info("f"), &fixed),
            &cfg,
        )
        .expect("ok");
        for (k, &t) in truth.iter().enumerate() {
            let inside = |i: &Option<repro::stats::Interval>| {
                let i = i.as_ref().expect("interval");
                i.lo <= 100.0 * t && 100.0 * t <= i.hi
            };
            covered_hier += usize::from(inside(&hier.models[k].a_interval));
            covered_one += usize::from(inside(&single.models[k].a_interval));
            total += 1;
        }
    }
    let (hier, one) = (
        covered_hier as f64 / total as f64,
        covered_one as f64 / total as f64,
    );
    eprintln!("90% intervals cover the truth: hierarchical {hier}, example-only {one}");
    assert!(
        (0.83..=0.97).contains(&hier),
        "hierarchical coverage {hier}"
    );
    assert!(
        one < 0.75,
        "example-only coverage {one} should miss seed variance"
    );
}
