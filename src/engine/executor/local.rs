//! [`LocalExecutor`]: each action is `repro exec-stage KEY` in a process group of its own on
//! this host, within CPU slots and the host's GPUs.
//!
//! A thread per worker waits for its exit and keeps the last lines of its stderr (the worker
//! writes its one-line failure reason there), so `wait` sleeps on one channel until a worker
//! ends or a signal arrives; every quarter second without an event it reads the workers'
//! progress files (`REPRO_PROGRESS`). Stopping is TERM to the worker's process group, then KILL
//! after the grace period; the worker itself reaps what its stage left behind (see
//! `engine::action`).

use super::{
    last_stderr_lines, signals, Capacity, Event, ExecError, Executor, Handle, Job, JobEnd, JobId,
};
use crate::pipeline::Resources;
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Exit status of a worker whose failure lies in the environment (disk full, permissions): the
/// CLI's exit code for the environment.
pub const EXIT_ENVIRONMENT: i32 = 3;

/// GPUs on this host: `REPRO_GPUS` if set, else the lines of `nvidia-smi -L`, else 0.
pub fn detect_gpus() -> u32 {
    if let Some(n) = std::env::var("REPRO_GPUS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    Command::new("nvidia-smi")
        .arg("-L")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.starts_with("GPU "))
                .count() as u32
        })
        .unwrap_or(0)
}

struct Worker {
    pid: i32,
    gpus: Vec<u32>,
    progress: PathBuf,
    offset: u64,
}

pub struct LocalExecutor {
    exe: PathBuf,
    store: PathBuf,
    cpu_slots: usize,
    free_gpus: Vec<u32>,
    gpus: u32,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    running: BTreeMap<JobId, Worker>,
    /// Events read but not yet returned (progress of several workers at one tick).
    queued: VecDeque<Event>,
}

impl LocalExecutor {
    /// `exe` is the repro binary the workers run; `cpu_slots` is `-j`; `gpus` the host's GPUs.
    pub fn new(exe: PathBuf, store: &Path, cpu_slots: usize, gpus: u32) -> LocalExecutor {
        let (tx, rx) = channel();
        signals::forward(tx.clone(), Event::Interrupted);
        LocalExecutor {
            exe,
            store: store.to_path_buf(),
            cpu_slots: cpu_slots.max(1),
            free_gpus: (0..gpus).rev().collect(),
            gpus,
            tx,
            rx,
            running: BTreeMap::new(),
            queued: VecDeque::new(),
        }
    }

    fn progress_path(&self, job: &Job) -> PathBuf {
        self.store
            .join("work")
            .join(format!("{}.progress", job.key))
    }

    /// New complete lines in running workers' progress files, as events.
    fn read_progress(&mut self) {
        for (&job, w) in self.running.iter_mut() {
            let Some((line, offset)) = last_new_line(&w.progress, w.offset) else {
                continue;
            };
            w.offset = offset;
            if let Some(p) = crate::engine::progress::parse_line(&line) {
                self.queued.push_back(Event::Progress {
                    job,
                    done: p.done,
                    total: p.total,
                    message: p.message,
                });
            }
        }
    }

    fn ended(&mut self, job: JobId) {
        if let Some(w) = self.running.remove(&job) {
            self.free_gpus.extend(w.gpus);
            let _ = std::fs::remove_file(&w.progress);
        }
    }
}

/// The last complete line after `offset` and the offset after it.
fn last_new_line(path: &Path, offset: u64) -> Option<(String, u64)> {
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = String::new();
    f.read_to_string(&mut buf).ok()?;
    let end = buf.rfind('\n')?;
    let line = buf[..end].lines().last()?.to_string();
    Some((line, offset + end as u64 + 1))
}

