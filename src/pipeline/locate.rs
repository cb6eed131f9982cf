//! Where things are in pipeline.yaml: maps a key path (`stages.train.inputs.0`) to its line and
//! column, so errors found after parsing (unknown stage, cycle, bad params) still point at the
//! offending text. serde_yaml reports positions only for its own errors.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::scanner::TScalarStyle;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Default)]
pub struct Locator {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
    /// Values written as plain (unquoted) scalars: `123` rather than `"123"`.
    plain: HashSet<String>,
    /// Where the first alias (`*name`) is used: serde_yaml reports an alias bomb without one.
    first_alias: Option<Pos>,
    /// Keys written a second time in the same mapping, at the second occurrence.
    repeated: HashMap<String, Pos>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Builder {
    loc: Locator,
    stack: Vec<Frame>,
}

fn join(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_string()
    } else {
        format!("{path}.{part}")
    }
}

impl Builder {
    /// Called for every node; returns the node's path.
    fn node(&mut self, scalar: Option<&str>, pos: Pos) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    // This node is a key.
                    let k = scalar.unwrap_or("?").to_string();
                    let p = join(path, &k);
                    match self.loc.keys.entry(p) {
                        Entry::Occupied(e) => {
                            self.loc.repeated.entry(e.key().clone()).or_insert(pos);
                        }
                        Entry::Vacant(e) => {
                            e.insert(pos);
                        }
                    }
                    *key = Some(k);
                    None
                }
                Some(k) => {
                    let p = join(path, &k);
                    self.loc.values.insert(p.clone(), pos);
                    Some(p)
                }
            },
            Some(Frame::Seq { path, index }) => {
                let p = join(path, &index.to_string());
                *index += 1;
                self.loc.values.insert(p.clone(), pos);
                Some(p)
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        // yaml-rust2 counts lines from 1 and columns from 0.
        let pos = Pos {
            line: mark.line(),
            col: mark.col() + 1,
        };
        match ev {
            Event::Scalar(ref s, style, ..) => {
                if let Some(path) = self.node(Some(s), pos) {
                    if style == TScalarStyle::Plain {
                        self.loc.plain.insert(path);
                    }
                }
            }
            Event::Alias(_) => {
                self.loc.first_alias.get_or_insert(pos);
                self.node(None, pos);
            }
            Event::MappingStart(..) => {
                let path = self.node(None, pos).unwrap_or_default();
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.node(None, pos).unwrap_or_default();
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

impl Locator {
    /// Build from YAML text; on a syntax error the locator is empty (serde_yaml reports it).
    pub fn new(text: &str) -> Locator {
        let mut b = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut b, false);
        b.loc
    }

    /// Position of the key at `path`, else of its value; falls back to the nearest ancestor.
    pub fn find(&self, path: &str) -> Option<Pos> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.keys.get(&p).or_else(|| self.values.get(&p)) {
                return Some(*pos);
            }
            match p.rfind('.') {
                Some(i) => p.truncate(i),
                None => return None,
            }
        }
    }

    /// Whether the value at `path` is a scalar written without quotes.
    pub fn is_plain(&self, path: &str) -> bool {
        self.plain.contains(path)
    }

    pub fn first_alias(&self) -> Option<Pos> {
        self.first_alias
    }

    /// Where the key at `path` is written a second time, if it is.
    pub fn repeated(&self, path: &str) -> Option<Pos> {
        self.repeated.get(path).copied()
    }

    /// Position of the value at `path` (e.g. a list item), else as [`Locator::find`].
    pub fn find_value(&self, path: &str) -> Option<Pos> {
        self.values.get(path).copied().or_else(|| self.find(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_list_items() {
        let text =
            "stages:\n  a:\n    kind: cmd\n    inputs: [x, y]\n  b:\n    inputs:\n      - a\n";
        let loc = Locator::new(text);
        assert_eq!(loc.find("stages.a.kind"), Some(Pos { line: 3, col: 5 }));
        assert_eq!(
            loc.find_value("stages.a.inputs.1"),
            Some(Pos { line: 4, col: 17 })
        );
        assert_eq!(
            loc.find_value("stages.b.inputs.0"),
            Some(Pos { line: 7, col: 9 })
        );
        assert_eq!(
            loc.find("stages.b.params.lr"),
            Some(Pos { line: 5, col: 3 })
        );
    }
}
