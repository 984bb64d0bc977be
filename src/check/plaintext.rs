//! The plaintext-secret scanner: a Kubernetes `Secret` outside a SOPS file, or a known
//! credential pattern (PEM private key, also base64-wrapped as in a Secret or kubeconfig;
//! age secret key; GitHub token; kubeconfig `client-key-data`) anywhere in clear text.
//! Findings name the pattern and the line, never the matched text.
//!
//! A `Secret` is found by parsing: every document of every YAML/JSON file, in any style
//! (block, flow, JSON, tagged, block scalars, anchors), including `kind: List` items. A
//! document is encrypted only if it carries its own sops metadata, so a plaintext Secret
//! appended to a SOPS file is still found. Only a file that does not parse falls back to
//! matching lines.

use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

use super::yaml::{find_line, is_sops, Parsed};
use super::{line_of, Finding, RepoFile, Rule};

const RULE: Rule = Rule::PlaintextSecret;

struct Pattern {
    what: &'static str,
    re: Regex,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |what, re: &str| Pattern {
        what,
        re: Regex::new(re).expect("valid pattern"),
    };
    vec![
        p(
            "PEM private key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        ),
        p(
            "age secret key",
            r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        ),
        p(
            "GitHub token",
            r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b",
        ),
        p("GitHub token", r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
        p(
            "kubeconfig client key",
            r#"(?m)^\s*"?client-key-data"?\s*:\s*"?[A-Za-z0-9+/]{16,}"#,
        ),
    ]
});

/// base64 of `-----BEGIN` at a 3-byte boundary, as any base64-encoded PEM starts.
static BASE64_PEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}").expect("valid pattern"));

/// The line form of `kind: Secret`, for files that do not parse as YAML.
static SECRET_KIND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*(?:- )?"?kind"?\s*:\s*["']?Secret["']?\s*,?\s*(?:#.*)?$"#)
        .expect("valid pattern")
});

const CLEAR_SECRET: &str =
    "Kubernetes Secret in clear text: encrypt the file with `mcb secrets encrypt` \
     (name it *.sops.yaml so the .sops.yaml rule applies) and rotate its values, \
     they are in git history";

/// Scans every text file.
pub fn check(files: &[RepoFile], parsed: &[Parsed]) -> Vec<Finding> {
    let by_file: std::collections::BTreeMap<usize, &Parsed> =
        parsed.iter().map(|p| (p.file, p)).collect();
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let Some(text) = &f.text else { continue };
        scan_credentials(f, text, &mut out);
        match by_file.get(&i) {
            Some(p) if p.error.is_none() => {
                for (doc, start) in p.docs() {
                    if !is_sops(doc) && holds_secret(doc) {
                        let line = find_line(text, start, "kind");
                        out.push(Finding::error(f, Some(line), RULE, CLEAR_SECRET));
                    }
                }
            }
            // A file named like a SOPS file that does not parse is the SOPS check's.
            Some(p) if p.sops || super::sopsfile::named_sops(&f.path) => {}
            _ => {
                for m in SECRET_KIND.find_iter(text) {
                    let line = line_of(text, m.start());
                    out.push(Finding::error(f, Some(line), RULE, CLEAR_SECRET));
                }
            }
        }
    }
    out
}

/// Whether a document is a `Secret`, or a list (`kind: List`, `SecretList`…) with one
/// among its `items`. References such as `secretRef: {kind: Secret}` deeper down are not.
fn holds_secret(doc: &serde_json::Value) -> bool {
    doc.get("kind").and_then(serde_json::Value::as_str) == Some("Secret")
        || doc
            .get("items")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|items| items.iter().any(holds_secret))
}

