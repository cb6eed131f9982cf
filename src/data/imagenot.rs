//! The ImageNot builder: classes from WordNet, images from a caption pool, no human labels.
//!
//! The procedure of docs/design.md §1 (after LAIONet, Shirali & Hardt 2023):
//! 1. match captions against class lemmas: punctuation becomes space, caption and lemma are
//!    padded with one space each side (so "ai" does not match "paid"); only lemmas unique
//!    across the class set are used; captions matching more than one class are dropped;
//! 2. embed each remaining caption and its class text `"<lemma> which is <definition>"` with
//!    a sentence encoder and keep pairs whose cosine similarity reaches the cut; with the
//!    sense check, also drop a caption closer to another WordNet sense of the class's lemmas
//!    (same template) than to the class itself: the cut alone passes a bare "Pen" for the
//!    female swan;
//! 3. keep up to `per_class` pairs per class, most similar first; drop classes left with fewer
//!    than `min_per_class`; render or decode only those images; split train/val with a seed.
//!
//! This file holds the classes and the matcher; steps 2–3 stream in `imagenot_select.rs`
//! (text) and `imagenot_output.rs` (pixels). The encoder is a trait object so that no data
//! file needs tch: the stage passes the tch sentence encoder, tests may pass any embedder.

use super::imagenet;
use super::wordnet::{Synset, WordNet};
use std::collections::{BTreeSet, HashMap};

/// Embeds texts as unit vectors.
pub trait TextEmbedder {
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, String>;
}

