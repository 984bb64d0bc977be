//! SOPS files without a key: metadata present and well-formed, every value the file's own
//! crypt rule covers is `ENC[…]`, and the age recipients are exactly those its `.sops.yaml`
//! creation rule names (first matching rule, path relative to the nearest `.sops.yaml`).
//! With an [`Opener`] (a key): the MAC, and certificates inside the decrypted secrets.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;

use super::yaml::{find_line, is_sops, Parsed};
use super::{expiry, Finding, Opener, RepoFile};

/// Every `.sops.yaml` among the checked files, by directory (`""` for the root).
pub struct RuleSets {
    configs: BTreeMap<String, Result<Vec<Rule>, (Option<usize>, String)>>,
}

/// One creation rule, as far as the check needs it.
#[derive(Debug)]
struct Rule {
    path_regex: Option<Regex>,
    /// Recipients per key group.
    groups: Vec<BTreeSet<String>>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    creation_rules: Vec<RawRule>,
}

#[derive(Deserialize)]
struct RawRule {
    path_regex: Option<String>,
    age: Option<StrOrList>,
    #[serde(default)]
    key_groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
struct RawGroup {
    #[serde(default)]
    age: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrList {
    Str(String),
    List(Vec<String>),
}

const CONFIG: &str = ".sops.yaml";

impl RuleSets {
    /// Parses every `.sops.yaml` in `files`.
    pub fn load(files: &[RepoFile]) -> Self {
        let configs = files
            .iter()
            .filter(|f| f.path == CONFIG || f.path.ends_with("/.sops.yaml"))
            .map(|f| {
                let dir = f.path.strip_suffix(CONFIG).unwrap_or("").trim_end_matches('/').to_owned();
                (dir, parse_config(f.text()))
            })
            .collect();
        RuleSets { configs }
    }

