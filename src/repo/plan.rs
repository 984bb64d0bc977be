//! Comparing desired files with the repo and writing the difference all-or-nothing:
//! every new file is staged as a temp file next to its target first, then the renames
//! happen; if any step fails, the renames done so far are undone, so the repo is left as
//! it was.

use std::io;
use std::path::{Path, PathBuf};

use secrecy::SecretBox;

use super::{rel_path, walk_files, Error};
use crate::fileset::{Content, FileSet};
use crate::fsutil::{IoResultExt, PathError};

/// Encrypts a secret file for writing. The SOPS implementation keeps `existing` byte for
/// byte when its plaintext equals `plain` (no noise commits).
pub trait Sealer {
    /// The bytes to write at `path` (relative to the repo) for plaintext `plain`; `existing`
    /// is the file now on disk, if any.
    fn seal(
        &self,
        path: &str,
        plain: &SecretBox<Vec<u8>>,
        existing: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError>;
}

/// A sealer for callers that have no SOPS engine at hand: any secret fails to seal.
#[derive(Debug, Default)]
pub struct NoSealer;

impl Sealer for NoSealer {
    fn seal(
        &self,
        path: &str,
        _: &SecretBox<Vec<u8>>,
        _: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError> {
        Err(SealError::new(format!(
            "no SOPS engine is wired into this command, so {path} cannot be encrypted"
        )))
    }
}

/// Why a secret could not be sealed (never contains plaintext), with the SOPS engine's
/// hint when it had one.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SealError {
    /// what went wrong
    pub message: String,
    /// what to do about it
    pub help: Option<String>,
}

impl SealError {
    /// An error without a hint of its own.
    pub fn new(message: impl Into<String>) -> Self {
        SealError {
            message: message.into(),
            help: None,
        }
    }

    /// `path` could not be sealed because of `cause`, keeping the cause's hint.
    pub fn caused<E: std::fmt::Display + crate::Help>(path: &str, cause: &E) -> Self {
        SealError {
            message: format!("{path}: {cause}"),
            help: cause.help(),
        }
    }
}

impl crate::Help for SealError {
    fn help(&self) -> Option<String> {
        self.help.clone()
    }
}

/// What happens to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// new file
    Added,
    /// different content
    Changed,
    /// no longer produced (only inside owned paths)
    Removed,
    /// same bytes
    Unchanged,
}

/// One file of a plan.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the repo root.
    pub path: String,
    /// What happens to it.
    pub change: Change,
    /// Whether it is an encrypted secret (its diff is never shown).
    pub secret: bool,
    /// The bytes to write (sealed for secrets); `None` for removals.
    new: Option<Vec<u8>>,
    /// The bytes on disk now.
    old: Option<Vec<u8>>,
}

impl Entry {
    /// The bytes the file gets (sealed for secrets); `None` for a removal.
    pub fn new_bytes(&self) -> Option<&[u8]> {
        self.new.as_deref()
    }

    /// A unified diff for a plain file, a one-line note for a secret, `None` if unchanged.
    pub fn diff(&self) -> Option<String> {
        if self.change == Change::Unchanged {
            return None;
        }
        if self.secret {
            let what = match self.change {
                Change::Added => "encrypted, added",
                Change::Removed => "encrypted, removed",
                _ => "encrypted, changed",
            };
            return Some(format!("{}: {what}\n", self.path));
        }
        let text = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let (old, new) = (text(&self.old), text(&self.new));
        let a = if self.old.is_some() {
            format!("a/{}", self.path)
        } else {
            "/dev/null".into()
        };
        let b = if self.new.is_some() {
            format!("b/{}", self.path)
        } else {
            "/dev/null".into()
        };
        Some(
            similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string(),
        )
    }
}

/// What writing a [`FileSet`] would do.
#[derive(Debug)]
pub struct Plan {
    root: PathBuf,
    entries: Vec<Entry>,
}

