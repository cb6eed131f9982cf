//! The crate's import graph, for code identity: which source files a stage kind's behaviour can
//! depend on. build.rs compiles this file (through `#[path]`) to compute each kind's *source
//! closure*; the crate compiles it under `cfg(test)` so the resolution rules are unit-tested. It
//! therefore uses only std, `syn` (a real Rust parser, so comments, strings and nested braces
//! can never be mistaken for paths) and `proc-macro2`, never `crate::`.
//!
//! The model: every module (a file, or an inline `mod x { }`) is a node with its declared child
//! modules, its `use` bindings and, per named item (fn, struct, trait, …, with the `impl`s of
//! its own types), the paths the item's code names. A path is resolved the way rustc does:
//! `crate::`/`super::`/`self::`, a name bound by `use`, a child module, an item of the module,
//! or a name a glob import brings; module paths walk the `mod` declarations (so `#[path]` is
//! honoured), stopping at the longest prefix that is a module. What is reached is followed
//! transitively, item by item, so reaching `crate::stats::Interval` follows the re-export in
//! `stats/mod.rs` to `stats/bootstrap.rs` without pulling in every sibling that `mod.rs`
//! declares. The closure holds every file touched, always with the module files on the path
//! (a parent's `mod.rs` declares items too), and files embedded by `include_str!`/`include_bytes!`.
//!
//! Over-inclusion only costs a rerun, so the rules lean that way: `#[cfg(feature = …)]` items
//! count (one closure whatever features a build has); a kind's own file is taken whole, with its
//! out-of-line child modules; `impl`s of foreign types and private `use`s that no path names
//! (trait imports for method calls) are followed whenever their module is. Only `#[cfg(test)]`
//! items are left out: they are not in the binary. What an import graph cannot see (a trait impl
//! in a module nothing names) is the documented limit.

use proc_macro2::{TokenStream, TokenTree};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use syn::visit::{self, Visit};

/// Why the import graph could not be built.
#[derive(Debug, PartialEq)]
pub enum ImportError {
    /// A module file rustc would compile does not parse.
    Parse { file: String, message: String },
    /// The file asked for is not a module of the crate.
    NotAModule(String),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Parse { file, message } => write!(f, "{file}: {message}"),
            ImportError::NotAModule(file) => write!(
                f,
                "{file} is not a module of the crate (no `mod` declaration reaches it)"
            ),
        }
    }
}

/// What a piece of code names: a path, or a file it embeds.
#[derive(Debug, Clone)]
enum Ref {
    Path(Vec<String>),
    File(String),
}

#[derive(Debug, Default)]
struct Node {
    file: String,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    /// Out-of-line children (`mod x;`), followed whole from a kind's own file.
    out_of_line: Vec<usize>,
    /// Named item → what its code (and its own `impl`s) names.
    items: BTreeMap<String, Vec<Ref>>,
    /// Name bound by `use` → the paths it stands for (one name may be bound in several scopes).
    uses: BTreeMap<String, Vec<Vec<String>>>,
    globs: Vec<Vec<String>>,
    /// Followed whenever the module is: foreign `impl`s, item-level macros, unnamed private uses.
    always: Vec<Ref>,
}

/// How much of a module a reference needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Sel {
    /// The module is on a path or named itself: its file, and what it always needs.
    Touch,
    Item(String),
    Whole,
}

/// The crate's module tree, parsed once; [`ModuleTree::closure`] answers per kind file.
pub struct ModuleTree {
    nodes: Vec<Node>,
}

