//! repro — regenerates a study written as `pipeline.yaml` through a DAG of cached,
//! content-addressed stages, and says where every artifact came from.
//!
//! Layers, with arrows pointing one way only:
//! `cli` → `pipeline` (spec, graph) → `engine` (key, plan, exec) → `store` ← `provenance`.
//! Stage kinds live in `stage/`, one file each, behind the [`stage::StageKind`] trait; the
//! engine knows nothing of what they compute.

pub mod cli;
pub mod data;
pub mod engine;
pub mod pipeline;
pub mod provenance;
pub mod stage;
pub mod store;