/// Compares `files` with the repo at `root`. Files under `owned` prefixes (directories
/// ending in `/`) that `files` does not contain are planned for removal; nothing outside
/// them is ever removed. Secrets are sealed now, so the plan knows their final bytes.
/// A symlink on the way to any file it reads, writes, walks or removes is an error before
/// anything is written (see [`super::refuse_symlinks`]).
pub fn plan(
    root: &Path,
    files: &FileSet,
    owned: &[String],
    sealer: &dyn Sealer,
) -> Result<Plan, Error> {
    let mut entries = Vec::new();
    for (path, content) in files.iter() {
        super::refuse_symlinks(root, path)?;
        let old = crate::fsutil::read_optional(root.join(path))?;
        let (new, secret) = match content {
            Content::Plain(b) => (b.clone(), false),
            Content::Secret(s) => (
                sealer
                    .seal(path, s, old.as_deref())
                    .map_err(|source| Error::Seal {
                        path: path.clone(),
                        source,
                    })?,
                true,
            ),
        };
        let change = match &old {
            None => Change::Added,
            Some(o) if *o == new => Change::Unchanged,
            Some(_) => Change::Changed,
        };
        entries.push(Entry {
            path: path.clone(),
            change,
            secret,
            new: Some(new),
            old,
        });
    }
    for prefix in owned {
        super::refuse_symlinks(root, prefix)?;
        for p in walk_files(&root.join(prefix))? {
            let path = rel_path(root, &p);
            if files.get(&path).is_none() {
                let old = Some(crate::fsutil::read(&p)?);
                let secret = path.ends_with(".sops.yaml");
                entries.push(Entry {
                    path,
                    change: Change::Removed,
                    secret,
                    new: None,
                    old,
                });
            }
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Plan {
        root: root.to_path_buf(),
        entries,
    })
}

impl Plan {
    /// Every file considered, in path order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries that change something.
    pub fn changes(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.change != Change::Unchanged)
    }

    /// Whether the repo already matches.
    pub fn is_clean(&self) -> bool {
        self.changes().next().is_none()
    }

    /// All diffs, in path order (secrets as one line each, never their text).
    pub fn diff(&self) -> String {
        self.changes().filter_map(Entry::diff).collect()
    }

    /// The plan that undoes this one once it has been applied: added files are removed,
    /// changed and removed ones get their old bytes back. Used to roll back when a later
    /// step (the commit) fails.
    pub fn inverse(&self) -> Plan {
        let entries = self
            .changes()
            .map(|e| Entry {
                path: e.path.clone(),
                change: match e.change {
                    Change::Added => Change::Removed,
                    Change::Removed => Change::Added,
                    c => c,
                },
                secret: e.secret,
                new: e.old.clone(),
                old: e.new.clone(),
            })
            .collect();
        Plan {
            root: self.root.clone(),
            entries,
        }
    }

    /// Writes the plan all-or-nothing. Returns the number of files touched.
    pub fn apply(&self) -> Result<usize, Error> {
        self.apply_with(&mut |_| Ok(()))
    }

    /// [`Plan::apply`] with a hook called before each rename (tests inject failures).
    fn apply_with(&self, hook: &mut dyn FnMut(usize) -> io::Result<()>) -> Result<usize, Error> {
        let changes: Vec<&Entry> = self.changes().collect();
        // Directories staging will create, removed again (deepest first) if anything fails.
        let mut new_dirs: Vec<PathBuf> = Vec::new();
        for e in &changes {
            let mut d = self.root.join(&e.path).parent().map(Path::to_path_buf);
            while let Some(dir) = d.filter(|x| !x.exists() && !new_dirs.contains(x)) {
                d = dir.parent().map(Path::to_path_buf);
                new_dirs.push(dir);
            }
        }
        new_dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        let result = self.write_all(&changes, hook);
        if result.is_err() {
            for d in &new_dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        result
    }

    fn write_all(
        &self,
        changes: &[&Entry],
        hook: &mut dyn FnMut(usize) -> io::Result<()>,
    ) -> Result<usize, Error> {
        // 1. Stage every new file as a temp file in its target's directory.
        let mut staged = Vec::new();
        for e in changes {
            let Some(bytes) = &e.new else {
                staged.push(None);
                continue;
            };
            let target = self.root.join(&e.path);
            match stage(&target, bytes) {
                Ok(t) => staged.push(Some(t)),
                Err(err) => return Err(err.into()), // temps drop (and delete) here
            }
        }
        // 2. Move old files aside and new ones in; undo everything on the first failure.
        let mut done: Vec<(PathBuf, Option<PathBuf>, bool)> = Vec::new();
        for (i, (e, tmp)) in changes.iter().zip(staged).enumerate() {
            let target = self.root.join(&e.path);
            let step = (|| -> Result<(PathBuf, Option<PathBuf>, bool), PathError> {
                hook(i).context(&target)?;
                let backup = match e.old {
                    Some(_) => {
                        let b = backup_path(&target);
                        std::fs::rename(&target, &b).context(&target)?;
                        Some(b)
                    }
                    None => None,
                };
                let placed = match tmp {
                    Some(t) => match t.persist(&target) {
                        Ok(_) => true,
                        Err(err) => {
                            if let Some(b) = &backup {
                                let _ = std::fs::rename(b, &target);
                            }
                            return Err(err.error).context(&target);
                        }
                    },
                    None => false,
                };
                Ok((target.clone(), backup, placed))
            })();
            match step {
                Ok(d) => done.push(d),
                Err(err) => {
                    undo(done);
                    return Err(err.into());
                }
            }
        }
        // 3. Committed: drop the backups and directories left empty by removals.
        for (target, backup, placed) in &done {
            if let Some(b) = backup {
                let _ = std::fs::remove_file(b);
            }
            if !placed {
                crate::fsutil::remove_empty_parents(&self.root, target);
            }
        }
        Ok(done.len())
    }
}

fn stage(target: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, PathError> {
    use std::io::Write;
    let dir = target.parent().expect("repo paths have a parent");
    std::fs::create_dir_all(dir).context(dir)?;
    let mut t = tempfile::Builder::new()
        .prefix(crate::fsutil::TEMP_PREFIX)
        .tempfile_in(dir)
        .context(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o644))
            .context(t.path())?;
    }
    t.write_all(bytes).context(target)?;
    t.as_file().sync_data().context(target)?;
    Ok(t)
}