/// Credential patterns in one file's text.
fn scan_credentials(f: &RepoFile, text: &str, out: &mut Vec<Finding>) {
    let msg = |what: &str| {
        format!(
            "{what} in clear text: move it into a SOPS-encrypted file and rotate it, it is in git history"
        )
    };
    for p in PATTERNS.iter() {
        for m in p.re.find_iter(text) {
            out.push(Finding::error(
                f,
                Some(line_of(text, m.start())),
                RULE,
                msg(p.what),
            ));
        }
    }
    for m in BASE64_PEM.find_iter(text) {
        let head = &m.as_str()[..m.len().min(64) / 4 * 4];
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(head)
            .unwrap_or_default();
        if String::from_utf8_lossy(&decoded).contains("PRIVATE KEY") {
            out.push(Finding::error(
                f,
                Some(line_of(text, m.start())),
                RULE,
                msg("base64-encoded PEM private key"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(path: &str, text: &str) -> Vec<(Option<usize>, String)> {
        let files = vec![RepoFile::new(path, text.as_bytes().to_vec())];
        let parsed = super::super::yaml::parse_all(&files);
        check(&files, &parsed)
            .into_iter()
            .map(|f| (f.line, f.message))
            .collect()
    }

    #[test]
    fn finds_each_pattern_with_its_line() {
        let b64key = base64::engine::general_purpose::STANDARD
            .encode("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n");
        let text = format!(
            "a: 1\nkey: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\nage: AGE-SECRET-KEY-1{}\ntok: ghp_{}\nk: {b64key}\n",
            "Q".repeat(58),
            "a".repeat(36)
        );
        let f = scan("x.yaml", &text);
        let lines: Vec<_> = f.iter().map(|(l, _)| l.unwrap()).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{f:?}");
        assert!(f
            .iter()
            .all(|(_, m)| !m.contains("QQQQ") && !m.contains("aaaa")));
    }

    #[test]
    fn secret_kind_outside_sops_only() {
        let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  a: YQ==\n";
        assert_eq!(scan("s.yaml", plain).len(), 1);
        assert_eq!(scan("s.yaml", plain)[0].0, Some(2));
        let sealed = format!("{plain}sops:\n    mac: ENC[x]\n    version: 3.11.0\n");
        assert!(scan("s.sops.yaml", &sealed).is_empty());
        assert!(scan("role.yaml", "kind: Role\nrules:\n- resources: [secrets]\n").is_empty());
        assert!(scan(
            "cert.yaml",
            "v: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUI=\n"
        )
        .is_empty());
    }

    /// Issue #15 item 4: every YAML form of a Secret is found, not only `kind: Secret` lines.
    #[test]
    fn issue_15_secret_in_any_yaml_form_is_found() {
        let sops_doc = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: a\ndata:\n    a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n    mac: ENC[x]\n    lastmodified: \"2026-11-25T21:37:37Z\"\n    version: 3.11.0\n";
        let cases = [
            (
                "flow",
                "s.yaml",
                "{apiVersion: v1, kind: Secret, metadata: {name: x}, data: {a: YQ==}}\n".to_owned(),
            ),
            (
                "json",
                "s.json",
                "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"data\": {\"a\": \"YQ==\"}}\n"
                    .to_owned(),
            ),
            (
                "json escape",
                "s.json",
                "{\"kind\": \"\\u0053ecret\", \"data\": {\"a\": \"YQ==\"}}\n".to_owned(),
            ),
            (
                "str tag",
                "s.yaml",
                "apiVersion: v1\nkind: !!str Secret\ndata:\n  a: YQ==\n".to_owned(),
            ),
            (
                "block scalar",
                "s.yaml",
                "apiVersion: v1\nkind: |-\n  Secret\ndata:\n  a: YQ==\n".to_owned(),
            ),
            (
                "quoted escape",
                "s.yaml",
                "kind: \"Secr\\x65t\"\ndata:\n  a: YQ==\n".to_owned(),
            ),
            (
                "anchor",
                "s.yaml",
                "metadata: {labels: {a: &k Secret}}\nkind: *k\ndata:\n  a: YQ==\n".to_owned(),
            ),
            (
                "list item",
                "s.yaml",
                "apiVersion: v1\nkind: List\nitems:\n- {kind: Secret, data: {a: YQ==}}\n"
                    .to_owned(),
            ),
            (
                "second document",
                "s.yaml",
                "kind: ConfigMap\n---\n# note\nkind: Secret\ndata:\n  a: YQ==\n".to_owned(),
            ),
            (
                "after a sops document",
                "s.sops.yaml",
                format!("{sops_doc}---\napiVersion: v1\nkind: Secret\ndata:\n    a: YQ==\n"),
            ),
        ];
        for (what, path, text) in cases {
            let f = scan(path, &text);
            assert_eq!(f.len(), 1, "{what}: {f:?}\n{text}");
            assert!(f[0].1.contains("Kubernetes Secret in clear text"), "{what}");
        }
        // The encrypted document alone, and references to Secrets, are fine.
        assert!(scan("s.sops.yaml", sops_doc).is_empty());
        assert!(scan(
            "hr.yaml",
            "kind: HelmRelease\nspec:\n  valuesFrom:\n  - {kind: Secret, name: x}\n"
        )
        .is_empty());
        // The line points at the document's kind.
        assert_eq!(
            scan("s.yaml", "kind: ConfigMap\n---\n# note\nkind: Secret\n")[0].0,
            Some(4)
        );
    }
}
