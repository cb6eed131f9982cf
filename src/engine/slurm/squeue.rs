//! What the controller says about a run's jobs: one `squeue` call per poll interval for all of
//! them (never one per job), `scancel` for all at once.
//!
//! Success is never taken from Slurm: a stage succeeded when its action record is in the store.
//! Slurm only explains an end without a record (TIMEOUT, OUT_OF_MEMORY, …). `sacct` is not
//! used (clusters often run without slurmdbd); `squeue --states=all` shows a finished job for
//! `MinJobAge` seconds, and a job gone from squeue without a record is reported as such.

use std::collections::HashMap;
use std::process::Command;

/// A job's state, as Slurm names it (`squeue -O State`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Running,
    /// Running's tail: the job's processes are ending.
    Completing,
    /// Requeued (by preemption, `scontrol requeue`, or a USR1 checkpoint exit) and waiting.
    Requeued,
    Suspended,
    Completed,
    Failed,
    Timeout,
    OutOfMemory,
    Cancelled,
    NodeFail,
    Preempted,
    BootFail,
    Deadline,
    Other(String),
}

impl JobState {
    pub fn parse(s: &str) -> JobState {
        // squeue prints e.g. "CANCELLED by 0" for some states; the first word is the state.
        match s.split_whitespace().next().unwrap_or("") {
            "PENDING" | "CONFIGURING" => JobState::Pending,
            "RUNNING" | "RESIZING" | "SIGNALING" | "STAGE_OUT" => JobState::Running,
            "COMPLETING" => JobState::Completing,
            "REQUEUED" | "REQUEUE_FED" | "REQUEUE_HOLD" | "RESV_DEL_HOLD" => JobState::Requeued,
            "SUSPENDED" | "STOPPED" => JobState::Suspended,
            "COMPLETED" => JobState::Completed,
            "FAILED" => JobState::Failed,
            "TIMEOUT" => JobState::Timeout,
            "OUT_OF_MEMORY" => JobState::OutOfMemory,
            "CANCELLED" => JobState::Cancelled,
            "NODE_FAIL" => JobState::NodeFail,
            "PREEMPTED" => JobState::Preempted,
            "BOOT_FAIL" => JobState::BootFail,
            "DEADLINE" => JobState::Deadline,
            other => JobState::Other(other.to_string()),
        }
    }

    /// Still in the queue or on a node: the planner keeps waiting (and a new planner reattaches).
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            JobState::Pending
                | JobState::Running
                | JobState::Completing
                | JobState::Requeued
                | JobState::Suspended
        )
    }

    /// Why a job that left no record ended, in words a user can act on.
    pub fn explain(&self, exit_code: Option<&str>, log: &str) -> String {
        match self {
            JobState::Completed => {
                format!("the job completed but published no record (log: {log})")
            }
            JobState::Failed => format!(
                "FAILED{} (log: {log})",
                exit_code
                    .map(|c| format!(" with exit code {c}"))
                    .unwrap_or_default()
            ),
            JobState::Timeout => format!(
                "TIMEOUT: the job ran past its time limit; raise `resources.time` (log: {log})"
            ),
            JobState::OutOfMemory => format!(
                "OUT_OF_MEMORY: the job exceeded its memory; raise `resources.memory` (log: {log})"
            ),
            JobState::Cancelled => {
                format!("CANCELLED (scancel, or the run was interrupted) (log: {log})")
            }
            JobState::NodeFail => {
                format!("NODE_FAIL: its node failed; rerun to resubmit (log: {log})")
            }
            JobState::Preempted => {
                format!("PREEMPTED and not requeued; rerun to resubmit (log: {log})")
            }
            JobState::BootFail => format!("BOOT_FAIL: its node did not boot (log: {log})"),
            JobState::Deadline => format!("DEADLINE: the job missed its deadline (log: {log})"),
            other => format!("ended in state {other:?} (log: {log})"),
        }
    }
}

