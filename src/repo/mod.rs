//! The config repo: where every file lives (`.sops.yaml`, `installations/<name>/…`,
//! `shared/secrets/`, `templates/`), listing installations and templates, and the
//! all-or-nothing writer ([`plan`] then [`Plan::apply`]) that turns a desired
//! [`crate::fileset::FileSet`] into files on disk, sealing secrets through a [`Sealer`].
//!
//! It never prints and never sees a key: encryption is the [`Sealer`]'s job.

pub mod installation;
mod plan;
pub mod seal;
pub mod shared;
pub mod sops_config;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::fsutil::{IoResultExt, PathError};

#[cfg(test)]
pub(crate) use plan::tests::FakeSealer;
pub use plan::{clean_leftovers, plan, Change, Entry, NoSealer, Plan, SealError, Sealer};

/// `.sops.yaml`: creation rules, one per installation.
pub const SOPS_CONFIG: &str = ".sops.yaml";
/// `installations/`: one directory per installation.
pub const INSTALLATIONS_DIR: &str = "installations";
/// `shared/secrets/`: secrets shared by several installations.
pub const SHARED_SECRETS_DIR: &str = "shared/secrets";
/// `templates/`: the repo's overrides of the built-in templates.
pub const TEMPLATES_DIR: &str = "templates";

/// `installations/<name>`.
pub fn installation_dir(name: &str) -> String {
    format!("{INSTALLATIONS_DIR}/{name}")
}
/// `installations/<name>/installation.yaml`: the spec.
pub fn spec_path(name: &str) -> String {
    format!("{INSTALLATIONS_DIR}/{name}/installation.yaml")
}
/// `installations/<name>/credentials.yaml`: the credential inventory.
pub fn credentials_path(name: &str) -> String {
    format!("{INSTALLATIONS_DIR}/{name}/credentials.yaml")
}
/// `installations/<name>/secrets/`: the installation's SOPS files.
pub fn secrets_dir(name: &str) -> String {
    format!("{INSTALLATIONS_DIR}/{name}/secrets/")
}
/// `installations/<name>/forge/secrets/`: SOPS files of credentials no cluster uses (a
/// created GitHub App's OAuth client secret, webhook secret and private key), kept
/// encrypted outside every path a Flux Kustomization applies; `mcb check` verifies them
/// like every SOPS file.
pub fn forge_secrets_dir(name: &str) -> String {
    format!("{INSTALLATIONS_DIR}/{name}/forge/secrets/")
}
/// `installations/<name>/secrets/oidc-consumers/`: the Secrets of the applications using
/// OIDC clients (SOPS files, not listed by `secrets/kustomization.yaml`: their own Flux
/// layer applies them after Dex).
pub fn consumers_dir(name: &str) -> String {
    format!("{}{}/", secrets_dir(name), crate::creds::consumers::DIR)
}
/// `installations/<name>/manifests/`: the rendered tree (owned by `mcb render`).
pub fn manifests_dir(name: &str) -> String {
    format!("{INSTALLATIONS_DIR}/{name}/manifests/")
}
/// `installations/<name>/bootstrap/`: the minimal bootstrap kustomization.
pub fn bootstrap_dir(name: &str) -> String {
    format!("{INSTALLATIONS_DIR}/{name}/bootstrap/")
}

