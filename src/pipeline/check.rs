//! What a pipeline file must satisfy beyond its types: names that become file names, a bound
//! on matrix expansion, and numbers that YAML would otherwise turn into something else.
//! Each check returns the message; the parser attaches the file, line and column.

use crate::store::name::check_name;
use indexmap::IndexMap;

/// Most stages one `matrix:` may expand to, unless `REPRO_MAX_MATRIX` says otherwise. An axis
/// of 20 values on 5 keys is 3.2 million stages and gigabytes of memory before anything runs.
pub const MAX_MATRIX: u64 = 10_000;

/// A stage name as written under `stages:`. Matrix expansions add `@` and the values, so the
/// base may hold neither `@` nor spaces; it must also be a single path component.
pub fn base_name(name: &str) -> Result<(), String> {
    if name.contains(['@', ' ']) {
        return Err(format!(
            "stage name {name:?} may not contain `@` (it separates matrix values) or spaces"
        ));
    }
    check_name(name).map_err(|why| format!("stage name {name:?} {why}"))
}

/// One matrix value, as it appears in the expanded stage name `base@v1-v2`.
pub fn matrix_value(var: &str, text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|&c| c == '/' || c.is_control()) {
        return Err(format!(
            "matrix value {text:?} of `{var}` contains {c:?}, but matrix values become part of \
             stage names (`stage@value`), which are file names; use a plain value and build \
             any path in the stage (e.g. `data/${{{var}}}.csv`)"
        ));
    }
    Ok(())
}

/// A stage name after matrix substitution.
pub fn expanded_name(name: &str) -> Result<(), String> {
    check_name(name).map_err(|why| format!("matrix expansion {name:?} {why}"))
}

/// The expansion limit: [`MAX_MATRIX`], or `REPRO_MAX_MATRIX` when set.
pub fn matrix_limit() -> Result<u64, String> {
    match std::env::var("REPRO_MAX_MATRIX") {
        Err(_) => Ok(MAX_MATRIX),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("REPRO_MAX_MATRIX={v:?} is not a whole number of stages")),
    }
}

/// Refuse a matrix whose product of axis lengths exceeds `limit`, before expanding it.
pub fn matrix_size<V>(
    stage: &str,
    matrix: &IndexMap<String, Vec<V>>,
    limit: u64,
) -> Result<(), String> {
    let lens: Vec<u64> = matrix.values().map(|v| v.len() as u64).collect();
    let count = lens.iter().try_fold(1u64, |acc, &n| acc.checked_mul(n));
    if count.is_some_and(|c| c <= limit) {
        return Ok(());
    }
    let count = count.map_or_else(|| "more than 2^64".to_string(), |c| c.to_string());
    let factors: Vec<String> = lens.iter().map(u64::to_string).collect();
    Err(format!(
        "the matrix of stage `{stage}` expands to {count} stages ({}), more than the limit of \
         {limit}; split the study, or raise the limit with REPRO_MAX_MATRIX=N",
        factors.join(" × ")
    ))
}

/// Key paths (`a.b.0`, relative to `v`) of values YAML would silently change: a number too
/// large for 64-bit floats (serde_yaml keeps it as a string when written plain) and `.inf` or
/// `.nan` (JSON has no such numbers: they would become `null`). The caller decides, from how
/// the scalar was written, whether a string candidate was quoted on purpose.
pub fn odd_numbers(v: &serde_yaml::Value, path: &str, out: &mut Vec<(String, OddNumber)>) {
    use serde_yaml::Value as Y;
    let join = |part: &str| {
        if path.is_empty() {
            part.to_string()
        } else {
            format!("{path}.{part}")
        }
    };
    match v {
        Y::String(s) if overflowing_number(s) => {
            out.push((path.to_string(), OddNumber::TooLarge(s.clone())))
        }
        Y::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
            out.push((path.to_string(), OddNumber::NotFinite(n.to_string())))
        }
        Y::Sequence(items) => {
            for (i, x) in items.iter().enumerate() {
                odd_numbers(x, &join(&i.to_string()), out);
            }
        }
        Y::Mapping(m) => {
            for (k, x) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                odd_numbers(x, &join(&key), out);
            }
        }
        Y::Tagged(t) => odd_numbers(&t.value, path, out),
        _ => {}
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum OddNumber {
    /// Digits YAML reads as a number beyond `f64`: a plain scalar becomes a string.
    TooLarge(String),
    /// `.inf`, `-.inf`, `.nan`.
    NotFinite(String),
}

impl OddNumber {
    pub fn message(&self) -> String {
        match self {
            OddNumber::TooLarge(s) => {
                let shown = if s.len() > 24 {
                    format!("{}… ({} characters)", &s[..20], s.len())
                } else {
                    s.clone()
                };
                format!(
                    "the number {shown} is too large to be a number (YAML would read it as a \
                     string); quote it if a string is meant"
                )
            }
            OddNumber::NotFinite(s) => format!(
                "`{s}` is not a finite number and params are JSON, which has none; use a large \
                 finite value or a string"
            ),
        }
    }
}

/// Written like a decimal number (`123…`, `1.5e400`) yet too large for `f64`.
fn overflowing_number(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    body.starts_with(|c: char| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_'))
        && body
            .replace('_', "")
            .parse::<f64>()
            .is_ok_and(f64::is_infinite)
}

/// A memory size as Slurm's `--mem` takes it (`512M`, `4G`, `1T`, `100K`; a plain number is
/// megabytes), in bytes.
pub fn memory_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "M"),
    };
    let shift = match unit.to_ascii_uppercase().trim_end_matches('B') {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    let n: u64 = digits.parse().ok().filter(|&n| n > 0)?;
    n.checked_mul(1u64 << shift)
}

/// A duration: `90s`, `10m`, `2h`, `1d`, or a plain number of seconds.
pub fn seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, scale) = match t.as_bytes().last()? {
        b's' => (&t[..t.len() - 1], 1),
        b'm' => (&t[..t.len() - 1], 60),
        b'h' => (&t[..t.len() - 1], 3600),
        b'd' => (&t[..t.len() - 1], 86400),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(scale)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_sizes() {
        assert!(base_name("train").is_ok());
        for bad in [".", "..", "a b", "a@b", "a/b", "a\nb", ""] {
            assert!(base_name(bad).is_err(), "{bad:?}");
        }
        assert!(matrix_value("m", "x/../../tmp").is_err());
        assert!(matrix_value("m", "0.1").is_ok());
        let mut m = IndexMap::new();
        for k in ["a", "b", "c", "d", "e"] {
            m.insert(k.to_string(), vec![0; 20]);
        }
        let e = matrix_size("t", &m, MAX_MATRIX).expect_err("too big");
        assert!(e.contains("3200000 stages (20 × 20 × 20 × 20 × 20)"), "{e}");
        assert!(matrix_size("t", &m, 3_200_000).is_ok());
    }

    #[test]
    fn finds_numbers_yaml_would_change() {
        let big = "9".repeat(400);
        let v: serde_yaml::Value =
            serde_yaml::from_str(&format!("{{a: {big}, b: [1, .inf], c: \"x\", d: 1e999}}"))
                .expect("yaml");
        let mut out = Vec::new();
        odd_numbers(&v, "", &mut out);
        let paths: Vec<&str> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["a", "b.1", "d"]);
        assert!(out[0].1.message().contains("400 characters"));
        assert!(
            !overflowing_number("inf") && !overflowing_number("12") && !overflowing_number("1e5x")
        );
    }
}
