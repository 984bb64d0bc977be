//! SOPS files without a key: metadata present and well-formed, every value the file's own
//! crypt rule covers is `ENC[…]` ([`crate::sops::inspect`]), and the age recipients are
//! exactly those its `.sops.yaml` creation rule names ([`crate::sops::rules`]: nearest
//! config, first matching rule). With an [`Opener`] (a key): the MAC, and certificates
//! inside the decrypted secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::Value;

use super::yaml::{find_line, is_sops, Parsed};
use super::{expiry, Finding, OpenError, Opener, RepoFile, Rule};
use crate::sops::rules::{Config, FILE_NAME as CONFIG};
use crate::sops::{self, Format};

/// Every `.sops.yaml` among the checked files, by directory (`""` for the root): its text
/// and its parsed rules.
#[derive(Default)]
pub struct RuleSets {
    configs: BTreeMap<String, (Arc<str>, Rules)>,
}

/// A `.sops.yaml`'s rules, or why they do not parse.
type Rules = Arc<Result<Config, String>>;

impl RuleSets {
    /// Parses every `.sops.yaml` in `files`.
    #[cfg(test)]
    pub fn load(files: &[RepoFile]) -> Self {
        Self::load_reusing(files, &RuleSets::default())
    }

    /// [`RuleSets::load`], reusing what `prev` parsed from the same text (the repo's
    /// `.sops.yaml` is the same in every batch, with a rule per installation).
    pub fn load_reusing(files: &[RepoFile], prev: &RuleSets) -> Self {
        let configs = files
            .iter()
            .filter(|f| is_config(&f.path))
            .map(|f| {
                let dir = f
                    .path
                    .strip_suffix(CONFIG)
                    .unwrap_or("")
                    .trim_end_matches('/')
                    .to_owned();
                let text: Arc<str> = f.text.clone().unwrap_or_else(|| Arc::from(""));
                let cfg = match prev.configs.get(&dir) {
                    Some((t, c)) if *t == text => c.clone(),
                    _ => Arc::new(
                        Config::parse(Path::new(&f.path), &text).map_err(|e| e.to_string()),
                    ),
                };
                (dir, (text, cfg))
            })
            .collect();
        RuleSets { configs }
    }

    /// The nearest config for `path`: (its directory, its parsed rules).
    fn nearest(&self, path: &str) -> Option<(&str, &Result<Config, String>)> {
        let mut dir = path;
        loop {
            dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            if let Some((d, (_, c))) = self.configs.get_key_value(dir) {
                return Some((d.as_str(), &**c));
            }
            if dir.is_empty() {
                return None;
            }
        }
    }
}

fn is_config(path: &str) -> bool {
    path.rsplit('/').next() == Some(CONFIG)
}

/// `x.sops.yaml`, `x.sops.json`: a file the repo promises is encrypted.
pub fn named_sops(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !is_config(path) && name.contains(".sops.")
}

/// Structure, encrypted values and recipients of every SOPS file.
pub fn check(files: &[RepoFile], parsed: &[Parsed], rules: &RuleSets) -> Vec<Finding> {
    let mut out = Vec::new();
    for (dir, (_, cfg)) in &rules.configs {
        if let Err(msg) = &**cfg {
            let path = if dir.is_empty() {
                CONFIG.to_owned()
            } else {
                format!("{dir}/{CONFIG}")
            };
            if let Some(f) = files.iter().find(|f| f.path == path) {
                out.push(Finding::error(f, None, Rule::SopsInvalid, msg.clone()));
            }
        }
    }
    for p in parsed
        .iter()
        .filter(|p| !p.sops && named_sops(&files[p.file].path))
    {
        out.push(Finding::error(
            &files[p.file],
            Some(1),
            Rule::PlaintextSecret,
            "named as a SOPS file but has no sops metadata, so it is not encrypted: \
             encrypt it with `mcb secrets encrypt` and rotate its values",
        ));
    }
    let sops: Vec<&Parsed> = parsed
        .iter()
        .filter(|p| p.sops && !is_config(&files[p.file].path))
        .collect();
    out.extend(
        super::par_map(&sops, |p| check_file(&files[p.file], p, rules))
            .into_iter()
            .flatten(),
    );
    out
}

