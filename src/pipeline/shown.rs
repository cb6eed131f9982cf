//! What a stage shows on the report page: `plots:` (line charts of a CSV or JSON output) and
//! `metrics:` (JSON outputs as a table), the convention of DVC's `plots` and `metrics`.
//!
//! ```yaml
//! train:
//!   kind: cmd
//!   params: {cmd: "python3 train.py"}
//!   plots:
//!     - {file: curve.csv, x: epoch, y: loss}
//!     - {file: log.json, records: history, x: step, y: [loss, accuracy], title: Training}
//!   metrics: [scores.json]
//! ```
//!
//! They change nothing a stage computes, so they are not part of its action key: editing them
//! redraws the page and reruns nothing. Files are read from the stage's output tree when the
//! page is written (docs/reports.md).

use serde::{Deserialize, Serialize};
use std::path::{Component, Path};

/// One line chart: `y` against `x`, each a column of `file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plot {
    /// A file of the stage's output: CSV (or TSV) with a header row, or JSON holding an array
    /// of objects (at the top, or under the key `records` names).
    pub file: String,
    pub x: String,
    /// One column or several; each is a chart of its own (their scales may differ).
    pub y: Columns,
    /// For JSON: the dotted key of the array of objects (`history`, `log.epochs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// `y: loss` or `y: [loss, accuracy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Columns {
    One(String),
    Many(Vec<String>),
}

impl Columns {
    pub fn names(&self) -> Vec<&str> {
        match self {
            Columns::One(c) => vec![c.as_str()],
            Columns::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// A stage's `plots:` and `metrics:` (files holding a JSON object, drawn as one table row per
/// stage of a matrix).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub plots: Vec<Plot>,
    pub metrics: Vec<String>,
}

impl Shown {
    pub fn is_empty(&self) -> bool {
        self.plots.is_empty() && self.metrics.is_empty()
    }

    /// Check the declarations: on error, the key path below the stage (`plots.0.file`) and
    /// what is wrong.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (i, p) in self.plots.iter().enumerate() {
            output_file(&p.file).map_err(|m| (format!("plots.{i}.file"), m))?;
            if p.x.is_empty() {
                return Err((format!("plots.{i}.x"), "`x:` names no column".into()));
            }
            if p.y.names().iter().all(|c| c.is_empty()) {
                return Err((
                    format!("plots.{i}.y"),
                    "`y:` names no column; write e.g. `y: loss` or `y: [loss, accuracy]`".into(),
                ));
            }
        }
        for (i, m) in self.metrics.iter().enumerate() {
            output_file(m).map_err(|msg| (format!("metrics.{i}"), msg))?;
        }
        Ok(())
    }
}

/// A path inside the stage's output: relative, without `..`.
fn output_file(file: &str) -> Result<(), String> {
    let ok = !file.is_empty()
        && Path::new(file)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{file}` must be a file of the stage's output, relative to it (e.g. `curve.csv`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot(file: &str, y: Columns) -> Plot {
        Plot {
            file: file.into(),
            x: "epoch".into(),
            y,
            records: None,
            title: None,
        }
    }

    #[test]
    fn files_must_stay_inside_the_output() {
        let ok = Shown {
            plots: vec![plot("logs/curve.csv", Columns::One("loss".into()))],
            metrics: vec!["scores.json".into()],
        };
        assert_eq!(ok.check(), Ok(()));
        let up = Shown {
            plots: vec![plot("../x.csv", Columns::One("loss".into()))],
            ..Shown::default()
        };
        assert_eq!(up.check().map_err(|e| e.0), Err("plots.0.file".into()));
        let abs = Shown {
            metrics: vec!["/etc/passwd".into()],
            ..Shown::default()
        };
        assert_eq!(abs.check().map_err(|e| e.0), Err("metrics.0".into()));
        let no_y = Shown {
            plots: vec![plot("c.csv", Columns::Many(vec![]))],
            ..Shown::default()
        };
        assert_eq!(no_y.check().map_err(|e| e.0), Err("plots.0.y".into()));
    }

    #[test]
    fn y_is_one_column_or_a_list() {
        let one: Plot = serde_yaml::from_str("{file: c.csv, x: epoch, y: loss}").expect("one");
        assert_eq!(one.y.names(), vec!["loss"]);
        let many: Plot =
            serde_yaml::from_str("{file: c.csv, x: epoch, y: [loss, acc]}").expect("many");
        assert_eq!(many.y.names(), vec!["loss", "acc"]);
        assert!(serde_yaml::from_str::<Plot>("{file: c.csv, x: e, y: l, colour: red}").is_err());
    }
}
