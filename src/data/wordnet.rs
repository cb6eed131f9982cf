//! WordNet 3.0 noun synsets, parsed from the database file `data.noun` (Debian `wordnet-base`).
//!
//! A data line is `offset lex_filenum ss_type w_cnt (word lex_id)… p_cnt (ptr)… | gloss`
//! (see wndb(5)): `w_cnt` is two hex digits, `p_cnt` three decimal digits, each pointer is
//! `symbol offset pos source/target`. A noun's wnid is `n` + its 8-digit offset, the id that
//! ImageNet, timm and the ImageNot class list use. Hypernyms are the `@` (class) and `@i`
//! (instance) pointers. Header lines start with two spaces.
//!
//! The table is also written and read as `nouns.tsv` (wnid, lemmas joined by `|`, hypernyms
//! joined by `,`, gloss) so that stages downstream of the `wordnet` stage need no WordNet install.

use super::error::{require, DataError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Where Debian's `wordnet-base` installs the noun database.
pub const DATA_NOUN: &str = "/usr/share/wordnet/data.noun";

#[derive(Debug, Clone, PartialEq)]
pub struct Synset {
    /// `n` + 8-digit offset.
    pub wnid: String,
    /// Lemmas in WordNet order, underscores turned into spaces (`domestic dog`).
    pub lemmas: Vec<String>,
    /// wnids of the `@` and `@i` pointers.
    pub hypernyms: Vec<String>,
    /// Definition and examples, as in the file.
    pub gloss: String,
}

impl Synset {
    /// The definition without the quoted usage examples that follow it.
    pub fn definition(&self) -> &str {
        let g = self.gloss.as_str();
        let cut = g
            .find("; \"")
            .or_else(|| if g.starts_with('"') { Some(0) } else { None });
        match cut {
            Some(i) => g[..i].trim(),
            None => g.trim(),
        }
    }
}

/// All noun synsets by wnid.
#[derive(Debug, Clone, Default)]
pub struct WordNet {
    pub synsets: BTreeMap<String, Synset>,
}

/// Parse one `data.noun` line; `None` for header lines.
pub fn parse_line(line: &str) -> Result<Option<Synset>, String> {
    if line.starts_with("  ") || line.trim().is_empty() {
        return Ok(None);
    }
    let (fields, gloss) = match line.split_once(" | ") {
        Some((f, g)) => (f, g.trim_end()),
        None => (line.trim_end().trim_end_matches(" |"), ""),
    };
    let mut it = fields.split_ascii_whitespace();
    let mut next = |what: &str| it.next().ok_or_else(|| format!("line ends before {what}"));
    let offset = next("offset")?;
    if offset.len() != 8 || !offset.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad synset offset `{offset}`"));
    }
    next("lex_filenum")?;
    let ss_type = next("ss_type")?;
    if ss_type != "n" {
        return Err(format!("synset {offset} has type `{ss_type}`, not a noun"));
    }
    let w_cnt = usize::from_str_radix(next("w_cnt")?, 16).map_err(|e| format!("bad w_cnt: {e}"))?;
    let mut lemmas = Vec::with_capacity(w_cnt);
    for _ in 0..w_cnt {
        lemmas.push(next("word")?.replace('_', " "));
        next("lex_id")?;
    }
    let p_cnt: usize = next("p_cnt")?
        .parse()
        .map_err(|e| format!("bad p_cnt: {e}"))?;
    let mut hypernyms = Vec::new();
    for _ in 0..p_cnt {
        let symbol = next("pointer symbol")?;
        let target = next("pointer offset")?;
        let pos = next("pointer pos")?;
        next("pointer source/target")?;
        if (symbol == "@" || symbol == "@i") && pos == "n" {
            hypernyms.push(format!("n{target}"));
        }
    }
    Ok(Some(Synset {
        wnid: format!("n{offset}"),
        lemmas,
        hypernyms,
        gloss: gloss.to_string(),
    }))
}

