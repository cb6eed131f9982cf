//! The Slurm executor's settings: `executor:` in `.repro/config.yaml` beside the pipeline.
//!
//! ```yaml
//! executor:
//!   kind: slurm
//!   partition: gpu            # --partition (absent: the cluster's default)
//!   account: my-lab           # --account
//!   qos: normal               # --qos
//!   time: "1-00:00:00"        # default --time of a stage without `resources.time`
//!   max_jobs: 50              # jobs of this run queued or running at once
//!   poll_seconds: 5           # one `squeue` call per interval for all of the run's jobs
//!   signal_grace_seconds: 300 # --signal=B:USR1@N: time a stage has to checkpoint
//!   gres: "gpu:{gpus}"        # --gres of a stage with `resources.gpus` > 0 ({gpus} = count)
//!   sbatch_args: ["--constraint=a100"]
//!   # No shared filesystem: workers pull inputs from and push results to a remote.
//!   remote: s3://team-bucket/repro
//!   worker_store: "${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/repro-store"   # node-local (the default)
//!   worker_log_dir: /tmp      # node-local folder of the jobs' logs (the default)
//! ```
//! Where the executor runs is a property of a machine, not of the study, so it is not in
//! `pipeline.yaml`, which is the same everywhere.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file `executor:` is read from, beside the pipeline.
pub const CONFIG_PATH: &str = ".repro/config.yaml";

#[derive(Debug, thiserror::Error)]
#[error("{path}: `executor:` {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// Which executor runs the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Local processes (the default).
    #[default]
    Local,
    /// One `sbatch` job per stage.
    Slurm,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    #[serde(default)]
    pub kind: ExecutorKind,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// Default `--time` for stages that declare none.
    pub time: Option<String>,
    #[serde(default = "default_max_jobs")]
    pub max_jobs: usize,
    #[serde(default = "default_poll")]
    pub poll_seconds: f64,
    #[serde(default = "default_grace")]
    pub signal_grace_seconds: u32,
    #[serde(default = "default_gres")]
    pub gres: String,
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    /// Workers share no filesystem with the planner: each pulls its inputs from this remote
    /// into a node-local store and pushes its outputs and record to it.
    pub remote: Option<String>,
    /// The workers' node-local store with `remote`; the job's shell expands it on the node.
    #[serde(default = "default_worker_store")]
    pub worker_store: String,
    /// Where the jobs write their logs with `remote` (a node-local folder).
    #[serde(default = "default_worker_log_dir")]
    pub worker_log_dir: String,
}

fn default_max_jobs() -> usize {
    100
}
fn default_poll() -> f64 {
    5.0
}
fn default_grace() -> u32 {
    120
}
fn default_gres() -> String {
    "gpu:{gpus}".into()
}
fn default_worker_store() -> String {
    "${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/repro-store".into()
}
fn default_worker_log_dir() -> String {
    "/tmp".into()
}

/// The file's other keys, ignored here.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    executor: Option<SlurmConfig>,
}

impl SlurmConfig {
    /// `executor:` of `<project>/.repro/config.yaml`; defaults (the local executor) when the
    /// file or the key is absent.
    pub fn load(project: &Path) -> Result<SlurmConfig, ConfigError> {
        let path = project.join(CONFIG_PATH);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SlurmConfig::default()),
            Err(e) => {
                return Err(ConfigError {
                    path,
                    message: format!("cannot be read: {e}"),
                })
            }
        };
        if text.trim().is_empty() {
            return Ok(SlurmConfig::default());
        }
        let file: File = serde_yaml::from_str(&text).map_err(|e| ConfigError {
            path: path.clone(),
            message: format!(
                "{e} (keys: kind, partition, account, qos, time, max_jobs, poll_seconds, signal_grace_seconds, gres, sbatch_args, remote, worker_store, worker_log_dir)"
            ),
        })?;
        Ok(file.executor.unwrap_or_default())
    }
}

impl Default for SlurmConfig {
    fn default() -> Self {
        SlurmConfig {
            kind: ExecutorKind::Local,
            partition: None,
            account: None,
            qos: None,
            time: None,
            max_jobs: default_max_jobs(),
            poll_seconds: default_poll(),
            signal_grace_seconds: default_grace(),
            gres: default_gres(),
            sbatch_args: Vec::new(),
            remote: None,
            worker_store: default_worker_store(),
            worker_log_dir: default_worker_log_dir(),
        }
    }
}

