//! [`Tree`] -> YAML text, byte for byte as sops writes it through Go yaml.v3's encoder
//! (`encode.go` style choice, `emitterc.go` scalar analysis, quoting and indentation).
//!
//! Indentation (yaml.v3 `increase_indent`): a block below a key goes to the next multiple of
//! the indent (`indent * ((col + indent) / indent)`); a block in a sequence item starts two
//! columns right of the dash, on the dash's line. Comments are written on their own line at
//! the level of the collection holding them; the leading comments of a collection that is a
//! list item go above its dash, as yaml.v3 writes a node's head comment.
//!
//! Size: one emitter mirroring yaml.v3's encoder byte for byte (scalar styles, comments,
//! indentation of lists in maps); its rules depend on each other.

use super::resolve::{format_float, resolve_plain, Resolved};
use crate::{Item, Tree, Value};

pub(super) fn emit(tree: &Tree, indent: usize) -> String {
    let mut e = Emitter {
        out: String::new(),
        bi: best_indent(indent),
    };
    for (i, doc) in tree.docs.iter().enumerate() {
        if i > 0 {
            e.out.push_str("---\n");
        }
        if has_entries(&doc.0) {
            e.map(&doc.0, 0, false);
        } else {
            for item in &doc.0 {
                if let Item::Comment(c) = item {
                    e.comment(0, c);
                }
            }
            e.out.push_str("{}\n");
        }
    }
    e.out
}

/// One value as its own YAML document, as sops' `EmitValue` (`decrypt --extract`) writes a
/// map, a list or a scalar (sops prints extracted strings raw, without this).
pub(super) fn emit_value(value: &Value, indent: usize) -> String {
    let mut e = Emitter {
        out: String::new(),
        bi: best_indent(indent),
    };
    match value {
        Value::Map(b) if has_entries(&b.0) => e.map(&b.0, 0, false),
        Value::List(l) if has_values(l) => e.seq(l, 0, false),
        Value::Comment(c) => e.comment(0, c),
        // A root scalar's block body sits one step in (yaml.v3 starts the root at indent -1).
        v => e.scalar(v, e.bi),
    }
    e.out
}

/// yaml.v3 falls back to 2 outside 2..=9.
fn best_indent(indent: usize) -> usize {
    if (2..=9).contains(&indent) {
        indent
    } else {
        2
    }
}

fn has_entries(items: &[Item]) -> bool {
    items.iter().any(|i| matches!(i, Item::Entry(..)))
}

fn has_values(values: &[Value]) -> bool {
    values.iter().any(|v| !matches!(v, Value::Comment(_)))
}

/// How a string scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Emitter {
    out: String,
    /// The indentation step ("best indent").
    bi: usize,
}

impl Emitter {
    fn next_indent(&self, col: usize) -> usize {
        self.bi * ((col + self.bi) / self.bi)
    }

    fn pad(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    /// `#text` on its own line; continuation lines of a multi-line comment get `# `, as
    /// yaml.v3's `write_comment` does.
    fn comment(&mut self, indent: usize, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            self.pad(indent);
            if i == 0 || !line.starts_with('#') {
                self.out.push_str(if i == 0 { "#" } else { "# " });
            }
            self.out.push_str(line);
            self.out.push('\n');
        }
    }

    /// A block mapping with keys at `indent`; `inline`: the first key continues the current
    /// line (after a sequence dash).
    fn map(&mut self, items: &[Item], indent: usize, mut inline: bool) {
        for item in items {
            match item {
                Item::Comment(c) => {
                    self.comment(if inline { 0 } else { indent }, c);
                    inline = false;
                }
                Item::Entry(key, value) => {
                    for c in orphan_comments(value) {
                        self.comment(indent, c);
                    }
                    if !inline {
                        self.pad(indent);
                    }
                    inline = false;
                    self.entry(key, value, indent);
                }
            }
        }
    }

