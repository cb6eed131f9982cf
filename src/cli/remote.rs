//! `repro push`, `repro pull`, `repro key`: the command-line face of src/remote.

use super::ui;
use crate::engine::plan::State;
use crate::engine::Engine;
use crate::remote::sign::Signer25519;
use crate::remote::Remote;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TransferArgs {
    /// Stage names or matrix base names (and what they need); all stages when none.
    pub targets: Vec<String>,
    /// The remote: s3://bucket/prefix, file:///path or a path (default: `remote:` in
    /// .repro/config.yaml, or REPRO_REMOTE).
    #[arg(long)]
    pub remote: Option<String>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Make an ed25519 signing key (secret at PATH, mode 0600; public key at PATH.pub).
    Generate {
        /// Where to write the secret key.
        #[arg(long, default_value = "~/.config/repro/signing.key")]
        out: String,
    },
    /// Print the public key of a signing key file.
    Public { path: PathBuf },
}

/// The remote to use: `--remote`, else the configured one; an error when there is none.
pub fn open(url: Option<&str>, project: &Path) -> Result<Remote> {
    Remote::from_config(url, project)?.with_context(|| {
        format!(
            "no remote given: pass --remote URL, or set `remote:` in {}",
            project.join(crate::remote::config::CONFIG_PATH).display()
        )
    })
}

pub fn push(engine: &Engine, args: &TransferArgs) -> Result<i32> {
    let remote = open(args.remote.as_deref(), &engine.pipeline.root)?;
    let selection = engine
        .pipeline
        .select(&args.targets)
        .map_err(anyhow::Error::msg)?;
    let status = engine.status(&selection)?;
    let mut keys = Vec::new();
    let mut stale = Vec::new();
    for s in &status {
        match (s.state, s.key) {
            (State::Fresh, Some(k)) => keys.push(k),
            _ => stale.push(s.stage.clone()),
        }
    }
    let bar = ui::TransferBar::new(args.json);
    let report = remote.push(engine.store, &keys, &bar)?;
    if args.json {
        let v = serde_json::json!({"remote": remote.describe(), "report": report, "not_pushed_stale": stale});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "pushed {} records and {} objects ({:.1} MB) to {}; {} records and {} objects were already there",
            report.records_pushed,
            report.objects_pushed,
            report.bytes as f64 / 1e6,
            remote.describe(),
            report.records_present,
            report.objects_present
        );
        if !stale.is_empty() {
            println!(
                "not pushed (stale; `repro run` them first): {}",
                stale.join(", ")
            );
        }
    }
    Ok(0)
}

pub fn pull(engine: &Engine, remote: &Remote, args: &TransferArgs) -> Result<i32> {
    let selection = engine
        .pipeline
        .select(&args.targets)
        .map_err(anyhow::Error::msg)?;
    let report = engine.pull(&selection)?;
    if args.json {
        let v = serde_json::json!({"remote": remote.describe(), "report": report});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "pulled {} stages from {}; {} already here, {} not on the remote{}{}",
            report.pulled.len(),
            remote.describe(),
            report.present.len(),
            report.absent.len(),
            if report.refused.is_empty() {
                String::new()
            } else {
                format!(", {} refused", report.refused.len())
            },
            if report.blocked.is_empty() {
                String::new()
            } else {
                format!(", {} waiting on inputs", report.blocked.len())
            }
        );
    }
    for (stage, why) in &report.refused {
        ui::error(&format!("stage `{stage}`: {why}"));
    }
    Ok(if report.refused.is_empty() { 0 } else { 1 })
}

fn expand(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

pub fn key(cmd: &KeyCmd) -> Result<i32> {
    match cmd {
        KeyCmd::Generate { out } => {
            let path = expand(out);
            if path.exists() {
                bail!(
                    "{} exists; refusing to overwrite a signing key (choose another --out)",
                    path.display()
                );
            }
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let key = Signer25519::generate();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            writeln!(f, "{}", key.encode_secret())?;
            f.sync_all()?;
            let public = key.public();
            let pub_path = PathBuf::from(format!("{}.pub", path.display()));
            std::fs::write(&pub_path, format!("{}\n", public.encode()))
                .with_context(|| format!("writing {}", pub_path.display()))?;
            println!("signing key: {} (keep it secret)", path.display());
            println!("public key:  {} ({})", pub_path.display(), public.encode());
            println!("key id:      {}", public.id());
            println!("sign pushes with `signing_key: {}` in .repro/config.yaml (or REPRO_SIGNING_KEY); readers add the public key to `trusted_keys`", path.display());
            Ok(0)
        }
        KeyCmd::Public { path } => {
            let key = Signer25519::load(path)?;
            println!("{}", key.public().encode());
            Ok(0)
        }
    }
}
