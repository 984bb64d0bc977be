//! `.sops.yaml`: found from a directory upwards like sops, `creation_rules` matched by
//! `path_regex` against the file's path relative to the config's directory (first match
//! wins), turned into [`EncryptOptions`].

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::metadata::rule_from_field;
use super::{EncryptOptions, Error};

/// The config file name sops looks for.
pub const FILE_NAME: &str = ".sops.yaml";

/// A parsed `.sops.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// The creation rules in file order.
    #[serde(default)]
    pub creation_rules: Vec<CreationRule>,
}

/// One creation rule.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreationRule {
    /// Go-style regex on the relative path (unanchored); none matches everything.
    pub path_regex: Option<String>,
    /// Age recipients: a comma-separated string or a list.
    pub age: Option<StrOrList>,
    /// Key groups (Shamir).
    #[serde(default)]
    pub key_groups: Vec<KeyGroup>,
    /// Shares needed.
    pub shamir_threshold: Option<usize>,
    /// see [`super::CryptRule`]
    pub unencrypted_suffix: Option<String>,
    /// see [`super::CryptRule`]
    pub encrypted_suffix: Option<String>,
    /// see [`super::CryptRule`]
    pub unencrypted_regex: Option<String>,
    /// see [`super::CryptRule`]
    pub encrypted_regex: Option<String>,
    /// see [`super::CryptRule`]
    pub unencrypted_comment_regex: Option<String>,
    /// see [`super::CryptRule`]
    pub encrypted_comment_regex: Option<String>,
    /// see [`EncryptOptions::mac_only_encrypted`]
    #[serde(default)]
    pub mac_only_encrypted: bool,
    /// `path_regex` compiled on first use (a repo's rules are matched against every file).
    #[serde(skip)]
    path_re: std::sync::OnceLock<Option<regex::Regex>>,
    /// What every path `path_regex` matches starts with ([`literal_prefix`]): a path
    /// without it is rejected before the regex runs (one rule per installation: a fleet
    /// repo has a thousand).
    #[serde(skip)]
    path_prefix: String,
}

/// A key group of a creation rule.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyGroup {
    /// Age recipients.
    #[serde(default)]
    pub age: Vec<String>,
}

/// `age: "a,b"` or `age: [a, b]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StrOrList {
    /// comma-separated
    Str(String),
    /// a list (items may themselves be comma-separated)
    List(Vec<String>),
}

impl StrOrList {
    /// The recipients, split at commas as sops does.
    pub fn recipients(&self) -> Vec<String> {
        let parts: Vec<&str> = match self {
            StrOrList::Str(s) => vec![s.as_str()],
            StrOrList::List(l) => l.iter().map(String::as_str).collect(),
        };
        split_recipients(&parts.join(","))
    }
}

/// Splits sops' comma-separated recipient syntax (spaces trimmed, empties dropped).
pub fn split_recipients(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

fn config_err(file: &Path, message: String) -> Error {
    Error::Config {
        file: file.to_owned(),
        message,
    }
}

impl Config {
    /// Looks for `.sops.yaml` in `start_dir` and its parents (at most 100 levels).
    pub fn find(start_dir: &Path) -> Result<Option<(PathBuf, Config)>, Error> {
        let mut dir = Some(start_dir);
        for _ in 0..100 {
            let Some(d) = dir else { break };
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                let c = Config::load(&candidate)?;
                return Ok(Some((candidate, c)));
            }
            dir = d.parent();
        }
        Ok(None)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| config_err(path, format!("cannot read: {e}")))?;
        Config::parse(path, &text)
    }

    /// Parses config text (`file` names it in errors).
    pub fn parse(file: &Path, text: &str) -> Result<Config, Error> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let mut c: Config = serde_saphyr::from_str(text)
            .map_err(|e| config_err(file, format!("invalid .sops.yaml: {e}")))?;
        for (i, r) in c.creation_rules.iter_mut().enumerate() {
            r.crypt_rule()
                .map_err(|m| config_err(file, format!("creation_rules[{i}]: {m}")))?;
            if let Some(re) = &r.path_regex {
                let compiled = regex::Regex::new(re).map_err(|e| {
                    config_err(file, format!("creation_rules[{i}].path_regex: {e}"))
                })?;
                r.path_prefix = literal_prefix(re);
                let _ = r.path_re.set(Some(compiled));
            }
        }
        Ok(c)
    }

    /// The options of the first rule matching `file` (made relative to `config_dir` when it
    /// is absolute). No matching rule is an error, as in sops.
    pub fn options_for(&self, config_dir: &Path, file: &Path) -> Result<EncryptOptions, Error> {
        let rel = relative_to(file, config_dir);
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        for rule in &self.creation_rules {
            if rule.matches(&rel_text) {
                return rule
                    .options()
                    .map_err(|m| config_err(&config_dir.join(FILE_NAME), m));
            }
        }
        Err(Error::NoCreationRule {
            file: file.to_owned(),
            config: config_dir.join(FILE_NAME),
        })
    }
}

/// The literal text every match of `re` starts with: after a leading `^`, the characters
/// (and escaped punctuation) up to the first other metacharacter, less one a `*`, `?` or
/// `{` makes optional. Empty (no filter) unless `re` starts with `^` and has no `|`, which
/// could start a match elsewhere.
fn literal_prefix(re: &str) -> String {
    let mut out = String::new();
    let Some(rest) = re.strip_prefix('^').filter(|r| !r.contains('|')) else {
        return out;
    };
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if n.is_ascii_punctuation() => out.push(n),
                _ => break,
            },
            '*' | '?' | '{' => {
                out.pop();
                break;
            }
            '.' | '[' | ']' | '(' | ')' | '}' | '+' | '^' | '$' => break,
            c => out.push(c),
        }
    }
    out
}