impl WordNet {
    /// Parse `data.noun` (normally [`DATA_NOUN`]).
    pub fn load_data_noun(path: &Path) -> Result<WordNet, DataError> {
        require(
            path,
            "install Debian `wordnet-base`: run `scripts/setup-data.sh`",
        )?;
        let text = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        // data.noun is Latin-1 in a few glosses; decode lossily rather than refuse.
        let text = String::from_utf8_lossy(&text);
        let mut synsets = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some(s)) => {
                    synsets.insert(s.wnid.clone(), s);
                }
                Ok(None) => {}
                Err(m) => return Err(DataError::format(path, format!("line {}: {m}", i + 1))),
            }
        }
        if synsets.is_empty() {
            return Err(DataError::format(path, "no noun synsets found"));
        }
        Ok(WordNet { synsets })
    }

    pub fn get(&self, wnid: &str) -> Option<&Synset> {
        self.synsets.get(wnid)
    }

    /// Every ancestor of `wnid` through hypernym pointers (not including itself).
    pub fn ancestors(&self, wnid: &str) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack: Vec<String> = self
            .get(wnid)
            .map(|s| s.hypernyms.clone())
            .unwrap_or_default();
        while let Some(w) = stack.pop() {
            if seen.insert(w.clone()) {
                if let Some(s) = self.get(&w) {
                    stack.extend(s.hypernyms.iter().cloned());
                }
            }
        }
        seen.into_iter().collect()
    }

    /// The table as `nouns.tsv` text.
    pub fn to_tsv(&self) -> String {
        let mut out = String::from("wnid\tlemmas\thypernyms\tgloss\n");
        for s in self.synsets.values() {
            let gloss = s.gloss.replace(['\t', '\n'], " ");
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{gloss}",
                s.wnid,
                s.lemmas.join("|"),
                s.hypernyms.join(",")
            );
        }
        out
    }

    /// Read a table written by [`WordNet::to_tsv`].
    pub fn load_tsv(path: &Path) -> Result<WordNet, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let mut synsets = BTreeMap::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let cols: Vec<&str> = line.splitn(4, '\t').collect();
            if cols.len() != 4 {
                return Err(DataError::format(
                    path,
                    format!("line {}: expected 4 tab-separated columns", i + 1),
                ));
            }
            let split = |s: &str, sep: char| -> Vec<String> {
                s.split(sep)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            let s = Synset {
                wnid: cols[0].to_string(),
                lemmas: split(cols[1], '|'),
                hypernyms: split(cols[2], ','),
                gloss: cols[3].to_string(),
            };
            synsets.insert(s.wnid.clone(), s);
        }
        Ok(WordNet { synsets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOG: &str = "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 003 @ 02083346 n 0000 @i 01317541 n 0000 ~ 01322604 n 0000 | a member of the genus Canis; \"the dog barked all night\"  ";

    #[test]
    fn parses_lemmas_hypernyms_and_gloss() {
        let s = parse_line(DOG).expect("parse").expect("synset");
        assert_eq!(s.wnid, "n02084071");
        assert_eq!(s.lemmas, vec!["dog", "domestic dog", "Canis familiaris"]);
        assert_eq!(s.hypernyms, vec!["n02083346", "n01317541"]);
        assert_eq!(s.definition(), "a member of the genus Canis");
        assert!(parse_line("  1 This software and database")
            .expect("header")
            .is_none());
        assert!(parse_line("0208 05 n 01 dog 0 000 | x").is_err());
    }

    #[test]
    fn tsv_roundtrip() {
        let s = parse_line(DOG).expect("parse").expect("synset");
        let wn = WordNet {
            synsets: [(s.wnid.clone(), s.clone())].into_iter().collect(),
        };
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("nouns.tsv");
        std::fs::write(&p, wn.to_tsv()).expect("write");
        assert_eq!(WordNet::load_tsv(&p).expect("load").synsets[&s.wnid], s);
    }
}
