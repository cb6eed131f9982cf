//! `repro audit` (where did this come from?) and `repro verify` (is the store intact?).

use super::AuditFormat;
use crate::engine::Engine;
use crate::provenance::verification::Verification;
use crate::provenance::ActionRecord;
use crate::store::{ActionKey, Digest, Store};
use anyhow::{Context, Result};
use serde_json::json;
use std::collections::HashSet;

/// Resolve TARGET to a record: a stage (its fresh record, else its last one) or a digest.
fn target_record(engine: &Engine, target: &str) -> Result<(ActionRecord, Option<String>)> {
    if let Some(i) = engine.pipeline.index(target) {
        let selection = engine
            .pipeline
            .select(&[target.to_string()])
            .map_err(anyhow::Error::msg)?;
        let status = engine.status(&selection)?;
        let name = &engine.pipeline.stages[i].name;
        let me = status
            .iter()
            .find(|s| &s.stage == name)
            .context("stage in its selection")?;
        if let (Some(key), Some(_)) = (me.key, me.output) {
            let rec = ActionRecord::load(engine.store, &key)?.context("record vanished")?;
            return Ok((rec, None));
        }
        let key = engine
            .store
            .get_ref(name)
            .with_context(|| format!("stage `{name}` has never run; nothing to audit"))?;
        let rec =
            ActionRecord::load(engine.store, &key)?.context("the stage's last record is gone")?;
        return Ok((
            rec,
            Some(format!(
                "stage is stale ({}); showing its last run",
                me.reasons.join("; ")
            )),
        ));
    }
    let digest: Digest = target
        .parse()
        .with_context(|| format!("`{target}` is neither a stage nor a digest"))?;
    let key = engine
        .store
        .producer_of(&digest)
        .or_else(|| {
            engine
                .store
                .has_action(&ActionKey(digest))
                .then_some(ActionKey(digest))
        })
        .with_context(|| format!("no action in this store produced {digest}"))?;
    let rec = ActionRecord::load(engine.store, &key)?.context("record vanished")?;
    Ok((rec, None))
}

/// The record and its ancestors, depth first, each once.
fn lineage(store: &Store, root: ActionRecord) -> Vec<ActionRecord> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(rec) = stack.pop() {
        if !seen.insert(rec.key) {
            continue;
        }
        for d in rec.components.inputs.values() {
            if let Some(k) = store.producer_of(d) {
                if let Ok(Some(r)) = ActionRecord::load(store, &k) {
                    stack.push(r);
                }
            }
        }
        out.push(rec);
    }
    out
}

