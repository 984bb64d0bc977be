//! The JSON store: one object per file, key order kept, duplicate keys refused, every number
//! a float64 (as sops 3.11); emitted as Go's encoding/json would indent it (a TAB per level,
//! `<>&` escaped, Go float formatting).

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::Error;
use crate::tree::{Branch, Item, Tree, Value};

/// Parses a JSON document into a tree (top level must be an object).
pub fn parse(src: &[u8]) -> Result<Tree, Error> {
    let text = std::str::from_utf8(src)
        .map_err(|e| Error::parse("JSON", None, format!("not UTF-8 ({e})")))?;
    if text.trim().is_empty() {
        return Err(Error::Empty {
            file: Default::default(),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let v = JsonValue::deserialize_any(&mut de).map_err(|e| json_err(&e, text))?;
    de.end().map_err(|e| json_err(&e, text))?;
    match v.0 {
        Value::Map(b) => Ok(Tree { docs: vec![b] }),
        _ => Err(Error::parse(
            "JSON",
            Some(1),
            "the top level must be an object",
        )),
    }
}

fn json_err(e: &serde_json::Error, _text: &str) -> Error {
    let msg = e.to_string();
    if let Some(k) = msg.strip_prefix("duplicate key ") {
        let key = k
            .split(" at line")
            .next()
            .unwrap_or(k)
            .trim_matches('`')
            .to_owned();
        return Error::DuplicateKey {
            file: Default::default(),
            key_path: key,
        };
    }
    // serde_json appends " at line L column C"; keep the message, expose the line.
    let line = (e.line() > 0).then_some(e.line());
    Error::parse("JSON", line, msg)
}

struct JsonValue(Value);

impl JsonValue {
    fn deserialize_any<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(V)
    }
}

struct V;

impl<'de> Visitor<'de> for V {
    type Value = JsonValue;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<JsonValue, E> {
        Ok(JsonValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JsonValue, E> {
        Ok(JsonValue(Value::Float(v as f64)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JsonValue, E> {
        Ok(JsonValue(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<JsonValue, E> {
        Ok(JsonValue(Value::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<JsonValue, E> {
        Ok(JsonValue(Value::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<JsonValue, E> {
        Ok(JsonValue(Value::Str(v)))
    }
    fn visit_unit<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        let mut out = Vec::new();
        while let Some(JsonValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(JsonValue(Value::List(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue, A::Error> {
        let mut b = Branch::default();
        while let Some(k) = map.next_key::<String>()? {
            if b.get(&k).is_some() {
                return Err(de::Error::custom(format_args!("duplicate key `{k}`")));
            }
            let JsonValue(v) = map.next_value()?;
            b.0.push(Item::Entry(k, v));
        }
        Ok(JsonValue(Value::Map(b)))
    }
}

/// Emits a tree (its first document) as sops writes JSON, with a final newline.
pub fn emit(tree: &Tree) -> String {
    let empty = Branch::default();
    let b = tree.docs.first().unwrap_or(&empty);
    let mut out = String::new();
    emit_map(b, 0, &mut out);
    out.push('\n');
    out
}

/// One value as Go's `json.MarshalIndent` writes it with a TAB indent (no final newline).
pub fn value_text(v: &Value) -> String {
    let mut out = String::new();
    emit_value(v, 0, &mut out);
    out
}

/// One value as Go's `json.Marshal` writes sops' tree value (sops' INI `EmitValue`): compact,
/// and a map as the Go slice of tree items it is (`[{"Key":"a","Value":1}]`).
pub fn compact_text(v: &Value) -> String {
    let mut out = String::new();
    compact(v, &mut out);
    out
}

fn compact(v: &Value, out: &mut String) {
    match v {
        Value::Map(b) => {
            out.push('[');
            for (i, (k, v)) in b.entries().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"Key\":");
                write_string(k, out);
                out.push_str(",\"Value\":");
                compact(v, out);
                out.push('}');
            }
            out.push(']');
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                compact(item, out);
            }
            out.push(']');
        }
        Value::Comment(c) => {
            out.push_str("{\"Value\":");
            write_string(c, out);
            out.push('}');
        }
        scalar => emit_value(scalar, 0, out),
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push('\t');
    }
}

fn emit_map(b: &Branch, level: usize, out: &mut String) {
    let entries: Vec<_> = b.entries().collect();
    if entries.is_empty() {
        out.push_str("{}");
        return;
    }
    emit_block(out, level, ('{', '}'), &entries, |(k, v), out| {
        write_string(k, out);
        out.push_str(": ");
        emit_value(v, level + 1, out);
    });
}

/// `open`, one tab-indented line per item with commas between, then `close` at `level`
/// (Go's `json.MarshalIndent` layout, shared by objects and arrays).
fn emit_block<T>(
    out: &mut String,
    level: usize,
    (open, close): (char, char),
    items: &[T],
    mut each: impl FnMut(&T, &mut String),
) {
    out.push(open);
    out.push('\n');
    for (i, item) in items.iter().enumerate() {
        indent(out, level + 1);
        each(item, out);
        if i + 1 < items.len() {
            out.push(',');
        }
        out.push('\n');
    }
    indent(out, level);
    out.push(close);
}

fn emit_value(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&go_json_float(*f)),
        Value::Str(s) => write_string(s, out),
        Value::Time(t) => write_string(t.as_str(), out),
        Value::Map(b) => emit_map(b, level, out),
        Value::List(items) => {
            // JSON has no comments: list comments are dropped.
            let items: Vec<_> = items
                .iter()
                .filter(|i| !matches!(i, Value::Comment(_)))
                .collect();
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            emit_block(out, level, ('[', ']'), &items, |item, out| {
                emit_value(item, level + 1, out)
            });
        }
        Value::Comment(_) => out.push_str("null"),
    }
}

/// Go encoding/json float64: positional unless |f| < 1e-6 or >= 1e21, exponent `e+21`/`e-7`.
pub fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        // encoding/json refuses these; sops would fail. Emit something readable.
        return crate::scalar::format_float(f);
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// Go's JSON string escaping (HTML-safe).
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_order_and_types_numbers_as_float() {
        let t = parse(br#"{"b": 1, "a": [true, null, "x<"], "c": {}}"#).unwrap();
        let keys: Vec<_> = t.docs[0].entries().map(|e| e.0).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(t.docs[0].get("b"), Some(&Value::Float(1.0)));
        assert_eq!(emit(&t), "{\n\t\"b\": 1,\n\t\"a\": [\n\t\ttrue,\n\t\tnull,\n\t\t\"x\\u003c\"\n\t],\n\t\"c\": {}\n}\n");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            parse(br#"{"a": 1, "a": 2}"#),
            Err(Error::DuplicateKey { .. })
        ));
        assert!(matches!(parse(b"[1]"), Err(Error::Parse { .. })));
        assert!(matches!(parse(b"{\"a\": "), Err(Error::Parse { .. })));
        assert!(matches!(parse(b"\xff"), Err(Error::Parse { .. })));
        assert!(matches!(parse(b"  "), Err(Error::Empty { .. })));
    }

    #[test]
    fn floats_as_go_json() {
        assert_eq!(go_json_float(1e21), "1e+21");
        assert_eq!(go_json_float(1e-7), "1e-7");
        assert_eq!(go_json_float(1500000.0), "1500000");
        assert_eq!(go_json_float(9007199254740993.0), "9007199254740992");
    }
}
