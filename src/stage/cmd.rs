//! `cmd`: run a shell command as a stage — the general-purpose kind that makes the engine
//! useful for any study, and testable without libtorch.
//!
//! The command runs as `sh -c CMD` in the repository root with
//! `REPRO_OUT` (an empty directory: its files become the output tree),
//! `REPRO_IN` (one read-only subdirectory per input stage),
//! `REPRO_PARAMS` (a JSON file of the resolved params), `REPRO_STAGE` (the stage's name) and
//! `REPRO_PROGRESS` (the progress channel). A non-zero exit fails the stage.
//!
//! ```yaml
//! params:
//!   cmd: python3 gen.py --n ${n}
//!   n: 200
//!   env: {PYTHONHASHSEED: 0}           # set for the command; part of the key (a param)
//!   versions:                          # run when the key is computed; their output is in it
//!     numpy: python3 -c 'import numpy; print(numpy.__version__)'
//! ```
//! `resources.memory` caps the command's virtual memory (RLIMIT_AS) and the stage key
//! `timeout:` stops its process group after that long; both bound an execution without being
//! part of its key.

use super::{StageContext, StageError, StageKind};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Cmd;

/// Time a command gets between TERM and KILL once its timeout has passed.
const KILL_GRACE: Duration = Duration::from_secs(2);

impl StageKind for Cmd {
    fn name(&self) -> &'static str {
        "cmd"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        match params.get("cmd") {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(_) => return Err("`cmd` must be a non-empty string".into()),
            None => {
                return Err(
                    "a `cmd` stage needs `params: {cmd: \"...\"}`, the shell command to run".into(),
                )
            }
        }
        declared_env(params)?;
        versions(params)?;
        Ok(params.clone())
    }

    /// The output of each `versions:` command (trimmed), under its name, run in the folder
    /// `repro` was started from; the engine asks [`StageKind::environment_at`] instead.
    fn environment(&self, params: &Value, gpus: u32) -> BTreeMap<String, String> {
        self.environment_at(params, gpus, Path::new("."))
    }

    /// The output of each `versions:` command (trimmed), under its name, run where the stage's
    /// command runs (the pipeline's folder): `python3 -c 'import mylib'` must find the same
    /// `mylib` whether `repro` was started there or with `-f` from elsewhere.
    fn environment_at(&self, params: &Value, _gpus: u32, root: &Path) -> BTreeMap<String, String> {
        let env = declared_env(params).unwrap_or_default();
        versions(params)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, command)| (name, version_of(&command, &env, root)))
            .collect()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let command = ctx.params["cmd"].as_str().unwrap_or_default().to_string();
        let env = declared_env(&ctx.params).map_err(StageError::Params)?;
        let work = ctx.out_dir.parent().unwrap_or(&ctx.out_dir).to_path_buf();
        let params_path = work.join("params.json");
        std::fs::write(
            &params_path,
            serde_json::to_vec_pretty(&ctx.params).unwrap_or_default(),
        )?;
        let in_dir = &ctx.in_dir;
        std::fs::create_dir_all(in_dir)?;
        let limits = ctx.limits.clone();
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(&command)
            .current_dir(&ctx.repo_root)
            .envs(&env)
            .env("REPRO_OUT", &ctx.out_dir)
            .env("REPRO_IN", in_dir)
            .env("REPRO_PARAMS", &params_path)
            .env("REPRO_STAGE", &ctx.stage)
            // Its own process group, so a timeout stops everything the command started.
            .process_group(0);
        if let Some(bytes) = limits.memory_bytes {
            // SAFETY: setrlimit and prctl are async-signal-safe; nothing here allocates.
            unsafe {
                sh.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: bytes,
                        rlim_max: bytes,
                    };
                    if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        // SAFETY: prctl with integer arguments. Outside the worker's process group, the command
        // must still die with the worker if the worker is killed outright.
        unsafe {
            sh.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                Ok(())
            });
        }
        let child = sh
            .spawn()
            .map_err(|e| StageError::Failed(format!("could not start `sh`: {e}")))?;
        let status = wait(child, limits.timeout).map_err(|e| match e {
            Waited::TimedOut(t) => StageError::Failed(format!(
                "timed out after {} (`timeout:` of the stage); its process group was stopped: {command}",
                human(t)
            )),
            Waited::Io(e) => StageError::Io(e),
        })?;
        if status.success() {
            return Ok(());
        }
        let memory_note = match limits.memory_bytes {
            Some(b) => format!(
                " (its virtual memory was capped at {} MB by `resources.memory`; an allocation \
                 failure above may mean it needs more)",
                b >> 20
            ),
            None => String::new(),
        };
        Err(StageError::Failed(format!(
            "command exited with {status}: {command}{memory_note}"
        )))
    }
}

