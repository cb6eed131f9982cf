//! Names that become one file or folder name: stage names (matrix expansions included) name
//! their ref (`refs/stages/<stage>`), their failure log and the input folder of every stage
//! that reads them (`work/<key>/in/<stage>`); pin names name `refs/pins/<name>`. A name that
//! is `..` or holds a `/` would put those files outside the folder meant for them, so every
//! such name passes [`check_name`] before it is used: the pipeline checks stage names after
//! matrix substitution, and the store checks again where it builds the path.

/// Longest name in bytes: a file name may have 255, and a log adds `.<short key>.log`.
pub const MAX_NAME_BYTES: usize = 200;

/// `Err` says what is wrong with `name` as a single path component, e.g. "is `..`".
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!(
            "is `{name}`, which names a folder, not an entry in it"
        ));
    }
    if let Some(c) = name.chars().find(|&c| c == '/' || c.is_control()) {
        return Err(format!("contains {c:?}"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "is {} bytes long (at most {MAX_NAME_BYTES})",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_components() {
        for ok in ["train", "train@a-1", "a.b", "...", "x y", "é"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "x/../../tmp",
            "a\nb",
            "a\tb",
            "a\0b",
            &long,
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_name("a\nb"), Err("contains '\\n'".into()));
    }
}
