//! The command line: parses arguments, calls the library, and turns errors into a message and
//! an exit status here, at the edge. Subcommands with more than a few lines have their own file.

mod audit;
mod cancel;
#[cfg(feature = "torch")]
mod embed;
mod exit;
mod kinds;
mod log;
#[cfg(feature = "torch")]
mod models;
mod page;
mod pin;
mod remote;
mod rerun;
mod stats;
mod ui;
mod worker;

use crate::engine::executor::local::{self, LocalExecutor};
use crate::engine::executor::Executor;
use crate::engine::plan::State;
use crate::engine::scheduler::{self, RunOptions};
use crate::engine::slurm::config::{ExecutorKind, SlurmConfig};
use crate::engine::slurm::executor::SlurmExecutor;
use crate::engine::{action, Engine, Kinds};
use crate::pipeline::Pipeline;
use crate::store::{ActionKey, Store};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::rc::Rc;

#[derive(Parser)]
#[command(
    name = "repro",
    version,
    about = "Run a study written as pipeline.yaml as a DAG of cached, content-addressed stages, and say where every artifact came from."
)]
struct Cli {
    /// The pipeline file.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "pipeline.yaml"
    )]
    file: PathBuf,
    /// The store directory.
    #[arg(long, global = true, env = "REPRO_STORE", default_value = "store")]
    store: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the pipeline (or TARGETs and what they need), reusing every cached result.
    Run {
        /// Stage names or matrix base names; all stages when none.
        targets: Vec<String>,
        /// Stages to run at once (default: number of cores).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Show what would run, run nothing.
        #[arg(long)]
        dry_run: bool,
        /// After a failure, keep running what does not depend on it.
        #[arg(long)]
        keep_going: bool,
        /// Re-execute the targets (all stages when none) even if cached.
        #[arg(long)]
        force: bool,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
        /// Before executing a stage, look for its record on this remote and pull it instead
        /// (default: `remote:` in .repro/config.yaml, or REPRO_REMOTE).
        #[arg(long)]
        remote: Option<String>,
        /// Where stages run: `local` processes, or one `slurm` job each (default: `executor:`
        /// in .repro/config.yaml, else local).
        #[arg(long, value_enum)]
        executor: Option<ExecutorArg>,
    },
    /// Upload the current records of stages (all when none) and their objects to a remote.
    Push(remote::TransferArgs),
    /// Download the current records of stages (all when none) and their outputs from a remote.
    Pull(remote::TransferArgs),
    /// Keep a stage's current result (and its lineage) from `repro gc`.
    #[command(subcommand)]
    Pin(pin::PinCmd),
    /// Signing keys for the records `push` publishes.
    #[command(subcommand)]
    Key(remote::KeyCmd),
    /// Cancel the Slurm jobs that runs on this store submitted and that have not settled.
    Cancel {
        #[arg(long)]
        json: bool,
    },
    /// Every stage: fresh or stale, and why (and its Slurm job, when one is queued or running).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print the DAG.
    Dag {
        #[arg(long, value_enum, default_value_t = DagFormat::Text)]
        format: DagFormat,
    },
    /// The full lineage of a stage's output or of an artifact digest.
    Audit {
        /// A stage name or an artifact digest (sha256 hex).
        target: String,
        #[arg(long)]
        json: bool,
        /// `text` (default), `json` (same as --json), or `in-toto`: one in-toto Statement v1
        /// with a SLSA Provenance v1 predicate per action of the lineage, as JSON Lines.
        #[arg(long, value_enum)]
        format: Option<AuditFormat>,
    },
    /// Re-hash every object in the store and check every action record (exit 4 if any is
    /// bad); with --rerun, re-execute cached stages and compare their outputs (exit 1 if any
    /// differs).
    Verify {
        #[arg(long)]
        json: bool,
        /// Re-execute the cached TARGETs and what they need (all stages when none), each on
        /// its recorded inputs, in a scratch folder; compare the outputs with the record (byte
        /// for byte, metric files within their tolerance) and keep the verdict for `audit`.
        #[arg(long)]
        rerun: bool,
        /// Stage names or matrix base names (with --rerun).
        #[arg(requires = "rerun")]
        targets: Vec<String>,
        /// Re-executions at a time (with --rerun; default: the machine's CPUs).
        #[arg(short, long, requires = "rerun")]
        jobs: Option<usize>,
    },
    /// Print a stage's log: running (live), failed (kept) or succeeded (from its record).
    Log(log::LogArgs),
    /// Write a stage's output tree to DIR.
    Export { stage: String, dir: PathBuf },
    /// Execute one planned action (used by executors; KEY is an action key).
    #[command(hide = false)]
    ExecStage {
        key: String,
        /// Re-execute the recorded action into this folder instead, writing nothing to the
        /// store (used by `repro verify --rerun`).
        #[arg(long, requires = "root")]
        rerun_into: Option<PathBuf>,
        /// The pipeline's folder, where the stage runs (with --rerun-into).
        #[arg(long)]
        root: Option<PathBuf>,
        /// A worker that shares no filesystem with the planner: pull the inputs from this
        /// remote into the store, and push the outputs and the record to it.
        #[arg(long, requires = "action_stdin", conflicts_with = "rerun_into")]
        remote: Option<String>,
        /// Read the pending action from stdin (base64 of its JSON) instead of the store.
        #[arg(long, requires = "remote")]
        action_stdin: bool,
    },
    /// List the stage kinds this binary knows.
    Kinds {
        #[arg(long)]
        json: bool,
    },
    /// Delete store content the current pipeline no longer needs (safe beside a running `repro run`).
    Gc {
        /// Report what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Keep anything written within this many seconds (protects concurrent runs).
        #[arg(long, default_value_t = 3600)]
        grace_seconds: u64,
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the published folders (e.g. reports/) from the store, without running anything.
    Report {
        #[arg(long)]
        json: bool,
    },
    /// Rank and improvement statistics of a `model,a,b` CSV table.
    Stats(stats::StatsArgs),
    /// The architectures, with parameter counts at full size and at the configured scale.
    #[cfg(feature = "torch")]
    Models(models::ModelsArgs),
    /// Sentence embeddings of TEXTs under the encoder the ImageNot builder uses.
    #[cfg(feature = "torch")]
    Embed(embed::EmbedArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditFormat {
    Text,
    Json,
    InToto,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExecutorArg {
    Local,
    Slurm,
}

#[derive(Clone, Copy, ValueEnum)]
enum DagFormat {
    Text,
    Dot,
    Mermaid,
}

/// Runs the command; the exit code is decided in [`exit`] from the error's type.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            ui::error(&format!("{e:#}"));
            if let Some(hint) = exit::hint(&e) {
                ui::error(&format!("hint: {hint}"));
            }
            exit::classify(&e)
        }
    }
}

