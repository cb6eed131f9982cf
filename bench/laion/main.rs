//! caption_pool `laion-parquet` at two sizes: peak RSS (VmHWM) and rows/s, each size in its own
//! process so one size's peak cannot hide the other's. `bench/laion/run.sh` drives it.
//!
//!   laion gen DIR ROWS [CAPTIONS LEMMAS]
//!                           synthetic LAION-format parquet (8 files, 64k-row groups); with
//!                           CAPTIONS and LEMMAS, each caption is a real pool caption (Zipfian
//!                           over the file's lines) and one in 8 gets a class lemma appended
//!                           (Zipfian over LEMMAS), so matching meets LAION-like hit rates
//!   laion import DIR OUT T  the importer on T threads; prints rows, seconds, peak RSS
//!   laion lemmas NOUNS INET CLASSES POOL OUT
//!                           writes OUT/lemmas.tsv (every match lemma and its class: the
//!                           exact set both sides of `select` use) and OUT/captions.txt (the
//!                           pool's captions)
//!   laion select POOL NOUNS INET CLASSES T
//!                           the selection's match pass over POOL's pool.parquet, streamed,
//!                           on T threads; prints rows/s, single-class matches, peak RSS
//!   laion build-gen DIR IMAGES CLASSES
//!                           a selection (DIR/sel) of IMAGES web URLs over CLASSES classes and
//!                           the img2dataset folder that downloaded them (DIR/download: tars of
//!                           1,000 real 320×240 JPEGs, one link in 50 dead)
//!   laion build DIR OUT T   imagenot_build's pixel pass on it (short side 64, JPEG, T threads);
//!                           prints images/s and peak RSS
//!   laion embed MODEL CAPTIONS N T BATCH
//!                           (with `--features torch`) the selection's encoder on the first N
//!                           captions, T threads, CPU f32; prints captions/s (model loading
//!                           excluded), to set beside bench/laion/peer_embed.py
//!   laion match NOUNS INET CLASSES POOL ROWS
//!                           the lemma matcher (`Matcher`, aho-corasick) vs word n-grams in a
//!                           hash map on the same ROWS captions (the pool's, cycled), one
//!                           thread; both must find the same classes

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use repro::data::dataset::{encode_jpeg, Pixels, Storage};
use repro::data::imagefolder::ImportSize;
use repro::data::imagenet::read_wnids;
use repro::data::imagenot::{classes_from_wnids, normalize, ClassDef, Matcher};
use repro::data::imagenot_output::{write_imagenot, OutputOptions};
use repro::data::imagenot_select::{Picked, StreamSelection};
use repro::data::imagenot_selection::{read_selection, write_selection, SelectionReport};
use repro::data::parallel::map_in_order;
use repro::data::pool::read_pool;
use repro::data::pool::PoolRecord;
use repro::data::pool::PoolWriter;
use repro::data::pool_laion::{import_laion, LaionColumns, LaionImport};
use repro::data::pool_table::for_each_pool_batch;
use repro::data::wordnet::WordNet;
use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const WORDS: &[&str] = &[
    "photo", "of", "a", "the", "red", "vintage", "dog", "cat", "beach", "sunset", "stock", "image",
    "wooden", "chair", "with", "and", "in", "for", "sale", "new", "old", "lamp", "flower",
    "garden", "city", "street", "car", "bicycle", "mountain", "lake", "bird", "tree",
];

