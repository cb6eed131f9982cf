//! pipeline.yaml as typed structs, and `matrix:` expansion.
//!
//! ```yaml
//! stages:
//!   train:
//!     kind: train
//!     matrix: {model: [alexnet, vgg19], dataset: [mini_imagenot, fashion_mnist]}
//!     inputs: [${dataset}]
//!     params: {model: ${model}, epochs: 3}
//!     deps: [configs/train.yaml]
//!     resources: {cpus: 2, gpus: 0, memory: 4G}
//! ```
//! A matrix stage expands to one stage per combination, named `train@alexnet-mini_imagenot`
//! (values in the matrix's key order). `${var}` in inputs, params and deps is a matrix variable
//! or a param ([`super::subst`]). An input may name a matrix stage's base name (`train`) to mean
//! all of its expansions.

use super::check;
use super::locate::Locator;
use super::subst::{Scope, SubstError};
use super::PipelineError;
use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::marker::PhantomData;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    stages: UniqueMap<StageSpec>,
}

/// A mapping that refuses a repeated key. serde fills a map by inserting, so the last of two
/// `train:` entries would silently win, while a repeated field inside a stage is already an
/// error; both are mistakes in the file.
#[derive(Debug)]
struct UniqueMap<V>(IndexMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = IndexMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate key `{key}` (each may appear once in a mapping)"
                        )));
                    }
                    out.insert(key, map.next_value()?);
                }
                Ok(UniqueMap(out))
            }
        }
        d.deserialize_map(Entries(PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageSpec {
    kind: String,
    #[serde(default)]
    inputs: Vec<String>,
    #[serde(default)]
    params: serde_yaml::Value,
    #[serde(default)]
    deps: Vec<String>,
    #[serde(default)]
    resources: Resources,
    #[serde(default)]
    matrix: Option<UniqueMap<Vec<serde_yaml::Value>>>,
    #[serde(default)]
    publish: Option<String>,
    /// Stop the stage's command after this long (`90s`, `10m`, `2h`); see [`Resources::timeout`].
    #[serde(default)]
    timeout: Option<String>,
    /// Line charts and tables of this stage's outputs on the report page.
    #[serde(default)]
    plots: Vec<super::shown::Plot>,
    #[serde(default)]
    metrics: Vec<String>,
    /// Run a failing stage up to this many more times; see [`Resources::retries`].
    #[serde(default)]
    retries: Option<u32>,
    /// Output files compared within a tolerance by `repro verify --rerun` (path → largest
    /// absolute difference of any number in it), beside those the kind declares.
    #[serde(default)]
    tolerance: Option<UniqueMap<f64>>,
}

/// What a stage needs from the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default = "one")]
    pub cpus: u32,
    #[serde(default)]
    pub gpus: u32,
    /// `4G`, `512M` (plain numbers are megabytes): Slurm's `--mem`; locally, the virtual
    /// memory limit of a `cmd` stage's command (RLIMIT_AS).
    #[serde(default)]
    pub memory: Option<String>,
    /// Wall-clock limit (`4h`, `90m`, `1-00:00:00`): Slurm's `--time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The stage key `timeout:`, carried here to the worker because, like the rest, it bounds
    /// an execution without changing its result (it is not in the action key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// The stage key `retries:`: how many more times the worker runs a stage whose run failed
    /// (a flaky command). Like `timeout`, it is not in the action key; the record says how many
    /// attempts a success took.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Resources {
    /// `memory` in bytes; `None` when unset or unreadable (the parser refuses those).
    pub fn memory_bytes(&self) -> Option<u64> {
        self.memory.as_deref().and_then(check::memory_bytes)
    }

    /// `timeout` as a duration.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.timeout
            .as_deref()
            .and_then(check::seconds)
            .map(std::time::Duration::from_secs)
    }
}

fn one() -> u32 {
    1
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpus: 1,
            gpus: 0,
            memory: None,
            time: None,
            timeout: None,
            retries: 0,
        }
    }
}

/// One stage after matrix expansion.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    /// The name as written in pipeline.yaml (differs from `name` for matrix expansions).
    pub base: String,
    pub kind: String,
    pub inputs: Vec<String>,
    /// Params as written (after substitution); the kind resolves defaults later.
    pub params: Value,
    pub deps: Vec<String>,
    pub resources: Resources,
    /// A folder (relative to the pipeline's) that receives a copy of this stage's outputs
    /// after a run and on `repro report`, e.g. `reports`: what people read, committed to git.
    pub publish: Option<String>,
    /// Its `plots:` and `metrics:`, which the report page draws (not part of the key).
    pub shown: super::shown::Shown,
    /// The stage key `tolerance:`: output file → absolute tolerance of its numbers when
    /// `repro verify --rerun` compares a re-execution with the record.
    pub tolerance: std::collections::BTreeMap<String, f64>,
    /// Key path of this stage in the file, for error positions.
    pub(crate) yaml_path: String,
}