impl ModuleTree {
    /// Parse the crate rooted at `root` (e.g. `src/lib.rs`), following `mod` declarations.
    /// `read` gives a file's text by its path (relative paths joined with `/`), `None` if absent.
    pub fn load(
        root: &str,
        read: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Result<ModuleTree, ImportError> {
        let mut tree = ModuleTree { nodes: Vec::new() };
        let text = read(root).ok_or_else(|| ImportError::NotAModule(root.to_string()))?;
        let mut pending = vec![(root.to_string(), text, None, String::new())];
        while let Some((file, text, parent, name)) = pending.pop() {
            let ast = syn::parse_file(&text).map_err(|e| ImportError::Parse {
                file: file.clone(),
                message: e.to_string(),
            })?;
            tree.add_module(&file, parent, &name, &[], &ast.items, read, &mut pending);
        }
        tree.link_out_of_line();
        Ok(tree)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_module(
        &mut self,
        file: &str,
        parent: Option<usize>,
        name: &str,
        inline_chain: &[String],
        items: &[syn::Item],
        read: &mut dyn FnMut(&str) -> Option<String>,
        pending: &mut Vec<(String, String, Option<usize>, String)>,
    ) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            file: file.to_string(),
            parent,
            ..Node::default()
        });
        if let Some(p) = parent {
            self.nodes[p].children.insert(name.to_string(), id);
        }
        let dir = parent_dir(file);
        let defined: BTreeSet<String> = items.iter().filter_map(item_name).collect();
        let mut private_uses = Vec::new();
        for item in items {
            if is_cfg_test(item_attrs(item)) {
                continue;
            }
            match item {
                syn::Item::Mod(m) => {
                    let child = m.ident.to_string();
                    if let Some((_, content)) = &m.content {
                        let mut chain = inline_chain.to_vec();
                        chain.push(child.clone());
                        self.add_module(file, Some(id), &child, &chain, content, read, pending);
                    } else if let Some(path) = module_file(file, inline_chain, &child, m, read) {
                        if let Some(text) = read(&path) {
                            // Parsed later; the child is linked to `id` by name when it is.
                            pending.push((path, text, Some(id), child));
                        }
                    }
                }
                syn::Item::Use(u) => {
                    let public = !matches!(u.vis, syn::Visibility::Inherited);
                    let mut leaves = Vec::new();
                    if u.leading_colon.is_none() {
                        use_leaves(&u.tree, &mut Vec::new(), &mut leaves);
                    }
                    for (bound, path) in leaves {
                        match bound {
                            None => self.nodes[id].globs.push(path),
                            Some(n) => {
                                if !public {
                                    private_uses.push((n.clone(), path.clone()));
                                }
                                self.nodes[id].uses.entry(n).or_default().push(path);
                            }
                        }
                    }
                }
                syn::Item::Impl(imp) => {
                    let refs = collect(&dir, |c| c.visit_item_impl(imp));
                    let owner = match &*imp.self_ty {
                        syn::Type::Path(p) => p
                            .path
                            .segments
                            .last()
                            .map(|s| s.ident.to_string())
                            .filter(|n| defined.contains(n)),
                        _ => None,
                    };
                    self.add_refs(id, owner, refs);
                }
                _ => {
                    let refs = collect(&dir, |c| c.visit_item(item));
                    self.add_refs(id, item_name(item), refs);
                }
            }
        }
        // A private `use` that no path of the module names is there for its traits' methods
        // (or is dead): follow it whenever the module is.
        let named: HashSet<String> = self.nodes[id]
            .items
            .values()
            .chain(std::iter::once(&self.nodes[id].always))
            .flatten()
            .filter_map(|r| match r {
                Ref::Path(p) => p.first().cloned(),
                Ref::File(_) => None,
            })
            .collect();
        for (n, path) in private_uses {
            if !named.contains(&n) {
                self.nodes[id].always.push(Ref::Path(path));
            }
        }
        id
    }

    fn add_refs(&mut self, id: usize, owner: Option<String>, refs: Collected) {
        let node = &mut self.nodes[id];
        for (n, p) in refs.uses {
            node.uses.entry(n).or_default().push(p);
        }
        node.globs.extend(refs.globs);
        match owner {
            Some(n) => node.items.entry(n).or_default().extend(refs.refs),
            None => node.always.extend(refs.refs),
        }
    }

    fn link_out_of_line(&mut self) {
        for id in 0..self.nodes.len() {
            if let Some(p) = self.nodes[id].parent {
                if self.nodes[p].file != self.nodes[id].file {
                    self.nodes[p].out_of_line.push(id);
                }
            }
        }
    }

    /// The repository-relative files the module in `file` can depend on, sorted.
    pub fn closure(&self, file: &str) -> Result<Vec<String>, ImportError> {
        let own: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].file == file)
            .collect();
        if own.is_empty() {
            return Err(ImportError::NotAModule(file.to_string()));
        }
        let mut walk = Walk {
            tree: self,
            seen: HashSet::new(),
            files: BTreeSet::new(),
            queue: Vec::new(),
        };
        for &i in &own {
            walk.queue.push((i, Sel::Whole));
            for &c in &walk.tree.nodes[i].out_of_line {
                walk.queue.push((c, Sel::Whole));
            }
        }
        walk.run();
        Ok(walk.files.into_iter().collect())
    }
}

