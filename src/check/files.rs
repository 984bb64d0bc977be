//! Which files `mcb check` reads: in a git checkout, the tracked files plus untracked ones
//! git does not ignore (so a secret about to be committed is caught); elsewhere every file
//! under the root except `.git/`. Paths listed in [`IGNORE_FILE`] are left out of every check.
//!
//! `.mcbignore` format: one repo-relative path per line, `#` starts a comment; a line ending
//! in `/` leaves out everything below that directory, any other line that exact file.
//! No globs: an allowlist should be short and obvious in review.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::Error;
use crate::fsutil::IoResultExt;

/// The allowlist file at the repo root.
pub const IGNORE_FILE: &str = ".mcbignore";

/// One file of the repo, read once and shared by every check.
#[derive(Debug, Clone)]
pub struct RepoFile {
    /// Path relative to the repo root, `/`-separated.
    pub path: String,
    /// `installations/<name>/…` gives `name`.
    pub installation: Option<String>,
    /// The content, when it is UTF-8 text (binary files are only scanned for nothing).
    /// Shared between files with the same bytes (installations rendered from the same
    /// templates hold the same Flux install: a 1,000-installation repo would hold it 1,000 times).
    pub text: Option<Arc<str>>,
}

impl RepoFile {
    /// A file from its relative path and bytes.
    pub fn new(path: impl Into<String>, bytes: Vec<u8>) -> Self {
        let path = path.into();
        let installation = installation_of(&path).map(str::to_owned);
        RepoFile {
            path,
            installation,
            text: String::from_utf8(bytes).ok().map(Arc::from),
        }
    }

    /// The text, or `""` for binary files.
    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }

    /// Whether the file is YAML (or JSON, which YAML parsers read too).
    pub fn is_yaml(&self) -> bool {
        [".yaml", ".yml", ".json"]
            .iter()
            .any(|e| self.path.ends_with(e))
    }
}

