//! [`RecordingExecutor`]: launches nothing. Each launched job's end is decided by a closure the
//! test gives (which may publish a record, as a real worker would), and jobs end in launch
//! order. It records what was launched and how many ran at once, so the scheduler's decisions
//! — early cutoff, `--keep-going`, slots, GPUs, Ctrl-C — are tested without a binary.

use super::{Capacity, Event, ExecError, Executor, Handle, Job, JobEnd, JobId};
use crate::pipeline::Resources;
use std::collections::VecDeque;
use std::time::Duration;

type Outcome<'a> = Box<dyn FnMut(&Job) -> JobEnd + 'a>;

pub struct RecordingExecutor<'a> {
    capacity: Capacity,
    outcome: Outcome<'a>,
    running: VecDeque<(JobId, JobEnd)>,
    /// Stage names in launch order.
    pub launched: Vec<String>,
    /// The most jobs that were running at once.
    pub max_running: usize,
    /// Report an interrupt (as Ctrl-C would) once this many jobs were launched.
    pub interrupt_after: Option<usize>,
    /// Jobs that `cancel_all` stopped.
    pub cancelled: Vec<String>,
    names: Vec<(JobId, String)>,
}

impl<'a> RecordingExecutor<'a> {
    pub fn new(capacity: Capacity, outcome: impl FnMut(&Job) -> JobEnd + 'a) -> Self {
        RecordingExecutor {
            capacity,
            outcome: Box::new(outcome),
            running: VecDeque::new(),
            launched: Vec::new(),
            max_running: 0,
            interrupt_after: None,
            cancelled: Vec::new(),
            names: Vec::new(),
        }
    }

    fn name_of(&self, job: JobId) -> String {
        self.names
            .iter()
            .find(|(j, _)| *j == job)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    }
}

impl Executor for RecordingExecutor<'_> {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn capacity(&self) -> Capacity {
        self.capacity
    }

    fn check(&self, stage: &str, resources: &Resources) -> Result<(), ExecError> {
        match self.capacity.gpus {
            Some(n) if resources.gpus > n => Err(ExecError::TooManyGpus {
                stage: stage.to_string(),
                needed: resources.gpus,
                available: n,
            }),
            _ => Ok(()),
        }
    }

    fn launch(&mut self, job: &Job) -> Result<Handle, ExecError> {
        self.launched.push(job.stage.clone());
        self.names.push((job.id, job.stage.clone()));
        let end = (self.outcome)(job);
        self.running.push_back((job.id, end));
        self.max_running = self.max_running.max(self.running.len());
        Ok(Handle {
            job: job.id,
            id: format!("recorded-{}", self.launched.len()),
        })
    }

    fn wait(&mut self) -> Event {
        if self
            .interrupt_after
            .is_some_and(|n| self.launched.len() >= n)
        {
            self.interrupt_after = None;
            return Event::Interrupted;
        }
        match self.running.pop_front() {
            Some((job, end)) => Event::Ended { job, end },
            None => Event::Interrupted,
        }
    }

    fn cancel_all(&mut self, _grace: Duration) -> Vec<(JobId, JobEnd)> {
        let ended: Vec<(JobId, JobEnd)> = self
            .running
            .drain(..)
            .map(|(job, _)| (job, JobEnd::Cancelled))
            .collect();
        for (job, _) in &ended {
            let name = self.name_of(*job);
            self.cancelled.push(name);
        }
        ended
    }
}