fn load(cli: &Cli, kinds: &Kinds) -> Result<(Pipeline, Store)> {
    let pipeline = Pipeline::load(&cli.file, kinds)?;
    let store = Store::open(&cli.store)
        .with_context(|| format!("opening the store at {}", cli.store.display()))?;
    Ok((pipeline, store))
}

fn dispatch(cli: Cli) -> Result<i32> {
    let kinds = Kinds::registered();
    match &cli.command {
        Cmd::Stats(args) => stats::run(args).map(|()| 0),
        Cmd::Key(cmd) => remote::key(cmd),
        Cmd::Pin(cmd) => {
            let (pipeline, store) = load(&cli, &kinds)?;
            pin::run(&Engine::new(&pipeline, &store, &kinds), cmd)
        }
        Cmd::Push(args) => {
            let (pipeline, store) = load(&cli, &kinds)?;
            remote::push(&Engine::new(&pipeline, &store, &kinds), args)
        }
        Cmd::Pull(args) => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let r = remote::open(args.remote.as_deref(), &pipeline.root)?;
            remote::pull(
                &Engine::new(&pipeline, &store, &kinds).with_shared(&r),
                &r,
                args,
            )
        }
        Cmd::Gc {
            dry_run,
            grace_seconds,
            json,
        } => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let engine = Engine::new(&pipeline, &store, &kinds);
            let r = engine.gc(*dry_run, std::time::Duration::from_secs(*grace_seconds))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                let verb = if r.dry_run { "would delete" } else { "deleted" };
                println!(
                    "{verb} {} objects and {} records ({:.1} MB); kept {} objects and {} records",
                    r.deleted_objects,
                    r.deleted_records,
                    r.freed_bytes as f64 / 1e6,
                    r.kept_objects,
                    r.kept_records
                );
            }
            Ok(0)
        }
        Cmd::Report { json } => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let engine = Engine::new(&pipeline, &store, &kinds);
            let (published, stale) = engine.publish()?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"published": published, "stale": stale})
                    )?
                );
            } else {
                for p in &published {
                    println!(
                        "published {} ({} files) to {}",
                        p.stage,
                        p.files,
                        p.dir.display()
                    );
                }
                for s in &stale {
                    eprintln!("not published: {s}");
                }
                if published.is_empty() && stale.is_empty() {
                    println!("no stage has `publish:`; nothing to write");
                }
            }
            if let Some(path) = page::write(&pipeline, &store)? {
                if !*json {
                    println!("wrote the report page {}", path.display());
                }
            }
            Ok(if stale.is_empty() { 0 } else { 1 })
        }
        #[cfg(feature = "torch")]
        Cmd::Models(args) => models::run(args).map(|()| 0),
        #[cfg(feature = "torch")]
        Cmd::Embed(args) => embed::run(args).map(|()| 0),
        Cmd::ExecStage {
            key,
            remote: Some(url),
            ..
        } => worker::run(&cli.store, key, url, &kinds),
        Cmd::ExecStage {
            key,
            rerun_into: Some(dir),
            root,
            ..
        } => {
            let store = Store::open(&cli.store)?;
            let key = ActionKey(key.parse()?);
            let record = crate::provenance::ActionRecord::load(&store, &key)?
                .with_context(|| format!("no record of action {key} to re-execute"))?;
            let kind = kinds
                .get(&record.components.kind)
                .with_context(|| format!("unknown kind `{}`", record.components.kind))?;
            let root = root.as_deref().unwrap_or(Path::new("."));
            match action::rerun(&store, &record, kind, root, dir) {
                Ok(()) => Ok(exit::SUCCESS),
                Err(f) if f.environment => Ok(exit::ENVIRONMENT),
                Err(_) => Ok(exit::STAGE_FAILED),
            }
        }
        Cmd::ExecStage { key, .. } => {
            let store = Store::open(&cli.store)?;
            let key = ActionKey(key.parse()?);
            let pending = match action::read_pending(&store, &key) {
                Ok(p) => p,
                // Another run executed this action and removed its pending file after
                // publishing: nothing left to do.
                Err(_) if store.has_action(&key) => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            let kind = kinds
                .get(&pending.components.kind)
                .with_context(|| format!("unknown kind `{}`", pending.components.kind))?;
            // The worker has written its reason to the stderr it was started with.
            match action::execute(&store, &key, &pending, kind) {
                Ok(_) => Ok(exit::SUCCESS),
                Err(f) if f.environment => Ok(exit::ENVIRONMENT),
                Err(_) => Ok(exit::STAGE_FAILED),
            }
        }
        Cmd::Kinds { json } => kinds::run(&kinds, *json).map(|()| 0),
        Cmd::Cancel { json } => cancel::run(&Store::open(&cli.store)?, *json),
        Cmd::Run {
            targets,
            jobs,
            dry_run,
            keep_going,
            force,
            json,
            remote,
            executor,
        } => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let mut cfg = SlurmConfig::load(&pipeline.root)?;
            match executor {
                Some(ExecutorArg::Slurm) => cfg.kind = ExecutorKind::Slurm,
                Some(ExecutorArg::Local) => cfg.kind = ExecutorKind::Local,
                None => {}
            }
            // Slurm workers without a shared filesystem publish to the executor's remote: it is
            // where this run finds results.
            let workers_remote = cfg
                .remote
                .clone()
                .filter(|_| cfg.kind == ExecutorKind::Slurm);
            if let (Some(w), Some(r)) = (&workers_remote, remote) {
                if w != r {
                    bail!("the Slurm workers publish to {w} (`executor: remote:` in .repro/config.yaml), so this run looks for results there, not on --remote {r}");
                }
            }
            let url = workers_remote.as_deref().or(remote.as_deref());
            let shared = crate::remote::Remote::from_config(url, &pipeline.root)?.map(Rc::new);
            let mut engine = Engine::new(&pipeline, &store, &kinds);
            if let Some(r) = &shared {
                engine = engine.with_shared(r.as_ref());
                if workers_remote.is_some() {
                    engine = engine.with_results_on_shared();
                }
            }
            let exe = std::env::current_exe().context("locating the repro binary")?;
            let slots =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let mut executor: Box<dyn Executor> = match cfg.kind {
                ExecutorKind::Local => Box::new(LocalExecutor::new(
                    exe,
                    store.root(),
                    slots,
                    local::detect_gpus(),
                )),
                ExecutorKind::Slurm => {
                    let store_root =
                        std::path::absolute(store.root()).context("locating the store")?;
                    let shared_store = Store::open(&store_root)?;
                    let slurm =
                        SlurmExecutor::new(cfg.clone(), &shared_store, exe, pipeline.root.clone());
                    match (&shared, &workers_remote) {
                        (Some(r), Some(_)) => Box::new(slurm.publishing_to(r.clone())),
                        _ => Box::new(slurm),
                    }
                }
            };
            if *dry_run {
                let slurm = (cfg.kind == ExecutorKind::Slurm).then_some(&cfg);
                return dry_run_report(&engine, targets, *json, slurm, executor.as_ref());
            }
            let opts = RunOptions {
                targets: targets.clone(),
                keep_going: *keep_going,
                force: *force,
                grace: std::time::Duration::from_secs(5),
            };
            let reporter = ui::RunUi::new(*json);
            let clock = std::time::Instant::now();
            let summary = scheduler::run(&engine, &opts, &reporter, executor.as_mut())?;
            // Workers published to the remote; reports are written from the store, so a run that
            // publishes some stage brings its results here first.
            if engine.results_on_shared() && summary.failed.is_empty() && !summary.interrupted {
                let selection = pipeline.select(targets).map_err(anyhow::Error::msg)?;
                if selection
                    .iter()
                    .any(|&i| pipeline.stages[i].publish.is_some())
                {
                    let pulled = engine.pull(&selection)?;
                    for (stage, why) in &pulled.refused {
                        ui::error(&format!("pulling {stage} for `publish:`: {why}"));
                    }
                }
            }
            // Refresh what people read (reports/) after a complete run; stages not in this run
            // stay as they are. The summary line comes last, whatever happens here.
            let published = if summary.failed.is_empty() && !summary.interrupted {
                engine.publish().map(|(p, _)| p)
            } else {
                Ok(Vec::new())
            };
            for p in published.iter().flatten().filter(|_| !*json) {
                println!(
                    "published {} ({} files) to {}",
                    p.stage,
                    p.files,
                    p.dir.display()
                );
            }
            // The report page, after a complete run whose reports were published.
            let page = match &published {
                Ok(_) if summary.failed.is_empty() && !summary.interrupted => {
                    page::write(&pipeline, &store)
                }
                _ => Ok(None),
            };
            if let (Ok(Some(path)), false) = (&page, *json) {
                println!("wrote the report page {}", path.display());
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                ui::summary(&summary, clock.elapsed());
            }
            published?;
            page?;
            Ok(if summary.interrupted {
                exit::INTERRUPTED
            } else if !summary.failed_environment.is_empty() {
                exit::ENVIRONMENT
            } else if summary.failed.is_empty() {
                exit::SUCCESS
            } else {
                exit::STAGE_FAILED
            })
        }
        Cmd::Status { json } => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let engine = Engine::new(&pipeline, &store, &kinds);
            let all: Vec<usize> = (0..pipeline.stages.len()).collect();
            let status = engine.status(&all)?;
            let job = |s: &crate::engine::plan::StageStatus| {
                s.key
                    .and_then(|k| crate::engine::slurm::jobs::lookup(&store, &k))
            };
            if *json {
                let list: Vec<serde_json::Value> = status
                    .iter()
                    .map(|s| {
                        let mut v = serde_json::to_value(s).unwrap_or_default();
                        if let Some(j) = job(s) {
                            v["slurm_job"] = serde_json::json!(j.job_id);
                        }
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for s in &status {
                    let state = match (s.state, job(s)) {
                        (State::Fresh, _) => "fresh".to_string(),
                        (State::Stale, Some(j)) => format!("slurm job {}:", j.job_id),
                        (State::Stale, None) => "stale".to_string(),
                    };
                    println!(
                        "{state:<6} {}{}",
                        s.stage,
                        if s.reasons.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", s.reasons.join("; "))
                        }
                    );
                }
            }
            Ok(0)
        }
        Cmd::Dag { format } => {
            let kinds_catalog = &kinds;
            let pipeline = Pipeline::load(&cli.file, kinds_catalog)?;
            print!("{}", render_dag(&pipeline, *format));
            Ok(0)
        }
        Cmd::Audit {
            target,
            json,
            format,
        } => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let engine = Engine::new(&pipeline, &store, &kinds);
            let format = format.unwrap_or(if *json {
                AuditFormat::Json
            } else {
                AuditFormat::Text
            });
            audit::run(&engine, target, format)
        }
        Cmd::Verify {
            json,
            rerun: true,
            targets,
            jobs,
        } => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let engine = Engine::new(&pipeline, &store, &kinds);
            let exe = std::env::current_exe().context("locating the repro binary")?;
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            rerun::verify_rerun(&engine, targets, &exe, jobs, *json)
        }
        Cmd::Verify { json, .. } => {
            let store = Store::open(&cli.store)?;
            audit::verify(&store, *json)
        }
        Cmd::Log(args) => {
            let (pipeline, store) = load(&cli, &kinds)?;
            log::run(&pipeline, &store, args)
        }
        Cmd::Export { stage, dir } => {
            let (pipeline, store) = load(&cli, &kinds)?;
            let engine = Engine::new(&pipeline, &store, &kinds);
            export(&engine, stage, dir)
        }
    }
}