/// A `time:` value Slurm accepts, in minutes: Slurm's own forms (`MM`, `MM:SS`, `HH:MM:SS`,
/// `D-HH`, `D-HH:MM`, `D-HH:MM:SS`) or `30m`, `4h`, `2d`. Rounded up to whole minutes, the
/// granularity Slurm enforces.
pub fn parse_minutes(text: &str) -> Option<u64> {
    let t = text.trim();
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if let Some(n) = t.strip_suffix('m').and_then(num) {
        return Some(n);
    }
    if let Some(n) = t.strip_suffix('h').and_then(num) {
        return n.checked_mul(60);
    }
    if let Some(n) = t.strip_suffix('d').and_then(num) {
        return n.checked_mul(24 * 60);
    }
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (num(d)?, Some(r)),
        None => (0, None),
    };
    let parts: Vec<u64> = rest
        .unwrap_or(t)
        .split(':')
        .map(num)
        .collect::<Option<_>>()?;
    let (h, m, s) = match (rest.is_some(), parts.as_slice()) {
        (false, [m]) => (0, *m, 0),
        (false, [m, s]) => (0, *m, *s),
        (false, [h, m, s]) => (*h, *m, *s),
        (true, [h]) => (*h, 0, 0),
        (true, [h, m]) => (*h, *m, 0),
        (true, [h, m, s]) => (*h, *m, *s),
        _ => return None,
    };
    Some(days * 24 * 60 + h * 60 + m + s.div_ceil(60))
}

/// `--time` in Slurm's `D-HH:MM:00` form.
pub fn format_minutes(minutes: u64) -> String {
    let (d, rem) = (minutes / (24 * 60), minutes % (24 * 60));
    format!("{d}-{:02}:{:02}:00", rem / 60, rem % 60)
}

/// A memory size Slurm's `--mem` accepts (`512M`, `4G`, `1T`, plain megabytes), normalised to
/// megabytes.
pub fn parse_megabytes(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix('B').unwrap_or(&t);
    let (digits, mult) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 0),
        'M' => (&t[..t.len() - 1], 1),
        'G' => (&t[..t.len() - 1], 1024),
        'T' => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t, 1),
    };
    let n: u64 = digits.parse().ok()?;
    if mult == 0 {
        return Some(n.div_ceil(1024));
    }
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form_slurm_takes() {
        assert_eq!(parse_minutes("90"), Some(90));
        assert_eq!(parse_minutes("10:30"), Some(11));
        assert_eq!(parse_minutes("02:00:00"), Some(120));
        assert_eq!(parse_minutes("1-00"), Some(1440));
        assert_eq!(parse_minutes("2-12:30"), Some(2 * 1440 + 750));
        assert_eq!(parse_minutes("1-00:00:01"), Some(1441));
        assert_eq!(parse_minutes("30m"), Some(30));
        assert_eq!(parse_minutes("4h"), Some(240));
        assert_eq!(parse_minutes("3d"), Some(3 * 1440));
        for bad in ["", "x", "1:2:3:4", "-5", "1-", "4 h", "1.5h"] {
            assert_eq!(parse_minutes(bad), None, "{bad:?}");
        }
        assert_eq!(format_minutes(2 * 1440 + 750), "2-12:30:00");
        assert_eq!(format_minutes(5), "0-00:05:00");
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_megabytes("512M"), Some(512));
        assert_eq!(parse_megabytes("4G"), Some(4096));
        assert_eq!(parse_megabytes("4gb"), Some(4096));
        assert_eq!(parse_megabytes("1T"), Some(1 << 20));
        assert_eq!(parse_megabytes("2048"), Some(2048));
        assert_eq!(parse_megabytes("1500K"), Some(2));
        assert_eq!(parse_megabytes("lots"), None);
    }

    #[test]
    fn config_rejects_unknown_keys_and_fills_defaults() {
        let c: SlurmConfig = serde_yaml::from_str("kind: slurm\npartition: gpu\n").expect("ok");
        assert_eq!(c.kind, ExecutorKind::Slurm);
        assert_eq!(c.partition.as_deref(), Some("gpu"));
        assert_eq!(c.max_jobs, 100);
        assert_eq!(c.gres, "gpu:{gpus}");
        assert!(serde_yaml::from_str::<SlurmConfig>("kind: slurm\npartitoin: gpu\n").is_err());
        assert_eq!(c.remote, None);
        let r: SlurmConfig =
            serde_yaml::from_str("kind: slurm\nremote: s3://b/p\nworker_store: /scratch/s\n")
                .expect("ok");
        assert_eq!(r.remote.as_deref(), Some("s3://b/p"));
        assert_eq!(r.worker_store, "/scratch/s");
        assert_eq!(r.worker_log_dir, "/tmp");
    }
}