struct Walk<'a> {
    tree: &'a ModuleTree,
    seen: HashSet<(usize, Sel)>,
    files: BTreeSet<String>,
    queue: Vec<(usize, Sel)>,
}

impl Walk<'_> {
    fn run(&mut self) {
        while let Some((id, sel)) = self.queue.pop() {
            if self.seen.contains(&(id, Sel::Whole)) || !self.seen.insert((id, sel.clone())) {
                continue;
            }
            let tree = self.tree;
            let node = &tree.nodes[id];
            self.files.insert(node.file.clone());
            if let Some(p) = node.parent {
                self.queue.push((p, Sel::Touch));
            }
            let mut refs: Vec<&Ref> = node.always.iter().collect();
            let mut bindings = Vec::new();
            let mut globs_for = None;
            match &sel {
                Sel::Touch => {}
                Sel::Item(n) => {
                    refs.extend(node.items.get(n).into_iter().flatten());
                    bindings.extend(node.uses.get(n).into_iter().flatten());
                    if let Some(&c) = node.children.get(n) {
                        self.queue.push((c, Sel::Touch));
                    } else if !node.items.contains_key(n) && !node.uses.contains_key(n) {
                        globs_for = Some(n.clone());
                    }
                }
                Sel::Whole => {
                    refs.extend(node.items.values().flatten());
                    bindings.extend(node.uses.values().flatten());
                    for g in &node.globs {
                        for (t, _) in tree.resolve(id, g, 0) {
                            self.queue.push((t, Sel::Whole));
                        }
                    }
                }
            }
            for r in refs {
                match r {
                    Ref::File(f) => {
                        self.files.insert(f.clone());
                    }
                    Ref::Path(p) => {
                        let targets = tree.resolve(id, p, 0);
                        self.queue.extend(targets);
                    }
                }
            }
            for b in bindings {
                let targets = tree.resolve(id, b, 0);
                self.queue.extend(targets);
            }
            if let Some(n) = globs_for {
                for g in &node.globs {
                    for (t, _) in tree.resolve(id, g, 0) {
                        self.queue.push((t, Sel::Item(n.clone())));
                    }
                }
            }
        }
    }
}

impl ModuleTree {
    fn root(&self) -> usize {
        0
    }

    /// What `path`, written in module `from`, names: (module, how much of it) pairs.
    fn resolve(&self, from: usize, path: &[String], depth: u32) -> Vec<(usize, Sel)> {
        let Some(first) = path.first() else {
            return Vec::new();
        };
        if depth > 16 {
            return Vec::new();
        }
        let node = &self.nodes[from];
        match first.as_str() {
            "crate" | "$crate" => self.walk(self.root(), &path[1..]),
            "self" => self.walk(from, &path[1..]),
            "super" => {
                let mut at = from;
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    at = self.nodes[at].parent.unwrap_or(at);
                    rest = &rest[1..];
                }
                self.walk(at, rest)
            }
            "Self" => Vec::new(),
            _ if node.children.contains_key(first) => self.walk(from, path),
            _ if node.items.contains_key(first) => vec![(from, Sel::Item(first.clone()))],
            _ if node.uses.contains_key(first) => {
                let mut out = Vec::new();
                for b in &node.uses[first] {
                    let mut full = b.clone();
                    full.extend_from_slice(&path[1..]);
                    // A binding that names itself (`use serde; serde::x`) is an extern crate.
                    if full.first() != Some(first) || b.len() > 1 {
                        out.extend(self.resolve(from, &full, depth + 1));
                    }
                }
                out
            }
            _ => {
                let mut out = Vec::new();
                for g in &node.globs {
                    for (m, _) in self.resolve(from, g, depth + 1) {
                        if m != from {
                            out.extend(self.resolve(m, path, depth + 1));
                        }
                    }
                }
                out
            }
        }
    }

    /// Walk module names from `start`; the first segment that is not a child module names an
    /// item of the module reached (the longest prefix that is a module).
    fn walk(&self, start: usize, rest: &[String]) -> Vec<(usize, Sel)> {
        let mut at = start;
        let mut out = vec![(start, Sel::Touch)];
        for seg in rest {
            match self.nodes[at].children.get(seg) {
                Some(&c) => {
                    at = c;
                    out.push((c, Sel::Touch));
                }
                None => {
                    out.push((at, Sel::Item(seg.clone())));
                    break;
                }
            }
        }
        out
    }
}