fn dry_run_report(
    engine: &Engine,
    targets: &[String],
    json: bool,
    slurm: Option<&SlurmConfig>,
    executor: &dyn Executor,
) -> Result<i32> {
    let selection = engine
        .pipeline
        .select(targets)
        .map_err(anyhow::Error::msg)?;
    let status = engine.status(&selection)?;
    let stale: Vec<_> = status.iter().filter(|s| s.state == State::Stale).collect();
    let missing = engine.missing_deps(&selection);
    // What this executor would refuse (a GPU stage on a host without GPUs) is said per stage:
    // a dry run on a laptop of a pipeline meant for a cluster still shows the whole plan.
    let mut refused = std::collections::BTreeMap::new();
    for s in &stale {
        if let Some(i) = engine.pipeline.index(&s.stage) {
            if let Err(e) = executor.check(&s.stage, &engine.pipeline.stages[i].resources) {
                refused.insert(s.stage.clone(), e.to_string());
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&dry_run_json(engine, &status, &refused))?
        );
        return Ok(0);
    }
    if !missing.is_empty() {
        println!("missing data paths (`repro run` will refuse to start until they exist):");
        for (stage, dep) in &missing {
            println!("  {dep}  (dep of stage `{stage}`)");
        }
    }
    if stale.is_empty() {
        println!("nothing to run: all {} stages are fresh", status.len());
    } else {
        println!("would run {} of {} stages:", stale.len(), status.len());
    }
    for s in &stale {
        println!("  {}  ({})", s.stage, s.reasons.join("; "));
        if let Some(why) = refused.get(&s.stage) {
            println!("    not here: {why}");
        }
        let (Some(cfg), Some(i)) = (slurm, engine.pipeline.index(&s.stage)) else {
            continue;
        };
        // A stage whose inputs are stale has no key yet; its job is shown with a stand-in.
        let key = s
            .key
            .map_or("<key: known once its inputs are done>".to_string(), |k| {
                k.to_string()
            });
        println!(
            "  {}",
            SlurmExecutor::dry_run_line(
                cfg,
                &s.stage,
                &key,
                &engine.pipeline.stages[i].resources,
                engine.store.root(),
                &engine.pipeline.root
            )?
        );
    }
    Ok(0)
}