    /// The nearest config for `path`: (its directory, its parsed rules).
    fn nearest(&self, path: &str) -> Option<(&str, &Result<Vec<Rule>, (Option<usize>, String)>)> {
        let mut dir = path;
        loop {
            dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            if let Some((d, c)) = self.configs.get_key_value(dir) {
                return Some((d.as_str(), c));
            }
            if dir.is_empty() {
                return None;
            }
        }
    }
}

fn parse_config(text: &str) -> Result<Vec<Rule>, (Option<usize>, String)> {
    let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| {
        (
            e.location().map(|l| l.line() as usize),
            e.without_snippet().to_string().lines().next().unwrap_or("").to_owned(),
        )
    })?;
    raw.creation_rules
        .into_iter()
        .map(|r| {
            let path_regex = match r.path_regex {
                Some(re) => Some(Regex::new(&re).map_err(|e| (None, format!("path_regex {re:?}: {e}")))?),
                None => None,
            };
            let split = |s: &str| -> BTreeSet<String> {
                s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
            };
            let mut groups: Vec<BTreeSet<String>> = r
                .key_groups
                .iter()
                .map(|g| g.age.iter().flat_map(|a| split(a)).collect())
                .collect();
            match r.age {
                Some(StrOrList::Str(s)) => groups.push(split(&s)),
                Some(StrOrList::List(l)) => groups.push(l.iter().flat_map(|a| split(a)).collect()),
                None => {}
            }
            Ok(Rule { path_regex, groups })
        })
        .collect()
}

/// Structure, encrypted values and recipients of every SOPS file.
pub fn check(files: &[RepoFile], parsed: &[Parsed], rules: &RuleSets) -> Vec<Finding> {
    let mut out = Vec::new();
    for (dir, cfg) in &rules.configs {
        if let Err((line, msg)) = cfg {
            let path = if dir.is_empty() { CONFIG.to_owned() } else { format!("{dir}/{CONFIG}") };
            if let Some(f) = files.iter().find(|f| f.path == path) {
                out.push(Finding::error(f, *line, "sops-invalid", format!("not a valid sops config: {msg}")));
            }
        }
    }
    for p in parsed.iter().filter(|p| p.sops) {
        let f = &files[p.file];
        if f.path.ends_with(CONFIG) && f.path.rsplit('/').next() == Some(CONFIG) {
            continue;
        }
        if let Some((line, msg)) = &p.error {
            out.push(Finding::error(f, *line, "sops-invalid", format!("SOPS file does not parse: {msg}")));
            continue;
        }
        let Some((doc, start)) = p.docs().find(|(d, _)| is_sops(d)) else {
            continue;
        };
        let text = f.text();
        let sops_line = find_line(text, start, "sops:");
        structure(f, doc, text, sops_line, &mut out);
        for (d, s) in p.docs() {
            encrypted_values(f, d, text, s, &mut out);
        }
        recipients(f, doc, text, sops_line, rules, &mut out);
    }
    out
}

fn structure(f: &RepoFile, doc: &Value, text: &str, sops_line: usize, out: &mut Vec<Finding>) {
    let meta = &doc["sops"];
    match meta.get("mac").and_then(Value::as_str) {
        Some(m) if m.starts_with("ENC[AES256_GCM,") => {}
        _ => out.push(Finding::error(
            f,
            Some(find_line(text, sops_line, "mac:")),
            "sops-mac",
            "the file has no MAC, so changes to it cannot be detected: re-encrypt it with `mcb secrets encrypt`",
        )),
    }
    for key in ["lastmodified", "version"] {
        if meta.get(key).and_then(Value::as_str).is_none() {
            out.push(Finding::error(
                f,
                Some(sops_line),
                "sops-invalid",
                format!("sops metadata has no `{key}`: the file was not written by sops; restore it from git"),
            ));
        }
    }
    let ages = age_entries(meta);
    let other_keys = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"]
        .iter()
        .any(|k| meta.get(*k).and_then(Value::as_array).is_some_and(|a| !a.is_empty()));
    if ages.is_empty() && !other_keys {
        out.push(Finding::error(
            f,
            Some(sops_line),
            "sops-invalid",
            "sops metadata names no key: nobody can decrypt this file; restore it from git",
        ));
    }
    for (rcpt, entry) in ages {
        let armored = entry.get("enc").and_then(Value::as_str).unwrap_or("");
        if !armored.contains("-----BEGIN AGE ENCRYPTED FILE-----") {
            out.push(Finding::error(
                f,
                Some(recipient_line(text, sops_line, &rcpt)),
                "sops-invalid",
                format!("age recipient {rcpt} has no encrypted data key: run `mcb secrets updatekeys {}`", f.path),
            ));
        }
    }
}

/// `(recipient, entry)` for every age entry, top-level and in key groups.
fn age_entries(meta: &Value) -> Vec<(String, &Value)> {
    let top = meta.get("age").and_then(Value::as_array).into_iter().flatten();
    let grouped = meta
        .get("key_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("age").and_then(Value::as_array))
        .flatten();
    top.chain(grouped)
        .map(|e| (e.get("recipient").and_then(Value::as_str).unwrap_or("").to_owned(), e))
        .collect()
}

fn recipient_line(text: &str, sops_line: usize, rcpt: &str) -> usize {
    find_line(text, sops_line, &format!("recipient: {rcpt}"))
}

/// Which keys' values the file's own metadata says are encrypted (sops semantics: a rule on
/// any key of the path decides).
enum Crypt {
    EncryptedRegex(Regex),
    UnencryptedRegex(Regex),
    EncryptedSuffix(String),
    UnencryptedSuffix(String),
    /// Comment-driven rules: the parsed values cannot tell, so nothing is checked.
    Unknown,
}

impl Crypt {
    fn of(meta: &Value) -> Result<Crypt, String> {
        let s = |k: &str| meta.get(k).and_then(Value::as_str);
        let re = |r: &str| Regex::new(r).map_err(|e| format!("bad regex {r:?}: {e}"));
        Ok(if let Some(r) = s("encrypted_regex") {
            Crypt::EncryptedRegex(re(r)?)
        } else if let Some(r) = s("unencrypted_regex") {
            Crypt::UnencryptedRegex(re(r)?)
        } else if let Some(x) = s("encrypted_suffix") {
            Crypt::EncryptedSuffix(x.to_owned())
        } else if s("encrypted_comment_regex").is_some() || s("unencrypted_comment_regex").is_some() {
            Crypt::Unknown
        } else {
            Crypt::UnencryptedSuffix(s("unencrypted_suffix").unwrap_or("_unencrypted").to_owned())
        })
    }

    fn encrypts(&self, keys: &[&str]) -> bool {
        match self {
            Crypt::EncryptedRegex(r) => keys.iter().any(|k| r.is_match(k)),
            Crypt::UnencryptedRegex(r) => !keys.iter().any(|k| r.is_match(k)),
            Crypt::EncryptedSuffix(x) => keys.iter().any(|k| k.ends_with(x.as_str())),
            Crypt::UnencryptedSuffix(x) => !keys.iter().any(|k| k.ends_with(x.as_str())),
            Crypt::Unknown => false,
        }
    }
}

fn encrypted_values(f: &RepoFile, doc: &Value, text: &str, start: usize, out: &mut Vec<Finding>) {
    if !is_sops(doc) {
        return;
    }
    let meta = &doc["sops"];
    let crypt = match Crypt::of(meta) {
        Ok(c) => c,
        Err(msg) => {
            out.push(Finding::error(f, Some(find_line(text, start, "sops:")), "sops-invalid", msg));
            return;
        }
    };
    let Some(map) = doc.as_object() else { return };
    let mut clear = Vec::new();
    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "sops") {
        walk(v, &mut vec![k.as_str()], &crypt, &mut clear);
    }
    for path in clear {
        let last = path.last().copied().unwrap_or("");
        out.push(Finding::error(
            f,
            Some(find_line(text, start, &format!("{last}:"))),
            "plaintext-secret",
            format!(
                "value at `{}` is in clear text although the file's crypt rule covers it: \
                 re-encrypt the file with `mcb secrets encrypt` and rotate the value",
                path.join(".")
            ),
        ));
    }
}

fn walk<'a>(v: &'a Value, path: &mut Vec<&'a str>, crypt: &Crypt, clear: &mut Vec<Vec<&'a str>>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                path.push(k);
                walk(c, path, crypt, clear);
                path.pop();
            }
        }
        Value::Array(a) => a.iter().for_each(|c| walk(c, path, crypt, clear)),
        Value::Null => {}
        Value::String(s) if s.starts_with("ENC[AES256_GCM,") => {}
        _ => {
            if crypt.encrypts(path) {
                clear.push(path.clone());
            }
        }
    }
}