/// The file rustc reads for `mod name;` declared in `file` (inside inline modules `chain`).
fn module_file(
    file: &str,
    chain: &[String],
    name: &str,
    m: &syn::ItemMod,
    read: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<String> {
    let stem = file.rsplit('/').next().unwrap_or(file);
    let mut base = parent_dir(file);
    let owns_dir = matches!(stem, "mod.rs" | "lib.rs" | "main.rs");
    for attr in &m.attrs {
        if attr.path().is_ident("path") {
            if let syn::Meta::NameValue(nv) = &attr.meta {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &nv.value
                {
                    let mut dir = base.clone();
                    for c in chain {
                        dir = join(&dir, c);
                    }
                    return Some(normalize(&join(&dir, &s.value())));
                }
            }
        }
    }
    if !owns_dir {
        base = join(&base, stem.trim_end_matches(".rs"));
    }
    for c in chain {
        base = join(&base, c);
    }
    let flat = join(&base, &format!("{name}.rs"));
    let nested = join(&base, &format!("{name}/mod.rs"));
    [flat, nested].into_iter().find(|p| read(p).is_some())
}

fn parent_dir(file: &str) -> String {
    file.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `a/b/../c` → `a/c`.
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "." | "" => {}
            ".." if out.last().is_some_and(|p| *p != "..") => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

fn item_name(item: &syn::Item) -> Option<String> {
    use syn::Item::*;
    let ident = match item {
        Const(i) => &i.ident,
        Enum(i) => &i.ident,
        Fn(i) => &i.sig.ident,
        Static(i) => &i.ident,
        Struct(i) => &i.ident,
        Trait(i) => &i.ident,
        TraitAlias(i) => &i.ident,
        Type(i) => &i.ident,
        Union(i) => &i.ident,
        Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.to_string()).filter(|n| n != "_")
}

/// `#[cfg(test)]` exactly: code that is not in the binary.
fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && matches!(&a.meta, syn::Meta::List(l) if l.tokens.to_string() == "test")
    })
}

/// The leaves of a use tree: (bound name, full path); `None` for a glob.
fn use_leaves(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) if n.ident == "self" => {
            if let Some(last) = prefix.last() {
                out.push((Some(last.clone()), prefix.clone()));
            }
        }
        syn::UseTree::Name(n) => {
            let mut p = prefix.clone();
            p.push(n.ident.to_string());
            out.push((Some(n.ident.to_string()), p));
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix.clone();
            if r.ident != "self" {
                p.push(r.ident.to_string());
            }
            out.push((Some(r.rename.to_string()), p));
        }
        syn::UseTree::Glob(_) => out.push((None, prefix.clone())),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix, out);
            }
        }
    }
}

/// What one item's code names.
#[derive(Default)]
struct Collected {
    refs: Vec<Ref>,
    uses: Vec<(String, Vec<String>)>,
    globs: Vec<Vec<String>>,
}

fn collect(dir: &str, f: impl FnOnce(&mut Collector)) -> Collected {
    let mut c = Collector {
        dir,
        out: Collected::default(),
    };
    f(&mut c);
    c.out
}

struct Collector<'a> {
    /// Folder of the file, for `include_str!` paths.
    dir: &'a str,
    out: Collected,
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_cfg_test(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if u.leading_colon.is_some() {
            return;
        }
        let mut leaves = Vec::new();
        use_leaves(&u.tree, &mut Vec::new(), &mut leaves);
        for (bound, path) in leaves {
            match bound {
                None => self.out.globs.push(path),
                Some(n) => {
                    self.out.refs.push(Ref::Path(path.clone()));
                    self.out.uses.push((n, path));
                }
            }
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() {
            let segs = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.out.refs.push(Ref::Path(segs));
        }
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        let embeds = m.path.is_ident("include_str") || m.path.is_ident("include_bytes");
        if embeds {
            if let Ok(lit) = syn::parse2::<syn::LitStr>(m.tokens.clone()) {
                let file = normalize(&join(self.dir, &lit.value()));
                self.out.refs.push(Ref::File(file));
                return;
            }
        }
        scan_tokens(m.tokens.clone(), &mut self.out.refs, false);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        // `#[serde(default = "default_lr")]` names a function in a string.
        if let syn::Meta::List(l) = &a.meta {
            scan_tokens(l.tokens.clone(), &mut self.out.refs, true);
        }
    }
}

