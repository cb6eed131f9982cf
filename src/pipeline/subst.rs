//! `${name}` in a stage's strings: one substitution for matrix variables and params.
//!
//! A name is a matrix variable of the stage (`${model}`), else a param, nested ones with dots
//! (`${n}`, `${opt.lr}`, `${sizes.0}`). A param that itself holds `${…}` is substituted first,
//! so `params: {cmd: "gen.py ${out}", out: "data-${n}.csv", n: 200}` works; params that refer to
//! each other in a circle are an error. `$${name}` is a literal `${name}` (a shell variable in a
//! `cmd`). A string that is exactly `${name}` takes the value's own type, so `epochs: ${epochs}`
//! stays a number. Substitution happens while parsing, so the action key hashes the final
//! strings.

use serde_json::Value;

/// What a stage's `${name}` can refer to.
pub struct Scope<'a> {
    /// This expansion's matrix values, in the matrix's order.
    pub matrix: &'a [(String, Value)],
    /// The stage's params as written (before substitution).
    pub params: &'a Value,
}

/// Why a string could not be substituted; `token` is the text to point at (`${nope}`).
#[derive(Debug, PartialEq)]
pub struct SubstError {
    pub message: String,
    pub token: String,
}

impl Scope<'_> {
    /// Substitute every `${name}` in `s`.
    pub fn string(&self, s: &str) -> Result<String, SubstError> {
        self.string_in(s, &mut Vec::new())
    }

    /// Substitute in every string of `v`. On error, also the dotted path (relative to `v`) of
    /// the string that failed.
    pub fn value(&self, v: &Value) -> Result<Value, (String, SubstError)> {
        self.value_in(v, &mut Vec::new())
    }

    fn value_in(&self, v: &Value, stack: &mut Vec<String>) -> Result<Value, (String, SubstError)> {
        let at = |rel: String, (sub, e): (String, SubstError)| {
            let path = if sub.is_empty() {
                rel
            } else {
                format!("{rel}.{sub}")
            };
            (path, e)
        };
        Ok(match v {
            Value::String(s) => {
                if let Some(name) = exact(s) {
                    return self.lookup(name, stack).map_err(|e| (String::new(), e));
                }
                Value::String(self.string_in(s, stack).map_err(|e| (String::new(), e))?)
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| self.value_in(x, stack).map_err(|e| at(i.to_string(), e)))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        Ok((
                            k.clone(),
                            self.value_in(x, stack).map_err(|e| at(k.clone(), e))?,
                        ))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    fn string_in(&self, s: &str, stack: &mut Vec<String>) -> Result<String, SubstError> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            // `$${x}` is a literal `${x}`.
            if rest[..start].ends_with('$') {
                out.push_str(&rest[..start - 1]);
                let end = rest[start..]
                    .find('}')
                    .map_or(rest.len(), |e| start + e + 1);
                out.push_str(&rest[start..end]);
                rest = &rest[end..];
                continue;
            }
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(SubstError {
                    message: format!("unclosed `${{` in `{s}`"),
                    token: rest[start..].to_string(),
                });
            };
            let name = &after[..end];
            match self.lookup(name, stack)? {
                Value::String(v) => out.push_str(&v),
                v @ (Value::Object(_) | Value::Array(_)) => {
                    return Err(SubstError {
                        message: format!(
                            "`${{{name}}}` is {} inside a longer string; name one of its values \
                             (`${{{name}}}.…`), or write `${{{name}}}` alone to copy it",
                            if v.is_object() { "a mapping" } else { "a list" }
                        ),
                        token: format!("${{{name}}}"),
                    })
                }
                v => out.push_str(&v.to_string()),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of `name`: a matrix variable, else a param (substituted in turn).
    fn lookup(&self, name: &str, stack: &mut Vec<String>) -> Result<Value, SubstError> {
        let token = format!("${{{name}}}");
        if let Some((_, v)) = self.matrix.iter().find(|(k, _)| k == name) {
            return Ok(v.clone());
        }
        let Some(raw) = param(self.params, name) else {
            return Err(SubstError {
                message: self.unknown(name),
                token,
            });
        };
        if stack.iter().any(|s| s == name) {
            let mut circle = stack.clone();
            circle.push(name.to_string());
            return Err(SubstError {
                message: format!(
                    "params refer to each other in a circle: {}",
                    circle.join(" → ")
                ),
                token,
            });
        }
        stack.push(name.to_string());
        let v = self.value_in(raw, stack).map_err(|(_, e)| e);
        stack.pop();
        v
    }

    fn unknown(&self, name: &str) -> String {
        let vars: Vec<&str> = self.matrix.iter().map(|(k, _)| k.as_str()).collect();
        let mut params: Vec<&str> = match self.params {
            Value::Object(m) => m.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        params.sort();
        format!(
            "`${{{name}}}` is neither a matrix variable nor a param of this stage (matrix: [{}]; \
             params: [{}]); write `$${{{name}}}` for a literal `${{{name}}}`",
            vars.join(", "),
            params.join(", ")
        )
    }
}

/// `name` when `s` is exactly `${name}`.
fn exact(s: &str) -> Option<&str> {
    s.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .filter(|n| !n.contains(['{', '}', '$']))
}

/// The param at dotted path `name` (`opt.lr`, `sizes.0`).
fn param<'v>(params: &'v Value, name: &str) -> Option<&'v Value> {
    name.split('.').try_fold(params, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope<'a>(matrix: &'a [(String, Value)], params: &'a Value) -> Scope<'a> {
        Scope { matrix, params }
    }

    #[test]
    fn params_nested_typed_and_literal() {
        let params = json!({
            "cmd": "gen.py ${n} ${opt.lr} ${out} $${HOME} ${sizes.1}",
            "n": 200, "opt": {"lr": 0.1}, "out": "data-${n}.csv", "sizes": [1, 2],
            "copy": "${opt}", "count": "${n}"
        });
        let s = scope(&[], &params);
        let v = s.value(&params).expect("substitutes");
        assert_eq!(v["cmd"], json!("gen.py 200 0.1 data-200.csv ${HOME} 2"));
        assert_eq!(v["copy"], json!({"lr": 0.1}));
        assert_eq!(v["count"], json!(200));
    }

    #[test]
    fn matrix_variables_win_over_params_of_the_same_name() {
        let matrix = vec![("model".to_string(), json!("vgg"))];
        let params = json!({"model": "${model}", "cmd": "train ${model}"});
        let v = scope(&matrix, &params).value(&params).expect("substitutes");
        assert_eq!(v, json!({"model": "vgg", "cmd": "train vgg"}));
    }

    #[test]
    fn unknown_circular_and_unclosed_are_errors_naming_the_text() {
        let params = json!({"cmd": "x ${y}", "a": "${b}", "b": "-${a}"});
        let s = scope(&[], &params);
        let (path, e) = s.value(&json!({"cmd": "x ${y}"})).expect_err("unknown");
        assert_eq!((path.as_str(), e.token.as_str()), ("cmd", "${y}"));
        assert!(e.message.contains("params: [a, b, cmd]"), "{}", e.message);
        let e = s.string("${a}").expect_err("circle");
        assert!(e.message.contains("a → b → a"), "{}", e.message);
        let e = s.string("oops ${n").expect_err("unclosed");
        assert!(e.message.contains("unclosed"), "{}", e.message);
        let e = s
            .string("${cmd} and more ${nope.x}")
            .expect_err("unknown nested");
        assert_eq!(e.token, "${y}");
    }
}
