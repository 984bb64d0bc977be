//! An installation as it stands in the config repo: its spec, its inventory, and the age
//! recipients its files are encrypted for. Also derives the repo's `.sops.yaml` from all
//! installations, so adding one rewrites the rules deterministically.

use std::collections::BTreeSet;
use std::path::Path;

use crate::inventory::{CredentialKind, Inventory};
use crate::repo;
use crate::repo::sops_config::{self, Rule};
use crate::spec::{self, Installation};

/// Inventory kind of an installation's own age key; the fingerprint is its recipient.
pub const AGE_KEY_KIND: CredentialKind = CredentialKind::AgeKey;

/// One installation, loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// the validated spec
    pub spec: Installation,
    /// the spec file's text, as in the repo
    pub spec_text: String,
    /// `credentials.yaml` (empty when absent)
    pub inventory: Inventory,
}

impl Loaded {
    /// The installation's name.
    pub fn name(&self) -> &str {
        self.spec.name.as_str()
    }

    /// The age recipients of the installation's own key(s), from the inventory.
    pub fn own_recipients(&self) -> Vec<String> {
        own_recipients(&self.inventory)
    }

    /// Every recipient its files must be encrypted for: its own key(s) and the admins.
    pub fn recipients(&self) -> Vec<String> {
        let mut r = self.own_recipients();
        r.extend(self.spec.sops.recipients.iter().cloned());
        r.sort();
        r.dedup();
        r
    }
}

/// The recipients of `age-key` entries of an inventory.
pub fn own_recipients(inv: &Inventory) -> Vec<String> {
    inv.credentials
        .iter()
        .filter(|c| c.kind == AGE_KEY_KIND)
        .map(|c| c.fingerprint.clone())
        .collect()
}

/// Loads installation `name` from the repo at `root`.
pub fn load(root: &Path, name: &str) -> Result<Loaded, crate::Error> {
    let spec_rel = repo::spec_path(name);
    let spec_file = root.join(&spec_rel);
    let Some(bytes) = crate::fsutil::read_optional(&spec_file)? else {
        return Err(repo::unknown_installation(root, name).into());
    };
    let spec_text = spec::decode(&bytes, &spec_file)?.to_owned();
    let spec = spec::parse(&spec_text, &spec_file)?;
    let inv_rel = repo::credentials_path(name);
    let inventory = read_inventory(root, name)?;
    // The inventory is a repo file like any other: its age-key entries become `.sops.yaml`
    // recipients, so they must be age recipients and nothing else.
    if let Some(c) = inventory.credentials.iter().find(|c| {
        c.kind == AGE_KEY_KIND && c.fingerprint.parse::<age::x25519::Recipient>().is_err()
    }) {
        return Err(crate::inventory::Error {
            file: inv_rel,
            message: format!(
                "{}: fingerprint {:?} is not an age recipient",
                c.key(),
                c.fingerprint
            ),
        }
        .into());
    }
    Ok(Loaded {
        spec,
        spec_text,
        inventory,
    })
}

/// The inventory of installation `name` (empty when it has no `credentials.yaml` yet).
pub fn read_inventory(root: &Path, name: &str) -> Result<Inventory, crate::Error> {
    let rel = repo::credentials_path(name);
    Ok(match crate::fsutil::read_optional(root.join(&rel))? {
        Some(b) => Inventory::parse(&rel, &String::from_utf8_lossy(&b))?,
        None => Inventory::new(),
    })
}

/// Loads every installation in the repo.
pub fn load_all(root: &Path) -> Result<Vec<Loaded>, crate::Error> {
    repo::list_installations(root)?
        .iter()
        .map(|n| load(root, n))
        .collect()
}

/// The `.sops.yaml` for these installations (sorted by name), one rule each, then one
/// per shared secret they use (see [`shared_recipients`]) and, when there are admin
/// recipients, a catch-all for other files under `shared/secrets/` (admins only).
pub fn sops_config(installations: &[&Loaded]) -> String {
    let mut sorted: Vec<&&Loaded> = installations.iter().collect();
    sorted.sort_by_key(|l| l.name().to_owned());
    let mut rules: Vec<Rule> = sorted
        .iter()
        .map(|l| Rule::installation(l.name(), l.recipients()))
        .collect();
    let shared: BTreeSet<&str> = installations
        .iter()
        .flat_map(|l| l.spec.shared_secrets.iter().map(|s| s.name().as_str()))
        .collect();
    for name in shared {
        rules.push(Rule::shared(name, shared_recipients(installations, name)));
    }
    let admins = admin_recipients(installations);
    if !admins.is_empty() {
        rules.push(Rule {
            path_regex: format!("^{}/.*\\.sops\\.yaml$", repo::SHARED_SECRETS_DIR),
            recipients: admins,
            encrypted_regex: Some(sops_config::SECRET_VALUES_REGEX.to_owned()),
        });
    }
    sops_config::render(&rules)
}

/// Every installation's admin recipients (`sops.recipients`), together.
pub fn admin_recipients(installations: &[&Loaded]) -> BTreeSet<String> {
    installations
        .iter()
        .flat_map(|l| l.spec.sops.recipients.iter().cloned())
        .collect()
}

/// Who a shared secret is encrypted for: every admin recipient, and the own key of every
/// installation that lists it in `sharedSecrets`.
pub fn shared_recipients(installations: &[&Loaded], name: &str) -> BTreeSet<String> {
    let mut r = admin_recipients(installations);
    for l in installations {
        if l.spec
            .shared_secrets
            .iter()
            .any(|s| s.name().as_str() == name)
        {
            r.extend(l.own_recipients());
        }
    }
    r
}
