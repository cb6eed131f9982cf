//! The progress channel: a running stage appends lines to the file named by `REPRO_PROGRESS`,
//! and `repro run` shows the last complete one as the stage's progress. A line is either JSON,
//! `{"done": 3, "total": 10, "msg": "epoch 3"}`, or plain text, `3/10 epoch 3`. Anything else
//! is ignored, so a stage can never break the planner by what it writes there.

/// One progress report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressLine {
    pub done: u64,
    pub total: u64,
    pub message: String,
}

/// Parse one line of the channel; `None` for a line in neither form.
pub fn parse_line(line: &str) -> Option<ProgressLine> {
    let line = line.trim();
    if line.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let message = v
            .get("msg")
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or("");
        return Some(ProgressLine {
            done: n("done"),
            total: n("total"),
            message: message.to_string(),
        });
    }
    let (count, message) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let (done, total) = count.split_once('/')?;
    Some(ProgressLine {
        done: done.parse().ok()?,
        total: total.parse().ok()?,
        message: message.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_and_noise_is_ignored() {
        let want = ProgressLine {
            done: 3,
            total: 10,
            message: "epoch 3".into(),
        };
        assert_eq!(
            parse_line(r#"{"done": 3, "total": 10, "msg": "epoch 3"}"#),
            Some(want.clone())
        );
        assert_eq!(parse_line("3/10 epoch 3\n"), Some(want));
        assert_eq!(parse_line("7/9").map(|p| (p.done, p.total)), Some((7, 9)));
        for noise in ["", "hello world", "{not json", "a/b c", "3/"] {
            assert_eq!(parse_line(noise), None, "{noise:?}");
        }
    }
}
