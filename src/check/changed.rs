//! `mcb check --changed-since REF`: the installations a change since REF can affect, so a
//! pull request checks those and skips the rest. Changed means: in REF's tree and not in
//! the work tree as check reads it (index and work tree, untracked files git does not
//! ignore), or the other way round, or different.
//!
//! A changed path affects: `installations/<name>/…` that installation; `templates/`,
//! `vendor/` and `.mcbignore` every installation (they shape every render, schema or file
//! list); `shared/secrets/<name>.sops.yaml` every installation whose spec names it (a text
//! match: over-approximates, never misses); a `.sops.yaml` outside an installation every
//! installation one of whose SOPS files gets other creation options under the new rules
//! than under REF's (every installation when either side does not parse). Files outside
//! installations are checked in any case.

use std::collections::BTreeSet;
use std::path::Path;

use super::files::{self, Listing};
use super::Error;
use crate::repo;
use crate::sops::rules::{Config, FILE_NAME as SOPS_CONFIG};

/// Which of `names` a change since `rev` affects, sorted.
/// `listing`: the checked files, with the repository and the paths that differ between
/// index and work tree, as [`files::list`] found them.
pub fn affected(
    root: &Path,
    rev: &str,
    names: &[String],
    listing: &Listing,
) -> Result<Vec<String>, Error> {
    let git_err = |e: git2::Error| Error::ChangedSince {
        rev: rev.to_owned(),
        message: e.message().to_owned(),
    };
    let Some((repo, differ)) = &listing.git else {
        return Err(Error::ChangedSince {
            rev: rev.to_owned(),
            message: format!("{} is not a git checkout", root.display()),
        });
    };
    let paths = &listing.paths;
    let tree = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_tree())
        .map_err(git_err)?;
    // REF against the index, plus what differs between index and work tree (the listing
    // looked already): a path changed and changed back in the work tree counts as changed
    // (over-approximates, never misses).
    let index = repo.index().map_err(git_err)?;
    let diff = repo
        .diff_tree_to_index(Some(&tree), Some(&index), None)
        .map_err(git_err)?;
    let mut changed = differ.clone();
    changed.extend(files::delta_paths(&diff).into_iter().map(|(_, p)| p));
    let all: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut out: BTreeSet<&str> = BTreeSet::new();
    for p in &changed {
        if let Some(name) = p
            .strip_prefix("installations/")
            .and_then(|r| r.split_once('/'))
            .map(|(n, _)| n)
        {
            if let Some(n) = all.get(name) {
                out.insert(n);
            }
        } else if p.starts_with("templates/") || p.starts_with("vendor/") || p == super::IGNORE_FILE
        {
            return Ok(names.to_vec());
        } else if let Some(shared) = p
            .strip_prefix(&format!("{}/", repo::SHARED_SECRETS_DIR))
            .and_then(|n| n.strip_suffix(".sops.yaml"))
        {
            for n in &all {
                let spec =
                    std::fs::read_to_string(root.join(repo::spec_path(n))).unwrap_or_default();
                if spec.contains(shared) {
                    out.insert(n);
                }
            }
        } else if p.rsplit('/').next() == Some(SOPS_CONFIG) {
            let dir = p
                .strip_suffix(SOPS_CONFIG)
                .unwrap_or("")
                .trim_end_matches('/');
            let old = tree
                .get_path(Path::new(p))
                .ok()
                .and_then(|e| e.to_object(repo).ok())
                .and_then(|o| {
                    o.as_blob()
                        .map(|b| String::from_utf8_lossy(b.content()).into_owned())
                })
                .unwrap_or_default();
            let new = std::fs::read_to_string(root.join(p)).unwrap_or_default();
            match (
                Config::parse(Path::new(p), &old),
                Config::parse(Path::new(p), &new),
            ) {
                (Ok(a), Ok(b)) => {
                    for f in paths.iter().filter(|f| super::sopsfile::named_sops(f)) {
                        let (Some(inst), Some(rel)) =
                            (super::files::installation_of(f), f.strip_prefix(dir))
                        else {
                            continue;
                        };
                        let rel = Path::new(rel.trim_start_matches('/'));
                        let opts = |c: &Config| {
                            c.options_for(Path::new(dir), rel)
                                .map(|o| format!("{o:?}"))
                                .map_err(|e| e.to_string())
                        };
                        if opts(&a) != opts(&b) {
                            if let Some(n) = all.get(inst) {
                                out.insert(n);
                            }
                        }
                    }
                }
                _ => return Ok(names.to_vec()),
            }
        }
    }
    Ok(out.into_iter().map(str::to_owned).collect())
}
