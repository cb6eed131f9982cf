//! One stage, one `sbatch` job: the command line (what `run --executor slurm --dry-run`
//! prints) and its submission.
//!
//! The job's script `exec`s `repro exec-stage KEY`, so the batch shell is the stage's worker and
//! `--signal=B:USR1@GRACE` reaches it: a resumable stage checkpoints and exits, and
//! `--requeue` puts the job back in the queue, where the requeued job resumes from the
//! checkpoint (the action's checkpoint lives in the store, keyed by the action key). A stage
//! that is not resumable simply reruns. The job's output goes to `store/logs/slurm/%j.log`,
//! where the planner and `repro log` find it.
//!
//! Without a shared filesystem ([`RemoteWorker`]) the script carries the pending action itself
//! (base64 of its JSON, in a here-document), the worker runs against a node-local store with
//! `--remote`, and the job's log stays on the node.

use super::config::{format_minutes, parse_megabytes, parse_minutes, SlurmConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What one job needs: the stage's declared resources and where its worker finds the store.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub stage: String,
    pub key: String,
    /// A short id shared by every job of one `repro run` (in the job name, for `squeue`).
    pub run_id: String,
    pub cpus: u32,
    pub gpus: u32,
    /// `resources.memory` as written (`4G`).
    pub memory: Option<String>,
    /// `resources.time` as written (`4h`, `1-00:00:00`).
    pub time: Option<String>,
    /// The `repro` binary the job runs (on a shared filesystem, the same path on every node).
    pub exe: PathBuf,
    pub store: PathBuf,
    /// The folder the job starts in (the pipeline's folder).
    pub workdir: PathBuf,
    /// Set when the worker shares no filesystem with the planner.
    pub remote: Option<RemoteWorker>,
}

/// A worker that sees only a remote: what its script needs besides the binary.
#[derive(Debug, Clone)]
pub struct RemoteWorker {
    /// The remote's URL: inputs come from it, outputs and the record go to it.
    pub url: String,
    /// The node-local store (expanded by the job's shell).
    pub store: String,
    /// The node-local folder of the job's log.
    pub log_dir: String,
    /// The pending action's JSON, base64 (wrapped in lines).
    pub action: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SbatchError {
    #[error(
        "stage `{stage}`: resources.{field} `{value}` is not a Slurm {what}; write e.g. {example}"
    )]
    BadResource {
        stage: String,
        field: &'static str,
        value: String,
        what: &'static str,
        example: &'static str,
    },
    #[error("cannot run `sbatch` ({0}); install slurm-client and check that `sinfo` answers on this host")]
    Spawn(std::io::Error),
    #[error("sbatch refused stage `{stage}`: {message}")]
    Refused { stage: String, message: String },
}

/// The job name: `repro.<run>.<stage>`, truncated so squeue's columns stay readable. Slurm
/// allows most characters; `/` and whitespace become `_` so the name is one shell word.
pub fn job_name(run_id: &str, stage: &str) -> String {
    let clean: String = stage
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '/' {
                '_'
            } else {
                c
            }
        })
        .take(100)
        .collect();
    format!("repro.{run_id}.{clean}")
}

/// Where job `%j`'s output goes.
pub fn log_dir(store: &Path) -> PathBuf {
    store.join("logs").join("slurm")
}

/// Where the job's output goes: the store's log folder, or a node-local one.
pub fn job_log_dir(job: &JobSpec) -> PathBuf {
    match &job.remote {
        Some(r) => PathBuf::from(&r.log_dir),
        None => log_dir(&job.store),
    }
}

/// The full `sbatch` argument list (without the program name).
pub fn sbatch_args(cfg: &SlurmConfig, job: &JobSpec) -> Result<Vec<String>, SbatchError> {
    let bad = |field, value: &str, what, example| SbatchError::BadResource {
        stage: job.stage.clone(),
        field,
        value: value.to_string(),
        what,
        example,
    };
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={}", job_name(&job.run_id, &job.stage)),
        format!("--cpus-per-task={}", job.cpus.max(1)),
        "--ntasks=1".into(),
        "--nodes=1".into(),
        format!("--chdir={}", job.workdir.display()),
        format!("--output={}/%j.log", job_log_dir(job).display()),
        "--requeue".into(),
        format!("--signal=B:USR1@{}", cfg.signal_grace_seconds),
        "--export=ALL".into(),
    ];
    if let Some(mem) = &job.memory {
        let mb = parse_megabytes(mem).ok_or_else(|| bad("memory", mem, "memory size", "`8G`"))?;
        args.push(format!("--mem={mb}M"));
    }
    if let Some(time) = job.time.as_ref().or(cfg.time.as_ref()) {
        let min = parse_minutes(time)
            .ok_or_else(|| bad("time", time, "time limit", "`4h` or `1-00:00:00`"))?;
        args.push(format!("--time={}", format_minutes(min)));
    }
    if job.gpus > 0 {
        args.push(format!(
            "--gres={}",
            cfg.gres.replace("{gpus}", &job.gpus.to_string())
        ));
    }
    for (flag, value) in [
        ("partition", &cfg.partition),
        ("account", &cfg.account),
        ("qos", &cfg.qos),
    ] {
        if let Some(v) = value {
            args.push(format!("--{flag}={v}"));
        }
    }
    args.extend(cfg.sbatch_args.iter().cloned());
    args.push(format!("--wrap={}", wrap_script(job)));
    Ok(args)
}

