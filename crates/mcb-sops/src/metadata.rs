//! The `sops` metadata block: key groups with their wrapped data keys, `lastmodified`, the
//! encrypted `mac`, the crypt rule and `version`, converted to and from the tree form every
//! store writes (§7 of docs/sops-format.md), plus the flattened `key__list_0__map_x` form of
//! dotenv and INI.

use super::tree::{Branch, Item, Value};
use super::CryptRule;

/// The version mcb writes, the sops release whose format it follows.
pub const VERSION: &str = "3.11.0";

/// One age recipient and the data key (or Shamir share) wrapped for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeEntry {
    /// `age1…` or an SSH public key
    pub recipient: String,
    /// the armored age file
    pub enc: String,
}

/// Everything under `sops:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Key groups (one: written flat as `age:`), each a list of age recipients.
    pub key_groups: Vec<Vec<AgeEntry>>,
    /// Shares needed (several groups only; 0 = all).
    pub shamir_threshold: usize,
    /// RFC 3339 UTC, seconds: also the AAD of the MAC.
    pub lastmodified: String,
    /// The encrypted MAC (`ENC[…,type:str]`), or empty.
    pub mac: String,
    /// The crypt rule written (`None`: binary files have none).
    pub rule: Option<CryptRule>,
    /// Only encrypted values are in the MAC.
    pub mac_only_encrypted: bool,
    /// The writer's version.
    pub version: String,
}

/// A problem with the metadata block: the field and what is wrong (no values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    /// the field (`version`, `age[0].enc`, …)
    pub field: String,
    /// what is wrong
    pub message: String,
}