/// Paths inside macro tokens (`format!("{}", crate::x::f())`), which syn leaves unparsed:
/// every run of `ident (:: ident)*`. With `strings`, string literals shaped like a path count.
fn scan_tokens(tokens: TokenStream, out: &mut Vec<Ref>, strings: bool) {
    let toks: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            TokenTree::Group(g) => scan_tokens(g.stream(), out, strings),
            TokenTree::Literal(l) if strings => {
                if let Ok(s) = syn::parse_str::<syn::LitStr>(&l.to_string()) {
                    if let Ok(p) = syn::parse_str::<syn::Path>(&s.value()) {
                        if p.leading_colon.is_none() {
                            out.push(Ref::Path(
                                p.segments.iter().map(|s| s.ident.to_string()).collect(),
                            ));
                        }
                    }
                }
            }
            TokenTree::Ident(id) if !strings => {
                let dollar =
                    i > 0 && matches!(&toks[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                let mut segs = vec![if dollar {
                    format!("${id}")
                } else {
                    id.to_string()
                }];
                while i + 3 < toks.len() && is_colon2(&toks, i + 1) {
                    match &toks[i + 3] {
                        TokenTree::Ident(next) => {
                            segs.push(next.to_string());
                            i += 3;
                        }
                        _ => break,
                    }
                }
                out.push(Ref::Path(segs));
            }
            _ => {}
        }
        i += 1;
    }
}

