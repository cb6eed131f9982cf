//! `holdout_split`: carve a tuning split out of a dataset's training split, so hyperparameters
//! are chosen without ever looking at the split the study reports on.
//!
//! ```yaml
//! mini_imagenot_holdout:
//!   kind: holdout_split
//!   inputs: [mini_imagenot]
//!   params: {fraction: 0.2, seed: 0}
//! ```
//! The output is a dataset with two splits: `train` (the rest of the input's `from` split) and
//! `val` (`fraction` of it, the same fraction of every class, chosen by a seeded shuffle). Both
//! keep the input's order. The input's other splits are not copied: nothing downstream of a
//! tuning dataset may see them.

use super::{StageContext, StageError, StageKind};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct HoldoutSplit;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Which split of the input is divided.
    #[serde(default = "default_from")]
    from: String,
    /// Share of each class that goes to the held-out `val` split.
    fraction: f64,
    #[serde(default)]
    seed: u64,
}

fn default_from() -> String {
    "train".into()
}

/// For each example of `labels`: true when it is held out. Each class holds out
/// `round(fraction × its size)` examples, at least one and never all, so both splits see every
/// class that has two or more examples.
fn held_out(labels: &[u32], classes: usize, fraction: f64, seed: u64) -> Vec<bool> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![false; labels.len()];
    for members in &mut by_class {
        if members.len() < 2 {
            continue;
        }
        let n = ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len() - 1);
        members.shuffle(&mut rng);
        for &i in &members[..n] {
            out[i] = true;
        }
    }
    out
}

impl StageKind for HoldoutSplit {
    fn name(&self) -> &'static str {
        "holdout_split"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if !(p.fraction > 0.0 && p.fraction < 1.0) {
            return Err(format!(
                "fraction {} must be strictly between 0 and 1 (e.g. 0.2 holds out a fifth)",
                p.fraction
            ));
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let (ds, mut w) = super::dataset_subset::copy_source(ctx)?;
        let meta = &ds.meta;
        // Records are copied as stored (any storage), in the input's order.
        let reader = ds
            .reader(&p.from)
            .map_err(|e| StageError::Params(e.to_string()))?;
        let hold = held_out(reader.labels(), meta.num_classes(), p.fraction, p.seed);
        ctx.progress(0, hold.len() as u64, "splitting");
        for (i, &h) in hold.iter().enumerate() {
            let split = if h { "val" } else { "train" };
            w.copy_from(split, &reader, i, reader.label(i))
                .map_err(|e| StageError::Failed(e.to_string()))?;
        }
        w.finish().map_err(|e| StageError::Failed(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_out_the_fraction_of_every_class_seeded() {
        let labels: Vec<u32> = (0..100).map(|i| i % 4).collect();
        let h = held_out(&labels, 4, 0.2, 3);
        for c in 0..4 {
            let n = (0..100).filter(|&i| labels[i] == c && h[i]).count();
            assert_eq!(n, 5, "class {c}");
        }
        assert_eq!(h, held_out(&labels, 4, 0.2, 3), "seeded");
        assert_ne!(
            h,
            held_out(&labels, 4, 0.2, 4),
            "another seed, another split"
        );
    }

    #[test]
    fn small_classes_keep_both_sides() {
        // A class of 2 gives one to each side; a class of 1 stays in train.
        let labels = [0, 0, 1];
        let h = held_out(&labels, 2, 0.9, 0);
        assert_eq!(h.iter().filter(|&&x| x).count(), 1);
        assert!(!h[2]);
    }

    #[test]
    fn fraction_must_be_a_proper_share() {
        for bad in [0.0, 1.0, -0.1, 1.5] {
            let e = HoldoutSplit
                .resolve_params(&serde_json::json!({"fraction": bad}))
                .expect_err("rejected");
            assert!(e.contains("strictly between"), "{e}");
        }
    }
}
