//! A seeded fuzz of what reads untrusted text: the pipeline parser (mutations of a valid
//! pipeline: bytes flipped, lines dropped or doubled, fragments spliced in) and the tree
//! manifest decoder (mutations of a real manifest). Neither may panic; every refusal names the
//! pipeline file. Bounded: a fixed number of cases, a few seconds.

use rand::{Rng, SeedableRng};
use repro::engine::Kinds;
use repro::pipeline::Pipeline;
use repro::store::Store;
use std::path::Path;

const VALID: &str = r#"stages:
  data:
    kind: cmd
    params: {cmd: "echo ${n} > $REPRO_OUT/x", n: 3}
    deps: [a.txt]
  train:
    kind: cmd
    matrix: {m: [a, b], s: [1, 2]}
    inputs: [data]
    params: {cmd: "cat $REPRO_IN/data/x > $REPRO_OUT/y; echo ${m} ${s}"}
    resources: {cpus: 2, memory: 1G, time: 1h}
  sum:
    kind: cmd
    inputs: [train]
    params: {cmd: "cat $REPRO_IN/*/y > $REPRO_OUT/all"}
"#;

const FRAGMENTS: &[&str] = &[
    "&a [*a, *a]",
    "*a",
    "{",
    "}",
    "[",
    "]",
    ": :",
    "\t",
    "\n  - ",
    "!!binary AAAA",
    "~",
    "..",
    "\"\\u0000\"",
    "99999999999999999999999999999999",
    ".nan",
    "${",
    "$${x}",
    "@",
    "/",
    "\u{202e}",
    "matrix: {m: []}",
    "inputs: [sum]",
    "kind: nope",
    "stages: []",
    "---\n",
    "<<: *a",
];

fn mutate(rng: &mut impl Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..rng.gen_range(1..4) {
        let i = rng.gen_range(0..lines.len().max(1));
        match rng.gen_range(0..5) {
            0 if !lines.is_empty() => {
                lines.remove(i);
            }
            1 if !lines.is_empty() => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 if !lines.is_empty() => {
                let line = &mut lines[i];
                let at = rng.gen_range(0..=line.len());
                let at = (0..=at)
                    .rev()
                    .find(|&k| line.is_char_boundary(k))
                    .unwrap_or(0);
                line.insert_str(at, FRAGMENTS[rng.gen_range(0..FRAGMENTS.len())]);
            }
            3 if !lines.is_empty() => {
                let mut bytes = lines[i].clone().into_bytes();
                if !bytes.is_empty() {
                    let k = rng.gen_range(0..bytes.len());
                    bytes[k] = rng.gen_range(0x20..0x7f);
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => lines.insert(
                i.min(lines.len()),
                FRAGMENTS[rng.gen_range(0..FRAGMENTS.len())].to_string(),
            ),
        }
    }
    lines.join("\n")
}

#[test]
fn the_pipeline_parser_never_panics_and_names_the_file() {
    let kinds = Kinds::registered();
    let file = Path::new("fuzz/pipeline.yaml");
    assert!(
        Pipeline::from_text(file, VALID, &kinds).is_ok(),
        "the seed pipeline is valid"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (mut refused, mut accepted) = (0, 0);
    for case in 0..3000 {
        let text = mutate(&mut rng, VALID);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Pipeline::from_text(file, &text, &kinds)
        }));
        match result {
            Err(_) => panic!("case {case} panicked on:\n{text}"),
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => {
                refused += 1;
                let msg = e.to_string();
                assert!(
                    msg.contains("pipeline.yaml"),
                    "case {case}: `{msg}` does not name the file:\n{text}"
                );
            }
        }
    }
    assert!(
        refused > 1000 && accepted > 10,
        "refused {refused}, accepted {accepted}"
    );
}

#[test]
fn tree_manifests_that_are_not_trees_are_refused_never_panicked_on() {
    let t = tempfile::tempdir().expect("tmp");
    let store = Store::open(&t.path().join("store")).expect("store");
    let out = t.path().join("out");
    std::fs::create_dir_all(out.join("sub")).expect("mkdir");
    std::fs::write(out.join("a"), "x").expect("write");
    std::fs::write(out.join("sub/b"), "y").expect("write");
    let (d, _) = store.put_tree(&out).expect("tree");
    let manifest = String::from_utf8(store.read(&d).expect("read")).expect("utf-8");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut refused = 0;
    for case in 0..2000 {
        let mut bytes = manifest.clone().into_bytes();
        for _ in 0..rng.gen_range(1..4) {
            let k = rng.gen_range(0..bytes.len());
            bytes[k] = rng.gen();
        }
        if case % 3 == 0 {
            // Paths that try to leave the folder.
            bytes = String::from_utf8_lossy(&bytes)
                .replace("\"sub/b\"", "\"../../etc/x\"")
                .into_bytes();
        }
        let digest = store.put_bytes(&bytes).expect("put");
        let dest = t.path().join(format!("dest{case}"));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.materialize(&digest, &dest, false)
        })) {
            Err(_) => panic!("case {case} panicked"),
            Ok(Ok(tree)) => {
                for e in &tree.entries {
                    assert!(!e.path.contains(".."), "case {case}: wrote {}", e.path);
                }
            }
            Ok(Err(_)) => refused += 1,
        }
        assert!(
            !t.path().join("etc").exists(),
            "case {case} wrote outside its folder"
        );
    }
    assert!(refused > 500, "refused {refused}");
}