/// Parsed pipeline text plus what is needed to point errors at it.
pub struct Parsed {
    pub stages: Vec<Stage>,
    pub file: std::path::PathBuf,
    text: String,
    /// Built only when an error needs a position: a second parse costs time on every no-op run.
    locator: std::cell::OnceCell<Locator>,
}

impl Parsed {
    fn locator(&self) -> &Locator {
        self.locator.get_or_init(|| Locator::new(&self.text))
    }

    pub fn error_at(&self, yaml_path: &str, message: impl Into<String>) -> PipelineError {
        let pos = self.locator().find(yaml_path);
        PipelineError {
            file: self.file.clone(),
            line: pos.map(|p| p.line),
            col: pos.map(|p| p.col),
            message: message.into(),
        }
    }

    /// An error about `e.token` inside the string at `yaml_path`: at the token itself when it
    /// is written on the value's line, else at the value.
    fn error_at_token(&self, yaml_path: &str, e: &SubstError) -> PipelineError {
        let mut err = self.error_at_value(yaml_path, e.message.clone());
        if let (Some(line), Some(col)) = (err.line, err.col) {
            let text = self.text.lines().nth(line - 1).unwrap_or_default();
            let from = text
                .char_indices()
                .nth(col - 1)
                .map_or(text.len(), |(b, _)| b);
            if let Some(b) = text[from..].find(&e.token) {
                err.col = Some(col + text[from..from + b].chars().count());
            }
        }
        err
    }

    pub fn error_at_value(&self, yaml_path: &str, message: impl Into<String>) -> PipelineError {
        let pos = self.locator().find_value(yaml_path);
        PipelineError {
            file: self.file.clone(),
            line: pos.map(|p| p.line),
            col: pos.map(|p| p.col),
            message: message.into(),
        }
    }
}