/// The job's script: the worker replaces the shell so it receives Slurm's signals itself.
fn wrap_script(job: &JobSpec) -> String {
    let exe = shell_quote(&job.exe.display().to_string());
    let Some(r) = &job.remote else {
        return format!(
            "exec {exe} --store {} exec-stage {}",
            shell_quote(&job.store.display().to_string()),
            job.key
        );
    };
    // The here-document's body is base64: it can contain neither the delimiter nor a quote.
    format!(
        "exec {exe} --store {} exec-stage {} --remote {} --action-stdin <<'REPRO_ACTION'\n{}\nREPRO_ACTION",
        shell_expandable(&r.store),
        job.key,
        shell_quote(&r.url),
        r.action.trim_end()
    )
}

/// One shell word for `s` that keeps its `$VARIABLES` and `${…}` for the shell to expand (double
/// quotes; `"`, `\` and backquotes escaped).
pub fn shell_expandable(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// One shell word for `s` (single quotes; a quote inside becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The command as a user would type it (for `--dry-run`).
pub fn display_command(args: &[String]) -> String {
    std::iter::once("sbatch".to_string())
        .chain(args.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Submit; the job id `sbatch --parsable` prints (`123` or `123;cluster`).
pub fn submit(job: &JobSpec, args: &[String]) -> Result<u64, SbatchError> {
    if job.remote.is_none() {
        std::fs::create_dir_all(log_dir(&job.store)).map_err(SbatchError::Spawn)?;
    }
    let out = Command::new("sbatch")
        .args(args)
        .output()
        .map_err(SbatchError::Spawn)?;
    let refused = |message: String| SbatchError::Refused {
        stage: job.stage.clone(),
        message,
    };
    if !out.status.success() {
        return Err(refused(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .split(';')
        .next()
        .and_then(|id| id.trim().parse().ok())
        .ok_or_else(|| refused(format!("printed no job id: {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> JobSpec {
        JobSpec {
            stage: "train@vit_b_16-imagenot".into(),
            key: "ab".repeat(32),
            run_id: "r1".into(),
            cpus: 16,
            gpus: 1,
            memory: Some("64G".into()),
            time: Some("2-00:00:00".into()),
            exe: "/opt/repro bin/repro".into(),
            store: "/shared/store".into(),
            workdir: "/shared/study".into(),
            remote: None,
        }
    }

    #[test]
    fn a_remote_worker_carries_its_action_and_logs_on_the_node() {
        let mut j = job();
        j.remote = Some(RemoteWorker {
            url: "s3://bucket/repro".into(),
            store: "${SLURM_TMPDIR:-/tmp}/repro-store".into(),
            log_dir: "/tmp".into(),
            action: "eyJ4IjoxfQ==\n".into(),
        });
        let args = sbatch_args(&SlurmConfig::default(), &j).expect("valid");
        assert!(args.iter().any(|a| a == "--output=/tmp/%j.log"), "{args:?}");
        let wrap = args.last().expect("wrap");
        assert_eq!(
            wrap,
            &format!(
                "--wrap=exec '/opt/repro bin/repro' --store \"${{SLURM_TMPDIR:-/tmp}}/repro-store\" \
                 exec-stage {} --remote s3://bucket/repro --action-stdin <<'REPRO_ACTION'\n\
                 eyJ4IjoxfQ==\nREPRO_ACTION",
                "ab".repeat(32)
            )
        );
        assert_eq!(shell_expandable(r#"a"b`c\d$X"#), r#""a\"b\`c\\d$X""#);
    }

    #[test]
    fn a_gpu_stage_gets_gres_time_mem_signal_and_requeue() {
        let cfg = SlurmConfig {
            partition: Some("gpu".into()),
            sbatch_args: vec!["--constraint=h100".into()],
            ..SlurmConfig::default()
        };
        let args = sbatch_args(&cfg, &job()).expect("valid");
        for want in [
            "--gres=gpu:1",
            "--cpus-per-task=16",
            "--mem=65536M",
            "--time=2-00:00:00",
            "--requeue",
            "--signal=B:USR1@120",
            "--partition=gpu",
            "--constraint=h100",
            "--job-name=repro.r1.train@vit_b_16-imagenot",
            "--output=/shared/store/logs/slurm/%j.log",
        ] {
            assert!(
                args.iter().any(|a| a == want),
                "{want} missing from {args:?}"
            );
        }
        let wrap = args.last().expect("wrap");
        assert_eq!(
            wrap,
            &format!(
                "--wrap=exec '/opt/repro bin/repro' --store /shared/store exec-stage {}",
                "ab".repeat(32)
            )
        );
        assert!(display_command(&args).starts_with("sbatch --parsable "));
    }

    #[test]
    fn cpu_stage_has_no_gres_and_default_time_applies() {
        let mut j = job();
        j.gpus = 0;
        j.time = None;
        j.memory = None;
        let cfg = SlurmConfig {
            time: Some("30m".into()),
            ..SlurmConfig::default()
        };
        let args = sbatch_args(&cfg, &j).expect("valid");
        assert!(!args.iter().any(|a| a.starts_with("--gres")));
        assert!(!args.iter().any(|a| a.starts_with("--mem")));
        assert!(args.iter().any(|a| a == "--time=0-00:30:00"));
    }

    #[test]
    fn bad_resources_name_the_stage_and_field() {
        let mut j = job();
        j.time = Some("soon".into());
        let e = sbatch_args(&SlurmConfig::default(), &j).expect_err("bad time");
        let msg = e.to_string();
        assert!(msg.contains("train@vit_b_16-imagenot") && msg.contains("resources.time"));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain/path-1.2"), "plain/path-1.2");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