/// A config repo could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] PathError),
    /// An installation named on the command line does not exist.
    #[error("no installation {name}: {} does not exist", path.display())]
    NoSuchInstallation {
        /// the name asked for
        name: String,
        /// where its spec should be
        path: PathBuf,
        /// the installations that exist
        known: Vec<String>,
    },
    /// A command that works on the repo's installations found none: most likely it runs
    /// in the wrong directory (a CI job pointed elsewhere must not pass).
    #[error("no installations under {}/ (in {})", INSTALLATIONS_DIR, root.display())]
    NoInstallations {
        /// the directory taken as the config repo (absolute when it could be made so)
        root: PathBuf,
    },
    /// A secret could not be sealed (encrypted) for writing.
    #[error("{path}: cannot encrypt: {source}")]
    Seal {
        /// the file (relative to the repo)
        path: String,
        /// why
        #[source]
        source: SealError,
    },
    /// A symlink where mcb would read, walk, write or delete: mcb never follows one, so a
    /// committed link cannot make it touch files outside the repo.
    #[error("{}: is a symbolic link; mcb does not follow links inside the repo", path.display())]
    Symlink {
        /// the link
        path: PathBuf,
    },
    /// A template file is not UTF-8.
    #[error("{}: not UTF-8 text", path.display())]
    NotText {
        /// the file
        path: PathBuf,
    },
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        match self {
            Error::NoSuchInstallation { name, known, .. } if known.is_empty() => Some(format!(
                "this repo has no installations yet: create one with `mcb init-installation {name} --spec FILE`, or pass --repo DIR"
            )),
            Error::NoSuchInstallation { known, .. } => Some(format!(
                "installations here: {} (`mcb status` lists them); `mcb init-installation NAME` creates one",
                known.join(", ")
            )),
            Error::NoInstallations { .. } => Some(
                "run mcb in the config repo or pass --repo DIR (or MCB_REPO); create the first installation with `mcb init-installation NAME --spec FILE`".into(),
            ),
            Error::Seal { source, .. } => source.help().or_else(|| Some(
                "check the installation's creation rule in .sops.yaml and that your age key can read the file".into(),
            )),
            Error::Symlink { path } => Some(format!(
                "replace the link with a real directory or file (`rm {0}` and re-run), or remove it from git if it was committed",
                path.display()
            )),
            Error::Io(e) => crate::Help::help(e),
            Error::NotText { .. } => None,
        }
    }
}

/// Names of the installations in the repo (directories under `installations/` with an
/// `installation.yaml`), sorted.
pub fn list_installations(root: &Path) -> Result<Vec<String>, Error> {
    refuse_symlinks(root, INSTALLATIONS_DIR)?;
    let dir = root.join(INSTALLATIONS_DIR);
    let mut names = Vec::new();
    for e in read_dir_sorted(&dir)? {
        let name = e
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if e.join("installation.yaml").is_file() {
            names.push(name);
        }
    }
    Ok(names)
}

/// [`list_installations`], or [`Error::NoInstallations`] when there are none.
pub fn require_installations(root: &Path) -> Result<Vec<String>, Error> {
    let names = list_installations(root)?;
    if names.is_empty() {
        return Err(no_installations(root));
    }
    Ok(names)
}

/// [`Error::NoInstallations`] for the repo at `root`.
pub fn no_installations(root: &Path) -> Error {
    Error::NoInstallations {
        root: std::path::absolute(root).unwrap_or_else(|_| root.to_owned()),
    }
}

/// The one "no such installation" error of every command, listing those that exist.
pub fn unknown_installation(root: &Path, name: &str) -> Error {
    Error::NoSuchInstallation {
        name: name.to_owned(),
        path: root.join(spec_path(name)),
        known: list_installations(root).unwrap_or_default(),
    }
}

/// Checks that each named installation exists.
pub fn check_installations(root: &Path, names: &[String]) -> Result<(), Error> {
    match names.iter().find(|n| !root.join(spec_path(n)).is_file()) {
        Some(n) => Err(unknown_installation(root, n)),
        None => Ok(()),
    }
}

/// File names of the SOPS files in `installations/<name>/secrets/`, sorted.
pub fn secret_files(root: &Path, name: &str) -> Result<Vec<String>, Error> {
    sops_files_in(root, &secrets_dir(name))
}

/// Repo paths of the SOPS files in [`forge_secrets_dir`], sorted.
pub fn forge_secret_files(root: &Path, name: &str) -> Result<Vec<String>, Error> {
    let dir = forge_secrets_dir(name);
    Ok(sops_files_in(root, &dir)?
        .into_iter()
        .map(|f| format!("{dir}{f}"))
        .collect())
}

