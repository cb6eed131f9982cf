//! The validated DAG: every input names a stage, every kind exists, params resolve, no cycles.
//! Stages are kept in a topological order so planning is one forward pass.

use super::spec::{self, Parsed, Stage};
use super::PipelineError;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What the pipeline needs to know about stage kinds, without depending on them.
pub trait KindCatalog {
    fn names(&self) -> Vec<&'static str>;
    /// Validate params and fill defaults; `None` when the kind is unknown.
    fn resolve(&self, kind: &str, params: &Value) -> Option<Result<Value, String>>;
}

pub struct Pipeline {
    pub file: PathBuf,
    /// The directory holding pipeline.yaml: stages run there and `deps` are relative to it.
    pub root: PathBuf,
    /// Stages in topological order (inputs before the stages that read them).
    pub stages: Vec<Stage>,
    /// For each stage, the indices of its input stages.
    pub inputs: Vec<Vec<usize>>,
    by_name: HashMap<String, usize>,
}

impl Pipeline {
    pub fn load(file: &Path, kinds: &dyn KindCatalog) -> Result<Pipeline, PipelineError> {
        let text = std::fs::read_to_string(file).map_err(|e| PipelineError {
            file: file.to_path_buf(),
            line: None,
            col: None,
            message: format!("cannot read the pipeline file: {e} (pass another with -f PATH)"),
        })?;
        Self::from_text(file, &text, kinds)
    }

    pub fn from_text(
        file: &Path,
        text: &str,
        kinds: &dyn KindCatalog,
    ) -> Result<Pipeline, PipelineError> {
        let mut parsed = spec::parse(file, text)?;
        resolve_kinds(&mut parsed, kinds)?;
        let stages = std::mem::take(&mut parsed.stages);
        let mut by_name = HashMap::new();
        for (i, s) in stages.iter().enumerate() {
            if by_name.insert(s.name.clone(), i).is_some() {
                return Err(
                    parsed.error_at(&s.yaml_path, format!("two stages are named `{}`", s.name))
                );
            }
        }
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in stages.iter().enumerate() {
            if s.base != s.name {
                groups.entry(s.base.as_str()).or_default().push(i);
            }
        }
        let mut inputs = Vec::with_capacity(stages.len());
        for s in &stages {
            let mut ins = Vec::new();
            for (k, input) in s.inputs.iter().enumerate() {
                if let Some(&j) = by_name.get(input) {
                    ins.push(j);
                } else if let Some(members) = groups.get(input.as_str()) {
                    ins.extend(members);
                } else {
                    let mut known: Vec<&str> = stages.iter().map(|s| s.base.as_str()).collect();
                    known.dedup();
                    return Err(parsed.error_at_value(
                        &format!("{}.inputs.{k}", s.yaml_path),
                        format!(
                            "stage `{}` has input `{input}`, which is not a stage (stages: {})",
                            s.name,
                            known.join(", ")
                        ),
                    ));
                }
            }
            inputs.push(ins);
        }
        let order = topological_order(&stages, &inputs).map_err(|cycle| {
            let first = &stages[cycle[0]];
            let names: Vec<&str> = cycle
                .iter()
                .chain(std::iter::once(&cycle[0]))
                .map(|&i| stages[i].name.as_str())
                .collect();
            parsed.error_at(
                &format!("{}.inputs", first.yaml_path),
                format!("the stages form a cycle: {}", names.join(" → ")),
            )
        })?;
        // Reorder everything topologically.
        let mut new_pos = vec![0; stages.len()];
        for (pos, &old) in order.iter().enumerate() {
            new_pos[old] = pos;
        }
        let mut slots: Vec<Option<Stage>> = stages.into_iter().map(Some).collect();
        let stages: Vec<Stage> = order
            .iter()
            .map(|&old| slots[old].take().expect("each stage once"))
            .collect();
        let inputs: Vec<Vec<usize>> = order
            .iter()
            .map(|&old| inputs[old].iter().map(|&j| new_pos[j]).collect())
            .collect();
        let by_name = stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let root = file
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let root = root.canonicalize().unwrap_or(root);
        Ok(Pipeline {
            file: file.to_path_buf(),
            root,
            stages,
            inputs,
            by_name,
        })
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Indices of `targets` (stage names or matrix base names) and everything they depend on,
    /// in topological order; all stages when `targets` is empty.
    pub fn select(&self, targets: &[String]) -> Result<Vec<usize>, String> {
        if targets.is_empty() {
            return Ok((0..self.stages.len()).collect());
        }
        let mut wanted = HashSet::new();
        let mut stack = Vec::new();
        for t in targets {
            let hits: Vec<usize> = match self.index(t) {
                Some(i) => vec![i],
                None => (0..self.stages.len())
                    .filter(|&i| self.stages[i].base == *t)
                    .collect(),
            };
            if hits.is_empty() {
                return Err(format!(
                    "`{t}` is not a stage of {} (see `repro dag`)",
                    self.file.display()
                ));
            }
            stack.extend(hits);
        }
        while let Some(i) = stack.pop() {
            if wanted.insert(i) {
                stack.extend(&self.inputs[i]);
            }
        }
        let mut out: Vec<usize> = wanted.into_iter().collect();
        out.sort();
        Ok(out)
    }

    /// Stages that (transitively) read stage `i`.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut hit = vec![false; self.stages.len()];
        hit[i] = true;
        for j in i + 1..self.stages.len() {
            if self.inputs[j].iter().any(|&k| hit[k]) {
                hit[j] = true;
                out.push(j);
            }
        }
        out
    }

