//! Where a private key may be written: outside the config repo's work tree, or at a path
//! git ignores. A key written next to the files mcb commits is one `git add -A` away from
//! being pushed, so `--age-key-out` and `bootstrap --out` are checked before anything runs.
//! Reads the repository; never writes.

use std::path::{Component, Path, PathBuf};

use super::{Error, Result};

/// Fails with [`Error::KeyInWorkTree`] if `path` (a file to create, or a directory files go
/// into, given by `probe` inside it) lies in the work tree of the repository at
/// `repo_dir` and git does not ignore it. Outside any repository there is nothing to check.
pub fn refuse_key_in_work_tree(repo_dir: &Path, path: &Path, probe: Option<&str>) -> Result<()> {
    let Ok(repo) = git2::Repository::discover(repo_dir) else {
        return Ok(());
    };
    let Some(work_tree) = repo.workdir().and_then(|w| w.canonicalize().ok()) else {
        return Ok(());
    };
    let abs = resolve(path)?;
    let Ok(rel) = abs.strip_prefix(&work_tree) else {
        return Ok(());
    };
    let checked = match probe {
        Some(p) => rel.join(p),
        None => rel.to_path_buf(),
    };
    // Inside `.git` nothing is ever committed.
    if rel.starts_with(".git") || repo.is_path_ignored(&checked).unwrap_or(false) {
        return Ok(());
    }
    Err(Error::KeyInWorkTree {
        path: path.to_path_buf(),
        repo: work_tree,
    })
}

/// `path` made absolute with every existing ancestor resolved (links included), so a
/// relative path or a link into the repo cannot hide where the file lands.
fn resolve(path: &Path) -> Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|source| crate::fsutil::PathError {
                path: PathBuf::from("."),
                source,
            })?
            .join(path)
    };
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(n)) => {
                rest.push(n.to_owned());
                existing = p;
            }
            _ => break,
        }
    }
    let mut out = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for n in rest.into_iter().rev() {
        out.push(n);
    }
    // `..` after a missing directory: drop it lexically, as the file system would.
    let mut clean = PathBuf::new();
    for c in out.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            c => clean.push(c),
        }
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        git2::Repository::init(d.path()).unwrap();
        std::fs::write(d.path().join(".gitignore"), "keys/\n*.agekey\n").unwrap();
        d
    }

    /// Issue #15 item 8: `--age-key-out` inside the repo was written where `git add`
    /// would pick it up.
    #[test]
    fn issue_15_keys_in_the_work_tree_must_be_ignored() {
        let d = repo();
        let r = d.path();
        let err = refuse_key_in_work_tree(r, &r.join("demo.key"), None).unwrap_err();
        assert!(matches!(err, Error::KeyInWorkTree { .. }), "{err}");
        assert!(err.to_string().contains("demo.key"), "{err}");
        assert!(refuse_key_in_work_tree(r, &r.join("sub/../x/k"), None).is_err());
        assert!(refuse_key_in_work_tree(r, &r.join("demo.agekey"), None).is_ok());
        assert!(refuse_key_in_work_tree(r, &r.join("keys/demo"), None).is_ok());
        assert!(refuse_key_in_work_tree(r, &r.join("out"), Some("sops-age.yaml")).is_err());
        assert!(refuse_key_in_work_tree(r, &r.join("keys"), Some("sops-age.yaml")).is_ok());
        let outside = tempfile::tempdir().unwrap();
        assert!(refuse_key_in_work_tree(r, &outside.path().join("k"), None).is_ok());
    }
}