/// One job's line of `squeue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    pub state: JobState,
    pub reason: String,
    pub node: String,
    pub partition: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot run `{tool}` ({source}); install slurm-client and check that `sinfo` answers on this host")]
    Spawn {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("`{tool}` failed: {message}; is the Slurm controller up (`scontrol ping`)?")]
    Failed { tool: &'static str, message: String },
}

const FORMAT: &str = "JobID:|,State:|,Reason:|,NodeList:|,Partition:";

/// Parse `squeue -h -O JobID:|,State:|,…` output. Requeued jobs may show twice while Slurm
/// swaps records; the last line wins.
pub fn parse_squeue(text: &str) -> HashMap<u64, JobInfo> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(id), Some(state)) = (f.first(), f.get(1)) else {
            continue;
        };
        // Array/het jobs print `123_4` or `123+0`; repro submits neither, but do not misread.
        let Ok(id) = id.parse::<u64>() else { continue };
        out.insert(
            id,
            JobInfo {
                state: JobState::parse(state),
                reason: f.get(2).unwrap_or(&"").to_string(),
                node: f.get(3).unwrap_or(&"").to_string(),
                partition: f.get(4).unwrap_or(&"").to_string(),
            },
        );
    }
    out
}

/// The states of `ids` in one call; a job missing from the answer has left the controller's
/// memory (ended more than `MinJobAge` ago, or never existed).
pub fn query(ids: &[u64]) -> Result<HashMap<u64, JobInfo>, QueueError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    let out = Command::new("squeue")
        .args(["-h", "--states=all", "-O", FORMAT, "-j", &list.join(",")])
        .output()
        .map_err(|source| QueueError::Spawn {
            tool: "squeue",
            source,
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // squeue fails with "Invalid job id specified" when *every* id is unknown.
        if err.contains("Invalid job id") {
            return Ok(HashMap::new());
        }
        return Err(QueueError::Failed {
            tool: "squeue",
            message: err.trim().to_string(),
        });
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&out.stdout)))
}

/// The exit code of an ended job (`scontrol show job`), asked only for a job that failed.
pub fn exit_code(id: u64) -> Option<String> {
    let out = Command::new("scontrol")
        .args(["show", "job", "-o", &id.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("ExitCode="))
        .map(str::to_string)
}

/// Cancel jobs in one call (Ctrl-C, `repro cancel`).
pub fn cancel(ids: &[u64]) -> Result<(), QueueError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    let out = Command::new("scancel")
        .args(&list)
        .output()
        .map_err(|source| QueueError::Spawn {
            tool: "scancel",
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(QueueError::Failed {
            tool: "scancel",
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_squeue_lines() {
        let text = "17|RUNNING|None|node2|debug\n18|PENDING|Resources||debug\n\
                    19|TIMEOUT|TimeLimit|node1|debug\n20|CANCELLED by 0|None|node3|debug\n\
                    garbage\n21_3|RUNNING|None|node1|debug\n";
        let m = parse_squeue(text);
        assert_eq!(m.len(), 4);
        assert_eq!(m[&17].state, JobState::Running);
        assert_eq!(m[&17].node, "node2");
        assert_eq!(m[&18].reason, "Resources");
        assert_eq!(m[&19].state, JobState::Timeout);
        assert_eq!(m[&20].state, JobState::Cancelled);
        assert!(m[&18].state.is_live() && !m[&19].state.is_live());
    }

    #[test]
    fn every_end_is_explained_with_the_log() {
        for (s, word) in [
            ("FAILED", "FAILED with exit code 3:0"),
            ("TIMEOUT", "TIMEOUT"),
            ("OUT_OF_MEMORY", "resources.memory"),
            ("CANCELLED", "CANCELLED"),
            ("NODE_FAIL", "NODE_FAIL"),
            ("PREEMPTED", "PREEMPTED"),
        ] {
            let text = JobState::parse(s).explain(Some("3:0"), "/s/logs/slurm/9.log");
            assert!(
                text.contains(word) && text.contains("/s/logs/slurm/9.log"),
                "{text}"
            );
        }
    }
}
