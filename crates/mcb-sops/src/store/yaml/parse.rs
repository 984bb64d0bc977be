//! YAML text -> [`Tree`], from granit-parser events, the way sops' YAML store (on Go yaml.v3
//! nodes) loads it: comments become items where they stand, anchors and aliases are expanded,
//! `<<` stays a key holding the merged map, scalars typed as [`super::resolve`] says.
//!
//! Comment ownership, modelled on yaml.v3's scanner and checked against the real sops
//! (`fixtures/sops-yaml`); granit reports End events late, so a comment's stream position is
//! not its owner:
//! - comments followed directly by a node go before it (inside a collection that starts as
//!   a map value, in the list for a list item);
//! - comments followed by End events form groups; a group ends as a foot of the content
//!   before it when the next line (comment or token) is left of the innermost block's
//!   indentation and of the group's column. The first foot group stays in the innermost
//!   block, later ones go by column; the last group of a document goes by column; any other
//!   group is a head of the next token. Indentless lists (`key:` / `- x`) have no
//!   indentation of their own in that test, but do keep a first foot group;
//! - by column: the innermost open block collection at or left of the comment, except that a
//!   list whose last item is a collection passes it to its parent;
//! - a same-line (`Right`) comment goes above the entry on its line (sops 3.11 moves line
//!   comments there); after a flow collection it opens that collection, as in sops.
//!
//! Blank lines, which also split yaml.v3's comment groups, are not modelled.
//!
//! Size: one parser, yaml.v3's comment placement and YAML 1.1 line breaks over granit's
//! event stream; its parts share the event cursor and the comment state.

use std::collections::{HashMap, HashSet, VecDeque};

use granit_parser::{Event, Parser, Placement, ScalarStyle, Span, StructureStyle, Tag};

use super::resolve::{resolve_plain, Resolved};
use super::{Error, ErrorKind};
use crate::{Branch, Item, Tree, Value};

const CORE_TAG: &str = "tag:yaml.org,2002:";

/// Alias expansion budget (copied nodes), against "billion laughs" documents.
const ALIAS_BUDGET: usize = 1_000_000;

