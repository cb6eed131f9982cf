//! All terminal output of `repro run` goes through here: progress bars on a terminal, plain
//! lines otherwise (CI logs, pipes).

use crate::engine::scheduler::{Reporter, RunSummary};
use crate::store::ActionKey;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub fn error(message: &str) {
    eprintln!("error: {message}");
}

pub struct RunUi {
    /// `None` when plain lines are printed.
    bars: Option<Bars>,
    /// With `--json`, human lines go to stderr so stdout stays machine-readable.
    quiet_stdout: bool,
}

struct Bars {
    multi: MultiProgress,
    dag: ProgressBar,
    stages: Mutex<HashMap<String, ProgressBar>>,
}

impl RunUi {
    pub fn new(json: bool) -> RunUi {
        // Bars need a terminal; piped or redirected output gets plain lines.
        let bars =
            (std::io::stdout().is_terminal() && std::io::stderr().is_terminal()).then(|| {
                let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                let dag = multi.add(ProgressBar::new(0));
                dag.set_style(
                    ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:30}] {pos}/{len} stages {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                Bars {
                    multi,
                    dag,
                    stages: Mutex::new(HashMap::new()),
                }
            });
        RunUi {
            bars,
            quiet_stdout: json,
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(b) => {
                let _ = b.multi.println(text);
            }
            None if self.quiet_stdout => eprintln!("{text}"),
            None => println!("{text}"),
        }
    }

    fn stage_done(&self, stage: &str) {
        if let Some(b) = &self.bars {
            if let Some(pb) = b.stages.lock().expect("ui lock").remove(stage) {
                pb.finish_and_clear();
                b.multi.remove(&pb);
            }
            b.dag.inc(1);
        }
    }
}