/// Lowercase, every non-alphanumeric character a space, words joined by single spaces.
pub fn normalize(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One candidate class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassDef {
    pub wnid: String,
    /// The lemma naming the class (its first lemma that is unique in the class set).
    pub lemma: String,
    /// Normalized lemmas used for matching (unique across the class set).
    pub match_lemmas: Vec<String>,
    pub definition: String,
    /// The texts of every other WordNet noun sense of the match lemmas ("pen" the writing
    /// implement and the enclosure, for "pen" the female swan), in the class text's template:
    /// a caption closer to one of them than to the class text is about another sense.
    pub other_senses: Vec<String>,
}

/// The template captions are compared with: `"<lemma> which is <definition>"`.
pub fn sense_text(lemma: &str, definition: &str) -> String {
    format!("{lemma} which is {definition}")
}

impl ClassDef {
    /// The text captions are compared with.
    pub fn class_text(&self) -> String {
        sense_text(&self.lemma, &self.definition)
    }
}

/// Every noun synset by normalized lemma, with the lemma as that synset writes it.
fn senses_by_lemma(wn: &WordNet) -> HashMap<String, Vec<(&Synset, &str)>> {
    let mut index: HashMap<String, Vec<(&Synset, &str)>> = HashMap::new();
    for s in wn.synsets.values() {
        for l in &s.lemmas {
            index.entry(normalize(l)).or_default().push((s, l.as_str()));
        }
    }
    index
}

/// Classes for `wnids`, with lemmas unique across them. Wnids that are ImageNet-1k classes or
/// unknown to WordNet are returned separately, never used.
pub fn classes_from_wnids(
    wn: &WordNet,
    wnids: &[String],
    imagenet1k: &BTreeSet<String>,
) -> (Vec<ClassDef>, Vec<String>) {
    let mut rejected = Vec::new();
    let synsets: Vec<_> = wnids
        .iter()
        .filter_map(|w| match wn.get(w) {
            Some(s) if !imagenet1k.contains(w) => Some(s),
            _ => {
                rejected.push(w.clone());
                None
            }
        })
        .collect();
    let mut owners: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for s in &synsets {
        for l in &s.lemmas {
            owners.entry(normalize(l)).or_default().insert(&s.wnid);
        }
    }
    let senses = senses_by_lemma(wn);
    let mut out = Vec::new();
    for s in synsets {
        let unique: Vec<&String> = s
            .lemmas
            .iter()
            // A lemma of digits only ("16", "XVI" is fine) would match icon sizes, not things.
            .filter(|l| {
                owners[&normalize(l)].len() == 1 && normalize(l).chars().any(char::is_alphabetic)
            })
            .collect();
        let Some(first) = unique.first() else {
            rejected.push(s.wnid.clone());
            continue;
        };
        let mut match_lemmas: Vec<String> = unique.iter().map(|l| normalize(l)).collect();
        match_lemmas.dedup();
        let mut other_senses: Vec<String> = Vec::new();
        for (other, lemma) in match_lemmas
            .iter()
            .flat_map(|l| senses.get(l).into_iter().flatten())
        {
            let text = sense_text(lemma, other.definition());
            if other.wnid != s.wnid && !other_senses.contains(&text) {
                other_senses.push(text);
            }
        }
        out.push(ClassDef {
            wnid: s.wnid.clone(),
            lemma: first.replace('_', " "),
            match_lemmas,
            definition: s.definition().to_string(),
            other_senses,
        });
    }
    (out, rejected)
}

/// Finds class lemmas in captions: one Aho–Corasick automaton (the `aho-corasick` crate) over
/// the normalized lemmas, run on the normalized caption, overlapping matches kept where they
/// sit on word boundaries ("hot dog" finds both "hot dog" and "dog"). Measured against a
/// word-n-gram hash lookup on 1 M pool captions and 1,000 classes: 1.8× faster on the matching
/// itself, same matches (bench/laion/README.md).
pub struct Matcher {
    ac: aho_corasick::AhoCorasick,
    class_of: Vec<usize>,
}

impl Matcher {
    pub fn new(classes: &[ClassDef]) -> Result<Matcher, String> {
        let (mut patterns, mut class_of) = (Vec::new(), Vec::new());
        for (i, c) in classes.iter().enumerate() {
            for l in c.match_lemmas.iter().filter(|l| !l.is_empty()) {
                patterns.push(l.as_str());
                class_of.push(i);
            }
        }
        let ac = aho_corasick::AhoCorasick::new(&patterns)
            .map_err(|e| format!("class lemmas: cannot build the matcher: {e}"))?;
        Ok(Matcher { ac, class_of })
    }

    /// Classes whose lemmas occur in `caption` as whole words (padded-substring semantics).
    pub fn classes_in(&self, caption: &str) -> BTreeSet<usize> {
        let norm = normalize(caption);
        let b = norm.as_bytes();
        self.ac
            .find_overlapping_iter(&norm)
            .filter(|m| {
                (m.start() == 0 || b[m.start() - 1] == b' ')
                    && (m.end() == b.len() || b[m.end()] == b' ')
            })
            .map(|m| self.class_of[m.pattern().as_usize()])
            .collect()
    }
}

/// WordNet's `physical_entity`: ImageNet's classes, and so the selection rule's, are things.
pub const PHYSICAL_ENTITY: &str = "n00001930";

/// A selection rule over WordNet nouns: every physical-entity noun that is not an ImageNet-1k class, ranked
/// by how many pool captions match it alone, keeping those with at least `min_matches`.
/// Lemma uniqueness is over all candidates, so polysemous words (seven senses of "dog") are
/// never used: the same conservatism the paper applies within its class list. The pool
/// (`pool.parquet` in `pool_dir`) is streamed a batch at a time, matched on `threads`
/// threads; memory holds one count per candidate class.
pub fn select_classes(
    wn: &WordNet,
    imagenet1k: &BTreeSet<String>,
    pool_dir: &std::path::Path,
    min_matches: usize,
    max_classes: usize,
    threads: usize,
) -> Result<Vec<String>, String> {
    let all: Vec<String> = wn
        .synsets
        .keys()
        .filter(|w| {
            !imagenet1k.contains(*w) && wn.ancestors(w).iter().any(|a| a == PHYSICAL_ENTITY)
        })
        .cloned()
        .collect();
    let (classes, _) = classes_from_wnids(wn, &all, imagenet1k);
    let matcher = Matcher::new(&classes)?;
    let mut counts = vec![0usize; classes.len()];
    super::pool_table::for_each_pool_batch(pool_dir, |rows| {
        let found =
            super::parallel::map_in_order(&rows, threads, |r| Ok(matcher.classes_in(&r.caption)));
        for m in found.into_iter().flatten() {
            if m.len() == 1 {
                counts[*m.iter().next().expect("one")] += 1;
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let mut ranked: Vec<(usize, &str)> = counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n >= min_matches)
        .map(|(i, &n)| (n, classes[i].wnid.as_str()))
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    Ok(ranked
        .into_iter()
        .take(max_classes)
        .map(|(_, w)| w.to_string())
        .collect())
}

/// Histogram of similarities in `bins` equal bins over [lo, hi): (bin start, count).
pub fn histogram(
    values: impl Iterator<Item = f32>,
    lo: f32,
    hi: f32,
    bins: usize,
) -> Vec<(f32, usize)> {
    let width = (hi - lo) / bins as f32;
    let mut h = vec![0usize; bins];
    for v in values {
        let b = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        h[b] += 1;
    }
    h.into_iter()
        .enumerate()
        .map(|(i, n)| (lo + i as f32 * width, n))
        .collect()
}

/// ImageNet-1k wnids as a set, from any file [`imagenet::read_wnids`] reads.
pub fn wnid_set(path: &std::path::Path) -> Result<BTreeSet<String>, super::error::DataError> {
    Ok(imagenet::read_wnids(path)?.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::wordnet::parse_line;

    fn wn() -> WordNet {
        let lines = [
            "00000001 05 n 02 dog 0 domestic_dog 0 000 | a domesticated canid",
            "00000002 05 n 01 hot_dog 0 000 | a sausage in a bun",
            "00000003 05 n 01 ai 0 000 | artificial intelligence",
            "00000004 05 n 02 pup 0 dog 0 000 | a young dog",
        ];
        WordNet {
            synsets: lines
                .iter()
                .map(|l| parse_line(l).expect("p").expect("s"))
                .map(|s| (s.wnid.clone(), s))
                .collect(),
        }
    }

    #[test]
    fn unique_lemmas_word_boundaries_and_multi_class_drop() {
        let wids: Vec<String> = ["n00000001", "n00000002", "n00000003", "n00000004"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let inet: BTreeSet<String> = ["n00000003".to_string()].into_iter().collect();
        let (classes, rejected) = classes_from_wnids(&wn(), &wids, &inet);
        assert_eq!(
            rejected,
            vec!["n00000003"],
            "ImageNet-1k classes are never used"
        );
        // "dog" belongs to two classes: only "domestic dog" and "pup" remain.
        assert_eq!(classes[0].match_lemmas, vec!["domestic dog"]);
        assert_eq!(classes[0].lemma, "domestic_dog".replace('_', " "));
        let m = Matcher::new(&classes).expect("matcher");
        assert_eq!(m.classes_in("A Hot-Dog stand"), [1].into_iter().collect());
        assert!(
            m.classes_in("hotdogs and puppies").is_empty(),
            "no match inside words"
        );
        assert_eq!(m.classes_in("pup eating a hot dog").len(), 2);
        let h = histogram([0.1f32, 0.5, 0.99, 2.0].into_iter(), 0.0, 1.0, 4);
        assert_eq!(h.iter().map(|x| x.1).collect::<Vec<_>>(), vec![1, 0, 1, 2]);
    }
}