/// Parses `src`; hands each scalar value (not keys) to `visit` with its key path as soon as
/// it is read, until `visit` returns false. Returns whether every scalar value of the tree was
/// visited: visits also stop at the first anchored collection (its aliases would copy
/// visited values).
pub(super) fn parse(
    src: &str,
    visit: Option<&mut super::Visit<'_>>,
) -> Result<(Tree, bool), Error> {
    let mut options = granit_parser::Options::default();
    // libyaml (Go) adds no line feed to a block scalar that ends the input without one.
    options.block_scalar_eof_without_line_feed = true;
    let src = &*indent_line_start_breaks(src);
    let mut b = Builder {
        src,
        visit,
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str_with_options(src, options);
    let mut next = || {
        parser.next().map(|r| {
            r.map_err(|e| Error {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                path: String::new(),
                kind: ErrorKind::Syntax(scrub(&e.info())),
            })
        })
    };
    // Events are streamed; an End event looks ahead over the End events and comments that
    // follow it, to know whether its document ends there (comment ownership needs it).
    let mut ahead: VecDeque<(Event<'_>, Span)> = VecDeque::new();
    loop {
        let (event, span) = match ahead.pop_front() {
            Some(e) => e,
            None => match next() {
                Some(e) => e?,
                None => break,
            },
        };
        let mut at_doc_end = false;
        if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
            let mut i = 0;
            at_doc_end = loop {
                if i == ahead.len() {
                    match next() {
                        Some(e) => ahead.push_back(e?),
                        None => break true,
                    }
                }
                match ahead[i].0 {
                    Event::MappingEnd | Event::SequenceEnd | Event::Comment(..) => i += 1,
                    Event::DocumentEnd | Event::StreamEnd => break true,
                    _ => break false,
                }
            };
        }
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
    let visited_all = b.visit.is_some();
    Ok((Tree { docs: b.docs }, visited_all))
}

struct Comment {
    text: String,
    col: usize,
    /// Depth of the innermost open collection when the comment was read.
    depth: usize,
    /// Decided: a head comment of the next token.
    head: bool,
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
        /// Hashes of the keys read (merge keys aside): a copy of every key of a large map
        /// cost more than its hash, and a hash seen again is confirmed against `items`.
        seen: HashSet<u64>,
    },
    Seq(Vec<Value>),
}

struct Frame {
    body: Body,
    block: bool,
    /// Column of the first key, or of the dash of a block sequence.
    col: usize,
    /// A block sequence at its key's column (`key:` / `- x`): yaml.v3 opens no block for it.
    indentless: bool,
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
struct Builder<'s, 'v, 'f> {
    /// Sees each scalar value as it is read (`None`: no visitor, or visits stopped).
    visit: Option<&'v mut super::Visit<'f>>,
    /// The source, to find the dash of a block sequence (no line index: a large file has
    /// many short lines, and an index of them cost more memory than the parsed tree's slack).
    src: &'s str,
    /// The last line looked up: (0-based line, its byte offset). Lookups mostly move forward.
    line_cursor: std::cell::Cell<(usize, usize)>,
    docs: Vec<Branch>,
    frames: Vec<Frame>,
    pending: Vec<Comment>,
    /// Comments that open the collection starting next.
    leading: Vec<String>,
    /// The document being read: `Some` between DocumentStart and DocumentEnd.
    doc: Option<Branch>,
    anchors: HashMap<usize, Value>,
    /// Hashes keys for `Body::Map::seen` (random keys: no crafted collisions).
    key_hasher: std::hash::RandomState,
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

impl<'s> Builder<'s, '_, '_> {
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
                        head: false,
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
                let text = match style {
                    ScalarStyle::SingleQuoted => fold_yaml11_breaks(&text, None),
                    ScalarStyle::Literal | ScalarStyle::Folded if has_yaml11_break(&text) => {
                        let indent = block_indent(self.src, span.start.line(), span.end.line());
                        fold_yaml11_breaks(&text, Some(indent))
                    }
                    _ => std::borrow::Cow::Borrowed(text.as_ref()),
                };
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
                if matches!(value, Value::Map(_) | Value::List(_)) {
                    self.visit = None;
                }
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
                let block = style == StructureStyle::Block;
                if anchor != 0 {
                    // The anchor keeps the collection as read; its values are visited (and
                    // changed) before it closes.
                    self.visit = None;
                }
                self.before_node(true);
                let col = if block && !is_map {
                    self.dash_col(at)
                } else {
                    at.1 - 1
                };
                let indentless = block
                    && !is_map
                    && matches!(self.frames.last(), Some(p) if p.block && p.col == col);
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
                    block,
                    col,
                    indentless,
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
                // A closed collection keeps no spare capacity: a large file is mostly small
                // maps and lists, and their doubling slack added ~15% to decrypt's peak.
                let value = match frame.body {
                    Body::Map { mut items, .. } => {
                        items.shrink_to_fit();
                        Value::Map(Branch(items))
                    }
                    Body::Seq(mut values) => {
                        values.shrink_to_fit();
                        Value::List(values)
                    }
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

    /// Before an End event whose next token is at column `next_col`: decides, once, which
    /// collection owns each pending comment (yaml.v3's head/foot split, see the module docs)
    /// and hands the closing collection its own.
    fn assign_owners(&mut self, next_col: usize, at_doc_end: bool) {
        let top = self.frames.len() - 1;
        if !self.frames[top].block {
            self.pending.iter_mut().for_each(|c| c.owner = Some(top));
        } else if self.pending.iter().any(|c| c.owner.is_none() && !c.head) {
            self.split_heads_and_feet(next_col, at_doc_end);
        }
        self.flush_owned(top);
    }

    /// Groups the new pending comments as yaml.v3's scanner does: a group ends as a foot of
    /// the content before it when the next line (comment or token) is left of the innermost
    /// block's indentation and of the group's own column. The first foot group stays in the
    /// innermost block; later ones and the last group at the end of the document go by
    /// column; the rest are heads of the next token.
    fn split_heads_and_feet(&mut self, next_col: usize, at_doc_end: bool) {
        let top = self.frames.len() - 1;
        let new: Vec<usize> = (0..self.pending.len())
            .filter(|&i| self.pending[i].owner.is_none() && !self.pending[i].head)
            .collect();
        // yaml.v3 opens no block for an indentless sequence.
        let deepest = |d: usize| {
            (0..=d.min(top))
                .rev()
                .find(|&d| !self.frames[d].indentless)
                .unwrap_or(0)
        };
        let mut owners: Vec<Option<usize>> = vec![None; new.len()];
        let mut feet = 0;
        let mut group_start = 0;
        for k in 0..new.len() {
            let c = &self.pending[new[k]];
            let group_col = self.pending[new[group_start]].col;
            let indent = self.frames[deepest(c.depth)].col;
            let next = new.get(k + 1).map(|&j| self.pending[j].col);
            let ends_as_foot = match next {
                Some(n) => n < indent && n != group_col,
                None if at_doc_end => {
                    let by_column = self.owner_by_column(group_col);
                    owners[group_start..=k].fill(Some(by_column));
                    break;
                }
                None => next_col < indent && next_col != group_col,
            };
            if !ends_as_foot && next.is_some() {
                continue; // the group goes on
            }
            if ends_as_foot {
                feet += 1;
                let owner = if feet == 1 {
                    c.depth.min(top)
                } else {
                    self.owner_by_column(group_col)
                };
                owners[group_start..=k].fill(Some(owner));
            }
            group_start = k + 1;
        }
        let mut bound = top;
        for (k, owner) in owners.into_iter().enumerate() {
            let c = &mut self.pending[new[k]];
            match owner {
                // A later comment never belongs deeper than an earlier one.
                Some(o) => {
                    bound = bound.min(o);
                    c.owner = Some(bound);
                }
                None => c.head = true,
            }
        }
    }

    fn flush_owned(&mut self, top: usize) {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|c| c.owner == Some(top));
        for c in mine {
            self.frames[top].push_comment(c.text);
        }
        self.pending = rest;
    }

    /// Line `n` (0-based) of the source, found from the last line looked up.
    fn line(&self, n: usize) -> Option<&'s str> {
        let (mut at, mut off) = self.line_cursor.get();
        if n < at {
            (at, off) = (0, 0);
        }
        while at < n {
            off += self.src.get(off..)?.find('\n')? + 1;
            at += 1;
        }
        self.line_cursor.set((at, off));
        let rest = self.src.get(off..)?;
        Some(rest.split('\n').next().unwrap_or(rest))
    }

    /// The column of the dash that opens the block sequence whose first item is at `at`
    /// (granit places an indentless sequence at its first item, not at its dash).
    fn dash_col(&self, at: (usize, usize)) -> usize {
        let col = at.1 - 1;
        let Some(line) = self.line(at.0 - 1) else {
            return col;
        };
        let head: Vec<char> = line.chars().take(col + 1).collect();
        if head.get(col) == Some(&'-') {
            return col;
        }
        head.iter().rposition(|&c| c == '-').unwrap_or(col)
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
    fn finish(&mut self, mut node: Node) -> Result<(), Error> {
        let Some(depth) = self.frames.len().checked_sub(1) else {
            return self.finish_document(node);
        };
        self.visit_value(&mut node.value);
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
                // Merge keys may repeat (yaml.v3 merges each); others must be unique. A key
                // whose hash was seen is a duplicate if an entry of that name exists (only a
                // non-merge `<<` puts the hash of `<<` in `seen`, so a merge entry found then
                // still means a repeated plain `<<`).
                None => {
                    let Value::Str(name) = node.value else {
                        let kind = ErrorKind::NonStringKey(kind_name(&node.value));
                        return Err(self.err(at, kind));
                    };
                    let repeated = !node.merge
                        && !seen.insert(std::hash::BuildHasher::hash_one(&self.key_hasher, &name))
                        && items
                            .iter()
                            .any(|i| matches!(i, Item::Entry(k, _) if *k == name));
                    if repeated {
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

    /// Shows a scalar value (not a key) to the visitor with its key path.
    fn visit_value(&mut self, value: &mut Value) {
        let Some(visit) = self.visit.as_mut() else {
            return;
        };
        let is_key = matches!(
            self.frames.last(),
            Some(Frame {
                body: Body::Map { key: None, .. },
                ..
            })
        );
        if is_key || matches!(value, Value::Map(_) | Value::List(_)) {
            return;
        }
        let path: Vec<&str> = self
            .frames
            .iter()
            .filter_map(|f| match &f.body {
                Body::Map { key: Some(k), .. } => Some(k.name.as_str()),
                _ => None,
            })
            .collect();
        if !visit(&path, value) {
            self.visit = None;
        }
    }

    fn finish_document(&mut self, node: Node) -> Result<(), Error> {
        let doc = self.doc.get_or_insert_with(Branch::default);
        match node.value {
            // Moved, not copied, when the document holds nothing yet: a large file's top
            // map would otherwise exist twice at the end of the parse (its peak of memory).
            Value::Map(Branch(items)) if doc.0.is_empty() => doc.0 = items,
            Value::Map(Branch(items)) => doc.0.extend(items),
            Value::Null => {}
            Value::List(_) => return Err(self.err(node.start, ErrorKind::TopLevelList)),
            _ => return Err(self.err(node.start, ErrorKind::TopLevelScalar)),
        }
        Ok(())
    }
}

/// A parser message without the quoted input character some carry (values may be secret).
fn scrub(info: &str) -> String {
    match info.split_once('`') {
        Some((head, _)) => head.trim_end_matches([' ', ':']).to_owned(),
        None => info.to_owned(),
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

/// NEL, LS, PS: line breaks to yaml.v3 (YAML 1.1), content to YAML 1.2.
fn is_yaml11_break(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn has_yaml11_break(text: &str) -> bool {
    text.contains(is_yaml11_break)
}

/// The content indentation of the block scalar granit places at lines `start..=end`
/// (1-based; it starts on the header's line or the next, and `end` may be the next token's
/// line): the fewest leading spaces of its non-empty lines right of the header's node (its
/// key, or its dash for a list item).
fn block_indent(src: &str, start: usize, end: usize) -> usize {
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let lines: Vec<&str> = src
        .lines()
        .skip(start.saturating_sub(2))
        .take(end + 2 - start.max(1))
        .collect();
    let is_header = |l: &str| {
        let t = l.trim_end();
        t.trim_end_matches(['-', '+']).ends_with(['|', '>'])
    };
    let Some(h) = lines.iter().take(2).position(|l| is_header(l)) else {
        return 0;
    };
    let head = lines[h];
    // The column of the header's node: past the dashes of list items, unless the block
    // scalar is itself the item.
    let mut node = indent(head);
    while let Some(rest) = head[node..].strip_prefix("- ") {
        let next = node + 2 + indent(rest);
        if head[next..].starts_with(['|', '>']) {
            break;
        }
        node = next;
    }
    lines[h + 1..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .take_while(|&n| n > node)
        .min()
        .unwrap_or(0)
}

/// yaml.v3 (YAML 1.1) takes NEL, LS and PS for line breaks: after one, the next line's
/// indentation is dropped - in a quoted scalar (`block_indent` None) all blanks around it,
/// in a block scalar up to its indentation - and the break itself kept (libyaml's scanner).
/// granit reads YAML 1.2, where they are content, so `'a\u{2028}    b'` (how sops writes
/// "a\u{2028}b") would keep the indentation: fold it as sops reads it.
fn fold_yaml11_breaks(text: &str, block_indent: Option<usize>) -> std::borrow::Cow<'_, str> {
    if !has_yaml11_break(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    // Blanks still to drop after the last break (None: all of them, in a quoted scalar).
    let mut skip = Some(0);
    for c in text.chars() {
        if is_yaml11_break(c) {
            if block_indent.is_none() {
                out.truncate(out.trim_end_matches([' ', '\t']).len());
            }
            skip = block_indent;
        } else if c == ' ' && skip != Some(0) || c == '\t' && skip.is_none() {
            skip = skip.map(|n| n - 1);
            continue;
        } else {
            skip = Some(0);
        }
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

/// sops (yaml.v3's emitter) writes a LS or PS that follows a line feed in a literal block at
/// the very start of the next line, before the block's indentation: "a\n\u{2028}c" is
/// `|-` / `    a` / `\u{2028}    c`. yaml.v3 (YAML 1.1) reads the break as the end of an empty
/// line; granit (YAML 1.2) sees content left of the block and fails. Moving such breaks behind
/// the block's indentation gives granit the same content, and [`fold_yaml11_breaks`] then drops
/// the indentation after them as yaml.v3 does. Only lines inside a block scalar whose
/// indentation is found (no explicit indentation indicator) are changed.
fn indent_line_start_breaks(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains("\n\u{2028}") && !src.contains("\n\u{2029}") {
        return std::borrow::Cow::Borrowed(src);
    }
    let lines: Vec<&str> = src.split_inclusive('\n').collect();
    let mut out = String::with_capacity(src.len() + 64);
    for (i, line) in lines.iter().enumerate() {
        if starts_with_yaml11_break(line) {
            if let Some(indent) = block_scalar_indent(&lines[..i]) {
                out.extend(std::iter::repeat_n(' ', indent));
            }
        }
        out.push_str(line);
    }
    std::borrow::Cow::Owned(out)
}

fn starts_with_yaml11_break(line: &str) -> bool {
    line.starts_with(['\u{2028}', '\u{2029}'])
}

/// The content indentation of the block scalar that continues after the lines `above`: the
/// nearest line above that is left of every content line below it and is a block scalar
/// header (`key: |`, `- >`, a chomping indicator at most); `None` when there is none.
fn block_scalar_indent(above: &[&str]) -> Option<usize> {
    let mut least = usize::MAX;
    for line in above.iter().rev() {
        if line.trim().is_empty() || starts_with_yaml11_break(line) {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent < least && least != usize::MAX {
            let head = line.trim();
            let head = head.strip_suffix(['-', '+']).unwrap_or(head);
            let header = ["|", ">"].iter().any(|b| {
                head == *b || head.ends_with(&format!(": {b}")) || head.ends_with(&format!("- {b}"))
            });
            if header {
                return Some(least);
            }
        }
        least = least.min(indent);
    }
    None
}