    fn entry(&mut self, key: &str, value: &Value, indent: usize) {
        // yaml.v3 writes keys longer than 128 bytes or multi-line as complex keys (`? key`).
        let complex = key.len() > 128 || analyze(key).multiline;
        let style = string_style(key, !complex);
        if !complex {
            self.string(key, style, 0);
            self.out.push(':');
            self.value_after_key(value, indent, false);
            return;
        }
        self.out.push_str("? ");
        self.string(key, style, self.next_indent(indent));
        if !self.out.ends_with(is_break) {
            self.out.push('\n');
        }
        self.pad(indent);
        self.out.push(':');
        self.value_after_key(value, indent, true);
    }

    /// The value of a key at `indent`, after the `:`; `complex` means the `:` started its own
    /// line and a block value continues on it.
    fn value_after_key(&mut self, value: &Value, indent: usize, complex: bool) {
        let child = self.next_indent(indent);
        match value {
            Value::Map(b) if has_entries(&b.0) => {
                if complex {
                    self.pad(child - indent - 1);
                } else {
                    self.out.push('\n');
                }
                self.map(&b.0, child, complex);
            }
            Value::List(l) if has_values(l) => {
                if complex {
                    self.pad(child - indent - 1);
                } else {
                    self.out.push('\n');
                }
                self.seq(l, child, complex);
            }
            _ => {
                self.out.push(' ');
                self.scalar(value, child);
            }
        }
    }

    /// A block sequence with dashes at `indent`.
    fn seq(&mut self, values: &[Value], indent: usize, mut inline: bool) {
        for value in values {
            // Leading comments of a collection item go above its dash.
            let (leading, rest): (Vec<&str>, Block<'_>) = match value {
                Value::Comment(c) => {
                    self.comment(if inline { 0 } else { indent }, c);
                    inline = false;
                    continue;
                }
                Value::Map(b) if has_entries(&b.0) => {
                    let n =
                        b.0.iter()
                            .take_while(|i| matches!(i, Item::Comment(_)))
                            .count();
                    let lead = b.0[..n].iter().filter_map(comment_text).collect();
                    (lead, Block::Map(&b.0[n..]))
                }
                Value::List(l) if has_values(l) => {
                    let n = l
                        .iter()
                        .take_while(|v| matches!(v, Value::Comment(_)))
                        .count();
                    let lead = l[..n].iter().filter_map(value_comment_text).collect();
                    (lead, Block::Seq(&l[n..]))
                }
                _ => (orphan_comments(value), Block::Scalar(value)),
            };
            if inline && !leading.is_empty() {
                // Cannot happen for trees this module parsed; keep the text anyway.
                self.out.push('\n');
                inline = false;
            }
            for c in leading {
                self.comment(indent, c);
            }
            if !inline {
                self.pad(indent);
            }
            inline = false;
            self.out.push_str("- ");
            match rest {
                Block::Map(items) => self.map(items, indent + 2, true),
                Block::Seq(items) => self.seq(items, indent + 2, true),
                Block::Scalar(v) => self.scalar(v, indent + 2),
            }
        }
    }