/// Structure, encrypted values and recipients of one SOPS file.
fn check_file(f: &RepoFile, p: &Parsed, rules: &RuleSets) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some((line, msg)) = &p.error {
        out.push(Finding::error(
            f,
            *line,
            Rule::SopsInvalid,
            format!("SOPS file does not parse: {msg}"),
        ));
        return out;
    }
    let Some((doc, start)) = p.docs().find(|(d, _)| is_sops(d)) else {
        return out;
    };
    let text = f.text();
    let sops_line = find_line(text, start, "sops:");
    structure(f, doc, text, sops_line, &mut out);
    if out.is_empty() {
        encrypted_values(f, text, &mut out);
    }
    recipients(f, doc, text, sops_line, rules, &mut out);
    out
}

fn structure(f: &RepoFile, doc: &Value, text: &str, sops_line: usize, out: &mut Vec<Finding>) {
    let meta = &doc["sops"];
    match meta.get("mac").and_then(Value::as_str) {
        Some(m) if m.starts_with("ENC[AES256_GCM,") => {}
        _ => out.push(Finding::error(
            f,
            Some(find_line(text, sops_line, "mac:")),
            Rule::SopsMac,
            "the file has no MAC, so changes to it cannot be detected: re-encrypt it with `mcb secrets encrypt`",
        )),
    }
    for key in ["lastmodified", "version"] {
        if meta.get(key).and_then(Value::as_str).is_none() {
            out.push(Finding::error(
                f,
                Some(sops_line),
                Rule::SopsInvalid,
                format!("sops metadata has no `{key}`: the file was not written by sops; restore it from git"),
            ));
        }
    }
    let ages = age_entries(meta);
    let other_keys = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"]
        .iter()
        .any(|k| {
            meta.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        });
    if ages.is_empty() && !other_keys {
        out.push(Finding::error(
            f,
            Some(sops_line),
            Rule::SopsInvalid,
            "sops metadata names no key: nobody can decrypt this file; restore it from git",
        ));
    }
    for (rcpt, entry) in ages {
        let armored = entry.get("enc").and_then(Value::as_str).unwrap_or("");
        if !armored.contains("-----BEGIN AGE ENCRYPTED FILE-----") {
            out.push(Finding::error(
                f,
                Some(recipient_line(text, sops_line, &rcpt)),
                Rule::SopsInvalid,
                format!("age recipient {rcpt} has no encrypted data key: run `mcb secrets updatekeys {}`", f.path),
            ));
        }
    }
}

