//! The plaintext-secret scanner: a Kubernetes `Secret` outside a SOPS file, or a known
//! credential pattern (PEM private key, also base64-wrapped as in a Secret or kubeconfig;
//! age secret key; GitHub token; kubeconfig `client-key-data`) anywhere in clear text.
//! Findings name the pattern and the line, never the matched text.

use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

use super::yaml::Parsed;
use super::{line_of, Finding, RepoFile};

const RULE: &str = "plaintext-secret";

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

static SECRET_KIND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*(?:- )?"?kind"?\s*:\s*["']?Secret["']?\s*,?\s*(?:#.*)?$"#)
        .expect("valid pattern")
});

/// Scans every text file.
pub fn check(files: &[RepoFile], parsed: &[Parsed]) -> Vec<Finding> {
    // SOPS files, and files named like one (reported as unencrypted by the SOPS check).
    let sops: std::collections::BTreeSet<usize> = parsed
        .iter()
        .filter(|p| p.sops || super::sopsfile::named_sops(&files[p.file].path))
        .map(|p| p.file)
        .collect();
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let Some(text) = &f.text else { continue };
        scan_credentials(f, text, &mut out);
        if !sops.contains(&i) {
            for m in SECRET_KIND.find_iter(text) {
                out.push(Finding::error(
                    f,
                    Some(line_of(text, m.start())),
                    RULE,
                    "Kubernetes Secret in clear text: encrypt the file with `mcb secrets encrypt` \
                     (name it *.sops.yaml so the .sops.yaml rule applies) and rotate its values, \
                     they are in git history",
                ));
            }
        }
    }
    out
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
}