fn recipients(f: &RepoFile, doc: &Value, text: &str, sops_line: usize, rules: &RuleSets, out: &mut Vec<Finding>) {
    let Some((dir, cfg)) = rules.nearest(&f.path) else {
        out.push(Finding::error(
            f,
            Some(sops_line),
            "sops-recipients",
            "no .sops.yaml applies to this file: add a creation rule for it (mcb writes one per installation)",
        ));
        return;
    };
    let Ok(cfg) = cfg else { return }; // reported once on the config itself
    let config = if dir.is_empty() { CONFIG.to_owned() } else { format!("{dir}/{CONFIG}") };
    let rel = if dir.is_empty() { f.path.as_str() } else { &f.path[dir.len() + 1..] };
    let Some((n, rule)) = cfg
        .iter()
        .enumerate()
        .find(|(_, r)| r.path_regex.as_ref().is_none_or(|re| re.is_match(rel)))
    else {
        out.push(Finding::error(
            f,
            Some(sops_line),
            "sops-recipients",
            format!("no creation rule in {config} matches this path: add one, or move the file"),
        ));
        return;
    };
    let meta = &doc["sops"];
    let expected: BTreeSet<&str> = rule.groups.iter().flatten().map(String::as_str).collect();
    let actual_entries = age_entries(meta);
    let actual: BTreeSet<&str> = actual_entries.iter().map(|(r, _)| r.as_str()).collect();
    let fix = format!("run `mcb secrets updatekeys {}`", f.path);
    for r in expected.difference(&actual) {
        out.push(Finding::error(
            f,
            Some(sops_line),
            "sops-recipients",
            format!("not encrypted for {r}, which rule {} of {config} names: {fix}", n + 1),
        ));
    }
    for r in actual.difference(&expected) {
        out.push(Finding::error(
            f,
            Some(recipient_line(text, sops_line, r)),
            "sops-recipients",
            format!(
                "encrypted for {r}, which rule {} of {config} does not name (its holder can read this file): {fix}, \
                 then rotate the values",
                n + 1
            ),
        ));
    }
    let groups = meta.get("key_groups").and_then(Value::as_array).map_or(1, Vec::len);
    if expected == actual && rule.groups.len() > 1 && groups != rule.groups.len() {
        out.push(Finding::error(
            f,
            Some(sops_line),
            "sops-recipients",
            format!("has {groups} key group(s), rule {} of {config} names {}: {fix}", n + 1, rule.groups.len()),
        ));
    }
}

