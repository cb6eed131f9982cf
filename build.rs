//! Embeds the git blob id of every source file, and each stage kind's source closure, into
//! the binary.
//!
//! A stage kind's code fingerprint must describe the code that was *compiled*, not whatever the
//! working tree holds when `repro` later runs (that may be another repository entirely). The blob
//! id is the one `git hash-object` gives, so it equals the committed blob when the file is clean,
//! and provenance can compare it with HEAD's tree.
//!
//! A kind's closure is what its file `src/stage/<kind>.rs` reaches through the import graph
//! (`src/engine/imports.rs`, compiled here and unit-tested in the crate): no hand-written list
//! can miss a file the kind uses.

use sha1::{Digest, Sha1};
use std::{env, fs, path::Path};

#[path = "src/engine/imports.rs"]
mod imports;

fn visit(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            visit(&path, root, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            out.push((rel.to_string_lossy().replace('\\', "/"), blob_id(&path)));
        }
    }
}

/// `git hash-object`: sha1 over "blob <len>\0<content>".
fn blob_id(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(&bytes);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// (kind, closure with blob ids) for every `src/stage/<kind>.rs`.
fn kind_closures(root: &Path) -> Vec<(String, Vec<(String, String)>)> {
    let tree =
        imports::ModuleTree::load("src/lib.rs", &mut |p| fs::read_to_string(root.join(p)).ok())
            .unwrap_or_else(|e| panic!("import graph: {e}"));
    let mut kinds: Vec<String> = fs::read_dir(root.join("src/stage"))
        .expect("read src/stage")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
        .filter(|n| n != "mod")
        .collect();
    kinds.sort();
    kinds
        .into_iter()
        .map(|kind| {
            let file = format!("src/stage/{kind}.rs");
            let files = tree
                .closure(&file)
                .unwrap_or_else(|e| panic!("closure of {file}: {e}"));
            let with_blobs = files
                .into_iter()
                .map(|f| {
                    if !f.starts_with("src/") {
                        // An embedded file outside src/ (include_str!).
                        println!("cargo:rerun-if-changed={f}");
                    }
                    let blob = blob_id(&root.join(&f));
                    (f, blob)
                })
                .collect();
            (kind, with_blobs)
        })
        .collect()
}

fn main() {
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    let mut files = Vec::new();
    visit(&root.join("src"), root, &mut files);
    let mut table = String::from("/// (repo-relative path, git blob id) of every file under src/.\npub const SOURCE_BLOBS: &[(&str, &str)] = &[\n");
    for (path, blob) in &files {
        table.push_str(&format!("    ({path:?}, {blob:?}),\n"));
    }
    table.push_str("];\n\n/// kind → (path, git blob id) of each file its `src/stage/<kind>.rs` reaches, sorted.\npub const KIND_CLOSURES: &[(&str, &[(&str, &str)])] = &[\n");
    for (kind, closure) in kind_closures(root) {
        table.push_str(&format!("    ({kind:?}, &[\n"));
        for (path, blob) in closure {
            table.push_str(&format!("        ({path:?}, {blob:?}),\n"));
        }
        table.push_str("    ]),\n");
    }
    table.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("source_blobs.rs");
    fs::write(out, table).expect("write source_blobs.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
    link_libtorch();
}

/// With feature `torch`: make the binary find libtorch and register CUDA with no environment.
///
/// torch-sys (`links = "tch"`) exports its lib folder as `DEP_TCH_LIBTORCH_LIB`. Without an rpath
/// the binary finds libtorch only through `LD_LIBRARY_PATH`; and since nothing references
/// `libtorch.so` directly, `--as-needed` drops it, and with it `libtorch_cuda.so`, whose static
/// initialisers register the CUDA backend (tch-rs issues 980, 907). So keep `-ltorch` linked when
/// the folder has the CUDA library.
fn link_libtorch() {
    if env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=feature `torch` is on but torch-sys exported no DEP_TCH_LIBTORCH_LIB; the binary gets no rpath (set LD_LIBRARY_PATH to run it)");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath={lib}");
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