pub fn run(engine: &Engine, target: &str, format: AuditFormat) -> Result<i32> {
    let (rec, note) = target_record(engine, target)?;
    let records = lineage(engine.store, rec);
    if format == AuditFormat::InToto {
        if let Some(n) = note {
            eprintln!("note: {n}");
        }
        for rec in &records {
            println!(
                "{}",
                serde_json::to_string(&crate::provenance::intoto::statement(rec))?
            );
        }
        return Ok(0);
    }
    if format == AuditFormat::Json {
        // The verdicts of re-execution checks (`verify --rerun`), by action key.
        let verifications: serde_json::Map<String, serde_json::Value> = records
            .iter()
            .filter_map(|r| Verification::load(engine.store, &r.key))
            .map(|v| (v.action.to_string(), json!(v)))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "target": target,
                "note": note,
                "lineage": records,
                "verifications": verifications,
            }))?
        );
        return Ok(0);
    }
    if let Some(n) = note {
        println!("note: {n}");
    }
    for rec in &records {
        let p = &rec.provenance;
        let tree = engine.store.read_tree(&rec.output).ok();
        println!(
            "stage {} [{}]  action {}",
            p.stage, rec.components.kind, rec.key
        );
        match &tree {
            Some(t) => println!(
                "  output  tree {} ({} files, {} bytes)",
                rec.output,
                t.entries.len(),
                t.total_size()
            ),
            None => println!("  output  tree {} (MISSING from the store)", rec.output),
        }
        if let Some(t) = &tree {
            for e in t.entries.iter().take(20) {
                println!("          {} {}", e.digest.short(), e.path);
            }
            if t.entries.len() > 20 {
                println!("          … {} more", t.entries.len() - 20);
            }
        }
        println!("  params  {}", rec.components.params);
        for (name, d) in &rec.components.inputs {
            println!("  input   {name} = tree {d}");
        }
        for (path, d) in &rec.components.deps {
            println!("  dep     {path} = {d}");
        }
        for (k, v) in &rec.components.env {
            println!("  env     {k} = {v}");
        }
        let sources: Vec<String> = p
            .code_sources
            .iter()
            .map(|(f, b)| format!("{f}@{}", &b[..b.len().min(10)]))
            .collect();
        println!(
            "  code    {} ({})",
            rec.components.code.short(),
            sources.join(", ")
        );
        let commit = p.git.commit.as_deref().unwrap_or("(no git commit)");
        println!(
            "  commit  {commit}{}",
            if p.git.dirty { " (dirty)" } else { "" }
        );
        if !p.git.sources_not_at_head.is_empty() {
            println!(
                "          sources differing from that commit: {}",
                p.git.sources_not_at_head.join(", ")
            );
        }
        println!(
            "  ran     {} → {} ({:.2} s) on {} with repro {}",
            p.started, p.ended, p.duration_s, p.host, p.repro_version
        );
        println!(
            "          peak memory {} MB, exit {}, log {}",
            p.peak_memory_bytes / (1 << 20),
            p.exit_status,
            p.log.map(|d| d.hex()).unwrap_or_default()
        );
        if !p.failed_attempts.is_empty() {
            println!(
                "  retried succeeded on attempt {} (`retries:`); earlier: {}",
                p.failed_attempts.len() + 1,
                p.failed_attempts.join(" | ")
            );
        }
        match Verification::load(engine.store, &rec.key) {
            Some(v) => println!(
                "  verify  {} (re-executed {} on {}, {:.2} s)",
                v.summary(),
                v.checked_at,
                v.host,
                v.duration_s
            ),
            None => println!(
                "  verify  never re-executed (`repro verify --rerun {}`)",
                p.stage
            ),
        }
    }
    Ok(0)
}

pub fn verify(store: &Store, json: bool) -> Result<i32> {
    let objects = store.list_objects()?;
    let mut corrupt = Vec::new();
    for d in &objects {
        if let Err(e) = store.check_object(d) {
            corrupt.push(json!({"object": d, "error": e}));
        }
    }
    let actions = store.list_actions()?;
    let mut bad_records = Vec::new();
    for k in &actions {
        match ActionRecord::load(store, k) {
            Ok(Some(rec)) if !rec.outputs_present(store) => bad_records.push(
                json!({"action": k, "error": format!("output tree {} is incomplete", rec.output)}),
            ),
            Ok(_) => {}
            Err(e) => bad_records.push(json!({"action": k, "error": e.to_string()})),
        }
    }
    // Cache files are derived copies: a bad one is deleted (the next stage that needs it gets a
    // fresh one) and reported, but the store itself is sound.
    let (cache_files, cache_removed) = store.verify_file_cache();
    let ok = corrupt.is_empty() && bad_records.is_empty();
    if json {
        let v = json!({"ok": ok, "objects": objects.len(), "records": actions.len(), "corrupt_objects": corrupt, "bad_records": bad_records, "cache_files": cache_files, "cache_files_removed": cache_removed});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for c in &corrupt {
            println!(
                "CORRUPT object {}: {}",
                c["object"].as_str().unwrap_or(""),
                c["error"].as_str().unwrap_or("")
            );
        }
        for b in &bad_records {
            println!(
                "BAD record {}: {}",
                b["action"].as_str().unwrap_or(""),
                b["error"].as_str().unwrap_or("")
            );
        }
        for d in &cache_removed {
            println!("MODIFIED cache file of object {d}: deleted (it is rewritten from the object when needed)");
        }
        println!(
            "{} objects, {} action records, {} cache files: {}",
            objects.len(),
            actions.len(),
            cache_files,
            if ok { "ok" } else { "PROBLEMS FOUND" }
        );
    }
    if !ok && !json {
        eprintln!(
            "the store at {} has corrupt objects or bad records: `repro run` recomputes what they belonged to",
            store.root().display()
        );
    }
    Ok(if ok { 0 } else { super::exit::CORRUPT })
}
