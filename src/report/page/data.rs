//! Reading the files a stage declares in `plots:` and `metrics:` into what the page draws:
//! rows of named values (CSV or TSV with a header row, or a JSON array of objects) and the
//! flattened fields of a JSON object. Parsing only; nothing is computed. Objects are read into
//! serde_json's sorted map, so a row's columns and a table's fields come in key order.

use serde_json::{Map, Value};

/// One row: column name → value (a number where the text is one).
pub type Row = Map<String, Value>;

/// The rows of `file` (named for its extension and for messages). `records` is the dotted key
/// of the array in a JSON file whose top level is an object.
pub fn rows(file: &str, bytes: &[u8], records: Option<&str>) -> Result<Vec<Row>, String> {
    if file.ends_with(".json") {
        json_rows(file, bytes, records)
    } else {
        let tab = file.ends_with(".tsv");
        csv_rows(file, bytes, if tab { b'\t' } else { b',' })
    }
}

fn csv_rows(file: &str, bytes: &[u8], delimiter: u8) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{file}: {e}"))?;
        let row = header
            .iter()
            .zip(record.iter())
            .map(|(name, text)| {
                let value = text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| Value::String(text.to_string()), Value::Number);
                (name.clone(), value)
            })
            .collect();
        out.push(row);
    }
    Ok(out)
}

fn json_rows(file: &str, bytes: &[u8], records: Option<&str>) -> Result<Vec<Row>, String> {
    let top: Value = serde_json::from_slice(bytes).map_err(|e| format!("{file}: {e}"))?;
    let mut at = &top;
    for key in records.into_iter().flat_map(|r| r.split('.')) {
        at = at.get(key).ok_or_else(|| {
            format!(
                "{file} has no key `{key}` (of `records: {}`)",
                records.unwrap_or_default()
            )
        })?;
    }
    let Value::Array(items) = at else {
        return Err(match records {
            None => format!(
                "{file} holds no array of objects at its top; name the key that holds one with `records:`"
            ),
            Some(r) => format!("`{r}` of {file} is not an array of objects"),
        });
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(row) => Ok(row.clone()),
            _ => Err(format!("{file}: an item of the array is not an object")),
        })
        .collect()
}

/// The (x, y) points of two columns, skipping rows where either is not a number.
pub fn points(file: &str, rows: &[Row], x: &str, y: &str) -> Result<Vec<(f64, f64)>, String> {
    for column in [x, y] {
        if !rows.iter().any(|r| r.contains_key(column)) {
            let mut known: Vec<&str> = rows
                .first()
                .map(|r| r.keys().map(String::as_str).collect())
                .unwrap_or_default();
            known.sort_unstable();
            return Err(format!(
                "{file} has no column `{column}`; it has: {}",
                known.join(", ")
            ));
        }
    }
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.get(x)?.as_f64()?, r.get(y)?.as_f64()?)))
        .collect())
}

/// The scalar fields of a JSON object, nested keys joined with dots (`val.accuracy`), in key
/// order; arrays and nulls are left out (a table cell holds one value).
pub fn metrics(file: &str, bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let top: Value = serde_json::from_slice(bytes).map_err(|e| format!("{file}: {e}"))?;
    let Value::Object(map) = top else {
        return Err(format!(
            "{file} is not a JSON object; `metrics:` files hold one, e.g. {{\"accuracy\": 0.9}}"
        ));
    };
    let mut out = Vec::new();
    flatten("", &map, &mut out);
    Ok(out)
}

fn flatten(prefix: &str, map: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, value) in map {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) => flatten(&name, inner, out),
            Value::Number(n) => out.push((name, n.to_string())),
            Value::String(s) => out.push((name, s.clone())),
            Value::Bool(b) => out.push((name, b.to_string())),
            Value::Array(_) | Value::Null => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_rows_give_the_same_points() {
        let csv = rows("c.csv", b"epoch, loss\n1, 0.5\n2, 0.25\n3, n/a\n", None).expect("csv");
        let json = rows(
            "m.json",
            br#"{"log": {"epochs": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]}}"#,
            Some("log.epochs"),
        )
        .expect("json");
        let want = vec![(1.0, 0.5), (2.0, 0.25)];
        assert_eq!(points("c.csv", &csv, "epoch", "loss"), Ok(want.clone()));
        assert_eq!(points("m.json", &json, "epoch", "loss"), Ok(want));
        let tsv = rows("c.tsv", b"step\tacc\n0\t1\n", None).expect("tsv");
        assert_eq!(points("c.tsv", &tsv, "step", "acc"), Ok(vec![(0.0, 1.0)]));
    }

    #[test]
    fn a_missing_column_or_key_is_named() {
        let csv = rows("c.csv", b"epoch,loss\n1,0.5\n", None).expect("csv");
        let e = points("c.csv", &csv, "epoch", "acc").expect_err("no acc");
        assert!(e.contains("no column `acc`; it has: epoch, loss"), "{e}");
        let e = rows("m.json", br#"{"a": 1}"#, Some("history")).expect_err("no key");
        assert!(e.contains("no key `history`"), "{e}");
        let e = rows("m.json", br#"{"a": 1}"#, None).expect_err("not an array");
        assert!(e.contains("records:"), "{e}");
    }

    #[test]
    fn metrics_flatten_nested_scalars_in_key_order() {
        let m = metrics(
            "s.json",
            br#"{"top1": 0.9375, "val": {"loss": 0.2, "ok": true}, "hist": [1, 2], "name": "x"}"#,
        )
        .expect("metrics");
        let names: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["name", "top1", "val.loss", "val.ok"]);
        assert_eq!(m[1].1, "0.9375");
        assert!(metrics("s.json", b"[1]").is_err());
    }
}
