//! ImageNot selection at any pool size: text only, two streaming passes, bounded memory.
//!
//! 1. **Match** (pass over `pool.parquet`, a batch at a time, batches split over threads):
//!    each caption against the class lemmas ([`Matcher`]); captions matching more than one
//!    class are dropped; single-class matches go to a spill file on disk and are counted.
//! 2. **Score** (pass over the spill): classes with fewer than `min_per_class` matches are
//!    skipped without embedding; the rest are embedded `chunk` captions at a time (distinct
//!    texts once per chunk), scored against `"<lemma> which is <gloss>"`, and pushed into a
//!    per-class min-heap of `ceil(per_class × oversample)` entries: the heap is all that is
//!    kept, so memory is classes × that bound, never the matches or their embeddings.
//!    With `sense_check`, a caption that passes the cut is still dropped when it is closer to
//!    another WordNet sense of the class's match lemmas ([`ClassDef::other_senses`], embedded
//!    once) than to the class text. The senses are those of all the class's match lemmas, not
//!    only the one a caption matched: the same check for every caption of a class.
//!
//! Ranking is by similarity, ties by pool key, so the result does not depend on pool order.

use super::imagenot::{histogram, ClassDef, Matcher, TextEmbedder};
use super::pool::PoolRecord;
use super::pool_table::for_each_pool_batch;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

#[derive(Debug, Clone)]
pub struct SelectOptions {
    pub cut: f32,
    pub per_class: usize,
    pub min_per_class: usize,
    /// Candidates kept per class beyond `per_class`, for links that turn out dead.
    pub oversample: f64,
    /// Captions embedded per call.
    pub chunk: usize,
    /// Drop captions closer to another sense of the class's lemmas than to the class.
    pub sense_check: bool,
    pub threads: usize,
}

impl SelectOptions {
    pub fn keep(&self) -> usize {
        ((self.per_class as f64) * self.oversample.max(1.0)).ceil() as usize
    }
}

/// A scored single-class match.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub class: usize,
    pub similarity: f32,
    pub row: PoolRecord,
}

/// Worst first: lower similarity, then the larger key.
struct Worst(Picked);
impl PartialEq for Worst {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Worst {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.similarity
            .total_cmp(&self.0.similarity)
            .then_with(|| self.0.row.key.cmp(&o.0.row.key))
    }
}

/// What matching and scoring found.
#[derive(Debug, Default)]
pub struct StreamSelection {
    /// Per class, most similar first: at most `SelectOptions::keep()` that passed the cut.
    pub kept: Vec<Vec<Picked>>,
    pub matched: Vec<usize>,
    /// Per class, captions that reached the cut (whatever the sense check then did).
    pub passed: Vec<usize>,
    /// Per class, captions that reached the cut but were closer to another sense: dropped.
    pub other_sense: Vec<usize>,
    pub rows: usize,
    pub multi_class: usize,
    pub scored: usize,
    /// (bin start, count) over [-0.2, 1.0) in 24 bins, of every scored match.
    pub histogram: Vec<(f32, usize)>,
    /// Up to 25 scored matches each side of the cut, closest first.
    pub near_above: Vec<Picked>,
    pub near_below: Vec<Picked>,
}

fn spill_line(class: usize, r: &PoolRecord) -> String {
    // Captions are whitespace-collapsed by the pool writer: no tab or newline inside.
    format!(
        "{class}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
        r.key, r.url, r.width, r.height, r.license, r.source, r.caption
    )
}

fn parse_spill(line: &str) -> Option<(usize, PoolRecord)> {
    let c: Vec<&str> = line.splitn(8, '\t').collect();
    let [class, key, url, w, h, license, source, caption] = c.as_slice() else {
        return None;
    };
    Some((
        class.parse().ok()?,
        PoolRecord {
            key: key.to_string(),
            caption: caption.to_string(),
            width: w.parse().ok()?,
            height: h.parse().ok()?,
            source: source.to_string(),
            license: license.to_string(),
            url: url.to_string(),
        },
    ))
}

/// Keep the `n` entries closest to the cut (bounded: sorts only when twice full).
fn push_near(list: &mut Vec<Picked>, p: Picked, cut: f32, n: usize) {
    list.push(p);
    if list.len() >= 2 * n {
        sort_near(list, cut);
        list.truncate(n);
    }
}

fn sort_near(list: &mut [Picked], cut: f32) {
    list.sort_by(|a, b| {
        (a.similarity - cut)
            .abs()
            .total_cmp(&(b.similarity - cut).abs())
            .then_with(|| a.row.key.cmp(&b.row.key))
    });
}

