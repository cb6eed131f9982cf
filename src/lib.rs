//! repro — regenerates a study written as `pipeline.yaml` through a DAG of cached,
//! content-addressed stages, and says where every artifact came from.
//!
//! Layers; each module imports (`crate::…`) only from modules on the lines below its own:
//! - `cli`: arguments, terminal output, exit statuses; drives everything below.
//! - `remote`: shared caches (a directory, S3) behind the engine's `SharedCache` trait.
//! - `engine` (resolve, plan, scheduler, executor, slurm, action, fingerprint): keys, plans and
//!   runs a pipeline against a store, handing stages to an executor (local processes, Slurm
//!   jobs); it knows stage kinds only through [`stage::StageKind`] and the registry, nothing of
//!   ML.
//! - `stage`: the stage kinds, one file each (`src/stage/<kind>.rs`), adapting `data`, `ml`,
//!   `encoder`, `stats` and `report` to a [`stage::StageContext`]. A kind's code identity is the
//!   import closure of its file (build.rs), so the arrows here are what decides what reruns.
//! - `provenance`: action records, the action key's components, the git state; over `store` and
//!   the spec types of `pipeline`.
//! - `report` (over `stats`, `data`), `ml` (over `data`), `data` (over `store`).
//! - `pipeline` (spec, graph), `store`, `stats`, `encoder`: no other module of the crate.
//!
//! Only `ml` and `encoder` use tch (feature `torch`).

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
