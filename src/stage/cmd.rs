//! `cmd`: run a shell command as a stage — the general-purpose kind that makes the engine
//! useful for any study, and testable without libtorch.
//!
//! The command runs as `sh -c CMD` in the repository root with
//! `REPRO_OUT` (an empty directory: its files become the output tree),
//! `REPRO_IN` (one read-only subdirectory per input stage) and
//! `REPRO_PARAMS` (a JSON file of the resolved params). A non-zero exit fails the stage.

use super::{StageContext, StageError, StageKind};
use serde_json::Value;
use std::process::Command;

pub struct Cmd;

impl StageKind for Cmd {
    fn name(&self) -> &'static str {
        "cmd"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        match params.get("cmd") {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(params.clone()),
            Some(_) => Err("`cmd` must be a non-empty string".into()),
            None => {
                Err("a `cmd` stage needs `params: {cmd: \"...\"}`, the shell command to run".into())
            }
        }
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let command = ctx.params["cmd"].as_str().unwrap_or_default().to_string();
        let work = ctx.out_dir.parent().unwrap_or(&ctx.out_dir).to_path_buf();
        let params_path = work.join("params.json");
        std::fs::write(
            &params_path,
            serde_json::to_vec_pretty(&ctx.params).unwrap_or_default(),
        )?;
        let in_dir = &ctx.in_dir;
        std::fs::create_dir_all(in_dir)?;
        let status = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(&ctx.repo_root)
            .env("REPRO_OUT", &ctx.out_dir)
            .env("REPRO_IN", in_dir)
            .env("REPRO_PARAMS", &params_path)
            .env("REPRO_STAGE", &ctx.stage)
            .status()
            .map_err(|e| StageError::Failed(format!("could not start `sh`: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(StageError::Failed(format!(
                "command exited with {status}: {command}"
            )))
        }
    }
}
