//! repro — regenerates a study written as `pipeline.yaml` through a DAG of cached,
//! content-addressed stages, and says where every artifact came from.
//!
//! Layers, with arrows pointing one way only:
//! `cli` → `pipeline` (spec, graph) → `engine` (key, plan, exec) → `store` ← `provenance`.
//! Stage kinds live in `stage/`, one file each, behind the [`stage::StageKind`] trait; the
//! engine knows nothing of what they compute. Only `ml` and `encoder` use tch (feature `torch`).

pub mod cli;
pub mod data;
#[cfg(feature = "torch")]
pub mod encoder;
pub mod engine;
#[cfg(feature = "torch")]
pub mod ml;
pub mod pipeline;
pub mod provenance;
pub mod remote;
pub mod report;
pub mod stage;
pub mod stats;
pub mod store;
