//! The action key: what a stage's result depends on, as an explicit struct with a stable,
//! canonical encoding and a version constant. The record keeps the components, so "why does
//! this stage rerun?" is a diff of two structs, not a guess.

use crate::store::{ActionKey, Digest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Bump when the meaning or encoding of the components changes: every key changes with it.
pub const KEY_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyComponents {
    pub version: u32,
    pub kind: String,
    /// Fingerprint of the kind's source files as compiled into this binary.
    pub code: Digest,
    /// Resolved params (defaults filled).
    pub params: Value,
    /// Input stage name → output tree digest.
    pub inputs: BTreeMap<String, Digest>,
    /// `deps` path → content digest.
    pub deps: BTreeMap<String, Digest>,
    /// Declared environment (libtorch version, device class, precision, …).
    pub env: BTreeMap<String, String>,
}

impl KeyComponents {
    pub fn key(&self) -> ActionKey {
        let value = serde_json::to_value(self).expect("KeyComponents serialize");
        let mut text = String::new();
        canonical(&value, &mut text);
        ActionKey(Digest::of(text.as_bytes()))
    }

    /// Human-readable reasons why `self` (now) differs from `old` (last run).
    pub fn diff(&self, old: &KeyComponents) -> Vec<String> {
        let mut out = Vec::new();
        if self.version != old.version {
            out.push(format!(
                "key format changed (v{} → v{})",
                old.version, self.version
            ));
        }
        if self.kind != old.kind {
            out.push(format!("kind changed {} → {}", old.kind, self.kind));
        } else if self.code != old.code {
            out.push(format!("code of kind {} changed", self.kind));
        }
        let (mut new_p, mut old_p) = (BTreeMap::new(), BTreeMap::new());
        flatten("", &self.params, &mut new_p);
        flatten("", &old.params, &mut old_p);
        diff_maps(&old_p, &new_p, "param", &mut out, |v| v.clone());
        diff_maps(&old.inputs, &self.inputs, "input", &mut out, |d| d.short());
        diff_maps(&old.deps, &self.deps, "dep", &mut out, |d| d.short());
        diff_maps(&old.env, &self.env, "environment", &mut out, |v| v.clone());
        out
    }
}

fn diff_maps<V: PartialEq>(
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
    what: &str,
    out: &mut Vec<String>,
    show: impl Fn(&V) -> String,
) {
    let hashes = what == "input" || what == "dep";
    for (k, v) in new {
        match old.get(k) {
            None => out.push(format!("{what} {k} added")),
            Some(o) if o != v && hashes => out.push(format!("{what} {k} changed")),
            Some(o) if o != v => out.push(format!("{what} {k} changed {} → {}", show(o), show(v))),
            _ => {}
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push(format!("{what} {k} removed"));
    }
}

/// `{"a": {"b": 1}}` → `a.b = 1`, for readable param diffs.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// JSON with object keys sorted and no whitespace: one encoding per value, whatever the map
/// implementation or feature flags of serde_json.
pub fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn comps(params: Value) -> KeyComponents {
        KeyComponents {
            version: KEY_VERSION,
            kind: "train".into(),
            code: Digest::of(b"code"),
            params,
            inputs: BTreeMap::from([("data".to_string(), Digest::of(b"d"))]),
            deps: BTreeMap::new(),
            env: BTreeMap::new(),
        }
    }

    /// Pins the encoding (like jj's `test_consistent_hashing`): fixed components, a literal key,
    /// computed independently (Python: `json.dumps(c, sort_keys=True, separators=(",", ":"))`,
    /// then sha256). If this test fails, every key in every store and remote has changed: bump
    /// KEY_VERSION (and update the literal), so records say "key format changed" instead of
    /// silently missing.
    #[test]
    fn key_encoding_is_pinned() {
        let comps = KeyComponents {
            version: 1,
            kind: "train".into(),
            code: Digest::of(b"code"),
            params: json!({"lr": 0.1, "opt": {"name": "sgd"}, "epochs": 3, "tags": ["a", "b"], "note": null}),
            inputs: BTreeMap::from([
                ("labels".to_string(), Digest::of(b"l")),
                ("data".to_string(), Digest::of(b"d")),
            ]),
            deps: BTreeMap::from([("data/x.csv".to_string(), Digest::of(b"x"))]),
            env: BTreeMap::from([
                ("libtorch".to_string(), "2.9.0".to_string()),
                ("device".to_string(), "cpu".to_string()),
            ]),
        };
        assert_eq!(
            comps.key().to_string(),
            "a7855fcde4b07b3e162ba6d446b1a1d37adf348d95f32cdce870cddfeb9760ac"
        );
        assert_eq!(KEY_VERSION, 1, "a new version needs a new pinned key above");
    }

    #[test]
    fn key_is_stable_and_diff_is_readable() {
        let a = comps(json!({"lr": 0.1, "opt": {"name": "sgd"}}));
        let b = comps(json!({"opt": {"name": "sgd"}, "lr": 0.1}));
        assert_eq!(a.key(), b.key(), "key order does not matter");
        let c = comps(json!({"lr": 0.05, "opt": {"name": "sgd"}}));
        assert_ne!(a.key(), c.key());
        assert_eq!(c.diff(&a), vec!["param lr changed 0.1 → 0.05".to_string()]);
        let mut d = a.clone();
        d.inputs.insert("data".into(), Digest::of(b"e"));
        d.code = Digest::of(b"code2");
        assert_eq!(
            d.diff(&a),
            vec![
                "code of kind train changed".to_string(),
                "input data changed".to_string()
            ]
        );
    }
}