/// File names of the consumer Secrets in `installations/<name>/secrets/oidc-consumers/`,
/// sorted.
pub fn consumer_files(root: &Path, name: &str) -> Result<Vec<String>, Error> {
    sops_files_in(root, &consumers_dir(name))
}

/// File names of the `*.sops.yaml` files directly in `dir` (repo-relative), sorted.
fn sops_files_in(root: &Path, dir: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for p in read_dir_sorted(&root.join(dir))? {
        let f = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if f.ends_with(".sops.yaml") && p.is_file() {
            out.push(f.to_string());
        }
    }
    Ok(out)
}

/// `installations/<n>/secrets/shared/`: the copies of the shared secrets one installation
/// uses (owned by `mcb render`).
pub fn shared_copy_dir(installation: &str) -> String {
    format!("{}shared/", secrets_dir(installation))
}

/// `installations/<n>/secrets/shared/<name>.sops.yaml`.
pub fn shared_copy_path(installation: &str, name: &str) -> String {
    format!("{}{name}.sops.yaml", shared_copy_dir(installation))
}

/// The secret files an installation's generated kustomizations list, relative to its
/// `secrets/`: its own `*.sops.yaml`, then `shared/<name>.sops.yaml` for each shared
/// secret in `shared` (the spec's `sharedSecrets`, existing yet or not), then the
/// consumers' `oidc-consumers/*.sops.yaml` (their own kustomization lists them).
/// `mcb render` and `mcb check`'s render-drift both list them here, so they agree.
pub fn listed_secret_files<'a>(
    root: &Path,
    name: &str,
    shared: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, Error> {
    let mut out = secret_files(root, name)?;
    let mut copies: Vec<String> = shared
        .into_iter()
        .map(|s| format!("shared/{s}.sops.yaml"))
        .collect();
    copies.sort();
    copies.dedup();
    out.extend(copies);
    out.extend(
        consumer_files(root, name)?
            .into_iter()
            .map(|f| format!("{}/{f}", crate::creds::consumers::DIR)),
    );
    Ok(out)
}

/// The repo's template overrides: path under `templates/` -> text. Empty without the dir.
pub fn read_templates(root: &Path) -> Result<BTreeMap<String, String>, Error> {
    refuse_symlinks(root, TEMPLATES_DIR)?;
    let base = root.join(TEMPLATES_DIR);
    let mut out = BTreeMap::new();
    for p in walk_files(&base)? {
        let rel = rel_path(&base, &p);
        let bytes = crate::fsutil::read(&p)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::NotText { path: p.clone() })?;
        out.insert(rel, text);
    }
    Ok(out)
}

/// Fails if `rel` (relative to `root`, `/`-separated), or any directory on the way to it,
/// is a symlink. Components that do not exist yet are fine: mcb creates them as real
/// directories. `root` itself may be a link (the user chose it).
pub fn refuse_symlinks(root: &Path, rel: &str) -> Result<(), Error> {
    let mut p = root.to_path_buf();
    for part in rel.split('/').filter(|c| !c.is_empty()) {
        p.push(part);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => return Err(Error::Symlink { path: p }),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::Io(PathError { path: p, source: e })),
        }
    }
    Ok(())
}

/// Entries of a directory in name order; none when it does not exist.
fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io(PathError {
                path: dir.into(),
                source: e,
            }))
        }
    };
    let mut v = Vec::new();
    for e in rd {
        v.push(e.context(dir)?.path());
    }
    v.sort();
    Ok(v)
}

/// Every file below `dir` (recursively), sorted; none when it does not exist. A symlink
/// anywhere below is an error naming it: walking never follows one.
pub(crate) fn walk_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in read_dir_sorted(dir)? {
        let ft = std::fs::symlink_metadata(&p).context(&p)?.file_type();
        if ft.is_symlink() {
            return Err(Error::Symlink { path: p });
        } else if ft.is_dir() {
            out.extend(walk_files(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// `p` relative to `base`, with `/` separators.
pub(crate) fn rel_path(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests;