enum Waited {
    TimedOut(Duration),
    Io(std::io::Error),
}

/// Wait for `child`; after `timeout`, TERM its process group, then KILL it after a grace.
fn wait(mut child: Child, timeout: Option<Duration>) -> Result<ExitStatus, Waited> {
    let Some(limit) = timeout else {
        return child.wait().map_err(Waited::Io);
    };
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().map_err(Waited::Io)? {
            return Ok(st);
        }
        if start.elapsed() >= limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let group = -(child.id() as i32);
    // SAFETY: kill with a process group id we created (the child leads it).
    unsafe { libc::kill(group, libc::SIGTERM) };
    let stop = Instant::now();
    while child.try_wait().map_err(Waited::Io)?.is_none() && stop.elapsed() < KILL_GRACE {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above; the group may be gone already, which is fine.
    unsafe { libc::kill(group, libc::SIGKILL) };
    let _ = child.wait();
    Err(Waited::TimedOut(limit))
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `env:`: variable name → value (strings, numbers or booleans).
fn declared_env(params: &Value) -> Result<BTreeMap<String, String>, String> {
    let Some(env) = params.get("env") else {
        return Ok(BTreeMap::new());
    };
    let map = env
        .as_object()
        .ok_or("`env` must be a mapping of variable names to values")?;
    map.iter()
        .map(|(k, v)| {
            let valid = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("env: `{k}` is not a variable name"));
            }
            if k.starts_with("REPRO_") {
                return Err(format!(
                    "env: `{k}` is set by repro itself (REPRO_* names are reserved)"
                ));
            }
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => return Err(format!("env: `{k}` must be a string, number or boolean")),
            };
            Ok((k.clone(), v))
        })
        .collect()
}

/// `versions:`: name → command whose output names a tool's version.
fn versions(params: &Value) -> Result<BTreeMap<String, String>, String> {
    let Some(v) = params.get("versions") else {
        return Ok(BTreeMap::new());
    };
    let map = v
        .as_object()
        .ok_or("`versions` must be a mapping of names to commands")?;
    map.iter()
        .map(|(k, c)| match c.as_str() {
            Some(c) if !c.trim().is_empty() => Ok((k.clone(), c.to_string())),
            _ => Err(format!("versions: `{k}` must be a non-empty command")),
        })
        .collect()
}

/// The trimmed output of a version command, run once per process for each (command, env):
/// every stage of a matrix asks the same question, and `repro status` asks it for each.
/// A failing command gives a value saying so; a stage whose key holds it is then one that
/// reruns once the tool is back.
fn version_of(command: &str, env: &BTreeMap<String, String>, root: &Path) -> String {
    static SEEN: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let key = format!("{command}\0{env:?}\0{}", root.display());
    let seen = SEEN.get_or_init(Default::default);
    if let Some(v) = seen.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return v;
    }
    let value = match Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .envs(env)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => format!(
            "failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        ),
        Err(e) => format!("failed: {e}"),
    };
    if let Ok(mut m) = seen.lock() {
        m.insert(key, value.clone());
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_and_versions_are_checked_and_versions_enter_the_environment() {
        let p =
            json!({"cmd": "true", "env": {"A": 1, "B_2": "x"}, "versions": {"sh": "echo 1.2.3"}});
        assert!(Cmd.resolve_params(&p).is_ok());
        assert_eq!(
            Cmd.environment(&p, 0),
            BTreeMap::from([("sh".to_string(), "1.2.3".to_string())])
        );
        let p = json!({"cmd": "true", "env": {"A": 7}, "versions": {"a": "echo $A"}});
        assert_eq!(Cmd.environment(&p, 0)["a"], "7", "versions see env:");
        for bad in [
            json!({"cmd": "x", "env": {"1A": "x"}}),
            json!({"cmd": "x", "env": {"REPRO_OUT": "x"}}),
            json!({"cmd": "x", "env": {"A": [1]}}),
            json!({"cmd": "x", "versions": {"a": ""}}),
            json!({"cmd": "x", "versions": ["a"]}),
        ] {
            assert!(Cmd.resolve_params(&bad).is_err(), "{bad}");
        }
        let failing = json!({"cmd": "x", "versions": {"a": "exit 3"}});
        assert!(Cmd.environment(&failing, 0)["a"].starts_with("failed"));
    }
}