    /// A scalar (or empty collection) value, ending the line (a literal ending in any line
    /// break ends it already, as in Go). `block` is the indentation of
    /// a literal block's body.
    fn scalar(&mut self, value: &Value, block: usize) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => self.out.push_str(&format_float(*f)),
            Value::Time(t) => self.out.push_str(t.as_str()),
            Value::Str(s) | Value::Comment(s) => self.string(s, string_style(s, false), block),
            Value::Map(_) => self.out.push_str("{}"),
            Value::List(_) => self.out.push_str("[]"),
        }
        if !self.out.ends_with(is_break) {
            self.out.push('\n');
        }
    }

    fn string(&mut self, s: &str, style: Style, block: usize) {
        match style {
            Style::Plain if s == "<<" => self.out.push_str("!!merge <<"),
            Style::Plain => self.out.push_str(s),
            Style::Single => self.single_quoted(s, block),
            Style::Double => double_quoted(&mut self.out, s),
            Style::Literal => self.literal(s, block),
        }
    }

    /// yaml.v3 `write_single_quoted_scalar` (no wrapping: sops sets no width).
    fn single_quoted(&mut self, s: &str, indent: usize) {
        self.out.push('\'');
        let mut breaks = false;
        for c in s.chars() {
            if is_break(c) {
                if !breaks && c == '\n' {
                    self.out.push('\n');
                }
                self.out.push(c);
                breaks = true;
            } else {
                if breaks {
                    self.pad(indent);
                }
                if c == '\'' {
                    self.out.push('\'');
                }
                self.out.push(c);
                breaks = false;
            }
        }
        self.out.push('\'');
    }

    /// yaml.v3 `write_literal_scalar` with its indentation and chomping hints.
    fn literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        if s.starts_with(' ') || s.starts_with(is_break) {
            self.out.push(char::from(b'0' + self.bi as u8));
        }
        let mut rev = s.chars().rev();
        match (rev.next(), rev.next()) {
            (Some(last), _) if !is_break(last) => self.out.push('-'),
            (Some(_), None) => self.out.push('+'),
            (Some(_), Some(prev)) if is_break(prev) => self.out.push('+'),
            _ => {}
        }
        self.out.push('\n');
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.out.push(c);
                breaks = true;
            } else {
                if breaks {
                    self.pad(indent);
                }
                self.out.push(c);
                breaks = false;
            }
        }
    }
}

/// Comments of a collection with no entries: yaml.v3 would wrap them into a flow `{}`/`[]`
/// that reads back differently; mcb writes them above the line holding the empty collection.
fn orphan_comments(v: &Value) -> Vec<&str> {
    match v {
        Value::Map(b) if !has_entries(&b.0) => b.0.iter().filter_map(comment_text).collect(),
        Value::List(l) if !has_values(l) => l.iter().filter_map(value_comment_text).collect(),
        _ => Vec::new(),
    }
}