/// Run both passes. `work` holds the spill file (removed afterwards); every scored match is
/// written to `candidates` as `wnid, lemma, similarity, other_sense, key, caption` lines
/// (`other_sense`: the best similarity to another sense, empty without the sense check).
pub fn select_streaming(
    classes: &[ClassDef],
    pool_dir: &Path,
    embedder: &mut dyn TextEmbedder,
    opt: &SelectOptions,
    work: &Path,
    candidates: &mut dyn Write,
) -> Result<StreamSelection, String> {
    let matcher = Matcher::new(classes)?;
    let n = classes.len();
    let mut sel = StreamSelection {
        matched: vec![0; n],
        passed: vec![0; n],
        other_sense: vec![0; n],
        ..Default::default()
    };
    let spill_path = work.join("matches.spill.tsv");
    let io = |e: std::io::Error| format!("{}: {e}", spill_path.display());
    {
        let f = std::fs::File::create(&spill_path).map_err(io)?;
        let mut spill = BufWriter::new(f);
        for_each_pool_batch(pool_dir, |rows| {
            sel.rows += rows.len();
            let found = super::parallel::map_in_order(&rows, opt.threads, |r| {
                Ok(matcher.classes_in(&r.caption))
            });
            for (r, m) in rows.iter().zip(found) {
                let m = m.map_err(|e| super::error::DataError::format(pool_dir, e))?;
                match m.len() {
                    0 => {}
                    1 => {
                        let c = *m.iter().next().expect("one");
                        sel.matched[c] += 1;
                        spill
                            .write_all(spill_line(c, r).as_bytes())
                            .map_err(|e| super::error::DataError::io(&spill_path, e))?;
                    }
                    _ => sel.multi_class += 1,
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        spill.flush().map_err(io)?;
    }
    // Only classes that will be scored need their text embedded (on the mini pool, 71 of
    // 1,000; the 1,000 glosses are ~1/8 of the encoder's work there otherwise).
    let scored: Vec<usize> = (0..n)
        .filter(|&c| sel.matched[c] >= opt.min_per_class && sel.matched[c] > 0)
        .collect();
    let texts: Vec<String> = scored.iter().map(|&c| classes[c].class_text()).collect();
    let mut class_vecs = vec![Vec::new(); n];
    for (&c, v) in scored.iter().zip(embedder.embed(&texts)?) {
        class_vecs[c] = v;
    }
    let mut sense_vecs: Vec<Vec<Vec<f32>>> = vec![Vec::new(); n];
    if opt.sense_check {
        let texts: Vec<String> = scored
            .iter()
            .flat_map(|&c| classes[c].other_senses.iter().cloned())
            .collect();
        let vecs = if texts.is_empty() {
            Vec::new()
        } else {
            embedder.embed(&texts)?
        };
        if vecs.len() != texts.len() {
            return Err(format!(
                "embedder returned {} vectors for {} sense texts",
                vecs.len(),
                texts.len()
            ));
        }
        let mut vecs = vecs.into_iter();
        for &c in &scored {
            sense_vecs[c] = vecs.by_ref().take(classes[c].other_senses.len()).collect();
        }
    }
    let dot = |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
    let keep = opt.keep();
    let mut heaps: Vec<BinaryHeap<Worst>> = (0..n).map(|_| BinaryHeap::new()).collect();
    let mut sims: Vec<f32> = Vec::new();
    let mut hist_values = vec![0usize; 24];
    let mut flush =
        |chunk: &mut Vec<(usize, PoolRecord)>, sel: &mut StreamSelection| -> Result<(), String> {
            let mut texts: Vec<String> = Vec::new();
            let mut slot_of: HashMap<&str, usize> = HashMap::new();
            let slots: Vec<usize> = chunk
                .iter()
                .map(|(_, r)| {
                    *slot_of.entry(r.caption.as_str()).or_insert_with(|| {
                        texts.push(r.caption.clone());
                        texts.len() - 1
                    })
                })
                .collect();
            let vecs = embedder.embed(&texts)?;
            if vecs.len() != texts.len() {
                return Err(format!(
                    "embedder returned {} vectors for {} texts",
                    vecs.len(),
                    texts.len()
                ));
            }
            for ((c, r), slot) in chunk.drain(..).zip(slots) {
                let s = dot(&class_vecs[c], &vecs[slot]);
                let other = sense_vecs[c]
                    .iter()
                    .map(|v| dot(v, &vecs[slot]))
                    .max_by(f32::total_cmp);
                sims.push(s);
                sel.scored += 1;
                let _ = writeln!(
                    candidates,
                    "{}\t{}\t{s:.4}\t{}\t{}\t{}",
                    classes[c].wnid,
                    classes[c].lemma,
                    other.map(|o| format!("{o:.4}")).unwrap_or_default(),
                    r.key,
                    r.caption
                );
                if s >= opt.cut && other.is_some_and(|o| o > s) {
                    sel.passed[c] += 1;
                    sel.other_sense[c] += 1;
                    continue;
                }
                let p = Picked {
                    class: c,
                    similarity: s,
                    row: r,
                };
                if (s - opt.cut).abs() <= 0.05 {
                    let list = if s >= opt.cut {
                        &mut sel.near_above
                    } else {
                        &mut sel.near_below
                    };
                    push_near(list, p.clone(), opt.cut, 25);
                }
                if s >= opt.cut {
                    sel.passed[c] += 1;
                    heaps[c].push(Worst(p));
                    if heaps[c].len() > keep {
                        heaps[c].pop();
                    }
                }
            }
            for (i, (_, k)) in histogram(sims.drain(..), -0.2, 1.0, 24)
                .into_iter()
                .enumerate()
            {
                hist_values[i] += k;
            }
            Ok(())
        };
    let f = std::fs::File::open(&spill_path).map_err(io)?;
    let mut chunk = Vec::with_capacity(opt.chunk);
    for line in std::io::BufReader::new(f).lines() {
        let line = line.map_err(io)?;
        let (c, r) =
            parse_spill(&line).ok_or_else(|| format!("{}: bad line", spill_path.display()))?;
        if sel.matched[c] < opt.min_per_class {
            continue;
        }
        chunk.push((c, r));
        if chunk.len() >= opt.chunk.max(1) {
            flush(&mut chunk, &mut sel)?;
        }
    }
    flush(&mut chunk, &mut sel)?;
    let _ = std::fs::remove_file(&spill_path);
    sel.histogram = histogram(std::iter::empty(), -0.2, 1.0, 24)
        .into_iter()
        .zip(hist_values)
        .map(|((lo, _), k)| (lo, k))
        .collect();
    for list in [&mut sel.near_above, &mut sel.near_below] {
        sort_near(list, opt.cut);
        list.truncate(25);
    }
    sel.kept = heaps
        .into_iter()
        .map(|h| h.into_sorted_vec().into_iter().map(|w| w.0).collect())
        .collect();
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::pool_table::PoolTableWriter;

    /// One axis per keyword, plus one for the word "pen" itself, normalised: a caption that
    /// says "pen" and "ink" is as close to "pen" the swan as a real encoder finds a bare "Pen".
    struct Keywords;
    impl TextEmbedder for Keywords {
        fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
            let axes = ["pen", "swan", "ink", "enclosure"];
            Ok(texts
                .iter()
                .map(|t| {
                    let t = t.to_lowercase();
                    let v: Vec<f32> = axes
                        .iter()
                        .map(|a| if t.contains(a) { 1.0 } else { 0.0 })
                        .collect();
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                    v.into_iter().map(|x| x / norm).collect()
                })
                .collect())
        }
    }

    fn pen() -> ClassDef {
        ClassDef {
            wnid: "n01860795".into(),
            lemma: "pen".into(),
            match_lemmas: vec!["pen".into()],
            definition: "female swan".into(),
            other_senses: vec![
                "pen which is a writing implement with a point from which ink flows".into(),
                "pen which is an enclosure for confining livestock".into(),
            ],
        }
    }

    fn select(sense_check: bool) -> StreamSelection {
        let dir = tempfile::tempdir().expect("tmp");
        let mut w = PoolTableWriter::create(dir.path()).expect("pool");
        for (key, caption) in [
            ("a", "Pen and cygnets, a swan family"),
            ("b", "Pen with blue ink"),
            ("c", "Pen"),
        ] {
            w.push(PoolRecord {
                key: key.into(),
                caption: caption.into(),
                width: 1,
                height: 1,
                source: "test".into(),
                license: "CC0-1.0".into(),
                url: format!("https://example.org/{key}"),
            })
            .expect("push");
        }
        w.finish().expect("finish");
        let opt = SelectOptions {
            cut: 0.4,
            per_class: 10,
            min_per_class: 1,
            oversample: 1.0,
            chunk: 2,
            sense_check,
            threads: 1,
        };
        let mut cands = Vec::new();
        select_streaming(
            &[pen()],
            dir.path(),
            &mut Keywords,
            &opt,
            dir.path(),
            &mut cands,
        )
        .expect("select")
    }

    fn keys(sel: &StreamSelection) -> Vec<&str> {
        sel.kept[0].iter().map(|p| p.row.key.as_str()).collect()
    }

    #[test]
    fn sense_check_drops_captions_closer_to_another_sense() {
        let off = select(false);
        assert_eq!(keys(&off), ["a", "c", "b"], "all three pass the cut");
        assert_eq!(off.other_sense, [0]);
        let on = select(true);
        // "Pen with blue ink" is the writing implement; a bare "Pen" is as close to every
        // sense (a tie is not "closer"), so it stays.
        assert_eq!(keys(&on), ["a", "c"]);
        assert_eq!((on.passed[0], on.other_sense[0]), (3, 1));
    }
}
