//! Provenance as in-toto Statements v1 with SLSA Provenance v1 predicates, so tools outside
//! repro (slsa-verifier, policy engines, archives) can read where an artifact came from.
//! <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>,
//! <https://slsa.dev/spec/v1.0/provenance>.

use super::ActionRecord;
use serde_json::{json, Value};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// Identifies how repro builds: one stage action (key components → output tree).
pub const BUILD_TYPE: &str = "https://repro.dev/stage-action/v1";

/// One statement for one action: its output files (and the tree) are the subjects.
pub fn statement(rec: &ActionRecord) -> Value {
    let p = &rec.provenance;
    let mut subject =
        vec![json!({"name": format!("{}/", p.stage), "digest": {"sha256": rec.output.hex()}})];
    subject.extend(rec.files.iter().map(|f| json!({"name": format!("{}/{}", p.stage, f.path), "digest": {"sha256": f.digest.hex()}})));
    let mut deps: Vec<Value> = rec
        .components
        .inputs
        .iter()
        .map(|(name, d)| json!({"name": format!("stage:{name}"), "digest": {"sha256": d.hex()}}))
        .collect();
    deps.extend(
        rec.components.deps.iter().map(
            |(path, d)| json!({"name": format!("file:{path}"), "digest": {"sha256": d.hex()}}),
        ),
    );
    if let Some(commit) = &p.git.commit {
        deps.push(json!({"name": "source", "digest": {"gitCommit": commit}, "annotations": {"dirty": p.git.dirty}}));
    }
    deps.extend(
        p.code_sources.iter().map(
            |(path, blob)| json!({"name": format!("code:{path}"), "digest": {"gitBlob": blob}}),
        ),
    );
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "stage": p.stage,
                    "kind": rec.components.kind,
                    "params": rec.components.params,
                },
                "internalParameters": {
                    "actionKey": rec.key.to_string(),
                    "keyVersion": rec.components.version,
                    "codeFingerprint": rec.components.code.hex(),
                    "environment": rec.components.env,
                    "resources": p.resources,
                    "gpus": p.gpus,
                },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {"id": format!("https://repro.dev/builder/local@{}", p.repro_version), "version": {"repro": p.repro_version}},
                "metadata": {"invocationId": rec.key.to_string(), "startedOn": p.started, "finishedOn": p.ended},
                "byproducts": p.log.map(|d| vec![json!({"name": "log", "digest": {"sha256": d.hex()}})]).unwrap_or_default(),
            },
        },
    })
}