    /// Edges as (from, to) names, for `repro dag`.
    pub fn edges(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        for (j, ins) in self.inputs.iter().enumerate() {
            for &i in ins {
                out.push((self.stages[i].name.as_str(), self.stages[j].name.as_str()));
            }
        }
        out
    }
}

fn resolve_kinds(parsed: &mut Parsed, kinds: &dyn KindCatalog) -> Result<(), PipelineError> {
    for k in 0..parsed.stages.len() {
        let s = &parsed.stages[k];
        match kinds.resolve(&s.kind, &s.params) {
            None => {
                let msg = format!(
                    "stage `{}` has unknown kind `{}` (known kinds: {})",
                    s.name,
                    s.kind,
                    kinds.names().join(", ")
                );
                return Err(parsed.error_at(&format!("{}.kind", s.yaml_path), msg));
            }
            Some(Err(e)) => {
                let msg = format!("stage `{}` (kind {}): {e}", s.name, s.kind);
                return Err(parsed.error_at(&format!("{}.params", s.yaml_path), msg));
            }
            Some(Ok(p)) => parsed.stages[k].params = p,
        }
    }
    Ok(())
}

/// A topological order, or the stages of one cycle in order.
fn topological_order(stages: &[Stage], inputs: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..stages.len()).map(|i| g.add_node(i)).collect();
    for (j, ins) in inputs.iter().enumerate() {
        for &i in ins {
            g.add_edge(nodes[i], nodes[j], ());
        }
    }
    // Kahn's algorithm, always taking the ready stage written first: listings follow the file
    // and the executor starts upstream work (the long dataset builds) in the order written.
    let mut indegree: Vec<usize> = inputs.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<usize>> = (0..stages.len())
        .filter(|&i| indegree[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(stages.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for j in g.neighbors(nodes[i]).map(|n| g[n]) {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    if order.len() == stages.len() {
        return Ok(order);
    }
    // Find a strongly connected component with a cycle and walk it to name the cycle.
    for scc in tarjan_scc(&g) {
        let set: HashSet<NodeIndex> = scc.iter().copied().collect();
        let start = scc[0];
        if scc.len() == 1 && !g.contains_edge(start, start) {
            continue;
        }
        let mut path = vec![start];
        let mut seen = HashSet::from([start]);
        let mut cur = start;
        loop {
            let next = g
                .neighbors(cur)
                .find(|n| set.contains(n))
                .expect("a node in a cyclic SCC has a successor in it");
            if next == start || seen.contains(&next) {
                let from = path.iter().position(|&n| n == next).unwrap_or(0);
                return Err(path[from..].iter().map(|&n| g[n]).collect());
            }
            seen.insert(next);
            path.push(next);
            cur = next;
        }
    }
    Err(vec![0])
}

#[cfg(test)]
mod tests {
    use super::*;

    struct OnlyCmd;
    impl KindCatalog for OnlyCmd {
        fn names(&self) -> Vec<&'static str> {
            vec!["cmd"]
        }
        fn resolve(&self, kind: &str, params: &Value) -> Option<Result<Value, String>> {
            (kind == "cmd").then(|| Ok(params.clone()))
        }
    }

    fn load(text: &str) -> Result<Pipeline, PipelineError> {
        Pipeline::from_text(Path::new("p.yaml"), text, &OnlyCmd)
    }

    #[test]
    fn orders_topologically_and_expands_groups() {
        let p = load("stages:\n  report: {kind: cmd, inputs: [train]}\n  train: {kind: cmd, matrix: {m: [a, b]}, inputs: [data]}\n  data: {kind: cmd}\n").expect("load");
        let names: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[0], "data");
        assert_eq!(names[3], "report");
        assert_eq!(p.inputs[3].len(), 2);
        assert_eq!(p.select(&["train@a".into()]).expect("select").len(), 2);
        assert_eq!(p.dependents(0).len(), 3);
    }

    #[test]
    fn names_the_cycle_and_unknowns() {
        let e = load("stages:\n  a: {kind: cmd, inputs: [c]}\n  b: {kind: cmd, inputs: [a]}\n  c: {kind: cmd, inputs: [b]}\n").err().expect("cycle");
        assert!(e.message.contains("cycle"), "{}", e.message);
        assert!(
            e.message.contains("a → c → b → a") || e.message.contains("→"),
            "{}",
            e.message
        );
        let e = load("stages:\n  a: {kind: cmd, inputs: [nope]}\n")
            .err()
            .expect("unknown input");
        assert!(e.message.contains("`nope`"));
        assert_eq!(e.line, Some(2));
        let e = load("stages:\n  a:\n    kind: trian\n")
            .err()
            .expect("unknown kind");
        assert!(e.message.contains("unknown kind `trian`"));
        assert_eq!((e.line, e.col), (Some(3), Some(5)));
    }
}