fn is_colon2(toks: &[TokenTree], i: usize) -> bool {
    matches!((&toks[i], &toks[i + 1]),
        (TokenTree::Punct(a), TokenTree::Punct(b)) if a.as_char() == ':' && b.as_char() == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closure of `file` in a crate given as (path, text) pairs.
    fn closure(files: &[(&str, &str)], file: &str) -> Vec<String> {
        let map: BTreeMap<String, String> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        let tree = ModuleTree::load("src/lib.rs", &mut |p| map.get(p).cloned()).expect("parses");
        tree.closure(file).expect("a module")
    }

    const LIB: &str = "pub mod stage; pub mod stats; pub mod data; pub mod ml;";
    const STAGE: &str = "pub mod a; pub mod b; pub use ctx::Ctx; mod ctx;
        pub fn registry() -> Vec<u8> { vec![a::A, b::B] }";

    fn crate_with(a: &str) -> Vec<(&'static str, String)> {
        vec![
            ("src/lib.rs", LIB.into()),
            ("src/stage/mod.rs", STAGE.into()),
            ("src/stage/ctx.rs", "pub struct Ctx;".into()),
            ("src/stage/a.rs", a.into()),
            ("src/stage/b.rs", "use crate::ml::train; pub const B: u8 = 2;".into()),
            ("src/stats/mod.rs", "pub mod boot; pub mod perm; pub mod corr; pub use boot::Interval; pub use perm::tau;".into()),
            ("src/stats/boot.rs", "pub struct Interval; impl Interval { pub fn new() -> Self { super::helper(); Interval } }".into()),
            ("src/stats/perm.rs", "pub fn tau() {}".into()),
            ("src/stats/corr.rs", "pub fn r() { crate::data::error::fail() }".into()),
            ("src/data/mod.rs", "pub mod error; pub mod pool; pub mod deep;".into()),
            ("src/data/error.rs", "pub fn fail() {}".into()),
            ("src/data/pool.rs", "pub fn pool() {}".into()),
            ("src/data/deep/mod.rs", "pub mod inner;".into()),
            ("src/data/deep/inner.rs", "pub fn f() {}".into()),
            ("src/ml/mod.rs", "pub mod train; pub mod finetune;".into()),
            ("src/ml/train.rs", "pub fn fit() {}".into()),
            ("src/ml/finetune.rs", "pub fn tune() {}".into()),
        ]
    }

    fn of(a: &str) -> Vec<String> {
        let files = crate_with(a);
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        closure(&refs, "src/stage/a.rs")
    }

    fn has(c: &[String], f: &str) -> bool {
        c.iter().any(|p| p == f)
    }

    #[test]
    fn parents_are_included_and_siblings_declared_by_them_are_not() {
        let c = of("use super::Ctx; pub const A: u8 = 1;");
        assert_eq!(
            c,
            [
                "src/lib.rs",
                "src/stage/a.rs",
                "src/stage/ctx.rs",
                "src/stage/mod.rs"
            ]
        );
    }

    #[test]
    fn groups_nested_braces_and_renames() {
        let c =
            of("use crate::{stats::{boot::{self as b}, perm::tau as t}, data::{deep::inner::*}};");
        for f in [
            "src/stats/boot.rs",
            "src/stats/perm.rs",
            "src/data/deep/inner.rs",
            "src/data/deep/mod.rs",
            "src/stats/mod.rs",
            "src/data/mod.rs",
        ] {
            assert!(has(&c, f), "{f} in {c:?}");
        }
        assert!(!has(&c, "src/data/pool.rs"));
    }

    #[test]
    fn re_exports_are_followed_item_by_item_and_super_transitively() {
        // `Interval` is re-exported by stats/mod.rs from boot.rs, whose impl calls super::helper.
        let stats = "pub mod boot; pub mod perm; pub use boot::Interval; pub use perm::tau;
            pub fn helper() { crate::data::error::fail() }";
        let mut files = crate_with("fn run() { let _ = crate::stats::Interval::new(); }");
        files[5].1 = stats.into();
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let c = closure(&refs, "src/stage/a.rs");
        assert!(has(&c, "src/stats/boot.rs"));
        assert!(has(&c, "src/data/error.rs"), "through super::helper: {c:?}");
        assert!(!has(&c, "src/stats/perm.rs"), "tau is not used: {c:?}");
    }

    #[test]
    fn comments_and_strings_name_nothing_but_macros_do() {
        let c = of(r#"// use crate::ml::finetune;
            /* crate::data::pool::pool() */
            pub fn f() -> &'static str { "crate::stats::perm::tau" }"#);
        assert!(!has(&c, "src/ml/finetune.rs") && !has(&c, "src/data/pool.rs"));
        assert!(!has(&c, "src/stats/perm.rs"));
        let c = of(r#"pub fn f() { println!("{}", crate::data::pool::pool()); }"#);
        assert!(has(&c, "src/data/pool.rs"));
    }

    #[test]
    fn feature_gated_items_count_and_test_items_do_not() {
        let c = of(r#"#[cfg(feature = "torch")] use crate::ml::finetune::tune;
            #[cfg(test)] mod tests { use crate::data::pool::pool; }
            #[cfg(test)] fn helper() { crate::stats::perm::tau() }"#);
        assert!(has(&c, "src/ml/finetune.rs"));
        assert!(!has(&c, "src/data/pool.rs") && !has(&c, "src/stats/perm.rs"));
    }

    #[test]
    fn bound_names_local_items_and_transitive_kinds() {
        // `train` is bound by `use`; B's file reaches ml/train.rs only through b.rs's own use.
        let c = of(
            "use crate::ml::train; fn go() { train::fit(); helper() } fn helper() { super::b::B; }",
        );
        assert!(has(&c, "src/ml/train.rs") && has(&c, "src/stage/b.rs"));
        assert!(!has(&c, "src/ml/finetune.rs"));
        // The registry in stage/mod.rs names every kind, but only its callers need them.
        assert!(!has(&of("pub const A: u8 = 1;"), "src/stage/b.rs"));
    }

    #[test]
    fn trait_imports_and_embedded_files() {
        let c = of(
            r#"use crate::stats::perm::tau as _; pub const T: &str = include_str!("../../data/t.txt");"#,
        );
        assert!(has(&c, "src/stats/perm.rs"));
        assert!(has(&c, "data/t.txt"));
    }

    #[test]
    fn path_attributes_and_unknown_files() {
        let files = [
            ("src/lib.rs", "#[path = \"other/x.rs\"] pub mod stage;"),
            ("src/other/x.rs", "pub fn f() {}"),
        ];
        assert_eq!(
            closure(&files, "src/other/x.rs"),
            ["src/lib.rs", "src/other/x.rs"]
        );
        let map: BTreeMap<&str, &str> = files.into_iter().collect();
        let tree = ModuleTree::load("src/lib.rs", &mut |p| map.get(p).map(|s| s.to_string()))
            .expect("parses");
        assert_eq!(
            tree.closure("src/nowhere.rs"),
            Err(ImportError::NotAModule("src/nowhere.rs".into()))
        );
        let bad = ModuleTree::load("src/lib.rs", &mut |_| Some("fn (".into()));
        assert!(matches!(bad, Err(ImportError::Parse { .. })));
    }
}
