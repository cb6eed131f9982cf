//! caption_pool `laion-parquet` at two sizes: peak RSS (VmHWM) and rows/s, each size in its own
//! process so one size's peak cannot hide the other's. `bench/laion/run.sh` drives it.
//!
//!   laion gen DIR ROWS      synthetic LAION-format parquet (8 files, 64k-row groups)
//!   laion import DIR OUT T  the importer on T threads; prints rows, seconds, peak RSS
//!   laion match NOUNS INET CLASSES POOL ROWS
//!                           the lemma matcher (`Matcher`, aho-corasick) vs word n-grams in a
//!                           hash map on the same ROWS captions (the pool's, cycled), one
//!                           thread; both must find the same classes

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use repro::data::imagenet::read_wnids;
use repro::data::imagenot::{classes_from_wnids, normalize, ClassDef, Matcher};
use repro::data::pool::read_pool;
use repro::data::pool::PoolWriter;
use repro::data::pool_laion::{import_laion, LaionColumns, LaionImport};
use repro::data::wordnet::WordNet;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const WORDS: &[&str] = &[
    "photo", "of", "a", "the", "red", "vintage", "dog", "cat", "beach", "sunset", "stock", "image",
    "wooden", "chair", "with", "and", "in", "for", "sale", "new", "old", "lamp", "flower",
    "garden", "city", "street", "car", "bicycle", "mountain", "lake", "bird", "tree",
];

