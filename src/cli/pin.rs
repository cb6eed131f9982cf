//! `repro pin`: name a stage's current result so `repro gc` keeps it, with everything upstream
//! of it, after the pipeline has moved on (a result a paper cites, a baseline to compare with).

use super::fresh_action;
use crate::engine::Engine;
use anyhow::{bail, Result};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum PinCmd {
    /// Pin the current result of STAGE (it must be fresh) under NAME (default: the stage name).
    Add {
        stage: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove pins by name.
    Remove { names: Vec<String> },
    /// List the pins.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(engine: &Engine, cmd: &PinCmd) -> Result<i32> {
    let store = engine.store;
    match cmd {
        PinCmd::Add { stage, name } => {
            let (key, _) = fresh_action(engine, stage)?;
            let name = name.as_deref().unwrap_or(stage);
            store.set_pin(name, &key)?;
            println!("pinned `{stage}` as `{name}` (action {key})");
        }
        PinCmd::Remove { names } => {
            let mut missing = Vec::new();
            for name in names {
                if store.remove_pin(name)? {
                    println!("removed pin `{name}`");
                } else {
                    missing.push(name.as_str());
                }
            }
            if !missing.is_empty() {
                bail!("no pin named {} (see `repro pin list`)", missing.join(", "));
            }
        }
        PinCmd::List { json } => {
            let pins = store.pins()?;
            if *json {
                let rows: Vec<_> = pins
                    .iter()
                    .map(|(n, k)| serde_json::json!({"name": n, "action": k}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for (name, key) in &pins {
                    println!("{name}  {key}");
                }
            }
        }
    }
    Ok(0)
}
