//! The one age identity lookup of every command that decrypts (secrets, bootstrap,
//! kubeconfig, check, render, rotate, shared): `--age-key-file`, then `SOPS_AGE_KEY`,
//! `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD` (as sops), then the key file `init-installation`
//! saves per installation by default (`<config dir>/mcb/keys/<name>.agekey`), then sops'
//! default `keys.txt` and SSH keys. Nothing found is an error listing every place looked at.

use std::path::{Path, PathBuf};

use crate::sops::Identities;

/// The default place for an installation's age key: `<config dir>/mcb/keys/<name>.agekey`
/// (`$XDG_CONFIG_HOME`, else `~/.config`, on Linux).
pub fn default_key_path(name: &str) -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("mcb/keys")
        .join(format!("{name}.agekey"))
}

/// The identities for work on the installations `names` (their default key files are
/// among the places looked at). May be empty: [`Identities::require`] says where it looked.
pub fn lookup<S: AsRef<str>>(flag: Option<&Path>, names: &[S]) -> Result<Identities, crate::Error> {
    let defaults: Vec<PathBuf> = names.iter().map(|n| default_key_path(n.as_ref())).collect();
    Ok(Identities::lookup(flag, &defaults)?)
}

/// [`lookup`] for work that may touch any installation of the repo at `root` (shared
/// secrets, a file given by path): every installation's default key file is looked at.
pub fn lookup_any(flag: Option<&Path>, root: &Path) -> Result<Identities, crate::Error> {
    // A repo without installations/ simply has no default key files to offer.
    let names = crate::repo::list_installations(root).unwrap_or_default();
    lookup(flag, &names)
}