/// Every selected stage as `--dry-run --json` lists it: whether it would run and why, and
/// what it would run with — its params as the kind resolved them (defaults filled: a training's
/// whole recipe), its inputs, deps and resources — so a pipeline can be read without its code.
fn dry_run_json(
    engine: &Engine,
    status: &[crate::engine::plan::StageStatus],
    refused: &std::collections::BTreeMap<String, String>,
) -> Vec<serde_json::Value> {
    status
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["would_run"] = serde_json::json!(s.state == State::Stale);
            let p = engine.pipeline;
            if let Some(i) = p.index(&s.stage) {
                let stage = &p.stages[i];
                let inputs: Vec<&str> = p.inputs[i]
                    .iter()
                    .map(|&j| p.stages[j].name.as_str())
                    .collect();
                v["inputs"] = serde_json::json!(inputs);
                v["deps"] = serde_json::json!(stage.deps);
                v["params"] = stage.params.clone();
                v["resources"] = serde_json::json!(stage.resources);
            }
            if let Some(why) = refused.get(&s.stage) {
                v["not_here"] = serde_json::json!(why);
            }
            v
        })
        .collect()
}

/// The action key and output tree of `stage`'s current record; an error saying what to run
/// when the stage is stale.
fn fresh_action(engine: &Engine, stage: &str) -> Result<(ActionKey, crate::store::Digest)> {
    let i = engine
        .pipeline
        .index(stage)
        .with_context(|| format!("`{stage}` is not a stage (see `repro dag`)"))?;
    let status = engine.status(
        &engine
            .pipeline
            .select(&[stage.to_string()])
            .map_err(anyhow::Error::msg)?,
    )?;
    let mine = status
        .iter()
        .find(|s| s.stage == engine.pipeline.stages[i].name)
        .context("stage in its own selection")?;
    match (mine.key, mine.output) {
        (Some(key), Some(output)) => Ok((key, output)),
        _ => bail!(
            "stage `{stage}` is stale ({}); run `repro run {stage}` first",
            mine.reasons.join("; ")
        ),
    }
}