/// Names of the directories under `installations/`, sorted.
pub fn installations(root: &Path) -> Result<Vec<String>, Error> {
    let dir = root.join("installations");
    let Ok(rd) = fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for e in rd {
        let e = e.context(&dir)?;
        if e.file_type().context(e.path())?.is_dir() {
            if let Some(n) = e.file_name().to_str() {
                names.push(n.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Reads every checked file under `root`, in path order.
pub fn load(root: &Path) -> Result<Vec<RepoFile>, Error> {
    read(root, &list(root)?.paths)
}

/// The checked files of a repo and, in a git checkout, what the listing learnt from git on
/// the way (one look at the work tree serves both the listing and `--changed-since`).
pub struct Listing {
    /// Paths of every checked file (`.mcbignore` applied), sorted.
    pub paths: Vec<String>,
    /// In a git checkout: the repository and the paths whose work-tree state differs from
    /// the index (modified, deleted, untracked and not ignored), before `.mcbignore`.
    pub git: Option<(git2::Repository, BTreeSet<String>)>,
}

/// Lists every checked file under `root`.
pub fn list(root: &Path) -> Result<Listing, Error> {
    let (paths, git) = if root.join(".git").exists() {
        let (paths, repo, differ) = git_scan(root)?;
        (paths, Some((repo, differ)))
    } else {
        let mut v = BTreeSet::new();
        walk(root, root, &mut v)?;
        (v, None)
    };
    let ignore = Ignore::load(root)?;
    Ok(Listing {
        paths: paths.into_iter().filter(|p| !ignore.matches(p)).collect(),
        git,
    })
}

/// Reads the files at `paths` (on every core), skipping links and files deleted in the
/// work tree; order kept.
pub fn read(root: &Path, paths: &[String]) -> Result<Vec<RepoFile>, Error> {
    // Texts by hash (hashed outside the lock: the Flux install is ~270 kB per installation).
    let texts: Mutex<HashMap<u64, Vec<Arc<str>>>> = Mutex::default();
    let read = super::par_map(paths, |p| {
        let abs = root.join(p);
        // A committed link is git's business, not a file to read: following it would scan
        // (and report on) whatever it points at outside the repo.
        if fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_symlink()) {
            return Ok(None);
        }
        // A tracked file deleted in the work tree is not there to check.
        let bytes = crate::fsutil::read_optional(&abs)?;
        Ok::<_, Error>(bytes.map(|b| {
            let mut f = RepoFile::new(p.clone(), b);
            if let Some(t) = f.text.take() {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                t.hash(&mut h);
                let mut seen = texts.lock().unwrap_or_else(|e| e.into_inner());
                let same = seen.entry(h.finish()).or_default();
                f.text = Some(match same.iter().find(|s| **s == t) {
                    Some(s) => s.clone(),
                    None => {
                        same.push(t.clone());
                        t
                    }
                });
            }
            f
        }))
    });
    read.into_iter()
        .filter_map(Result::transpose)
        .collect::<Result<Vec<_>, Error>>()
}

/// `installations/<name>/…` gives `name`.
pub fn installation_of(path: &str) -> Option<&str> {
    path.strip_prefix("installations/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(name, _)| name)
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> Result<(), Error> {
    for e in fs::read_dir(dir).context(dir)? {
        let e = e.context(dir)?;
        let path = e.path();
        let ft = e.file_type().context(&path)?;
        if ft.is_dir() {
            if e.file_name() != ".git" {
                walk(root, &path, out)?;
            }
        } else if ft.is_file() {
            out.insert(rel(root, &path));
        }
    }
    Ok(())
}

fn rel(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The index's paths plus untracked files git does not ignore; the repository; and every
/// path whose work-tree state differs from the index. One diff of the index against the work
/// tree: `git status` would also compare HEAD with the index, which no caller needs.
fn git_scan(root: &Path) -> Result<(BTreeSet<String>, git2::Repository, BTreeSet<String>), Error> {
    let git_err = |e: git2::Error| Error::Git {
        root: root.to_path_buf(),
        message: e.message().to_owned(),
    };
    let repo = git2::Repository::open(root).map_err(git_err)?;
    let mut paths = BTreeSet::new();
    let mut differ = BTreeSet::new();
    {
        let index = repo.index().map_err(git_err)?;
        for e in index.iter() {
            paths.insert(String::from_utf8_lossy(&e.path).into_owned());
        }
        let mut opts = git2::DiffOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true);
        let diff = repo
            .diff_index_to_workdir(Some(&index), Some(&mut opts))
            .map_err(git_err)?;
        for (status, p) in delta_paths(&diff) {
            if status == git2::Delta::Untracked {
                paths.insert(p.clone());
            }
            differ.insert(p);
        }
    }
    Ok((paths, repo, differ))
}

/// Every path a diff names (old and new side of each delta, `/`-separated), with the
/// delta's status.
pub(super) fn delta_paths(diff: &git2::Diff<'_>) -> Vec<(git2::Delta, String)> {
    diff.deltas()
        .flat_map(|d| {
            [d.old_file(), d.new_file()]
                .into_iter()
                .filter_map(move |f| f.path().and_then(Path::to_str))
                .map(move |p| (d.status(), p.replace('\\', "/")))
        })
        .collect()
}

/// The parsed [`IGNORE_FILE`].
#[derive(Debug, Default)]
struct Ignore {
    files: BTreeSet<String>,
    dirs: Vec<String>,
}

impl Ignore {
    fn load(root: &Path) -> Result<Self, Error> {
        let Some(bytes) = crate::fsutil::read_optional(root.join(IGNORE_FILE))? else {
            return Ok(Ignore::default());
        };
        Ok(Self::parse(&String::from_utf8_lossy(&bytes)))
    }

    fn parse(text: &str) -> Self {
        let mut ig = Ignore::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let line = line.trim_start_matches("./").trim_start_matches('/');
            if line.is_empty() {
                continue;
            }
            if line.ends_with('/') {
                ig.dirs.push(line.to_owned());
            } else {
                ig.files.insert(line.to_owned());
            }
        }
        ig
    }

    fn matches(&self, path: &str) -> bool {
        self.files.contains(path) || self.dirs.iter().any(|d| path.starts_with(d.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_file_prefixes_and_exact_files() {
        let ig = Ignore::parse("# test keys\nfixtures/keys/\n./docs/example.pem  # sample\n\n");
        assert!(ig.matches("fixtures/keys/age1.txt"));
        assert!(ig.matches("docs/example.pem"));
        assert!(!ig.matches("docs/example.pem.bak"));
        assert!(!ig.matches("fixtures/keysx/a"));
    }

    #[test]
    fn installation_from_path() {
        assert_eq!(
            RepoFile::new("installations/a/x.yaml", vec![])
                .installation
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            RepoFile::new("installations/x.yaml", vec![]).installation,
            None
        );
        assert_eq!(
            RepoFile::new("shared/secrets/x.yaml", vec![]).installation,
            None
        );
        assert!(RepoFile::new("b", vec![0xff]).text.is_none());
    }

    #[test]
    fn git_checkout_lists_tracked_and_unignored_untracked() {
        let d = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(d.path()).unwrap();
        fs::write(d.path().join(".gitignore"), "ignored.yaml\n").unwrap();
        fs::write(d.path().join("tracked.yaml"), "a: 1\n").unwrap();
        fs::write(d.path().join("deleted.yaml"), "a: 1\n").unwrap();
        let mut index = repo.index().unwrap();
        for p in [".gitignore", "tracked.yaml", "deleted.yaml"] {
            index.add_path(Path::new(p)).unwrap();
        }
        index.write().unwrap();
        fs::remove_file(d.path().join("deleted.yaml")).unwrap();
        fs::write(d.path().join("ignored.yaml"), "x").unwrap();
        fs::create_dir_all(d.path().join("new")).unwrap();
        fs::write(d.path().join("new/untracked.yaml"), "x").unwrap();
        let got: Vec<String> = load(d.path())
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(got, [".gitignore", "new/untracked.yaml", "tracked.yaml"]);
    }

    #[test]
    fn walk_lists_files_and_skips_git_and_ignored() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join(".git")).unwrap();
        fs::write(d.path().join(".git/config"), "x").unwrap();
        fs::create_dir_all(d.path().join("keys")).unwrap();
        fs::write(d.path().join("keys/k"), "x").unwrap();
        fs::write(d.path().join("a.yaml"), "x").unwrap();
        fs::write(d.path().join(IGNORE_FILE), "keys/\n").unwrap();
        let mut v = BTreeSet::new();
        walk(d.path(), d.path(), &mut v).unwrap();
        assert!(
            v.contains("a.yaml")
                && v.contains("keys/k")
                && !v.iter().any(|p| p.starts_with(".git/"))
        );
    }
}