/// With a key: decrypt every SOPS file (which verifies its MAC) and check the certificates
/// inside it for expiry.
pub fn check_macs(
    files: &[RepoFile],
    parsed: &[Parsed],
    opener: &dyn Opener,
    now: time::OffsetDateTime,
    warn_within: time::Duration,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in parsed.iter().filter(|p| p.sops && p.error.is_none()) {
        let f = &files[p.file];
        if f.path.rsplit('/').next() == Some(CONFIG) {
            continue;
        }
        match opener.open(&f.path, f.text().as_bytes()) {
            Ok(plain) => {
                let text = String::from_utf8_lossy(plain.expose_secret());
                out.extend(expiry::certificates(f, &text, now, warn_within));
            }
            Err(msg) => out.push(Finding::error(
                f,
                Some(find_line(f.text(), 1, "mac:")),
                "sops-mac",
                format!("{msg}: the file was changed without sops; restore it from git or edit it with `mcb secrets edit`"),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::yaml::parse_all;

    const R1: &str = "age1e8n74a6a7gupww7ll0y7hj2v8v7qklt3mfhdvy6sr6a2upnmlpjq3ysh0u";
    const R2: &str = "age1zr5cftauhg65ruh2ksqdvr5k359pxc2jf9g7znk5evq5y26fvyrscan7sw";

    fn sops_file(recipients: &[&str], data: &str) -> String {
        let mut s = format!("apiVersion: v1\nkind: Secret\nmetadata:\n    name: x\ndata:\n    a: {data}\nsops:\n    age:\n");
        for r in recipients {
            s.push_str(&format!(
                "        - recipient: {r}\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YQ==\n            -----END AGE ENCRYPTED FILE-----\n"
            ));
        }
        s.push_str("    lastmodified: \"2026-11-25T21:37:37Z\"\n    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n    encrypted_regex: ^(data|stringData)$\n    version: 3.11.0\n");
        s
    }

    fn run(config: &str, file: &str) -> Vec<(&'static str, Option<usize>, String)> {
        let files = vec![
            RepoFile::new(".sops.yaml", config.as_bytes().to_vec()),
            RepoFile::new("installations/a/secrets/x.sops.yaml", file.as_bytes().to_vec()),
        ];
        let parsed = parse_all(&files);
        let rules = RuleSets::load(&files);
        check(&files, &parsed, &rules).into_iter().map(|f| (f.rule, f.line, f.message)).collect()
    }

    const ENC: &str = "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]";

    fn cfg(list: &[&str]) -> String {
        format!(
            "creation_rules:\n  - path_regex: ^installations/a/.*\\.sops\\.yaml$\n    age:\n{}",
            list.iter().map(|r| format!("      - {r}\n")).collect::<String>()
        )
    }

    #[test]
    fn clean_file_has_no_findings() {
        assert!(run(&cfg(&[R1]), &sops_file(&[R1], ENC)).is_empty());
        // comma-separated string form
        let c = format!("creation_rules:\n  - age: '{R1}, {R2}'\n");
        assert!(run(&c, &sops_file(&[R2, R1], ENC)).is_empty());
    }

    #[test]
    fn missing_and_extra_recipients() {
        let f = run(&cfg(&[R1, R2]), &sops_file(&[R1], ENC));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].2.contains(R2) && f[0].2.contains("not encrypted for"), "{f:?}");
        let f = run(&cfg(&[R1]), &sops_file(&[R1, R2], ENC));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].1, Some(14), "line of the extra recipient: {f:?}");
    }

    #[test]
    fn clear_value_under_encrypted_regex() {
        let f = run(&cfg(&[R1]), &sops_file(&[R1], "c2VjcmV0"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].0, f[0].1), ("plaintext-secret", Some(6)));
        assert!(!f[0].2.contains("c2VjcmV0"));
    }

    #[test]
    fn no_rule_and_no_mac() {
        let c = "creation_rules:\n  - path_regex: ^elsewhere/\n    age: x\n";
        let f = run(c, &sops_file(&[R1], ENC));
        assert_eq!(f[0].0, "sops-recipients");
        let nomac = sops_file(&[R1], ENC).replace("    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n", "    mac: \"\"\n");
        let f = run(&cfg(&[R1]), &nomac);
        assert_eq!(f.iter().map(|f| f.0).collect::<Vec<_>>(), vec!["sops-mac"]);
    }
}