fn export(engine: &Engine, stage: &str, dir: &Path) -> Result<i32> {
    let (_, output) = fresh_action(engine, stage)?;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty; export into a new or empty folder",
            dir.display()
        );
    }
    let tree = engine.store.materialize(&output, dir, false)?;
    println!(
        "exported {} files ({} bytes) of `{stage}` (tree {output}) to {}",
        tree.entries.len(),
        tree.total_size(),
        dir.display()
    );
    Ok(0)
}

fn render_dag(p: &Pipeline, format: DagFormat) -> String {
    let mut out = String::new();
    match format {
        DagFormat::Text => {
            for (i, s) in p.stages.iter().enumerate() {
                let ins: Vec<&str> = p.inputs[i]
                    .iter()
                    .map(|&j| p.stages[j].name.as_str())
                    .collect();
                if ins.is_empty() {
                    out.push_str(&format!("{} [{}]\n", s.name, s.kind));
                } else {
                    out.push_str(&format!("{} [{}] <- {}\n", s.name, s.kind, ins.join(", ")));
                }
            }
        }
        DagFormat::Dot => {
            out.push_str("digraph pipeline {\n  rankdir=LR;\n");
            for s in &p.stages {
                out.push_str(&format!(
                    "  {:?} [label={:?}];\n",
                    s.name,
                    format!("{}\\n[{}]", s.name, s.kind)
                ));
            }
            for (a, b) in p.edges() {
                out.push_str(&format!("  {a:?} -> {b:?};\n"));
            }
            out.push_str("}\n");
        }
        DagFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            let id = |name: &str| p.index(name).map_or_else(String::new, |i| format!("s{i}"));
            for (i, s) in p.stages.iter().enumerate() {
                out.push_str(&format!("  s{i}[\"{} ({})\"]\n", s.name, s.kind));
            }
            for (a, b) in p.edges() {
                out.push_str(&format!("  {} --> {}\n", id(a), id(b)));
            }
        }
    }
    out
}
