//! The INI store (as sops' go-ini based one): sections are top-level maps of strings, keys
//! before the first section live in `DEFAULT`; a section's comment is the first item of its
//! map, a key's comment follows the key; output aligns `=` per section. Metadata is the
//! flattened `[sops]` section.

use crate::error::Error;
use crate::metadata;
use crate::tree::{Branch, Item, Tree, Value};

/// Parses an INI file; returns the data and the `[sops]` metadata (if any).
pub fn parse(src: &[u8]) -> Result<(Tree, Option<Branch>), Error> {
    let text = std::str::from_utf8(src)
        .map_err(|e| Error::parse("INI", None, format!("not UTF-8 ({e})")))?;
    let mut sections: Vec<(String, Branch)> = vec![("DEFAULT".into(), Branch::default())];
    let mut comment: Vec<String> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(';') || line.starts_with('#') {
            comment.push(line.to_owned());
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| {
                    Error::parse("INI", Some(n + 1), "a section header lacks its closing `]`")
                })?
                .trim();
            // sops loads with go-ini's AllowNonUniqueSections: a repeated section is another one.
            let mut b = Branch::default();
            if !comment.is_empty() {
                b.0.push(Item::Comment(strip_comment(&comment.join("\n"))));
                comment.clear();
            }
            sections.push((name.to_owned(), b));
            continue;
        }
        // go-ini cuts the key at the first `=` or `:`.
        let Some(at) = line.find(['=', ':']) else {
            return Err(Error::parse(
                "INI",
                Some(n + 1),
                "a line is not `key = value`, a [section] or a comment",
            ));
        };
        let k = line[..at].trim();
        let (v, inline) = read_value(&line[at + 1..]);
        if let Some(c) = inline {
            comment.push(c.to_owned());
        }
        let (_, b) = sections.last_mut().expect("DEFAULT is always there");
        let text = (!comment.is_empty()).then(|| strip_comment(&comment.join("\n")));
        comment.clear();
        // A repeated key takes the new value and comment at the first one's place (go-ini).
        let at =
            b.0.iter()
                .position(|i| matches!(i, Item::Entry(x, _) if x == k));
        let at = match at {
            Some(i) => {
                b.0[i] = Item::Entry(k.to_owned(), Value::Str(v));
                if matches!(b.0.get(i + 1), Some(Item::Comment(_))) {
                    b.0.remove(i + 1);
                }
                i
            }
            None => {
                b.0.push(Item::Entry(k.to_owned(), Value::Str(v)));
                b.0.len() - 1
            }
        };
        if let Some(c) = text {
            b.0.insert(at + 1, Item::Comment(c));
        }
    }
    let mut meta = None;
    let mut data = Branch::default();
    for (name, b) in sections {
        if name == "sops" {
            let pairs: Vec<(String, String)> = b
                .entries()
                .map(|(k, v)| {
                    (
                        k.to_owned(),
                        match v {
                            Value::Str(s) => s.replace("\\n", "\n"),
                            _ => String::new(),
                        },
                    )
                })
                .collect();
            meta = Some(metadata::unflatten(
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ));
        } else {
            data.0.push(Item::Entry(name, Value::Map(b)));
        }
    }
    Ok((Tree { docs: vec![data] }, meta))
}

fn strip_comment(c: &str) -> String {
    if c.starts_with(';') {
        c.trim_start_matches([';', ' ']).to_owned()
    } else {
        c.trim_start_matches(['#', ' ']).to_owned()
    }
}

/// go-ini's `readValue` (sops' options): a value in `"""` or backticks is taken up to the
/// last closing quote; otherwise an inline comment starting at the first `#` or `;` is cut
/// off (returned), and one pair of surrounding `'` or `"` is removed when it is the only
/// pair (issue 21 D9).
fn read_value(raw: &str) -> (String, Option<&str>) {
    let line = raw.trim_start();
    for q in ["\"\"\"", "`"] {
        if line.len() > q.len() && line.starts_with(q) {
            if let Some(end) = line[q.len()..].rfind(q) {
                return (line[q.len()..q.len() + end].to_owned(), None);
            }
        }
    }
    let mut line = line.trim();
    let mut inline = None;
    if let Some(i) = line.find(['#', ';']) {
        inline = Some(&line[i..]);
        line = line[..i].trim();
    }
    let surrounded = |q: char| {
        line.len() >= 2 && line.starts_with(q) && line.ends_with(q) && line.matches(q).count() == 2
    };
    if surrounded('\'') || surrounded('"') {
        line = &line[1..line.len() - 1];
    }
    (line.to_owned(), inline)
}

fn quote(v: &str) -> String {
    if v.contains('\n') || v.contains('`') {
        format!("\"\"\"{v}\"\"\"")
    } else if v.contains('#') || v.contains(';') {
        format!("`{v}`")
    } else if v.trim() != v {
        format!("\"{v}\"")
    } else {
        v.to_owned()
    }
}