/// `file` relative to `dir` if it lies below it (lexically, after removing `.` and `..`).
fn relative_to(file: &Path, dir: &Path) -> PathBuf {
    let clean = |p: &Path| {
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        out
    };
    let f = clean(file);
    match f.strip_prefix(clean(dir)) {
        Ok(r) if file.is_absolute() => r.to_owned(),
        _ => f,
    }
}

impl CreationRule {
    /// Whether `path_regex` matches `rel` (no regex matches everything; an invalid one nothing).
    fn matches(&self, rel: &str) -> bool {
        let Some(re) = &self.path_regex else {
            return true;
        };
        if !rel.starts_with(&self.path_prefix) {
            return false;
        }
        self.path_re
            .get_or_init(|| regex::Regex::new(re).ok())
            .as_ref()
            .is_some_and(|r| r.is_match(rel))
    }

    fn crypt_rule(&self) -> Result<Option<super::CryptRule>, String> {
        let fields = [
            ("unencrypted_suffix", &self.unencrypted_suffix),
            ("encrypted_suffix", &self.encrypted_suffix),
            ("unencrypted_regex", &self.unencrypted_regex),
            ("encrypted_regex", &self.encrypted_regex),
            ("unencrypted_comment_regex", &self.unencrypted_comment_regex),
            ("encrypted_comment_regex", &self.encrypted_comment_regex),
        ];
        let set: Vec<_> = fields
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)))
            .collect();
        match set.as_slice() {
            [] => Ok(None),
            [(k, v)] => Ok(rule_from_field(k, (*v).clone())),
            _ => Err(format!(
                "only one of {} may be set",
                set.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// The rule as encryption options.
    pub fn options(&self) -> Result<EncryptOptions, String> {
        let mut key_groups: Vec<Vec<String>> = self
            .key_groups
            .iter()
            .map(|g| g.age.iter().flat_map(|a| split_recipients(a)).collect())
            .collect();
        if key_groups.is_empty() {
            if let Some(a) = &self.age {
                key_groups.push(a.recipients());
            }
        }
        Ok(EncryptOptions {
            key_groups,
            shamir_threshold: self.shamir_threshold.unwrap_or(0),
            rule: self.crypt_rule()?,
            mac_only_encrypted: self.mac_only_encrypted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefix_never_excludes_a_match() {
        for (re, want) in [
            (
                r"^installations/bench\-0001/.*\.sops\.yaml$",
                "installations/bench-0001/",
            ),
            (r"^ab*c", "a"),
            (r"^ab+c", "ab"),
            (r"^a\dc", "a"),
            (r"^ab{2}", "a"),
            (r"^a|b", ""),
            (r"(?i)^a", ""),
            (r"secrets/", ""),
            (r"^(a|b)", ""),
            (r"^é?x", ""),
        ] {
            assert_eq!(literal_prefix(re), want, "{re}");
            let r = regex::Regex::new(re).expect("valid");
            for path in [
                "installations/bench-0001/x.sops.yaml",
                "ac",
                "abbc",
                "a1c",
                "abb",
                "b",
                "A",
                "x",
                "éx",
            ] {
                if r.is_match(path) {
                    assert!(path.starts_with(want), "{re} matches {path}");
                }
            }
        }
    }
    use crate::CryptRule;

    const CFG: &str = r#"
creation_rules:
  - path_regex: ^secrets/.*\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: "age1a, age1b"
  - path_regex: \.env$
    key_groups:
      - age: [age1a]
      - age: [age1b]
    shamir_threshold: 2
  - age:
      - age1c
"#;

    #[test]
    fn first_matching_rule_wins() {
        let c = Config::parse(Path::new(".sops.yaml"), CFG).unwrap();
        let dir = Path::new("/repo");
        let o = c
            .options_for(dir, Path::new("/repo/secrets/x.yaml"))
            .unwrap();
        assert_eq!(
            o.key_groups,
            vec![vec!["age1a".to_owned(), "age1b".to_owned()]]
        );
        assert_eq!(
            o.rule,
            Some(CryptRule::EncryptedRegex("^(data|stringData)$".into()))
        );
        let o = c.options_for(dir, Path::new("/repo/a/.env")).unwrap();
        assert_eq!(o.key_groups.len(), 2);
        assert_eq!(o.shamir_threshold, 2);
        let o = c
            .options_for(dir, Path::new("/repo/other/secrets/x.yaml"))
            .unwrap();
        assert_eq!(o.key_groups, vec![vec!["age1c".to_owned()]]);
    }

    #[test]
    fn bad_configs_are_errors_naming_the_rule() {
        let e = Config::parse(
            Path::new("c.yaml"),
            "creation_rules:\n  - encrypted_regex: a\n    unencrypted_suffix: b\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("creation_rules[0]"), "{e}");
        assert!(Config::parse(Path::new("c.yaml"), "creation_rules: 3\n").is_err());
        let c = Config::parse(
            Path::new("c.yaml"),
            "creation_rules:\n  - path_regex: nope\n    age: age1x\n",
        )
        .unwrap();
        assert!(matches!(
            c.options_for(Path::new("/r"), Path::new("/r/a.yaml")),
            Err(Error::NoCreationRule { .. })
        ));
    }
}
