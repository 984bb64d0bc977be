//! Which characters a spec may hold. A spec value ends up in YAML, kubeconfigs, Dex config
//! and commit text; control characters (C0, DEL, C1), line and paragraph separators
//! (U+2028, U+2029) and bidirectional overrides would let a value look like one thing in
//! review and be another in the files mcb writes. They are rejected with the value's YAML
//! path. Newlines and tabs are allowed only in free-form text (`values`, connector
//! `config`, organization `description`), where multi-line strings are legitimate.

use serde_json::Value;

/// The first forbidden character in any key or string of `doc`: (YAML path, the character).
pub(crate) fn find_forbidden(doc: &Value) -> Option<(String, char)> {
    walk(doc, String::new(), false)
}

fn walk(v: &Value, path: String, free_form: bool) -> Option<(String, char)> {
    match v {
        Value::String(s) => forbidden_in(s, free_form).map(|c| (path, c)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| walk(x, format!("{path}[{i}]"), free_form)),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if let Some(c) = forbidden_in(k, false) {
                return Some((p, c));
            }
            let free = free_form || is_free_form(&p);
            walk(x, p, free)
        }),
        _ => None,
    }
}

/// Paths whose strings are free text (may span lines).
fn is_free_form(path: &str) -> bool {
    let in_list = |list: &str, field: &str| {
        path.strip_prefix(list)
            .and_then(|r| r.strip_prefix('['))
            .and_then(|r| r.split_once(']'))
            .is_some_and(|(i, rest)| i.bytes().all(|b| b.is_ascii_digit()) && rest == field)
    };
    path == "values"
        || in_list("oidc.connectors", ".config")
        || in_list("organizations", ".description")
}

/// The first character of `s` a spec must not hold.
fn forbidden_in(s: &str, free_form: bool) -> Option<char> {
    s.chars().find(|&c| {
        let whitespace_ok = free_form && (c == '\n' || c == '\t');
        (c.is_control() && !whitespace_ok)
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    })
}

/// How a forbidden character is named in an error (`U+007F`).
pub(crate) fn describe(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(yaml: &str) -> Option<(String, String)> {
        let v: Value = serde_saphyr::from_str(yaml).unwrap();
        find_forbidden(&v).map(|(p, c)| (p, describe(c)))
    }

    #[test]
    fn control_and_separator_characters_are_found_with_their_path() {
        assert_eq!(
            find("a: {b: [ok, \"x\\x7fy\"]}\n"),
            Some(("a.b[1]".into(), "U+007F".into()))
        );
        assert_eq!(
            find("baseDomain: \"a\\u2028b\"\n"),
            Some(("baseDomain".into(), "U+2028".into()))
        );
        assert_eq!(
            find("apiServer: {endpoint: \"a\\nb\"}\n"),
            Some(("apiServer.endpoint".into(), "U+000A".into()))
        );
        assert_eq!(
            find("\"k\\u0085\": 1\n"),
            Some(("k\u{85}".into(), "U+0085".into()))
        );
        assert_eq!(find("a: ok\n"), None);
    }

    #[test]
    fn free_text_may_span_lines_but_not_hold_controls() {
        assert_eq!(find("values: {motd: \"a\\nb\\tc\"}\noidc: {connectors: [{config: {ca: \"x\\ny\"}}]}\norganizations: [{description: \"p\\nq\"}]\n"), None);
        assert_eq!(
            find("values: {motd: \"a\\u0007\"}\n"),
            Some(("values.motd".into(), "U+0007".into()))
        );
        assert_eq!(
            find("organizations: [{name: \"a\\nb\"}]\n"),
            Some(("organizations[0].name".into(), "U+000A".into()))
        );
    }
}