/// `(recipient, entry)` for every age entry, top-level and in key groups.
fn age_entries(meta: &Value) -> Vec<(String, &Value)> {
    let top = meta
        .get("age")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let grouped = meta
        .get("key_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("age").and_then(Value::as_array))
        .flatten();
    top.chain(grouped)
        .map(|e| {
            (
                e.get("recipient")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                e,
            )
        })
        .collect()
}

fn recipient_line(text: &str, sops_line: usize, rcpt: &str) -> usize {
    find_line(text, sops_line, &format!("recipient: {rcpt}"))
}

/// Values the file's own crypt rule says must be encrypted but are in clear text.
fn encrypted_values(f: &RepoFile, text: &str, out: &mut Vec<Finding>) {
    match sops::inspect(text.as_bytes(), Format::from_path(Path::new(&f.path))) {
        Err(e) => out.push(Finding::error(
            f,
            None,
            Rule::SopsInvalid,
            format!("{}: restore the file from git", super::engine_message(&e)),
        )),
        Ok(info) => {
            for path in info.clear_values {
                let last = path.rsplit(':').next().unwrap_or("");
                out.push(Finding::error(
                    f,
                    Some(find_line(text, 1, &format!("{last}:"))),
                    Rule::PlaintextSecret,
                    format!(
                        "value at `{}` is in clear text although the file's crypt rule covers it: \
                         re-encrypt the file with `mcb secrets encrypt` and rotate the value",
                        path.replace(':', ".")
                    ),
                ));
            }
        }
    }
}

fn recipients(
    f: &RepoFile,
    doc: &Value,
    text: &str,
    sops_line: usize,
    rules: &RuleSets,
    out: &mut Vec<Finding>,
) {
    let Some((dir, cfg)) = rules.nearest(&f.path) else {
        out.push(Finding::error(
            f,
            Some(sops_line),
            Rule::SopsRecipients,
            "no .sops.yaml applies to this file: add a creation rule for it (mcb writes one per installation)",
        ));
        return;
    };
    let Ok(cfg) = cfg else { return }; // reported once on the config itself
    let config = if dir.is_empty() {
        CONFIG.to_owned()
    } else {
        format!("{dir}/{CONFIG}")
    };
    let rel = if dir.is_empty() {
        f.path.as_str()
    } else {
        &f.path[dir.len() + 1..]
    };
    let groups = match cfg.options_for(Path::new(dir), Path::new(rel)) {
        Ok(o) => o.key_groups,
        Err(sops::Error::NoCreationRule { .. }) => {
            out.push(Finding::error(
                f,
                Some(sops_line),
                Rule::SopsRecipients,
                format!(
                    "no creation rule in {config} matches this path: add one, or move the file"
                ),
            ));
            return;
        }
        Err(e) => {
            out.push(Finding::error(
                f,
                Some(sops_line),
                Rule::SopsRecipients,
                super::engine_message(&e),
            ));
            return;
        }
    };
    let meta = &doc["sops"];
    let expected: BTreeSet<&str> = groups.iter().flatten().map(String::as_str).collect();
    let actual_entries = age_entries(meta);
    let actual: BTreeSet<&str> = actual_entries.iter().map(|(r, _)| r.as_str()).collect();
    let fix = format!("run `mcb secrets updatekeys {}`", f.path);
    for r in expected.difference(&actual) {
        out.push(Finding::error(
            f,
            Some(sops_line),
            Rule::SopsRecipients,
            format!("not encrypted for {r}, which its rule in {config} names: {fix}"),
        ));
    }
    for r in actual.difference(&expected) {
        out.push(Finding::error(
            f,
            Some(recipient_line(text, sops_line, r)),
            Rule::SopsRecipients,
            format!(
                "encrypted for {r}, which its rule in {config} does not name (its holder can read this file): \
                 {fix}, then rotate the values"
            ),
        ));
    }
    let file_groups = meta
        .get("key_groups")
        .and_then(Value::as_array)
        .map_or(1, Vec::len);
    if expected == actual && groups.len() > 1 && file_groups != groups.len() {
        out.push(Finding::error(
            f,
            Some(sops_line),
            Rule::SopsRecipients,
            format!(
                "has {file_groups} key group(s), its rule in {config} names {}: {fix}",
                groups.len()
            ),
        ));
    }
}

/// With a key: decrypt every SOPS file (which verifies its MAC) and check the certificates
/// inside it for expiry.
pub fn check_macs(
    files: &[RepoFile],
    parsed: &[Parsed],
    opener: &dyn Opener,
    skip: &BTreeSet<&str>,
    now: time::OffsetDateTime,
    warn_within: time::Duration,
) -> MacResults {
    let todo: Vec<&RepoFile> = parsed
        .iter()
        .filter(|p| p.sops && p.error.is_none())
        .map(|p| &files[p.file])
        .filter(|f| !is_config(&f.path) && !skip.contains(f.path.as_str()))
        .collect();
    let results = super::par_map(&todo, |f| {
        match opener.open(&f.path, f.text().as_bytes()) {
        Ok(plain) => {
            let text = String::from_utf8_lossy(plain.expose_secret());
            (Some(true), expiry::certificates(f, &text, now, warn_within))
        }
        Err(OpenError::Invalid(msg)) => (Some(false), vec![Finding::error(
            f,
            Some(find_line(f.text(), 1, "mac:")),
            Rule::SopsMac,
            format!("{msg}: the file was changed without sops; restore it from git or edit it with `mcb secrets edit`"),
        )]),
        Err(OpenError::NoKey(msg)) => (None, vec![Finding::warning(
            f,
            Some(find_line(f.text(), 1, "mac:")),
            Rule::SopsMac,
            format!("MAC not verified, {msg}: give a key that is a recipient of every file"),
        )]),
    }
    });
    let count = |want: fn(&Option<bool>) -> bool| results.iter().filter(|(r, _)| want(r)).count();
    MacResults {
        files: todo.len(),
        checked: count(Option::is_some),
        verified: count(|r| *r == Some(true)),
        findings: results.into_iter().flat_map(|(_, f)| f).collect(),
    }
}

/// What the MAC check found.
#[derive(Default)]
pub struct MacResults {
    /// SOPS files whose MAC was to be checked.
    pub files: usize,
    /// Files the key opened, so their MAC was compared (matching or not).
    pub checked: usize,
    /// Files that opened and whose MAC matched.
    pub verified: usize,
    /// Findings (MAC mismatches, files the key cannot open, certificates inside).
    pub findings: Vec<Finding>,
}

#[cfg(test)]
mod tests;