/// The name prefix of the copy [`Plan::apply`] keeps of a file it replaces, until done.
const BACKUP_PREFIX: &str = ".mcb-bak-";

fn backup_path(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!("{BACKUP_PREFIX}{name}"))
}

/// Cleans up after a writer that was killed half way, under the repo-relative `prefixes`
/// (a directory is searched through, a file's directory only next to it): temp files
/// ([`crate::fsutil::TEMP_PREFIX`]) are removed, and a backup whose file is missing is put
/// back (else removed). Returns the repo paths it handled.
pub fn clean_leftovers(root: &Path, prefixes: &[&str]) -> Result<Vec<String>, Error> {
    let mut candidates = Vec::new();
    for prefix in prefixes {
        let p = root.join(prefix.trim_end_matches('/'));
        if p.is_dir() {
            candidates.extend(walk_files(&p)?);
        } else if let Some(dir) = p.parent().filter(|d| d.is_dir()) {
            for e in std::fs::read_dir(dir).context(dir)? {
                candidates.push(e.context(dir)?.path());
            }
        }
    }
    candidates.sort();
    candidates.dedup();
    let mut handled = Vec::new();
    for p in candidates {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.starts_with(crate::fsutil::TEMP_PREFIX) && p.is_file() {
            std::fs::remove_file(&p).context(&p)?;
        } else if let Some(orig) = name.strip_prefix(BACKUP_PREFIX) {
            let target = p.with_file_name(orig);
            match target.exists() {
                true => std::fs::remove_file(&p).context(&p)?,
                false => std::fs::rename(&p, &target).context(&target)?,
            }
        } else {
            continue;
        }
        handled.push(rel_path(root, &p));
    }
    Ok(handled)
}

/// Reverses completed steps, newest first: remove what was placed, restore backups.
fn undo(done: Vec<(PathBuf, Option<PathBuf>, bool)>) {
    for (target, backup, placed) in done.into_iter().rev() {
        if placed {
            let _ = std::fs::remove_file(&target);
        }
        if let Some(b) = backup {
            let _ = std::fs::rename(&b, &target);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
