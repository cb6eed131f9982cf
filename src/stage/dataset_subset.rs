//! `dataset_subset`: a seeded, class-balanced subset of a dataset's splits — e.g. 3,000 of
//! Fashion-MNIST's 60,000 training images, so the mini profile trains nine architectures on two
//! datasets within minutes while evaluating on a large validation split.
//!
//! ```yaml
//! fashion_mnist_small:
//!   kind: dataset_subset
//!   inputs: [fashion_mnist]
//!   params: {sizes: {train: 3000, val: 2000}, seed: 0}
//! ```
//! Each split keeps `size / classes` images per class (the remainder going to the first
//! classes), chosen by a seeded shuffle and written in their original order. A split not named
//! in `sizes` is copied whole; asking for more images than a class has is an error.

use super::{StageContext, StageError, StageKind};
use crate::data::dataset::{Dataset, DatasetWriter};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub struct DatasetSubset;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    sizes: BTreeMap<String, usize>,
    #[serde(default)]
    seed: u64,
}

/// Indices to keep from `labels`: `size` in all, balanced over `classes`, in original order.
fn choose(labels: &[u32], classes: usize, size: usize, seed: u64) -> Result<Vec<usize>, String> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut keep = Vec::with_capacity(size);
    for (c, members) in by_class.iter_mut().enumerate() {
        let quota = size / classes + usize::from(c < size % classes);
        if members.len() < quota {
            return Err(format!(
                "class {c} has {} images, fewer than the {quota} asked for",
                members.len()
            ));
        }
        members.shuffle(&mut rng);
        keep.extend_from_slice(&members[..quota]);
    }
    keep.sort_unstable();
    Ok(keep)
}

/// The one input of a kind that copies records out of a dataset (`dataset_subset`,
/// `holdout_split`), opened, and a writer of a dataset like it (name, shape, classes, storage)
/// into the stage's output folder.
pub(super) fn copy_source(ctx: &StageContext) -> Result<(Dataset, DatasetWriter), StageError> {
    let [(name, dir)] = ctx.inputs.iter().collect::<Vec<_>>()[..] else {
        return Err(StageError::Params(format!(
            "`{}` takes exactly one input, the dataset",
            ctx.stage
        )));
    };
    let ds = Dataset::open(dir).map_err(|e| StageError::Failed(format!("input `{name}`: {e}")))?;
    let meta = &ds.meta;
    let shape = (meta.height, meta.width, meta.channels);
    let w = DatasetWriter::create(&ctx.out_dir, &meta.name, shape, meta.classes.clone())
        .map_err(|e| StageError::Failed(e.to_string()))?
        .with_storage(meta.storage, meta.height);
    Ok((ds, w))
}

impl StageKind for DatasetSubset {
    fn name(&self) -> &'static str {
        "dataset_subset"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let (ds, mut w) = copy_source(ctx)?;
        let meta = &ds.meta;
        for split in p.sizes.keys() {
            ds.split_meta(split)
                .map_err(|e| StageError::Params(e.to_string()))?;
        }
        for split in meta.splits.keys() {
            let reader = ds
                .reader(split)
                .map_err(|e| StageError::Failed(e.to_string()))?;
            let keep: Vec<usize> = match p.sizes.get(split) {
                Some(&n) => choose(reader.labels(), meta.num_classes(), n, p.seed)
                    .map_err(|e| StageError::Params(format!("split `{split}`: {e}")))?,
                None => (0..reader.len()).collect(),
            };
            ctx.progress(0, keep.len() as u64, split);
            // The input's permutation carries over: `keep` is in its order.
            for i in keep {
                w.copy_from(split, &reader, i, reader.label(i))
                    .map_err(|e| StageError::Failed(e.to_string()))?;
            }
        }
        w.finish().map_err(|e| StageError::Failed(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_seeded_and_ordered() {
        let labels: Vec<u32> = (0..100).map(|i| i % 3).collect();
        let a = choose(&labels, 3, 10, 7).expect("choose");
        assert_eq!(a.len(), 10);
        let counts: Vec<usize> = (0..3)
            .map(|c| a.iter().filter(|&&i| labels[i] == c).count())
            .collect();
        assert_eq!(counts, [4, 3, 3]);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "original order");
        assert_eq!(a, choose(&labels, 3, 10, 7).expect("again"), "seeded");
        assert_ne!(a, choose(&labels, 3, 10, 8).expect("other seed"));
        assert!(choose(&labels, 3, 200, 0).is_err());
    }
}
