//! YAML text -> [`Tree`], from granit-parser events, the way sops' YAML store (on Go yaml.v3
//! nodes) loads it: comments become items where they stand, anchors and aliases are expanded,
//! `<<` stays a key holding the merged map, scalars typed as [`super::resolve`] says.
//!
//! Comment ownership, modelled on what yaml.v3 + sops do (checked against the real sops;
//! granit reports End events late, so a comment's stream position is not its owner):
//! - a comment at or left of the column of the token that follows it is a head comment of
//!   that token: it goes before that node (inside a collection that starts as a map value);
//! - comments right of the following token's column are foot comments: the first group
//!   (same column) stays in the innermost collection open when it was read, later groups go
//!   to the innermost open block collection at or left of their column;
//! - at the end of a document the last group goes by column too;
//! - by column, a list whose last item is a collection hands the comment to its parent.
//! - a same-line (`Right`) comment goes above the entry on its line (sops 3.11 moves line
//!   comments there); after a flow collection it opens that collection, as in sops.

use std::collections::{HashMap, HashSet};

use granit_parser::{Event, Parser, Placement, ScalarStyle, Span, StructureStyle, Tag};

use super::resolve::{resolve_plain, Resolved};
use super::{Error, ErrorKind};
use crate::sops::{Branch, Item, Tree, Value};

const CORE_TAG: &str = "tag:yaml.org,2002:";

/// Alias expansion budget (copied nodes), against "billion laughs" documents.
const ALIAS_BUDGET: usize = 1_000_000;

pub(super) fn parse(src: &str) -> Result<Tree, Error> {
    let mut options = granit_parser::Options::default();
    // libyaml (Go) adds no line feed to a block scalar that ends the input without one.
    options.block_scalar_eof_without_line_feed = true;
    let mut b = Builder::default();
    // Collected first: comment ownership looks ahead to the next token.
    let events = Parser::new_from_str_with_options(src, options)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            path: String::new(),
            kind: ErrorKind::Syntax(e.info()),
        })?;
    // For each event: whether only End events and comments follow it in its document
    // (computed backwards, linear in the number of events).
    let mut at_doc_end = vec![true; events.len()];
    for i in (0..events.len().saturating_sub(1)).rev() {
        at_doc_end[i] = match &events[i + 1].0 {
            Event::MappingEnd | Event::SequenceEnd | Event::Comment(..) => at_doc_end[i + 1],
            Event::DocumentEnd | Event::StreamEnd => true,
            _ => false,
        };
    }
    for ((event, span), at_doc_end) in events.into_iter().zip(at_doc_end) {
        b.event(event, span, at_doc_end)?;
    }
    if b.docs.is_empty() {
        return Err(Error {
            line: 1,
            column: 1,
            path: String::new(),
            kind: ErrorKind::Empty,
        });
    }
    Ok(Tree { docs: b.docs })
}

struct Comment {
    text: String,
    col: usize,
    /// Depth of the innermost open collection when the comment was read.
    depth: usize,
    /// The frame depth that owns it, once End events decided.
    owner: Option<usize>,
}

/// Lines of the last finished child of a frame, for same-line comments.
struct Last {
    index: usize,
    start_line: usize,
    /// Last line of a scalar or flow collection; 0 for a block collection (its End event's
    /// position is the next token's, and a comment on its last line was read inside it).
    end_line: usize,
    flow: bool,
}

struct Key {
    name: String,
    merge: bool,
    start: (usize, usize),
}

enum Body {
    Map {
        items: Vec<Item>,
        key: Option<Key>,
        seen: HashSet<String>,
    },
    Seq(Vec<Value>),
}

struct Frame {
    body: Body,
    block: bool,
    col: usize,
    start: (usize, usize),
    anchor: usize,
    last: Option<Last>,
}

impl Frame {
    fn push_comment(&mut self, text: String) {
        match &mut self.body {
            Body::Map { items, .. } => items.push(Item::Comment(text)),
            Body::Seq(values) => values.push(Value::Comment(text)),
        }
    }

    fn insert_comment(&mut self, at: usize, text: String) {
        match &mut self.body {
            Body::Map { items, .. } => items.insert(at, Item::Comment(text)),
            Body::Seq(values) => values.insert(at, Value::Comment(text)),
        }
    }
}

#[derive(Default)]
struct Builder {
    docs: Vec<Branch>,
    frames: Vec<Frame>,
    pending: Vec<Comment>,
    /// Comments that open the collection starting next.
    leading: Vec<String>,
    /// The document being read: `Some` between DocumentStart and DocumentEnd.
    doc: Option<Branch>,
    anchors: HashMap<usize, Value>,
    alias_budget_used: usize,
}

