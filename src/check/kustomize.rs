//! `kubectl kustomize` over each installation's outermost kustomization directories (those
//! with no kustomization above them inside the installation): what Flux will build must
//! build. Runs the real tool, offline; without kubectl the check is reported as skipped.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{Finding, RepoFile};

const RULE: &str = "kustomize-build";
/// File names kustomize reads as a kustomization.
pub(super) const NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Builds every outermost kustomization of every installation among `files`.
pub fn check(root: &Path, files: &[RepoFile], kubectl: Option<&Path>) -> Vec<Finding> {
    let roots = outermost(files);
    if roots.is_empty() {
        return Vec::new();
    }
    let Some(kubectl) = kubectl else {
        return vec![Finding::warning(
            &RepoFile::new("", Vec::new()),
            None,
            RULE,
            "kustomize builds were not checked: kubectl was not found on PATH; install kubectl (or pass --kubectl)",
        )];
    };
    let mut out = Vec::new();
    for f in roots {
        let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
        let res = Command::new(kubectl)
            .arg("kustomize")
            .arg(root.join(dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match res {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let root_s = format!("{}/", root.display());
                let first = err
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("failed");
                let first = first
                    .trim()
                    .trim_start_matches("error: ")
                    .replace(&root_s, "");
                out.push(Finding::error(
                    f,
                    None,
                    RULE,
                    format!("`kubectl kustomize {dir}` fails: {first}"),
                ));
            }
            Err(e) => out.push(Finding::warning(
                f,
                None,
                RULE,
                format!(
                    "could not run {}: {e}; kustomize build not checked",
                    kubectl.display()
                ),
            )),
        }
    }
    out
}

/// Kustomization files with no kustomization in a parent directory of the same installation.
fn outermost(files: &[RepoFile]) -> Vec<&RepoFile> {
    let is_k = |f: &&RepoFile| {
        f.installation.is_some() && NAMES.iter().any(|n| f.path.rsplit('/').next() == Some(n))
    };
    let dirs: BTreeSet<&str> = files
        .iter()
        .filter(is_k)
        .filter_map(|f| f.path.rsplit_once('/').map(|(d, _)| d))
        .collect();
    files
        .iter()
        .filter(is_k)
        .filter(|f| {
            let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            !dirs.iter().any(|d| {
                dir.len() > d.len() && dir.starts_with(d) && dir.as_bytes()[d.len()] == b'/'
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outermost_only() {
        let files: Vec<_> = [
            "installations/a/manifests/kustomization.yaml",
            "installations/a/manifests/apps/kustomization.yaml",
            "installations/a/bootstrap/kustomization.yaml",
            "installations/b/x/Kustomization",
            "templates/kustomization.yaml",
        ]
        .iter()
        .map(|p| RepoFile::new(*p, Vec::new()))
        .collect();
        let got: Vec<_> = outermost(&files).iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            got,
            [
                "installations/a/manifests/kustomization.yaml",
                "installations/a/bootstrap/kustomization.yaml",
                "installations/b/x/Kustomization"
            ]
        );
    }

    #[test]
    fn missing_kubectl_is_one_warning() {
        let files = vec![RepoFile::new(
            "installations/a/manifests/kustomization.yaml",
            Vec::new(),
        )];
        let f = check(Path::new("/nonexistent"), &files, None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, super::super::Severity::Warning);
    }
}