fn meta_err(field: &str, message: &str) -> MetaError {
    MetaError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

const RULE_FIELDS: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

/// The metadata field name and value of a crypt rule.
pub fn rule_field(rule: &CryptRule) -> (&'static str, &str) {
    match rule {
        CryptRule::UnencryptedSuffix(s) => (RULE_FIELDS[0], s),
        CryptRule::EncryptedSuffix(s) => (RULE_FIELDS[1], s),
        CryptRule::UnencryptedRegex(s) => (RULE_FIELDS[2], s),
        CryptRule::EncryptedRegex(s) => (RULE_FIELDS[3], s),
        CryptRule::UnencryptedCommentRegex(s) => (RULE_FIELDS[4], s),
        CryptRule::EncryptedCommentRegex(s) => (RULE_FIELDS[5], s),
    }
}

/// Builds a crypt rule from its metadata/config field name.
pub fn rule_from_field(field: &str, value: String) -> Option<CryptRule> {
    Some(match field {
        "unencrypted_suffix" => CryptRule::UnencryptedSuffix(value),
        "encrypted_suffix" => CryptRule::EncryptedSuffix(value),
        "unencrypted_regex" => CryptRule::UnencryptedRegex(value),
        "encrypted_regex" => CryptRule::EncryptedRegex(value),
        "unencrypted_comment_regex" => CryptRule::UnencryptedCommentRegex(value),
        "encrypted_comment_regex" => CryptRule::EncryptedCommentRegex(value),
        _ => return None,
    })
}

fn str_item(k: &str, v: &str) -> Item {
    Item::Entry(k.to_owned(), Value::Str(v.to_owned()))
}

fn age_list(group: &[AgeEntry]) -> Value {
    Value::List(
        group
            .iter()
            .map(|e| {
                Value::Map(Branch(vec![
                    str_item("recipient", &e.recipient),
                    str_item("enc", &e.enc),
                ]))
            })
            .collect(),
    )
}

impl Metadata {
    /// The tree form, fields in the order sops writes them.
    pub fn to_branch(&self) -> Branch {
        let mut b = Vec::new();
        if self.key_groups.len() > 1 {
            b.push(Item::Entry(
                "shamir_threshold".into(),
                Value::Int(self.shamir_threshold as i64),
            ));
            let groups = self
                .key_groups
                .iter()
                .map(|g| {
                    Value::Map(Branch(vec![
                        Item::Entry("hc_vault".into(), Value::List(vec![])),
                        Item::Entry("age".into(), age_list(g)),
                    ]))
                })
                .collect();
            b.push(Item::Entry("key_groups".into(), Value::List(groups)));
        } else if let Some(g) = self.key_groups.first().filter(|g| !g.is_empty()) {
            b.push(Item::Entry("age".into(), age_list(g)));
        }
        b.push(str_item("lastmodified", &self.lastmodified));
        b.push(str_item("mac", &self.mac));
        if let Some(rule) = &self.rule {
            let (k, v) = rule_field(rule);
            b.push(str_item(k, v));
        }
        if self.mac_only_encrypted {
            b.push(Item::Entry("mac_only_encrypted".into(), Value::Bool(true)));
        }
        b.push(str_item("version", &self.version));
        Branch(b)
    }

    /// Reads the tree form (lenient about scalar types, as dotenv/INI hold only strings).
    pub fn from_branch(b: &Branch) -> Result<Metadata, MetaError> {
        let version = b.get("version").and_then(scalar_string).unwrap_or_default();
        if version.is_empty() {
            return Err(meta_err(
                "version",
                "missing or empty (\"Version string empty\")",
            ));
        }
        let key_groups = match b.get("key_groups") {
            Some(Value::List(groups)) => groups
                .iter()
                .filter(|g| !matches!(g, Value::Comment(_)))
                .enumerate()
                .map(|(i, g)| match g {
                    Value::Map(gb) => age_entries(gb.get("age"), &format!("key_groups[{i}].age")),
                    _ => Err(meta_err(&format!("key_groups[{i}]"), "is not a map")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::Null) | None => vec![age_entries(b.get("age"), "age")?],
            Some(_) => return Err(meta_err("key_groups", "is not a list")),
        };
        let shamir_threshold = match b.get("shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) if *i >= 0 => *i as usize,
            Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 => *f as usize,
            Some(Value::Str(s)) => s
                .parse()
                .map_err(|_| meta_err("shamir_threshold", "is not a number"))?,
            Some(_) => return Err(meta_err("shamir_threshold", "is not a number")),
        };
        let mut rule = None;
        for f in RULE_FIELDS {
            if let Some(v) = b.get(f).and_then(scalar_string) {
                if rule.is_some() {
                    return Err(meta_err(f, "only one of the suffix/regex rules may be set"));
                }
                rule = rule_from_field(f, v);
            }
        }
        let mac_only_encrypted = match b.get("mac_only_encrypted") {
            Some(Value::Bool(v)) => *v,
            Some(Value::Str(s)) => s == "true" || s == "True",
            _ => false,
        };
        // sops parses lastmodified (Go time.Parse RFC 3339) and uses it re-formatted, seconds
        // only, as the MAC's AAD and when it writes the file again (issue 21 D8).
        let written = b
            .get("lastmodified")
            .and_then(scalar_string)
            .unwrap_or_default();
        let lastmodified = super::scalar::Timestamp::parse_rfc3339_seconds(&written)
            .ok_or_else(|| meta_err("lastmodified", "is not an RFC 3339 time"))?;
        Ok(Metadata {
            key_groups,
            shamir_threshold,
            lastmodified,
            mac: b.get("mac").and_then(scalar_string).unwrap_or_default(),
            rule,
            mac_only_encrypted,
            version,
        })
    }

    /// All recipients per group.
    pub fn recipients(&self) -> Vec<Vec<String>> {
        self.key_groups
            .iter()
            .map(|g| g.iter().map(|e| e.recipient.clone()).collect())
            .collect()
    }
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Time(t) => Some(t.to_string()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => super::scalar::to_text(v),
        _ => None,
    }
}

fn age_entries(v: Option<&Value>, field: &str) -> Result<Vec<AgeEntry>, MetaError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::List(items)) => items,
        Some(_) => return Err(meta_err(field, "is not a list")),
    };
    // A comment between list items (`# rotated` above `- recipient:`) is no entry (D7).
    items
        .iter()
        .filter(|item| !matches!(item, Value::Comment(_)))
        .enumerate()
        .map(|(i, item)| {
            let f = format!("{field}[{i}]");
            let Value::Map(m) = item else {
                return Err(meta_err(&f, "is not a map"));
            };
            let get = |k: &str| {
                m.get(k)
                    .and_then(scalar_string)
                    .ok_or_else(|| meta_err(&format!("{f}.{k}"), "is missing"))
            };
            Ok(AgeEntry {
                recipient: get("recipient")?,
                enc: get("enc")?,
            })
        })
        .collect()
}

const MAP_SEP: &str = "__map_";
const LIST_SEP: &str = "__list_";