fn write_comment(c: &str, out: &mut String) {
    for line in c.split('\n') {
        match line.chars().next() {
            Some(p @ ('#' | ';')) => out.push_str(&format!("{p} {}", line[1..].trim())),
            _ => out.push_str(&format!("; {line}")),
        }
        out.push('\n');
    }
}

/// A key to write: its comment, name and value.
type Key = (Option<String>, String, String);
/// A section to write: its name, keys and comment.
type Section = (String, Vec<Key>, Option<String>);

/// Emits sections (and, for an encrypted file, a `[sops]` section).
pub fn emit(tree: &Tree, meta: Option<&Branch>) -> Result<Vec<u8>, Error> {
    let mut sections: Vec<Section> = Vec::new();
    for doc in &tree.docs {
        for (name, v) in doc.entries() {
            let Value::Map(b) = v else {
                return Err(Error::Unsupported {
                    file: Default::default(),
                    message: format!("INI top-level entries must be sections; `{name}` is not"),
                });
            };
            let mut items = b.0.iter().peekable();
            let mut sec_comment = None;
            if let Some(Item::Comment(c)) = items.peek() {
                sec_comment = Some(c.clone());
                items.next();
            }
            let mut keys: Vec<Key> = Vec::new();
            for item in items {
                match item {
                    Item::Comment(c) => {
                        if let Some(last) = keys.last_mut() {
                            last.0 = Some(c.clone());
                        }
                    }
                    Item::Entry(k, v) => {
                        let text = super::flat_text(v, "INI", &format!("{name}:{k}"))?;
                        keys.push((None, k.clone(), text));
                    }
                }
            }
            sections.push((name.to_owned(), keys, sec_comment));
        }
    }
    if let Some(m) = meta {
        let keys = metadata::flatten(m)
            .into_iter()
            .map(|(k, v)| (None, k, v.replace('\n', "\\n")))
            .collect();
        sections.push(("sops".into(), keys, None));
    }
    let mut out = String::new();
    let mut first = true;
    for (name, keys, comment) in &sections {
        if name == "DEFAULT" && keys.is_empty() && comment.is_none() {
            continue;
        }
        if !first {
            out.push('\n');
        }
        first = false;
        if let Some(c) = comment {
            write_comment(c, &mut out);
        }
        if name != "DEFAULT" {
            out.push_str(&format!("[{name}]\n"));
        }
        // go-ini aligns by byte length (issue 21 D9: non-ASCII keys get fewer columns).
        let width = keys.iter().map(|k| k.1.len()).max().unwrap_or(0);
        for (c, k, v) in keys {
            if let Some(c) = c {
                write_comment(c, &mut out);
            }
            let pad = width - k.len();
            out.push_str(&format!("{k}{} = {}\n", " ".repeat(pad), quote(v)));
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_comments_and_alignment() {
        let src = "; about db\n[db]\nuser = a\n; about pw\npassword = b\n";
        let (t, m) = parse(src.as_bytes()).unwrap();
        assert!(m.is_none());
        let Some(Value::Map(db)) = t.docs[0].get("db") else {
            panic!()
        };
        assert_eq!(db.0[0], Item::Comment("about db".into()));
        assert_eq!(
            String::from_utf8(emit(&t, None).unwrap()).unwrap(),
            "; about db\n[db]\nuser     = a\n; about pw\npassword = b\n"
        );
    }

    #[test]
    fn bad_lines_fail() {
        assert!(matches!(
            parse(b"[db\n"),
            Err(Error::Parse { line: Some(1), .. })
        ));
        assert!(matches!(parse(b"[a]\nx\n"), Err(Error::Parse { .. })));
    }

    /// As go-ini loads for sops (issue 21 D9): a repeated key takes the new value at the
    /// first place, a repeated section is another section, inline comments are cut off and
    /// become the key's comment, one pair of surrounding quotes is removed, `:` also ends a key.
    #[test]
    fn values_read_as_go_ini() {
        let (t, _) = parse(b"[a]\nx=1\ny='q'\nx=2 ; two\nz = a;b\nw:\"d\"q\"\n[a]\nv=1\n").unwrap();
        let doc = &t.docs[0];
        let Item::Entry(_, Value::Map(a)) = &doc.0[1] else {
            panic!("{doc:?}")
        };
        assert_eq!(
            a.0,
            vec![
                Item::Entry("x".into(), Value::Str("2".into())),
                Item::Comment("two".into()),
                Item::Entry("y".into(), Value::Str("q".into())),
                Item::Entry("z".into(), Value::Str("a".into())),
                Item::Comment("b".into()),
                Item::Entry("w".into(), Value::Str("\"d\"q\"".into())),
            ]
        );
        assert_eq!(doc.entries().filter(|(k, _)| *k == "a").count(), 2);
    }
}
