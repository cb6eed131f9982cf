//! The mini caption pool imports from the packages `scripts/setup-data.sh` installs.

use repro::data::imagenet::{load_imagenet1k, TIMM_INFO_DIR};
use repro::data::imagenot::{classes_from_wnids, select_classes, Matcher};
use repro::data::imageops::Shape;
use repro::data::pool::{fetch_payloads, read_pool};
use repro::data::pool_mini::{
    import_mini_pool, is_permissive, MiniPoolSources, ICONIFY_DIR, OPENCLIPART_DIR, PERMISSIVE,
    TUXPAINT_DIR,
};
use repro::data::render::payload_pixels;
use repro::data::wordnet::{WordNet, DATA_NOUN};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn mini_pool_imports_all_three_sources_with_licenses_and_pixels() {
    let out = tempfile::tempdir().expect("tmp");
    let src = MiniPoolSources {
        tuxpaint: Some(PathBuf::from(TUXPAINT_DIR)),
        openclipart: Some(PathBuf::from(OPENCLIPART_DIR)),
        iconify: Some(repo().join(ICONIFY_DIR)),
        licenses: PERMISSIVE.iter().map(|s| s.to_string()).collect(),
        max_bad: 500,
    };
    let t = std::time::Instant::now();
    let (counts, skipped) = import_mini_pool(&src, out.path()).expect("import");
    eprintln!(
        "pool import: {counts:?}, skipped {skipped}, {:.1}s",
        t.elapsed().as_secs_f64()
    );
    assert!(counts["tuxpaint"] > 800, "{counts:?}");
    assert!(counts["openclipart"] > 7000, "{counts:?}");
    assert!(counts["iconify"] > 100_000, "{counts:?}");
    let rows = read_pool(out.path()).expect("read");
    assert_eq!(rows.len(), counts.values().sum::<usize>());
    assert!(rows
        .iter()
        .all(|r| is_permissive(&r.license) || r.source.starts_with("tuxpaint")));
    assert!(rows.iter().all(|r| !r.caption.is_empty()));
    assert!(
        !rows.iter().any(|r| r.source.contains("Logos")),
        "logo sets are skipped"
    );
    // Text decides, pixels come after: fetch and render a spread of pairs from every source.
    let sample: Vec<&str> = rows
        .iter()
        .step_by(rows.len() / 60)
        .map(|r| r.url.as_str())
        .collect();
    let payloads = fetch_payloads(out.path(), &sample).expect("fetch");
    let mut ok = 0;
    for p in payloads.into_iter().flatten() {
        if payload_pixels(&p.ext, &p.bytes, Shape::new(32, 32, 3)).is_ok() {
            ok += 1;
        }
    }
    assert!(
        ok * 10 >= sample.len() * 9,
        "{ok}/{} rendered",
        sample.len()
    );
    assert!(Path::new(&out.path().join("shards/pool-00000.tar")).exists());

    // The selection rule over WordNet nouns: never an ImageNet-1k class, enough matches each.
    let wn = WordNet::load_data_noun(Path::new(DATA_NOUN)).expect("wordnet");
    let inet: BTreeSet<String> = load_imagenet1k(&repo().join(TIMM_INFO_DIR))
        .expect("timm")
        .into_iter()
        .map(|c| c.wnid)
        .collect();
    let t = std::time::Instant::now();
    let chosen = select_classes(&wn, &inet, out.path(), 60, 40, 2).expect("select");
    eprintln!(
        "selection rule: {} classes in {:.1}s: {chosen:?}",
        chosen.len(),
        t.elapsed().as_secs_f64()
    );
    assert!(chosen.len() >= 20, "{chosen:?}");
    assert!(chosen
        .iter()
        .all(|w| !inet.contains(w) && wn.get(w).is_some()));
    let (classes, _) = classes_from_wnids(&wn, &chosen, &inet);
    let m = Matcher::new(&classes).expect("matcher");
    let mut counts = vec![0usize; classes.len()];
    for r in &rows {
        let found = m.classes_in(&r.caption);
        if found.len() == 1 {
            counts[*found.iter().next().expect("one")] += 1;
        }
    }
    assert!(counts.iter().all(|&n| n >= 60), "{counts:?}");
}