/// Flattens metadata for dotenv/INI: `age__list_0__map_enc`, scalars as text, sorted by key.
pub fn flatten(b: &Branch) -> Vec<(String, String)> {
    fn go(prefix: String, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Map(m) => {
                for (k, v) in m.entries() {
                    go(format!("{prefix}{MAP_SEP}{k}"), v, out);
                }
            }
            Value::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    go(format!("{prefix}{LIST_SEP}{i}"), v, out);
                }
            }
            Value::Bool(b) => out.push((prefix, b.to_string())),
            Value::Null | Value::Comment(_) => {}
            other => out.push((prefix, scalar_string(other).unwrap_or_default())),
        }
    }
    let mut out = Vec::new();
    for (k, v) in b.entries() {
        go(k.to_owned(), v, &mut out);
    }
    out.sort();
    out
}

/// Rebuilds the tree form from flattened keys (values stay strings).
pub fn unflatten<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Branch {
    enum Step<'s> {
        Key(&'s str),
        Index(usize),
    }
    fn steps(key: &str) -> Vec<Step<'_>> {
        let mut out = Vec::new();
        let mut rest = key;
        let next_sep = |s: &str| {
            [s.find(MAP_SEP), s.find(LIST_SEP)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(s.len())
        };
        let end = next_sep(rest);
        out.push(Step::Key(&rest[..end]));
        rest = &rest[end..];
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix(MAP_SEP) {
                let end = next_sep(r);
                out.push(Step::Key(&r[..end]));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix(LIST_SEP) {
                let end = next_sep(r);
                out.push(Step::Index(r[..end].parse().unwrap_or(usize::MAX)));
                rest = &r[end..];
            } else {
                break;
            }
        }
        out
    }
    fn insert(slot: &mut Value, steps: &[Step], value: &str) {
        let Some((first, rest)) = steps.split_first() else {
            *slot = Value::Str(value.to_owned());
            return;
        };
        match first {
            Step::Key(k) => {
                if !matches!(slot, Value::Map(_)) {
                    *slot = Value::Map(Branch::default());
                }
                let Value::Map(m) = slot else { unreachable!() };
                if m.get(k).is_none() {
                    m.0.push(Item::Entry((*k).to_owned(), Value::Null));
                }
                insert(m.get_mut(k).expect("just added"), rest, value);
            }
            Step::Index(i) => {
                if *i > 1000 {
                    return; // not a sane metadata index; ignore
                }
                if !matches!(slot, Value::List(_)) {
                    *slot = Value::List(Vec::new());
                }
                let Value::List(l) = slot else { unreachable!() };
                if l.len() <= *i {
                    l.resize(*i + 1, Value::Null);
                }
                insert(&mut l[*i], rest, value);
            }
        }
    }
    let mut root = Value::Map(Branch::default());
    for (k, v) in pairs {
        insert(&mut root, &steps(k), v);
    }
    match root {
        Value::Map(b) => b,
        _ => Branch::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(groups: usize) -> Metadata {
        Metadata {
            key_groups: (0..groups)
                .map(|i| {
                    vec![AgeEntry {
                        recipient: format!("age1r{i}"),
                        enc: "-----BEGIN AGE ENCRYPTED FILE-----\nx\n-----END AGE ENCRYPTED FILE-----\n".into(),
                    }]
                })
                .collect(),
            shamir_threshold: if groups > 1 { 2 } else { 0 },
            lastmodified: "2026-01-01T00:00:00Z".into(),
            mac: "ENC[x]".into(),
            rule: Some(CryptRule::EncryptedRegex("^data$".into())),
            mac_only_encrypted: true,
            version: VERSION.into(),
        }
    }

    #[test]
    fn branch_and_flat_forms_round_trip() {
        for groups in [1, 3] {
            let m = sample(groups);
            let b = m.to_branch();
            assert_eq!(Metadata::from_branch(&b).unwrap(), m);
            let flat = flatten(&b);
            let back = unflatten(flat.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            assert_eq!(Metadata::from_branch(&back).unwrap(), m, "{flat:?}");
        }
        let keys: Vec<String> = flatten(&sample(1).to_branch())
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert!(
            keys.contains(&"age__list_0__map_enc".to_owned()),
            "{keys:?}"
        );
    }

    #[test]
    fn missing_version_and_two_rules_are_errors() {
        let mut b = sample(1).to_branch();
        b.remove("version");
        assert_eq!(Metadata::from_branch(&b).unwrap_err().field, "version");
        let mut b = sample(1).to_branch();
        b.set("unencrypted_suffix", Value::Str("_x".into()));
        assert!(Metadata::from_branch(&b).is_err());
    }
}
