//! The INI store (as sops' go-ini based one): sections are top-level maps of strings, keys
//! before the first section live in `DEFAULT`; a section's comment is the first item of its
//! map, a key's comment follows the key; output aligns `=` per section. Metadata is the
//! flattened `[sops]` section.

use crate::sops::error::Error;
use crate::sops::metadata;
use crate::sops::tree::{Branch, Item, Tree, Value};

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
            if sections.iter().any(|(s, _)| s == name) {
                return Err(Error::DuplicateKey {
                    file: Default::default(),
                    key_path: name.to_owned(),
                });
            }
            let mut b = Branch::default();
            if !comment.is_empty() {
                b.0.push(Item::Comment(strip_comment(&comment.join("\n"))));
                comment.clear();
            }
            sections.push((name.to_owned(), b));
            continue;
        }
        let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            return Err(Error::parse(
                "INI",
                Some(n + 1),
                "a line is not `key = value`, a [section] or a comment",
            ));
        };
        let (k, v) = (k.trim(), unquote(v.trim()));
        let (section, b) = sections.last_mut().expect("DEFAULT is always there");
        if b.get(k).is_some() {
            return Err(Error::DuplicateKey {
                file: Default::default(),
                key_path: format!("{section}:{k}"),
            });
        }
        b.0.push(Item::Entry(k.to_owned(), Value::Str(v)));
        if !comment.is_empty() {
            b.0.push(Item::Comment(strip_comment(&comment.join("\n"))));
            comment.clear();
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

fn unquote(v: &str) -> String {
    for q in ["\"\"\"", "\"", "`"] {
        if v.len() >= 2 * q.len() && v.starts_with(q) && v.ends_with(q) {
            return v[q.len()..v.len() - q.len()].to_owned();
        }
    }
    v.to_owned()
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
        let width = keys.iter().map(|k| k.1.chars().count()).max().unwrap_or(0);
        for (c, k, v) in keys {
            if let Some(c) = c {
                write_comment(c, &mut out);
            }
            let pad = width - k.chars().count();
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
        assert!(matches!(
            parse(b"[a]\nx=1\nx=2\n"),
            Err(Error::DuplicateKey { .. })
        ));
    }
}
