//! Accuracy tables read from CSV: `model,a,b` for `repro stats`, and `model,<column>` files
//! such as the committed `data/imagenet_top1.csv`. Errors name the file and the line.

use super::permutation::{kendall_tau_p_value, PValueMethod, DEFAULT_MONTE_CARLO_DRAWS};
use super::{PointStats, StatsError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One accuracy per model on each of two datasets, rows in chronological order.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub models: Vec<String>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
}

/// The statistics of a [`Table`]: what `repro stats --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableStats {
    pub models: Vec<String>,
    #[serde(flatten)]
    pub point: PointStats,
    /// Two-sided permutation p-value of τ-b: P(|τ| ≥ |τ_observed|) with the rankings unrelated.
    pub kendall_tau_p_value: Option<f64>,
    /// One-sided: P(τ ≥ τ_observed), the test that the rankings agree.
    pub kendall_tau_p_value_greater: Option<f64>,
    pub kendall_tau_p_value_method: Option<PValueMethod>,
}

impl Table {
    /// Point statistics and the τ p-value (exact up to ten models, else seeded Monte Carlo).
    pub fn stats(&self) -> TableStats {
        let p = kendall_tau_p_value(&self.a, &self.b, 0, DEFAULT_MONTE_CARLO_DRAWS);
        TableStats {
            models: self.models.clone(),
            point: PointStats::of(&self.a, &self.b),
            kendall_tau_p_value: p.as_ref().map(|p| p.two_sided),
            kendall_tau_p_value_greater: p.as_ref().map(|p| p.greater),
            kendall_tau_p_value_method: p.map(|p| p.method),
        }
    }
}

/// Read a `model,a,b` table (header required, at least two rows, unique model names).
pub fn read_table_csv(path: &Path) -> Result<Table, StatsError> {
    let rows = read_rows(path, &["model", "a", "b"])?;
    let mut t = Table {
        models: Vec::new(),
        a: Vec::new(),
        b: Vec::new(),
    };
    for (model, values) in rows {
        t.models.push(model);
        t.a.push(values[0]);
        t.b.push(values[1]);
    }
    Ok(t)
}

/// Read `(model, value)` pairs from a CSV whose first column is `model` and that has a column
/// named `column` (e.g. `top1`), in file order.
pub fn read_column_csv(path: &Path, column: &str) -> Result<Vec<(String, f64)>, StatsError> {
    Ok(read_rows(path, &["model", column])?
        .into_iter()
        .map(|(m, v)| (m, v[0]))
        .collect())
}

/// Rows of `path` as (model, values of `columns[1..]`). `columns[0]` must be the first header
/// field; the others may be anywhere in the header. Every value must be a finite number.
fn read_rows(path: &Path, columns: &[&str]) -> Result<Vec<(String, Vec<f64>)>, StatsError> {
    let io = |e: &dyn std::fmt::Display| StatsError::Io {
        file: path.to_path_buf(),
        msg: e.to_string(),
    };
    let csv_err = |line: u64, msg: String| StatsError::Csv {
        file: path.to_path_buf(),
        line,
        msg,
    };
    let file = std::fs::File::open(path).map_err(|e| io(&e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(file);
    let header = reader.headers().map_err(|e| io(&e))?.clone();
    let header_line = header.position().map_or(1, |p| p.line());
    let want = columns.join(",");
    let names: Vec<&str> = header.iter().collect();
    if names.first().copied() != Some(columns[0]) {
        return Err(csv_err(
            header_line,
            format!("expected the header `{want}`, found `{}`", names.join(",")),
        ));
    }
    let mut positions = Vec::new();
    for c in &columns[1..] {
        let at = names.iter().position(|n| n == c).ok_or_else(|| {
            csv_err(
                header_line,
                format!(
                    "no column `{c}` in the header `{}` (expected `{want}`)",
                    names.join(",")
                ),
            )
        })?;
        positions.push(at);
    }
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            csv_err(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let model = record.get(0).unwrap_or("").to_string();
        if model.is_empty() {
            return Err(csv_err(line, "empty model name".into()));
        }
        if rows.iter().any(|(m, _)| *m == model) {
            return Err(csv_err(line, format!("model `{model}` appears twice")));
        }
        let mut values = Vec::new();
        for (&at, name) in positions.iter().zip(&columns[1..]) {
            let text = record.get(at).unwrap_or("");
            let v: f64 = text.parse().map_err(|_| {
                csv_err(
                    line,
                    format!("`{name}` of `{model}` is `{text}`, not a number"),
                )
            })?;
            if !v.is_finite() {
                return Err(csv_err(
                    line,
                    format!("`{name}` of `{model}` is not finite"),
                ));
            }
            values.push(v);
        }
        rows.push((model, values));
    }
    if rows.len() < 2 {
        return Err(io(&format!(
            "needs at least two model rows under the header `{want}`, found {}",
            rows.len()
        )));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn reads_a_table() {
        let f = write("model,a,b\nalexnet,56.5,20\nvgg19, 72.4 ,30\n");
        let t = read_table_csv(f.path()).expect("valid");
        assert_eq!(t.models, ["alexnet", "vgg19"]);
        assert_eq!(t.a, [56.5, 72.4]);
        assert_eq!(t.b, [20.0, 30.0]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let f = write("model,a,b\nalexnet,56.5,20\nvgg19,abc,30\n");
        let e = read_table_csv(f.path())
            .expect_err("bad number")
            .to_string();
        assert!(e.contains(&f.path().display().to_string()), "{e}");
        assert!(e.contains("line 3") && e.contains("`abc`"), "{e}");
        let f = write("name,a,b\nx,1,2\ny,2,3\n");
        let e = read_table_csv(f.path())
            .expect_err("bad header")
            .to_string();
        assert!(e.contains("line 1") && e.contains("model,a,b"), "{e}");
        let f = write("model,a,b\nx,1,2\nx,2,3\n");
        assert!(read_table_csv(f.path())
            .expect_err("dup")
            .to_string()
            .contains("twice"));
        let f = write("model,a,b\nx,1,2\ny,2\n");
        assert!(read_table_csv(f.path())
            .expect_err("short")
            .to_string()
            .contains("line 3"));
    }

    #[test]
    fn reads_a_named_column() {
        let f = write("model,top1,source\nalexnet,56.522,x\nvgg19,72.376,y\n");
        let c = read_column_csv(f.path(), "top1").expect("valid");
        assert_eq!(
            c,
            vec![
                ("alexnet".to_string(), 56.522),
                ("vgg19".to_string(), 72.376)
            ]
        );
    }
}
