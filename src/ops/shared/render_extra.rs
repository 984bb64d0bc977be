//! What `mcb render` adds to its plan for shared secrets: `.sops.yaml` with the shared
//! rules, shared files re-sealed for their current recipients, each installation's copies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use secrecy::ExposeSecret;

use super::files::{
    clear_facts, clear_tree, copy_meta, copy_pairs, copy_secret, document, is_no_key, open,
    recipients_of, stored_names, users, version_and_keys, Known, Opened,
};
use super::input::SharedValue;
use super::{shared_path, Error};
use crate::fileset::{Content, FileSet};
use crate::render::Extra;
use crate::repo;
use crate::repo::installation::{self, Loaded};
use crate::repo::shared_copy_path as copy_path;
use crate::sops::{self, Format, Identities};
use crate::spec::{Installation, SharedSecretMapping};
use crate::Env;

/// What `mcb render` (and import/rotate) add to the plan: `.sops.yaml` with the shared
/// rules, every shared file that must be (re-)sealed for its current recipients, and each
/// installation's copies under `secrets/shared/`.
///
/// Without a key that opens a shared file, render still works while nothing about it
/// changes: its recipients match the rule and every copy's clear facts (names, type,
/// version annotation, key names) and recipients are as they should be; those files are
/// kept byte for byte. Anything else needs the key.
pub struct RenderExtra {
    root: std::path::PathBuf,
    sops_yaml: String,
    /// Shared files that are used or must be re-wrapped, by name.
    shared: BTreeMap<String, Known>,
    /// Every installation's recipients, by name (what its copies must be encrypted for).
    recipients: BTreeMap<String, BTreeSet<String>>,
}

impl RenderExtra {
    /// Loads what render needs from the repo at `root` with installations `all`. Shared
    /// files are decrypted with `ids` only when an installation uses them or their
    /// recipients differ from the rule.
    pub fn load(root: &Path, all: &[Loaded], ids: &Identities) -> Result<Self, crate::Error> {
        let refs: Vec<&Loaded> = all.iter().collect();
        let sops_yaml = installation::sops_config(&refs);
        let admins = installation::admin_recipients(&refs);
        let mut shared = BTreeMap::new();
        for name in stored_names(root)? {
            let used = !users(all, &name).is_empty();
            if !used && admins.is_empty() {
                continue; // no rule covers it: leave it alone
            }
            let path = root.join(shared_path(&name));
            let enc = crate::fsutil::read(&path)?;
            let rewrap =
                recipients_of(&enc, &path)? != installation::shared_recipients(&refs, &name);
            if !used && !rewrap {
                continue;
            }
            match open(root, &name, ids) {
                Ok(Some(o)) => {
                    shared.insert(name, Known::Open(o));
                }
                Ok(None) => {}
                Err(e) if is_no_key(&e) && !rewrap => {
                    let (version, keys) = version_and_keys(&clear_tree(&enc, &path)?);
                    shared.insert(name, Known::Sealed { version, keys });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(RenderExtra {
            root: root.to_path_buf(),
            sops_yaml,
            shared,
            recipients: all
                .iter()
                .map(|l| (l.name().to_owned(), l.recipients().into_iter().collect()))
                .collect(),
        })
    }

    /// Replaces the value of shared secret `name` (new or existing); the version changes
    /// only when the values do, so re-importing the same value writes nothing.
    pub(super) fn replace(
        &mut self,
        env: &Env,
        name: &str,
        value: SharedValue,
        old: Option<&Opened>,
    ) {
        let same = old.is_some_and(|o| {
            value.changed_from(Some(&o.value)).is_empty() && o.value.keys() == value.keys()
        });
        let version = match old {
            Some(o) if same => o.version.clone(),
            _ => hex::encode(env.random_bytes::<8>()),
        };
        let plain = document(name, &version, &value);
        self.shared.insert(
            name.to_owned(),
            Known::Open(Opened {
                plain,
                value,
                version,
            }),
        );
    }

    /// The `.sops.yaml` text this plan writes (seal with it).
    pub fn sops_yaml(&self) -> &str {
        &self.sops_yaml
    }

    /// A copy for `inst` known only by clear facts: its existing bytes if they are
    /// current, else the error asking for a key.
    fn sealed_copy(
        &self,
        inst: &str,
        mapping: &SharedSecretMapping,
        version: &str,
        keys: &[String],
    ) -> Result<Vec<u8>, crate::Error> {
        let name = mapping.name.as_str();
        let rel = copy_path(inst, name);
        let path = self.root.join(&rel);
        let mut want = copy_meta(mapping, version);
        for (_, to) in copy_pairs(inst, mapping, keys)? {
            want = want.with(to, Vec::new());
        }
        let want_tree = sops::load_plain(want.to_yaml().expose_secret(), Format::Yaml)?;
        let sops::Content::Tree(want_tree) = want_tree else {
            unreachable!("YAML loads as a tree")
        };
        if let Some(enc) = crate::fsutil::read_optional(&path)? {
            let current = clear_facts(&clear_tree(&enc, &path)?) == clear_facts(&want_tree)
                && self.recipients.get(inst) == Some(&recipients_of(&enc, &path)?);
            if current {
                return Ok(enc);
            }
        }
        Err(Error::NeedsKey {
            name: name.to_owned(),
            path: rel,
        }
        .into())
    }
}

impl Extra for RenderExtra {
    fn repo_files(&self) -> Result<FileSet, crate::Error> {
        let mut files = FileSet::new();
        files.plain(repo::SOPS_CONFIG, self.sops_yaml.clone());
        for (name, known) in &self.shared {
            if let Known::Open(o) = known {
                files.insert(
                    shared_path(name),
                    Content::secret(o.plain.expose_secret().clone()),
                );
            }
        }
        Ok(files)
    }

    fn installation_files(
        &self,
        spec: &Installation,
    ) -> Result<(FileSet, Vec<String>), crate::Error> {
        let inst = spec.name.as_str();
        crate::render::shared_copies(spec, |r| {
            let name = r.name().as_str();
            let mapping = r.mapping();
            Ok(match self.shared.get(name) {
                Some(Known::Open(o)) => {
                    Content::Secret(copy_secret(inst, &mapping, &o.version, &o.value)?.to_yaml())
                }
                Some(Known::Sealed { version, keys }) => {
                    Content::Plain(self.sealed_copy(inst, &mapping, version, keys)?)
                }
                None => {
                    return Err(Error::Unknown {
                        name: name.to_owned(),
                        path: shared_path(name),
                    }
                    .into())
                }
            })
        })
    }
}
