//! The dotenv store: `KEY=VALUE` lines (split at `\n` only) cut at the first `=` (both
//! sides verbatim, a CRLF's `\r` included), `#` comments, `\n` in a value meaning a newline,
//! empty lines dropped, duplicate keys kept; metadata as sorted `sops_*` keys.

use crate::error::Error;
use crate::metadata;
use crate::tree::{Branch, Item, Tree, Value};

const PREFIX: &str = "sops_";

/// Parses a dotenv file; returns the data and the `sops_*` metadata (if any).
pub fn parse(src: &[u8]) -> Result<(Tree, Option<Branch>), Error> {
    let text = std::str::from_utf8(src)
        .map_err(|e| Error::parse("dotenv", None, format!("not UTF-8 ({e})")))?;
    let mut b = Branch::default();
    let mut meta = Vec::new();
    // As sops: lines split at `\n` only (a `\r` of CRLF stays in the value, issue 21 D6),
    // only empty lines skipped, duplicate keys kept.
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            b.0.push(Item::Comment(c.to_owned()));
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(Error::parse(
                "dotenv",
                Some(n + 1),
                "a line is neither `KEY=VALUE` nor a `#` comment",
            ));
        };
        if let Some(mk) = k.strip_prefix(PREFIX) {
            meta.push((mk.to_owned(), v.replace("\\n", "\n")));
            continue;
        }
        b.0.push(Item::Entry(
            k.to_owned(),
            Value::Str(v.replace("\\n", "\n")),
        ));
    }
    let meta = (!meta.is_empty())
        .then(|| metadata::unflatten(meta.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    Ok((Tree { docs: vec![b] }, meta))
}

/// Emits the data and, for an encrypted file, the flattened metadata.
pub fn emit(tree: &Tree, meta: Option<&Branch>) -> Result<Vec<u8>, Error> {
    let mut out = String::new();
    for doc in &tree.docs {
        for item in &doc.0 {
            match item {
                Item::Comment(c) => {
                    out.push('#');
                    out.push_str(c);
                }
                Item::Entry(k, v) => {
                    let text = super::flat_text(v, "dotenv", k)?;
                    out.push_str(k);
                    out.push('=');
                    out.push_str(&text.replace('\n', "\\n"));
                }
            }
            out.push('\n');
        }
    }
    if let Some(m) = meta {
        for (k, v) in metadata::flatten(m) {
            out.push_str(&format!("{PREFIX}{k}={}\n", v.replace('\n', "\\n")));
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_verbatim_lines() {
        let src = "# c\nA=1\nB=  x = y  \n\nC=a\\nb\n";
        let (t, m) = parse(src.as_bytes()).unwrap();
        assert!(m.is_none());
        assert_eq!(t.docs[0].get("C"), Some(&Value::Str("a\nb".into())));
        assert_eq!(emit(&t, None).unwrap(), b"# c\nA=1\nB=  x = y  \nC=a\\nb\n");
    }

    #[test]
    fn bad_lines_fail() {
        assert!(matches!(
            parse(b"A=1\nnope\n"),
            Err(Error::Parse { line: Some(2), .. })
        ));
        // Only empty lines are skipped: a blank CRLF line is `\r`, not a KEY=VALUE (as sops).
        assert!(matches!(parse(b"A=1\r\n\r\n"), Err(Error::Parse { .. })));
    }

    /// As sops (issue 21 D6): split at `\n` only, so a CRLF's `\r` stays in the value and the
    /// MAC of a sops-written CRLF file holds; repeated keys are kept.
    #[test]
    fn crlf_and_repeated_keys_as_sops() {
        let (t, _) = parse(b"A=1\r\nA=2\r\n#c\r\n").unwrap();
        assert_eq!(
            t.docs[0].0,
            vec![
                Item::Entry("A".into(), Value::Str("1\r".into())),
                Item::Entry("A".into(), Value::Str("2\r".into())),
                Item::Comment("c\r".into()),
            ]
        );
    }
}