pub fn parse(file: &Path, text: &str) -> Result<Parsed, PipelineError> {
    let raw: PipelineFile = serde_yaml::from_str(text).map_err(|e| yaml_error(file, text, &e))?;
    let mut parsed = Parsed {
        stages: Vec::new(),
        file: file.to_path_buf(),
        text: text.to_string(),
        locator: Default::default(),
    };
    let matrix_limit = check::matrix_limit().map_err(|message| PipelineError {
        file: file.to_path_buf(),
        line: None,
        col: None,
        message,
    })?;
    for (base, spec) in raw.stages.0 {
        let yaml_path = format!("stages.{base}");
        check::base_name(&base).map_err(|m| parsed.error_at(&yaml_path, m))?;
        if let Some(dir) = &spec.publish {
            let p = Path::new(dir);
            if dir.is_empty()
                || !p
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
            {
                return Err(parsed.error_at(
                    &format!("{yaml_path}.publish"),
                    format!("`publish: {dir}` must be a folder inside the pipeline's folder (relative, no `..`)"),
                ));
            }
        }
        let mut resources = spec.resources.clone();
        if resources.timeout.is_some() {
            return Err(parsed.error_at(
                &format!("{yaml_path}.resources.timeout"),
                "`timeout:` is a key of the stage: write it beside `resources:`, not inside",
            ));
        }
        if let Some(m) = &resources.memory {
            if check::memory_bytes(m).is_none() {
                return Err(parsed.error_at_value(
                    &format!("{yaml_path}.resources.memory"),
                    format!("`memory: {m}` is not a size; write e.g. `512M`, `4G` (a plain number is megabytes)"),
                ));
            }
        }
        if let Some(t) = &spec.timeout {
            if check::seconds(t).is_none_or(|s| s == 0) {
                return Err(parsed.error_at_value(
                    &format!("{yaml_path}.timeout"),
                    format!(
                        "`timeout: {t}` is not a duration; write e.g. `90s`, `10m`, `2h`, `1d`"
                    ),
                ));
            }
            resources.timeout = Some(t.clone());
        }
        let shown = super::shown::Shown {
            plots: spec.plots.clone(),
            metrics: spec.metrics.clone(),
        };
        shown
            .check()
            .map_err(|(at, m)| parsed.error_at_value(&format!("{yaml_path}.{at}"), m))?;
        if resources.retries > 0 {
            return Err(parsed.error_at(
                &format!("{yaml_path}.resources.retries"),
                "`retries:` is a key of the stage: write it beside `resources:`, not inside",
            ));
        }
        resources.retries = spec.retries.unwrap_or(0);
        let mut tolerance = std::collections::BTreeMap::new();
        for (file, tol) in spec.tolerance.as_ref().map(|t| &t.0).into_iter().flatten() {
            if !(tol.is_finite() && *tol >= 0.0) {
                return Err(parsed.error_at_value(
                    &format!("{yaml_path}.tolerance.{file}"),
                    format!("`{file}: {tol}` is not a tolerance; write a number ≥ 0, e.g. `1e-9`"),
                ));
            }
            tolerance.insert(file.clone(), *tol);
        }
        parsed.refuse_odd_numbers(&spec.params, &format!("{yaml_path}.params"))?;
        let params = yaml_to_json(&spec.params)
            .map_err(|m| parsed.error_at(&format!("{yaml_path}.params"), m))?;
        let combos = match &spec.matrix {
            None => vec![Vec::new()],
            Some(UniqueMap(m)) => {
                let at = format!("{yaml_path}.matrix");
                check::matrix_size(&base, m, matrix_limit).map_err(|e| parsed.error_at(&at, e))?;
                for (var, values) in m {
                    for (i, v) in values.iter().enumerate() {
                        let at = format!("{at}.{var}.{i}");
                        parsed.refuse_odd_numbers(v, &at)?;
                        if let Ok(v) = serde_json::to_value(v) {
                            check::matrix_value(var, &scalar_text(&v))
                                .map_err(|e| parsed.error_at_value(&at, e))?;
                        }
                    }
                }
                expand(m).map_err(|msg| parsed.error_at(&at, msg))?
            }
        };
        for combo in combos {
            let name = if combo.is_empty() {
                base.clone()
            } else {
                let vals: Vec<String> = combo.iter().map(|(_, v)| scalar_text(v)).collect();
                let name = format!("{base}@{}", vals.join("-"));
                check::expanded_name(&name)
                    .map_err(|e| parsed.error_at(&format!("{yaml_path}.matrix"), e))?;
                name
            };
            let scope = Scope {
                matrix: &combo,
                params: &params,
            };
            let sub =
                |s: &str, at: String| scope.string(s).map_err(|e| parsed.error_at_token(&at, &e));
            let inputs = spec
                .inputs
                .iter()
                .enumerate()
                .map(|(k, i)| sub(i, format!("{yaml_path}.inputs.{k}")))
                .collect::<Result<Vec<_>, _>>()?;
            let deps = spec
                .deps
                .iter()
                .enumerate()
                .map(|(k, d)| sub(d, format!("{yaml_path}.deps.{k}")))
                .collect::<Result<Vec<_>, _>>()?;
            let params = scope.value(&params).map_err(|(rel, e)| {
                let at = format!("{yaml_path}.params");
                parsed.error_at_token(
                    &if rel.is_empty() {
                        at.clone()
                    } else {
                        format!("{at}.{rel}")
                    },
                    &e,
                )
            })?;
            parsed.stages.push(Stage {
                name,
                base: base.clone(),
                kind: spec.kind.clone(),
                inputs,
                params,
                deps,
                resources: resources.clone(),
                publish: spec.publish.clone(),
                shown: shown.clone(),
                tolerance: tolerance.clone(),
                yaml_path: yaml_path.clone(),
            });
        }
    }
    Ok(parsed)
}

/// serde_yaml's error with its position up front. Some errors come without one (an alias
/// bomb: "repetition limit exceeded"); they point at the first alias the file uses.
fn yaml_error(file: &Path, text: &str, e: &serde_yaml::Error) -> PipelineError {
    let mut message = e.to_string();
    // serde_yaml appends " at line L column C"; we print the position up front instead.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    let mut pos = e.location().map(|l| (l.line(), l.column()));
    // A repeated key is found after serde_yaml moved past it: point at the second one.
    if let Some((at, rest)) = message.split_once(": duplicate key `") {
        let key = rest.split('`').next().unwrap_or_default();
        if let Some(p) = Locator::new(text).repeated(&format!("{at}.{key}")) {
            pos = Some((p.line, p.col));
        }
    }
    if pos.is_none() && message.contains("repetition limit") {
        if let Some(p) = Locator::new(text).first_alias() {
            pos = Some((p.line, p.col));
        }
        message.push_str(
            " (aliases `*name` expand to too many nodes; write the repeated parts out, or \
             fewer levels of aliases)",
        );
    }
    PipelineError {
        file: file.to_path_buf(),
        line: pos.map(|p| p.0),
        col: pos.map(|p| p.1),
        message,
    }
}