impl Executor for LocalExecutor {
    fn name(&self) -> &'static str {
        "local"
    }

    fn capacity(&self) -> Capacity {
        Capacity {
            cpu_slots: self.cpu_slots,
            gpus: Some(self.gpus),
            jobs: None,
        }
    }

    fn check(&self, stage: &str, resources: &Resources) -> Result<(), ExecError> {
        if resources.gpus > self.gpus {
            return Err(ExecError::TooManyGpus {
                stage: stage.to_string(),
                needed: resources.gpus,
                available: self.gpus,
            });
        }
        Ok(())
    }

    fn launch(&mut self, job: &Job) -> Result<Handle, ExecError> {
        let cpus = (job.resources.cpus.max(1) as usize).min(self.cpu_slots);
        let n = job.resources.gpus as usize;
        if n > self.free_gpus.len() {
            return Err(ExecError::TooManyGpus {
                stage: job.stage.clone(),
                needed: job.resources.gpus,
                available: self.free_gpus.len() as u32,
            });
        }
        let gpus: Vec<u32> = (0..n).filter_map(|_| self.free_gpus.pop()).collect();
        let visible: Vec<String> = gpus.iter().map(u32::to_string).collect();
        let progress = self.progress_path(job);
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--store")
            .arg(&self.store)
            .arg("exec-stage")
            .arg(job.key.to_string())
            .env("CUDA_VISIBLE_DEVICES", visible.join(","))
            .env("OMP_NUM_THREADS", cpus.to_string())
            .env("REPRO_THREADS", cpus.to_string())
            .env("REPRO_PROGRESS", &progress)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Own process group: the terminal's Ctrl-C reaches only the planner, which stops
            // the stages itself, whole groups at a time.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; the worker dies with the planner.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(source) => {
                self.free_gpus.extend(gpus);
                return Err(ExecError::Spawn {
                    exe: self.exe.display().to_string(),
                    source,
                });
            }
        };
        let pid = child.id() as i32;
        let stderr = child.stderr.take();
        let tx = self.tx.clone();
        let id = job.id;
        // One thread keeps the worker's last stderr lines, another waits for its exit. A
        // process the stage left behind may hold stderr open after the worker exits, so the
        // waiter gives the reader only a moment to finish.
        let (said_tx, said_rx) = channel();
        std::thread::spawn(move || {
            let last = stderr.map(last_stderr_lines).unwrap_or_default();
            let _ = said_tx.send(last);
        });
        std::thread::spawn(move || {
            let status = child.wait();
            let said: Vec<String> = said_rx
                .recv_timeout(Duration::from_secs(1))
                .unwrap_or_default();
            let end = match status {
                Ok(st) if st.success() => JobEnd::Succeeded,
                Ok(st) => JobEnd::Failed {
                    reason: if said.is_empty() {
                        match (st.code(), st.signal()) {
                            (_, Some(sig)) => format!("the worker was killed by signal {sig}"),
                            (Some(c), _) => format!("the worker exited with status {c}"),
                            _ => format!("the worker ended with {st}"),
                        }
                    } else {
                        said.join("\n")
                    },
                    environment: st.code() == Some(EXIT_ENVIRONMENT),
                },
                Err(e) => JobEnd::Failed {
                    reason: format!("waiting for the worker: {e}"),
                    environment: true,
                },
            };
            let _ = tx.send(Event::Ended { job: id, end });
        });
        self.running.insert(
            job.id,
            Worker {
                pid,
                gpus,
                progress,
                offset: 0,
            },
        );
        Ok(Handle {
            job: job.id,
            id: pid.to_string(),
        })
    }

    fn wait(&mut self) -> Event {
        loop {
            if let Some(ev) = self.queued.pop_front() {
                return ev;
            }
            match self.rx.recv_timeout(Duration::from_millis(250)) {
                Ok(ev) => {
                    if let Event::Ended { job, .. } = ev {
                        self.ended(job);
                    }
                    return ev;
                }
                Err(RecvTimeoutError::Timeout) => self.read_progress(),
                // The sender lives in `self`: never disconnected.
                Err(RecvTimeoutError::Disconnected) => return Event::Interrupted,
            }
        }
    }

    fn cancel_all(&mut self, grace: Duration) -> Vec<(JobId, JobEnd)> {
        for w in self.running.values() {
            // SAFETY: signalling a process group this executor created.
            unsafe {
                libc::kill(-w.pid, libc::SIGTERM);
            }
        }
        let mut out = Vec::new();
        let deadline = Instant::now() + grace;
        while !self.running.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                for w in self.running.values() {
                    // SAFETY: as above; the group may already be gone.
                    unsafe {
                        libc::kill(-w.pid, libc::SIGKILL);
                    }
                }
            }
            match self.rx.recv_timeout(left.max(Duration::from_millis(50))) {
                Ok(Event::Ended { job, end }) => {
                    self.ended(job);
                    out.push((job, end.or_cancelled()));
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        out
    }
}