/// A finished node on its way to its parent.
struct Node {
    value: Value,
    merge: bool,
    start: (usize, usize),
    end_line: usize,
    /// A flow collection (for same-line comments).
    flow: bool,
}

fn pos(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

impl Builder {
    fn err(&self, at: (usize, usize), kind: ErrorKind) -> Error {
        Error {
            line: at.0,
            column: at.1,
            path: self.path(),
            kind,
        }
    }

    /// The key path of the node being read, `a.b[2].c`.
    fn path(&self) -> String {
        let mut out = String::new();
        for f in &self.frames {
            match &f.body {
                Body::Map { key: Some(k), .. } => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&k.name);
                }
                Body::Map { key: None, .. } => {}
                Body::Seq(values) => {
                    let n = values
                        .iter()
                        .filter(|v| !matches!(v, Value::Comment(_)))
                        .count();
                    out.push_str(&format!("[{n}]"));
                }
            }
        }
        out
    }

    fn event(&mut self, event: Event<'_>, span: Span, at_doc_end: bool) -> Result<(), Error> {
        let at = pos(&span);
        match event {
            Event::StreamEnd => self.flush_to_document(),
            // Anchor names (not enabled) and future presentation events carry no data.
            Event::StreamStart | Event::Anchor(..) => {}
            Event::Comment(text, placement) => {
                if placement == Placement::Right {
                    self.right_comment(text.into_owned(), at);
                } else {
                    self.pending.push(Comment {
                        text: text.into_owned(),
                        depth: self.frames.len().saturating_sub(1),
                        col: at.1 - 1,
                        owner: None,
                    });
                }
            }
            Event::DocumentStart(_, version) => {
                // yaml.v3 reads YAML 1.1 only when a `%YAML` directive names a version.
                if version.is_some_and(|v| (v.major, v.minor) != (1, 1)) {
                    let kind = ErrorKind::Syntax("found incompatible YAML document".into());
                    return Err(self.err(at, kind));
                }
                self.doc = Some(Branch::default());
            }
            Event::DocumentEnd => {
                self.flush_to_document();
                let doc = self.doc.take().unwrap_or_default();
                self.docs.push(doc);
                self.anchors.clear();
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.before_node(false);
                let (value, merge) = self.scalar(&text, style, tag.as_deref(), at)?;
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                let end_line = span.end.line();
                self.finish(Node {
                    value,
                    merge,
                    start: at,
                    end_line,
                    flow: false,
                })?;
            }
            Event::Alias(id) => {
                self.before_node(false);
                let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.alias_budget_used += size(&value);
                if self.alias_budget_used > ALIAS_BUDGET {
                    return Err(self.err(at, ErrorKind::ExcessiveAliasing));
                }
                self.finish(Node {
                    value,
                    merge: false,
                    start: at,
                    end_line: span.end.line(),
                    flow: false,
                })?;
            }
            Event::UnresolvedAlias(_) => {
                return Err(self.err(at, ErrorKind::Syntax("unknown anchor".into())));
            }
            Event::MappingStart(style, anchor, _) | Event::SequenceStart(style, anchor, _) => {
                let is_map = matches!(event, Event::MappingStart(..));
                self.before_node(true);
                let mut frame = Frame {
                    body: if is_map {
                        Body::Map {
                            items: Vec::new(),
                            key: None,
                            seen: HashSet::new(),
                        }
                    } else {
                        Body::Seq(Vec::new())
                    },
                    block: style == StructureStyle::Block,
                    col: at.1 - 1,
                    start: at,
                    anchor,
                    last: None,
                };
                for text in std::mem::take(&mut self.leading) {
                    frame.push_comment(text);
                }
                self.frames.push(frame);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.assign_owners(at.1 - 1, at_doc_end);
                let frame = self
                    .frames
                    .pop()
                    .expect("End event closes an open collection");
                let value = match frame.body {
                    Body::Map { items, .. } => Value::Map(Branch(items)),
                    Body::Seq(values) => Value::List(values),
                };
                if frame.anchor != 0 {
                    self.anchors.insert(frame.anchor, value.clone());
                }
                self.finish(Node {
                    value,
                    merge: false,
                    start: frame.start,
                    end_line: if frame.block { 0 } else { span.end.line() },
                    flow: !frame.block,
                })?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Places pending comments before a node starts.
    fn before_node(&mut self, collection: bool) {
        // A collection that is a list item keeps the comments above it in the list.
        let in_seq = matches!(self.frames.last(), Some(f) if matches!(f.body, Body::Seq(_)));
        for c in std::mem::take(&mut self.pending) {
            match (c.owner, self.frames.len()) {
                (Some(d), n) if d < n => self.frames[d].push_comment(c.text),
                (None, _) if collection && !in_seq => self.leading.push(c.text),
                (_, 0) => self.leading.push(c.text),
                (_, n) => self.frames[n - 1].push_comment(c.text),
            }
        }
    }

    /// Before an End event whose next token is at column `next_col`: hands the closing
    /// collection the comments it owns (see the module docs).
    fn assign_owners(&mut self, next_col: usize, at_doc_end: bool) {
        let top = self.frames.len() - 1;
        // Comments come in groups of equal column. The first group is a foot of the content
        // before it (innermost collection); later groups, and the last one at the end of a
        // document, go by column.
        let last_col = self.pending.last().map(|c| c.col);
        let mut bound = top;
        let mut group = 0;
        let mut prev_col = None;
        for i in 0..self.pending.len() {
            let c = &self.pending[i];
            if c.owner.is_some() {
                continue;
            }
            if prev_col != Some(c.col) {
                group += 1;
                prev_col = Some(c.col);
            }
            let last_group = self.pending[i..].iter().all(|d| Some(d.col) == last_col);
            let owner = if !self.frames[top].block {
                top
            } else if !at_doc_end && c.col <= next_col {
                continue; // a head comment of the next token
            } else if group == 1 && !(at_doc_end && last_group) {
                c.depth.min(top)
            } else {
                self.owner_by_column(c.col)
            };
            // A later comment never belongs deeper than an earlier one.
            bound = bound.min(owner);
            self.pending[i].owner = Some(bound);
        }
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|c| c.owner == Some(top));
        for c in mine {
            self.frames[top].push_comment(c.text);
        }
        self.pending = rest;
    }

    /// The innermost open block collection at or left of `col`; a list whose last item is a
    /// collection passes the comment to its parent, as yaml.v3 ends such a block before it.
    fn owner_by_column(&self, col: usize) -> usize {
        let top = self.frames.len() - 1;
        let d = (0..=top)
            .rev()
            .find(|&d| self.frames[d].block && self.frames[d].col <= col)
            .unwrap_or(0);
        let ends_in_collection = match &self.frames[d].body {
            Body::Seq(values) => {
                d < top || matches!(values.last(), Some(Value::Map(_) | Value::List(_)))
            }
            Body::Map { .. } => false,
        };
        if ends_in_collection {
            d.saturating_sub(1)
        } else {
            d
        }
    }

    /// Comments left at the end of a document go to its top level.
    fn flush_to_document(&mut self) {
        let texts: Vec<String> = self
            .leading
            .drain(..)
            .chain(self.pending.drain(..).map(|c| c.text))
            .collect();
        if texts.is_empty() {
            return;
        }
        let doc = match (&mut self.doc, self.docs.last_mut()) {
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) => return, // a stream of only comments is an empty file
        };
        doc.0.extend(texts.into_iter().map(Item::Comment));
    }

    /// A same-line comment: above the entry on its line, or above the entry to come.
    fn right_comment(&mut self, text: String, at: (usize, usize)) {
        let Some(frame) = self.frames.last_mut() else {
            self.leading.push(text);
            return;
        };
        let awaiting_value = matches!(&frame.body, Body::Map { key: Some(_), .. });
        let on_last = match &frame.last {
            Some(l) if !awaiting_value && (l.start_line..=l.end_line).contains(&at.0) => l,
            _ => return frame.push_comment(text),
        };
        let (index, flow) = (on_last.index, on_last.flow);
        if flow {
            let child = match &mut frame.body {
                Body::Map { items, .. } => match &mut items[index] {
                    Item::Entry(_, v) => v,
                    Item::Comment(_) => unreachable!("last points at an entry"),
                },
                Body::Seq(values) => &mut values[index],
            };
            match child {
                Value::Map(b) => b.0.insert(0, Item::Comment(text)),
                Value::List(l) => l.insert(0, Value::Comment(text)),
                _ => unreachable!("flow marks a collection"),
            }
            return;
        }
        if let Some(l) = &mut frame.last {
            l.index += 1;
        }
        frame.insert_comment(index, text);
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        at: (usize, usize),
    ) -> Result<(Value, bool), Error> {
        let tag = tag.filter(|t| !(t.handle().is_empty() && t.suffix() == "!"));
        let resolved = match tag {
            None if style != ScalarStyle::Plain => Resolved::Str,
            None => resolve_plain(text, true),
            Some(t) if t.handle() != CORE_TAG => Resolved::Str,
            Some(t) => match t.suffix() {
                "str" => Resolved::Str,
                "merge" => Resolved::Merge,
                "binary" => {
                    let decoded =
                        decode_binary(text).ok_or_else(|| self.err(at, ErrorKind::BadBinary))?;
                    return Ok((Value::Str(decoded), false));
                }
                want @ ("null" | "bool" | "int" | "float" | "timestamp") => {
                    let r = resolve_plain(text, want == "timestamp");
                    match r {
                        _ if r.tag() == want => r,
                        Resolved::Int(i) if want == "float" => Resolved::Float(i as f64),
                        _ => {
                            return Err(self.err(
                                at,
                                ErrorKind::TagMismatch {
                                    found: r.tag(),
                                    tag: want.to_owned(),
                                },
                            ))
                        }
                    }
                }
                _ => Resolved::Str,
            },
        };
        let merge = resolved == Resolved::Merge && text == "<<";
        let value = resolved
            .into_value(text)
            .ok_or_else(|| self.err(at, ErrorKind::Uint64))?;
        Ok((value, merge))
    }

    /// Hands a finished node to its parent (a map key or value, a list item, or the document).
    fn finish(&mut self, node: Node) -> Result<(), Error> {
        let Some(depth) = self.frames.len().checked_sub(1) else {
            return self.finish_document(node);
        };
        let at = node.start;
        let frame = &mut self.frames[depth];
        match &mut frame.body {
            Body::Seq(values) => {
                frame.last = Some(Last {
                    index: values.len(),
                    start_line: at.0,
                    end_line: node.end_line,
                    flow: node.flow,
                });
                values.push(node.value);
            }
            Body::Map { items, key, seen } => match key.take() {
                None => {
                    let Value::Str(name) = node.value else {
                        let kind = ErrorKind::NonStringKey(kind_name(&node.value));
                        return Err(self.err(at, kind));
                    };
                    // Merge keys may repeat (yaml.v3 merges each); others must be unique.
                    if !node.merge && !seen.insert(name.clone()) {
                        *key = Some(Key {
                            name,
                            merge: false,
                            start: at,
                        });
                        return Err(self.err(at, ErrorKind::DuplicateKey));
                    }
                    *key = Some(Key {
                        name,
                        merge: node.merge,
                        start: at,
                    });
                }
                Some(k) => {
                    let mergeable = match &node.value {
                        Value::Map(_) => true,
                        Value::List(l) => l.iter().all(|v| matches!(v, Value::Map(_))),
                        _ => false,
                    };
                    if k.merge && !mergeable {
                        let start = k.start;
                        *key = Some(k);
                        return Err(self.err(start, ErrorKind::BadMerge));
                    }
                    frame.last = Some(Last {
                        index: items.len(),
                        start_line: k.start.0,
                        end_line: node.end_line,
                        flow: node.flow,
                    });
                    items.push(Item::Entry(k.name, node.value));
                }
            },
        }
        Ok(())
    }

    fn finish_document(&mut self, node: Node) -> Result<(), Error> {
        let doc = self.doc.get_or_insert_with(Branch::default);
        match node.value {
            Value::Map(Branch(items)) => doc.0.extend(items),
            Value::Null => {}
            Value::List(_) => return Err(self.err(node.start, ErrorKind::TopLevelList)),
            _ => return Err(self.err(node.start, ErrorKind::TopLevelScalar)),
        }
        Ok(())
    }
}

/// `!!binary`: base64 (line breaks ignored) that must decode to UTF-8 text.
fn decode_binary(text: &str) -> Option<String> {
    use base64::Engine as _;
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Time(_) => "a timestamp",
        Value::Map(_) => "a map",
        Value::List(_) => "a list",
        Value::Str(_) | Value::Comment(_) => "a string",
    }
}

/// Nodes in a value (for the alias budget).
fn size(v: &Value) -> usize {
    match v {
        Value::Map(b) => {
            1 + b
                .0
                .iter()
                .map(|i| match i {
                    Item::Entry(_, v) => 1 + size(v),
                    Item::Comment(_) => 1,
                })
                .sum::<usize>()
        }
        Value::List(l) => 1 + l.iter().map(size).sum::<usize>(),
        _ => 1,
    }
}