impl Parsed {
    /// Refuse numbers that YAML or JSON would silently change (see [`check::odd_numbers`]);
    /// a long digit string written in quotes is a string on purpose.
    fn refuse_odd_numbers(&self, v: &serde_yaml::Value, at: &str) -> Result<(), PipelineError> {
        let mut odd = Vec::new();
        check::odd_numbers(v, "", &mut odd);
        for (rel, n) in odd {
            let path = if rel.is_empty() {
                at.to_string()
            } else {
                format!("{at}.{rel}")
            };
            if matches!(n, check::OddNumber::TooLarge(_)) && !self.locator().is_plain(&path) {
                continue;
            }
            return Err(self.error_at_value(&path, n.message()));
        }
        Ok(())
    }
}

fn yaml_to_json(v: &serde_yaml::Value) -> Result<Value, String> {
    match v {
        serde_yaml::Value::Null => Ok(Value::Object(Default::default())),
        v => serde_json::to_value(v)
            .map_err(|e| format!("params cannot be represented as JSON: {e}")),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Cartesian product of the matrix axes, in the order written.
fn expand(
    matrix: &IndexMap<String, Vec<serde_yaml::Value>>,
) -> Result<Vec<Vec<(String, Value)>>, String> {
    let mut combos: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (var, values) in matrix {
        if values.is_empty() {
            return Err(format!("matrix axis `{var}` has no values"));
        }
        let mut next = Vec::new();
        for combo in &combos {
            for v in values {
                let v =
                    serde_json::to_value(v).map_err(|e| format!("matrix value of `{var}`: {e}"))?;
                if v.is_object() || v.is_array() {
                    return Err(format!("matrix values must be scalars; `{var}` has {v}"));
                }
                let mut c = combo.clone();
                c.push((var.clone(), v));
                next.push(c);
            }
        }
        combos = next;
    }
    Ok(combos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_expands_with_typed_substitution() {
        let text = r#"
stages:
  data:
    kind: cmd
    params: {cmd: "true"}
  train:
    kind: cmd
    matrix: {model: [a, b], epochs: [1, 2]}
    inputs: [data]
    params: {cmd: "echo ${model} $${HOME}", epochs: "${epochs}", tag: "m-${model}"}
"#;
        let p = parse(Path::new("p.yaml"), text).expect("parse");
        let names: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["data", "train@a-1", "train@a-2", "train@b-1", "train@b-2"]
        );
        let s = &p.stages[4];
        assert_eq!(s.params["epochs"], serde_json::json!(2));
        assert_eq!(s.params["cmd"], serde_json::json!("echo b ${HOME}"));
        assert_eq!(s.params["tag"], serde_json::json!("m-b"));
    }

    #[test]
    fn params_substitute_into_the_command() {
        let text = "stages:\n  gen:\n    kind: cmd\n    matrix: {m: [a]}\n    params:\n      cmd: \"gen.py ${n} ${m} ${opt.k} $${HOME}\"\n      n: 200\n      opt: {k: v}\n";
        let p = parse(Path::new("p.yaml"), text).expect("parse");
        assert_eq!(
            p.stages[0].params["cmd"],
            serde_json::json!("gen.py 200 a v ${HOME}")
        );
        let text = "stages:\n  gen:\n    kind: cmd\n    params:\n      n: 1\n      cmd: \"gen.py ${n} ${y}\"\n";
        let e = parse(Path::new("p.yaml"), text).err().expect("unknown");
        assert!(e.message.contains("`${y}`"), "{}", e.message);
        assert_eq!((e.line, e.col), (Some(6), Some(25)), "{e}");
    }

    #[test]
    fn errors_carry_positions() {
        let e = parse(
            Path::new("p.yaml"),
            "stages:\n  a:\n    kind: cmd\n    colour: red\n",
        )
        .err()
        .expect("error");
        assert_eq!((e.line, e.col), (Some(4), Some(5)));
        assert!(
            e.message.contains("unknown field `colour`"),
            "{}",
            e.message
        );
        let e = parse(
            Path::new("p.yaml"),
            "stages:\n  a:\n    kind: cmd\n    inputs: [\"${x}\"]\n",
        )
        .err()
        .expect("error");
        assert!(
            e.message.contains("neither a matrix variable nor a param"),
            "{}",
            e.message
        );
        assert_eq!((e.line, e.col), (Some(4), Some(15)));
        let e = parse(
            Path::new("p.yaml"),
            "stages:\n  a:\n    kind: cmd\n    resources: {cpus: many}\n",
        )
        .err()
        .expect("error");
        assert!(e.message.contains("invalid type"), "{}", e.message);
    }
}
