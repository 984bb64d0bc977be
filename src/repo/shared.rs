//! Shared secret files as they lie in the config repo (`shared/secrets/<name>.sops.yaml`):
//! where they are and whether every installation that lists one can decrypt it. Needs no
//! key. Importing, rotating and copying them is `ops::shared`'s.

use std::collections::BTreeSet;
use std::path::Path;

use crate::repo::installation;
use crate::sops::{self, Format};

/// `shared/secrets/<name>.sops.yaml`.
pub fn shared_path(name: &str) -> String {
    format!("{}/{name}.sops.yaml", super::SHARED_SECRETS_DIR)
}

/// A problem `mcb check` reports about shared secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Finding {
    /// An installation lists a shared secret that does not exist.
    UnknownSharedSecret {
        /// the installation
        installation: String,
        /// the name it lists
        name: String,
    },
    /// A shared file is not encrypted for an installation that uses it.
    NotReadable {
        /// the installation
        installation: String,
        /// the shared secret
        name: String,
        /// the installation's recipients the file lacks
        missing: Vec<String>,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::UnknownSharedSecret { installation, name } => write!(
                f,
                "installation {installation}: sharedSecrets lists {name}, but {} does not exist",
                shared_path(name)
            ),
            Finding::NotReadable {
                installation,
                name,
                missing,
            } => write!(
                f,
                "{} is not encrypted for installation {installation} (missing {})",
                shared_path(name),
                missing.join(", ")
            ),
        }
    }
}

impl crate::Help for Finding {
    fn help(&self) -> Option<String> {
        Some(match self {
            Finding::UnknownSharedSecret { name, .. } => {
                format!("run `mcb shared import {name}`, or remove it from sharedSecrets")
            }
            Finding::NotReadable { .. } => {
                "run `mcb render` with an admin key to re-wrap the shared file".into()
            }
        })
    }
}

/// The shared-secret checks of `mcb check`: unknown names in `sharedSecrets`, and shared
/// files an installation using them cannot decrypt. Needs no key.
pub fn check(root: &Path) -> Result<Vec<Finding>, crate::Error> {
    check_loaded(root, &installation::load_all(root)?)
}

/// [`check`] over installations loaded already (`mcb check` loads them once).
pub fn check_loaded(
    root: &Path,
    all: &[installation::Loaded],
) -> Result<Vec<Finding>, crate::Error> {
    let mut out = Vec::new();
    for l in all {
        for r in &l.spec.shared_secrets {
            let name = r.name().as_str();
            let path = root.join(shared_path(name));
            let Some(enc) = crate::fsutil::read_optional(&path)? else {
                out.push(Finding::UnknownSharedSecret {
                    installation: l.name().to_owned(),
                    name: name.to_owned(),
                });
                continue;
            };
            let info = sops::inspect(&enc, Format::Yaml).map_err(|e| e.with_file(&path))?;
            let have: BTreeSet<String> = info.recipients.into_iter().flatten().collect();
            let missing: Vec<String> = l
                .own_recipients()
                .into_iter()
                .filter(|r| !have.contains(r))
                .collect();
            if !missing.is_empty() {
                out.push(Finding::NotReadable {
                    installation: l.name().to_owned(),
                    name: name.to_owned(),
                    missing,
                });
            }
        }
    }
    Ok(out)
}