fn caption(i: u64) -> String {
    // Zipf-ish: low word ids far more often (x^3 of a uniform hash).
    let mut h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let n = 4 + (h % 9) as usize;
    (0..n)
        .map(|_| {
            h ^= h >> 29;
            h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let u = (h >> 11) as f64 / (1u64 << 53) as f64;
            WORDS[((u * u * u) * WORDS.len() as f64) as usize % WORDS.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn gen(dir: PathBuf, rows: u64) {
    std::fs::create_dir_all(&dir).expect("mkdir");
    let files = 8;
    let per = rows / files;
    for f in 0..files {
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(65536))
            .build();
        let path = dir.join(format!("part-{f:05}.parquet"));
        let mut w: Option<ArrowWriter<std::fs::File>> = None;
        let mut start = f * per;
        while start < (f + 1) * per {
            let end = (start + 65536).min((f + 1) * per);
            let ids = start..end;
            let cols: Vec<(&str, ArrayRef)> = vec![
                (
                    "URL",
                    Arc::new(StringArray::from_iter_values(ids.clone().map(|i| {
                        format!("https://img.example.com/{}/{i}.jpg", i % 1000)
                    }))),
                ),
                (
                    "TEXT",
                    Arc::new(StringArray::from_iter_values(ids.clone().map(caption))),
                ),
                (
                    "WIDTH",
                    Arc::new(Int64Array::from_iter_values(
                        ids.clone().map(|i| 200 + (i % 800) as i64),
                    )),
                ),
                (
                    "HEIGHT",
                    Arc::new(Int64Array::from_iter_values(
                        ids.clone().map(|i| 200 + (i % 600) as i64),
                    )),
                ),
                (
                    "similarity",
                    Arc::new(Float64Array::from_iter_values(
                        ids.clone().map(|i| 0.28 + (i % 10) as f64 / 100.0),
                    )),
                ),
                (
                    "punsafe",
                    Arc::new(Float64Array::from_iter_values(ids.clone().map(|i| {
                        if i % 37 == 0 {
                            0.8
                        } else {
                            0.01
                        }
                    }))),
                ),
            ];
            let batch = RecordBatch::try_from_iter(cols).expect("batch");
            let w = w.get_or_insert_with(|| {
                ArrowWriter::try_new(
                    std::fs::File::create(&path).expect("create"),
                    batch.schema(),
                    Some(props.clone()),
                )
                .expect("writer")
            });
            w.write(&batch).expect("write");
            start = end;
        }
        if let Some(w) = w {
            w.close().expect("close");
        }
    }
}

/// The alternative measured against `Matcher` (and the matcher before it): every word n-gram
/// of the normalized caption, up to the longest lemma's length, looked up in a hash map.
struct NgramMatcher {
    lemmas: HashMap<String, usize>,
    max_words: usize,
}

impl NgramMatcher {
    fn new(classes: &[ClassDef]) -> NgramMatcher {
        let mut lemmas = HashMap::new();
        let mut max_words = 1;
        for (i, c) in classes.iter().enumerate() {
            for l in &c.match_lemmas {
                max_words = max_words.max(l.split(' ').count());
                lemmas.insert(l.clone(), i);
            }
        }
        NgramMatcher { lemmas, max_words }
    }

    fn classes_in(&self, caption: &str) -> BTreeSet<usize> {
        let norm = normalize(caption);
        let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        let mut found = BTreeSet::new();
        let mut gram = String::new();
        for start in 0..words.len() {
            gram.clear();
            for (n, w) in words[start..].iter().take(self.max_words).enumerate() {
                if n > 0 {
                    gram.push(' ');
                }
                gram.push_str(w);
                if let Some(&c) = self.lemmas.get(gram.as_str()) {
                    found.insert(c);
                }
            }
        }
        found
    }
}

fn bench_match(a: &[String]) {
    let wn = WordNet::load_tsv(Path::new(&a[1])).expect("nouns.tsv");
    let inet: BTreeSet<String> = read_wnids(Path::new(&a[2]))
        .expect("inet")
        .into_iter()
        .collect();
    let wnids = read_wnids(Path::new(&a[3])).expect("classes");
    let (classes, _) = classes_from_wnids(&wn, &wnids, &inet);
    let pool: Vec<String> = read_pool(Path::new(&a[4]))
        .expect("pool")
        .into_iter()
        .map(|r| r.caption)
        .collect();
    let rows: usize = a[5].parse().expect("rows");
    let captions: Vec<&str> = pool.iter().cycle().take(rows).map(String::as_str).collect();
    let lemmas: usize = classes.iter().map(|c| c.match_lemmas.len()).sum();
    let time = |name: &str, f: &dyn Fn(&str) -> BTreeSet<usize>| {
        let t = std::time::Instant::now();
        let (mut hits, mut single) = (0usize, 0usize);
        for c in &captions {
            let m = f(c);
            hits += m.len();
            single += usize::from(m.len() == 1);
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{name}: {} captions, {} classes ({lemmas} lemmas), {hits} matches, {single} single-class, {s:.2} s, {:.0} captions/s",
            captions.len(),
            classes.len(),
            captions.len() as f64 / s
        );
        (hits, single)
    };
    let m = Matcher::new(&classes).expect("matcher");
    let ngram = NgramMatcher::new(&classes);
    let ours = time("Matcher (aho-corasick)", &|c| m.classes_in(c));
    let theirs = time("word n-grams", &|c| ngram.classes_in(c));
    time("normalize alone", &|c| {
        std::hint::black_box(normalize(c));
        BTreeSet::new()
    });
    assert_eq!(ours, theirs, "the two matchers disagree");
}

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let a: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match a.first().map(String::as_str) {
        Some("gen") => gen(PathBuf::from(&a[1]), a[2].parse().expect("rows")),
        Some("import") => {
            let out = PathBuf::from(&a[2]);
            std::fs::create_dir_all(&out).expect("mkdir");
            let opt = LaionImport {
                dir: PathBuf::from(&a[1]),
                columns: LaionColumns::default(),
                max_punsafe: 0.1,
                dedup: a.get(4).is_none_or(|d| d != "nodedup"),
                threads: a.get(3).map_or(2, |t| t.parse().expect("threads")),
            };
            let t = std::time::Instant::now();
            let mut pool = PoolWriter::create(&out).expect("pool");
            let c = import_laion(&opt, &mut pool, &mut |_| {}).expect("import");
            pool.finish().expect("finish");
            let s = t.elapsed().as_secs_f64();
            println!(
                "rows {} kept {} dedup {} secs {s:.2} rows_per_s {:.0} peak_rss_mb {:.1}",
                c.rows,
                c.kept,
                opt.dedup,
                c.rows as f64 / s,
                peak_rss_mb()
            );
        }
        Some("match") => bench_match(&a),
        _ => eprintln!("usage: laion gen DIR ROWS | laion import DIR OUT [THREADS] [nodedup] | laion match NOUNS INET CLASSES POOL ROWS"),
    }
}
