//! `mcb shared list`: every shared secret, its keys, users and recipients (no key needed).

use std::path::Path;

use super::files::{stored_names, users};
use super::shared_path;
use crate::repo::installation::{self};
use crate::sops::{self, Format, Value};

/// One shared secret as `mcb shared list` shows it (readable without any key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    /// the name
    pub name: String,
    /// its keys (names are stored in clear)
    pub keys: Vec<String>,
    /// installations that list it in `sharedSecrets`
    pub installations: Vec<String>,
    /// when its value last changed (`sops.lastmodified`; a re-wrap keeps it)
    pub last_changed: String,
    /// the age recipients it is encrypted for
    pub recipients: Vec<String>,
}

/// Every shared secret in the repo, by name. Needs no key.
pub fn list(root: &Path) -> Result<Vec<Listed>, crate::Error> {
    let all = installation::load_all(root)?;
    let mut out = Vec::new();
    for name in stored_names(root)? {
        let path = root.join(shared_path(&name));
        let enc = crate::fsutil::read(&path)?;
        let info = sops::inspect(&enc, Format::Yaml).map_err(|e| e.with_file(&path))?;
        let (tree, _) = sops::store::for_format(Format::Yaml)
            .load(&enc)
            .map_err(|e| e.with_file(&path))?;
        let keys = match tree.docs.first().and_then(|d| d.get("stringData")) {
            Some(Value::Map(b)) => b.entries().map(|(k, _)| k.to_owned()).collect(),
            _ => Vec::new(),
        };
        out.push(Listed {
            installations: users(&all, &name)
                .iter()
                .map(|l| l.name().to_owned())
                .collect(),
            name,
            keys,
            last_changed: info.lastmodified,
            recipients: info.recipients.into_iter().flatten().collect(),
        });
    }
    Ok(out)
}