/// A uniform draw in [0, 1) from `i` and a salt (SplitMix64).
fn unit(i: u64, salt: u64) -> f64 {
    let mut h = (i ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Rank k of n drawn with probability ∝ 1/(k+1) (Zipf, s = 1), by inverting the harmonic
/// cumulative approximately: k = n^u − 1.
fn zipf(n: usize, u: f64) -> usize {
    (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
}

/// Real pool captions, and one in 8 with a class lemma appended.
struct Realistic {
    captions: Vec<String>,
    lemmas: Vec<String>,
}

impl Realistic {
    fn load(captions: &Path, lemmas: &Path) -> Realistic {
        let read = |p: &Path| std::fs::read_to_string(p).expect("read");
        Realistic {
            captions: read(captions).lines().map(str::to_string).collect(),
            lemmas: read(lemmas)
                .lines()
                .skip(1)
                .filter_map(|l| l.split('\t').next().map(str::to_string))
                .collect(),
        }
    }

    fn caption(&self, i: u64) -> String {
        let base = &self.captions[zipf(self.captions.len(), unit(i, 1))];
        if unit(i, 2) < 0.125 {
            format!(
                "{base} {}",
                self.lemmas[zipf(self.lemmas.len(), unit(i, 3))]
            )
        } else {
            base.clone()
        }
    }
}

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

fn gen(dir: PathBuf, rows: u64, real: Option<&Realistic>) {
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
                    Arc::new(StringArray::from_iter_values(
                        ids.clone()
                            .map(|i| real.map_or_else(|| caption(i), |r| r.caption(i))),
                    )),
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

fn classes(a: &[String]) -> Vec<ClassDef> {
    let wn = WordNet::load_tsv(Path::new(&a[0])).expect("nouns.tsv");
    let inet: BTreeSet<String> = read_wnids(Path::new(&a[1]))
        .expect("inet")
        .into_iter()
        .collect();
    let wnids = read_wnids(Path::new(&a[2])).expect("classes");
    classes_from_wnids(&wn, &wnids, &inet).0
}

fn write_lemmas(a: &[String]) {
    let classes = classes(&a[1..4]);
    let out = PathBuf::from(&a[5]);
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut tsv = String::from("lemma\tclass\n");
    for (i, c) in classes.iter().enumerate() {
        for l in &c.match_lemmas {
            tsv.push_str(&format!("{l}\t{i}\n"));
        }
    }
    std::fs::write(out.join("lemmas.tsv"), tsv).expect("lemmas");
    let captions: Vec<String> = read_pool(Path::new(&a[4]))
        .expect("pool")
        .into_iter()
        .map(|r| r.caption.replace(['\n', '\r'], " "))
        .collect();
    std::fs::write(out.join("captions.txt"), captions.join("\n")).expect("captions");
}

/// The match pass of `imagenot_select` (the part that meets every LAION row): pool.parquet a
/// batch at a time, each batch's captions matched on `threads` threads.
fn select_pass(a: &[String]) {
    let classes = classes(&a[2..5]);
    let threads: usize = a[5].parse().expect("threads");
    let m = Matcher::new(&classes).expect("matcher");
    let t = std::time::Instant::now();
    let (mut rows, mut single, mut multi) = (0usize, 0usize, 0usize);
    for_each_pool_batch(Path::new(&a[1]), |batch| {
        rows += batch.len();
        let found = map_in_order(&batch, threads, |r| Ok(m.classes_in(&r.caption).len()));
        for n in found.into_iter().flatten() {
            single += usize::from(n == 1);
            multi += usize::from(n > 1);
        }
        Ok(())
    })
    .expect("pool");
    let s = t.elapsed().as_secs_f64();
    println!(
        "rows {rows} single_class {single} multi_class {multi} threads {threads} secs {s:.2} rows_per_s {:.0} peak_rss_mb {:.1}",
        rows as f64 / s,
        peak_rss_mb()
    );
}

fn build_gen(a: &[String]) {
    let dir = PathBuf::from(&a[1]);
    let (images, n_classes): (usize, usize) = (
        a[2].parse().expect("images"),
        a[3].parse().expect("classes"),
    );
    let classes: Vec<ClassDef> = (0..n_classes)
        .map(|c| ClassDef {
            wnid: format!("n{:08}", 1_000_000 + c),
            lemma: format!("class {c}"),
            match_lemmas: vec![format!("class {c}")],
            definition: String::new(),
            other_senses: Vec::new(),
        })
        .collect();
    let url = |i: usize| format!("https://img.example.com/{i}.jpg");
    let mut kept = vec![Vec::new(); n_classes];
    for i in 0..images {
        kept[i % n_classes].push(Picked {
            class: i % n_classes,
            similarity: 0.9 - (i / n_classes) as f32 * 1e-6,
            row: PoolRecord {
                key: format!("{i:09}"),
                caption: format!("a photo of class {}", i % n_classes),
                width: 320,
                height: 240,
                source: "laion".into(),
                license: "?".into(),
                url: url(i),
            },
        });
    }
    let sel = StreamSelection {
        kept,
        matched: vec![images / n_classes; n_classes],
        passed: vec![images / n_classes; n_classes],
        other_sense: vec![0; n_classes],
        rows: images,
        scored: images,
        ..Default::default()
    };
    let report = SelectionReport {
        cut: 0.5,
        per_class: images,
        min_per_class: 1,
        oversample: 1.0,
        sense_check: false,
        device: "bench".into(),
    };
    let sel_dir = dir.join("sel");
    std::fs::create_dir_all(&sel_dir).expect("mkdir");
    write_selection(&sel_dir, &classes, &sel, &report).expect("selection");
    let download = dir.join("download");
    std::fs::create_dir_all(&download).expect("mkdir");
    for (shard, ids) in (0..images).collect::<Vec<_>>().chunks(1000).enumerate() {
        let mut tar = tar::Builder::new(std::io::BufWriter::new(
            std::fs::File::create(download.join(format!("{shard:05}.tar"))).expect("tar"),
        ));
        let (mut urls, mut keys, mut status) = (Vec::new(), Vec::new(), Vec::new());
        for &i in ids {
            urls.push(url(i));
            keys.push(format!("{i:09}"));
            if i % 50 == 7 {
                status.push("failed_to_download".to_string());
                continue;
            }
            status.push("success".to_string());
            let px = Pixels {
                height: 240,
                width: 320,
                channels: 3,
                data: (0..240 * 320 * 3)
                    .map(|v: usize| ((v / 3 % 320) * (i % 7 + 1) + v / 960) as u8)
                    .collect(),
            };
            let jpeg = encode_jpeg(&px, 90).expect("jpeg");
            let mut h = tar::Header::new_gnu();
            h.set_size(jpeg.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("{i:09}.jpg"), jpeg.as_slice())
                .expect("append");
        }
        tar.into_inner().expect("tar").flush().expect("flush");
        let batch = RecordBatch::try_from_iter([
            ("url", Arc::new(StringArray::from(urls)) as ArrayRef),
            ("key", Arc::new(StringArray::from(keys)) as ArrayRef),
            ("status", Arc::new(StringArray::from(status)) as ArrayRef),
        ])
        .expect("batch");
        let f = std::fs::File::create(download.join(format!("{shard:05}.parquet"))).expect("pq");
        let mut w = ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
    }
}

fn build(a: &[String]) {
    let dir = PathBuf::from(&a[1]);
    let out = PathBuf::from(&a[2]);
    let threads: usize = a[3].parse().expect("threads");
    let (summary, rows) = read_selection(&dir.join("sel")).expect("selection");
    let opt = OutputOptions {
        name: "bench".into(),
        size: ImportSize::ShortSide {
            short_side: 64,
            channels: 3,
            storage: Storage::Jpeg { quality: 95 },
        },
        per_class: rows.len(),
        min_per_class: 1,
        val_fraction: 0.2,
        seed: 0,
        max_bad: 0,
        threads,
    };
    let t = std::time::Instant::now();
    let meta = write_imagenot(
        &out,
        None,
        Some(&dir.join("download")),
        &summary,
        &rows,
        &opt,
    )
    .expect("build");
    let s = t.elapsed().as_secs_f64();
    let n: usize = meta.splits.values().map(|m| m.n).sum();
    println!(
        "selected {} images {n} threads {threads} secs {s:.2} images_per_s {:.0} peak_rss_mb {:.1}",
        rows.len(),
        n as f64 / s,
        peak_rss_mb()
    );
}

#[cfg(feature = "torch")]
fn embed(a: &[String]) {
    let n: usize = a[3].parse().expect("n");
    let threads: i32 = a[4].parse().expect("threads");
    let batch: usize = a[5].parse().expect("batch");
    let captions: Vec<String> = std::fs::read_to_string(&a[2])
        .expect("captions")
        .lines()
        .take(n)
        .map(str::to_string)
        .collect();
    tch::set_num_threads(threads);
    let enc =
        repro::encoder::SentenceEncoder::load(Path::new(&a[1]), tch::Device::Cpu).expect("model");
    let t = std::time::Instant::now();
    let v = enc.encode(&captions, batch).expect("encode");
    let s = t.elapsed().as_secs_f64();
    println!(
        "captions {} dims {} threads {threads} batch {batch} secs {s:.2} captions_per_s {:.1}",
        v.len(),
        v.first().map_or(0, Vec::len),
        v.len() as f64 / s
    );
}

#[cfg(not(feature = "torch"))]
fn embed(_: &[String]) {
    eprintln!("laion embed needs the bench built with --features torch");
    std::process::exit(2);
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
        Some("gen") => {
            let real = (a.len() >= 5).then(|| Realistic::load(Path::new(&a[3]), Path::new(&a[4])));
            gen(PathBuf::from(&a[1]), a[2].parse().expect("rows"), real.as_ref())
        }
        Some("lemmas") => write_lemmas(&a),
        Some("select") => select_pass(&a),
        Some("build-gen") => build_gen(&a),
        Some("build") => build(&a),
        Some("embed") => embed(&a),
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
        _ => eprintln!("usage: laion gen DIR ROWS [CAPTIONS LEMMAS] | laion import DIR OUT [THREADS] [nodedup] | laion lemmas NOUNS INET CLASSES POOL OUT | laion select POOL NOUNS INET CLASSES THREADS | laion build-gen DIR IMAGES CLASSES | laion build DIR OUT THREADS | laion embed MODEL CAPTIONS N THREADS BATCH | laion match NOUNS INET CLASSES POOL ROWS"),
    }
}