enum Block<'a> {
    Map(&'a [Item]),
    Seq(&'a [Value]),
    Scalar(&'a Value),
}

fn comment_text(i: &Item) -> Option<&str> {
    match i {
        Item::Comment(c) => Some(c),
        Item::Entry(..) => None,
    }
}

fn value_comment_text(v: &Value) -> Option<&str> {
    match v {
        Value::Comment(c) => Some(c),
        _ => None,
    }
}

/// yaml.v3 `stringv` (plain unless it would read back as another type, literal if
/// multi-line) followed by the emitter's `select_scalar_style`.
fn string_style(s: &str, key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if s == "<<"
        || (resolve_plain(s, true) == Resolved::Str && !is_base60_float(s) && !is_old_bool(s))
    {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze(s);
    match requested {
        Style::Literal if key && a.multiline => Style::Double,
        Style::Literal if !a.block_allowed => Style::Double,
        Style::Plain if !a.block_plain_allowed && a.single_quoted_allowed => Style::Single,
        Style::Plain if !a.block_plain_allowed => Style::Double,
        other => other,
    }
}

/// YAML 1.1 booleans yaml.v3 still quotes for other parsers.
fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// yaml.v3 `base60float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // `[0-5]?[0-9]`: one or two digits, a two-digit group starting 0-5.
        match (b.get(i), b.get(i + 1)) {
            (Some(b'0'..=b'5'), Some(b'0'..=b'9')) => i += 2,
            (Some(b'0'..=b'9'), _) => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's printable set (with unicode output on).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// yaml.v3 `yaml_emitter_analyze_scalar` (block context only: sops writes no flow content).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special, mut tabs) = (false, false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let last = i + 1 == chars.len();
        let followed_by_ws = last || matches!(chars[i + 1], ' ' | '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t' | '\0') || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tabs || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// yaml.v3 `write_double_quoted_scalar` (unicode on, no wrapping).
fn double_quoted(out: &mut String, s: &str) {
    // libyaml's BOM test looks at the start of the value for every character, so a value
    // starting with U+FEFF gets every character escaped.
    let bom = s.starts_with('\u{FEFF}');
    out.push('"');
    for c in s.chars() {
        if !(bom || !is_printable(c) || is_break(c) || c == '"' || c == '\\') {
            out.push(c);
            continue;
        }
        out.push('\\');
        let v = u32::from(c);
        match c {
            '\0' => out.push('0'),
            '\u{07}' => out.push('a'),
            '\u{08}' => out.push('b'),
            '\t' => out.push('t'),
            '\n' => out.push('n'),
            '\u{0B}' => out.push('v'),
            '\u{0C}' => out.push('f'),
            '\r' => out.push('r'),
            '\u{1B}' => out.push('e'),
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '\u{85}' => out.push('N'),
            '\u{A0}' => out.push('_'),
            '\u{2028}' => out.push('L'),
            '\u{2029}' => out.push('P'),
            _ if v <= 0xFF => out.push_str(&format!("x{v:02X}")),
            _ if v <= 0xFFFF => out.push_str(&format!("u{v:04X}")),
            _ => out.push_str(&format!("U{v:08X}")),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_quote_like_yaml_v3() {
        let cases: &[(&str, &str)] = &[
            ("hello world", "hello world"),
            ("yes", "\"yes\""),
            ("n", "\"n\""),
            ("123", "\"123\""),
            ("1_0", "\"1_0\""),
            ("true", "\"true\""),
            ("null", "\"null\""),
            ("", "\"\""),
            ("2024-02-29", "\"2024-02-29\""),
            ("2026-11-25T21:37:37Z", "\"2026-11-25T21:37:37Z\""),
            ("1:20", "\"1:20\""),
            ("Release: v2", "'Release: v2'"),
            ("it's: x", "'it''s: x'"),
            ("- x", "'- x'"),
            ("-x", "-x"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            ("tab\there", "\"tab\\there\""),
            ("emoji 😀", "\"emoji \\U0001F600\""),
            ("Grüße — 日本語 ✓", "Grüße — 日本語 ✓"),
            ("ctl\u{7}", "\"ctl\\a\""),
            ("del\u{7F}", "\"del\\x7F\""),
            ("nbsp\u{A0}x", "nbsp\u{A0}x"),
            ("<<", "!!merge <<"),
            (
                "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
                "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
            ),
            ("@at", "'@at'"),
            ("%p", "'%p'"),
            ("---x", "'---x'"),
            ("a: b\nc", "|-\n    a: b\n    c"),
            ("x\n", "|\n    x\n"),
            ("x\n\n", "|+\n    x\n\n"),
            ("\n", "|4+\n\n"),
            (" x\ny", "|4-\n     x\n    y"),
            ("x \ny", "\"x \\ny\""),
            ("x\ny ", "\"x\\ny \""),
            ("a\r\nb", "\"a\\r\\nb\""),
        ];
        for (s, want) in cases {
            let mut e = Emitter {
                out: String::new(),
                bi: 4,
            };
            e.string(s, string_style(s, false), 4);
            assert_eq!(e.out, *want, "string {s:?}");
        }
        assert_eq!(string_style("a\nb", true), Style::Double);
        assert_eq!(string_style("", true), Style::Double);
    }

    #[test]
    fn base60_and_old_bools_are_quoted() {
        assert!(is_base60_float("1:20"));
        assert!(is_base60_float("-190:20:30.15"));
        assert!(!is_base60_float("1:60"));
        assert!(!is_base60_float("12"));
        assert!(!is_base60_float("a:1"));
        assert!(is_old_bool("Off"));
    }
}