impl Reporter for RunUi {
    fn begin(&self, total: usize) {
        if let Some(b) = &self.bars {
            b.dag.set_length(total as u64);
            b.dag.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn cached(&self, stage: &str) {
        if let Some(b) = &self.bars {
            b.dag.inc(1);
            b.dag.set_message(format!("(cached {stage})"));
        }
    }

    fn started(&self, stage: &str, key: &ActionKey, expected: Option<Duration>) {
        match &self.bars {
            Some(b) => {
                let pb = b.multi.add(ProgressBar::new_spinner());
                pb.set_style(
                    ProgressStyle::with_template(
                        "  {spinner} {prefix} {elapsed} {eta_left} {wide_msg}",
                    )
                    .expect("valid template")
                    .with_key(
                        "eta_left",
                        move |st: &ProgressState, w: &mut dyn fmt::Write| {
                            let _ = write!(w, "{}", eta_text(expected, st.elapsed()));
                        },
                    ),
                );
                pb.set_prefix(stage.to_string());
                pb.enable_steady_tick(Duration::from_millis(120));
                b.stages
                    .lock()
                    .expect("ui lock")
                    .insert(stage.to_string(), pb);
            }
            None => self.line(&format!(
                "run    {stage} ({}{})",
                key.0.short(),
                expected.map_or(String::new(), |e| format!(", last run took {}", human(e)))
            )),
        }
    }

    fn progress(&self, stage: &str, done: u64, total: u64, message: &str) {
        if let Some(b) = &self.bars {
            if let Some(pb) = b.stages.lock().expect("ui lock").get(stage) {
                let frac = if total > 0 {
                    format!("{done}/{total} ")
                } else {
                    String::new()
                };
                pb.set_message(format!("{frac}{message}"));
            }
        }
    }

    fn finished(&self, stage: &str, seconds: f64) {
        self.stage_done(stage);
        self.line(&format!("done   {stage} ({seconds:.1} s)"));
    }

    fn failed(&self, stage: &str, message: &str, log: Option<&Path>) {
        self.stage_done(stage);
        self.line(&format!("FAILED {stage}: {message}"));
        if let Some(log) = log {
            if let Ok(text) = std::fs::read_to_string(log) {
                // The worker also wrote its reason at the end of the log: said once, above.
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| !message.contains(l.trim()) || l.trim().is_empty())
                    .collect();
                for l in &lines[lines.len().saturating_sub(15)..] {
                    self.line(&format!("  | {l}"));
                }
            }
            self.line(&format!("  full log: {}", log.display()));
        }
    }

    fn note(&self, message: &str) {
        self.line(message);
    }

    fn queue(&self, running: usize, waiting: usize) {
        if let Some(b) = &self.bars {
            b.dag
                .set_message(format!("· {running} running · {waiting} waiting"));
        }
    }

    fn stopped(&self, stage: &str) {
        self.stage_done(stage);
        self.line(&format!("stopped {stage}"));
    }

    /// No bar outlives the run: whatever still spins (a stage stopped by Ctrl-C) is cleared,
    /// so the summary line that follows is the last thing on the screen.
    fn end(&self) {
        if let Some(b) = &self.bars {
            for (_, pb) in b.stages.lock().expect("ui lock").drain() {
                pb.finish_and_clear();
                b.multi.remove(&pb);
            }
            b.dag.finish_and_clear();
            let _ = b.multi.clear();
        }
    }
}

/// `~40s left` while a stage runs within its last duration, `12s over its last run (30s)`
/// after; nothing when it never ran.
fn eta_text(expected: Option<Duration>, elapsed: Duration) -> String {
    match expected {
        None => String::new(),
        Some(e) if elapsed <= e => format!("~{} left", human(e - elapsed)),
        Some(e) => format!("{} over its last run ({})", human(elapsed - e), human(e)),
    }
}

/// A duration as people read it: `0.4s`, `42s`, `3m05s`, `2h07m`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=9 => format!("{:.1}s", d.as_secs_f64()),
        10..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The run's last line, printed on every way out of a run that started.
pub fn summary(s: &RunSummary, elapsed: Duration) {
    let mut parts = vec![
        format!("{} executed", s.executed.len()),
        format!("{} cached", s.cached.len()),
    ];
    if !s.pulled.is_empty() {
        parts.push(format!("{} pulled from the remote", s.pulled.len()));
    }
    if !s.shared.is_empty() {
        parts.push(format!("{} done on the remote", s.shared.len()));
    }
    if !s.failed.is_empty() {
        parts.push(format!(
            "{} failed ({})",
            s.failed.len(),
            s.failed.join(", ")
        ));
    }
    if !s.not_run.is_empty() {
        parts.push(format!("{} not run", s.not_run.len()));
    }
    if s.interrupted {
        parts.push("interrupted".into());
    }
    println!("{} in {}", parts.join(", "), human(elapsed));
}

/// The bar of a push or pull: objects done of objects to move, and the bytes moved.
pub struct TransferBar {
    bar: Option<ProgressBar>,
    bytes: std::sync::atomic::AtomicU64,
}

impl TransferBar {
    pub fn new(json: bool) -> TransferBar {
        let show = !json && std::io::stderr().is_terminal();
        TransferBar {
            bar: show.then(|| ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())),
            bytes: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl crate::remote::Progress for TransferBar {
    fn start(&self, what: &str, objects: u64) {
        if let Some(b) = &self.bar {
            b.set_length(objects);
            b.set_position(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} objects {msg} ({elapsed})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b.set_message("0.0 MB");
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            let total = self
                .bytes
                .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed)
                + bytes;
            b.inc(1);
            b.set_message(format!("{:.1} MB", total as f64 / 1e6));
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_counts_down_from_the_last_run_then_says_how_far_over_it_is() {
        let s = Duration::from_secs;
        assert_eq!(eta_text(None, s(5)), "");
        assert_eq!(eta_text(Some(s(100)), s(40)), "~1m00s left");
        assert_eq!(eta_text(Some(s(30)), s(42)), "12s over its last run (30s)");
        assert_eq!(human(Duration::from_millis(400)), "0.4s");
        assert_eq!(human(s(7325)), "2h02m");
    }
}
