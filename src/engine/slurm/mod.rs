//! The Slurm executor's parts: each ready stage becomes one `sbatch` job that runs
//! `repro exec-stage KEY` on a compute node, which reads its inputs from the store (a shared
//! filesystem, or an S3 remote it pulls from and pushes to) and publishes its outputs there.
//!
//! - [`config`]: `executor:` in `.repro/config.yaml`, Slurm's time and memory forms;
//! - [`sbatch`]: a stage's job command line and its submission;
//! - [`squeue`]: one poll of all the run's jobs, why a job ended, cancellation;
//! - [`jobs`]: submitted job ids kept in the store, so a new planner reattaches;
//! - [`executor`]: the [`crate::engine::executor::Executor`] that ties them together.

pub mod config;
pub mod executor;
pub mod jobs;
pub mod sbatch;
pub mod squeue;
