//! `kustomize-build`: what Flux builds must build. Every kustomization directory of every
//! installation is built by the native model ([`model`]: resources exist, no cycles, object
//! ids unique after the namespace and name transforms, generators' files exist, patches have
//! a target); `kubectl kustomize` runs only for the outermost kustomizations that include a
//! feature the model does not cover (components, replacements, patches to apply, ...), in
//! parallel on every core, offline.
//!
//! Offline means no fetch at all unless `--allow-remote`: an entry of `resources`/`bases`
//! that is not on disk and looks like a URL or a git repository is something kustomize would
//! fetch, so its outermost kustomization is not built and is reported as a warning.

mod kubectl;
mod model;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::yaml::Parsed;
use super::{Finding, RepoFile, Rule};
use model::{Model, Outcome, Repo};

const RULE: Rule = Rule::KustomizeBuild;
/// File names kustomize reads as a kustomization.
pub(super) const NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// What [`check`] found, and what it could not build without kubectl.
pub struct Built {
    /// Kustomizations that do not build.
    pub findings: Vec<Finding>,
    /// `(dir, why)` of kustomizations only kubectl can build, when none was given: one
    /// warning for all of them ([`unbuilt`]).
    pub unbuilt: Vec<(String, String)>,
}

/// Builds every kustomization of every installation among `files` (`docs`: their parsed
/// documents, by file index); with `allow_remote` false, one that needs a remote resource
/// is reported and not built.
pub fn check(
    root: &Path,
    files: &[RepoFile],
    docs: &HashMap<usize, &Parsed>,
    kubectl: Option<&Path>,
    allow_remote: bool,
) -> Built {
    let mut by_inst: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in files {
        let (Some(inst), Some((dir, name))) = (&f.installation, f.path.rsplit_once('/')) else {
            continue;
        };
        if NAMES.contains(&name) {
            by_inst.entry(inst.as_str()).or_default().push(dir);
        }
    }
    let insts: Vec<Vec<&str>> = by_inst.into_values().collect();
    let repo = Repo::new(root, files, docs);
    let per_inst = super::par_map(&insts, |dirs| native(&repo, dirs, allow_remote));
    let mut out = Vec::new();
    let mut jobs = Vec::new();
    for (findings, todo) in per_inst {
        out.extend(findings);
        jobs.extend(todo);
    }
    let Some(kubectl) = kubectl.filter(|_| !jobs.is_empty()) else {
        return Built {
            findings: out,
            unbuilt: jobs,
        };
    };
    let built = super::par_map_min(&jobs, 1, |(dir, _)| {
        kubectl::build(kubectl, root, dir, allow_remote)
    });
    for ((dir, _), b) in jobs.iter().zip(built) {
        let f = kustomization_file(files, dir);
        match b {
            kubectl::Built::Ok => {}
            kubectl::Built::Failed(first) => out.push(Finding::error(
                &f,
                None,
                RULE,
                format!("`kubectl kustomize {dir}` fails: {first}"),
            )),
            kubectl::Built::NotRun(msg) => out.push(Finding::warning(
                &f,
                None,
                RULE,
                format!("{msg}; kustomize build not checked"),
            )),
        }
    }
    Built {
        findings: out,
        unbuilt: Vec::new(),
    }
}

/// The one warning for the kustomizations no kubectl built (`unbuilt` from every [`check`]).
pub fn unbuilt(unbuilt: &[(String, String)]) -> Option<Finding> {
    let (dir, why) = unbuilt.first()?;
    Some(Finding::warning(
        &RepoFile::new("", Vec::new()),
        None,
        RULE,
        format!(
            "{} kustomization(s) were not built: they use features mcb does not model ({dir}: {why}) and kubectl was not found on PATH; install kubectl (or pass --kubectl)",
            unbuilt.len()
        ),
    ))
}

/// The native build of one installation's kustomization directories: its findings, and the
/// outermost directories kubectl must build (with why).
fn native(repo: &Repo, dirs: &[&str], allow_remote: bool) -> (Vec<Finding>, Vec<(String, String)>) {
    let mut m = Model::new(repo, allow_remote);
    let outcomes: Vec<(&str, Outcome)> = dirs.iter().map(|d| (*d, m.build(d))).collect();
    let mut jobs = Vec::new();
    let mut out = std::mem::take(&mut m.findings);
    for (dir, o) in outcomes {
        if m.included.contains(dir) {
            continue; // built as part of the kustomization that includes it
        }
        match o {
            Outcome::Built(_) | Outcome::Failed => {}
            Outcome::Unmodelled(why) => jobs.push((dir.to_owned(), why)),
            Outcome::Remote(at, entry) => out.push(Finding::warning(
                &kustomization_file(repo.files(), dir),
                None,
                RULE,
                format!(
                    "`kubectl kustomize {dir}` not run: {at} names the remote resource {entry:?} and check runs offline; pass --allow-remote to fetch it"
                ),
            )),
        }
    }
    (out, jobs)
}

/// The kustomization file of `dir` among `files` (for a finding's location).
fn kustomization_file(files: &[RepoFile], dir: &str) -> RepoFile {
    NAMES
        .iter()
        .map(|n| format!("{dir}/{n}"))
        .find_map(|p| files.iter().find(|f| f.path == p).cloned())
        .unwrap_or_else(|| RepoFile::new(format!("{dir}/kustomization.yaml"), Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<RepoFile> {
        list.iter()
            .map(|(p, t)| RepoFile::new(*p, t.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn modelled_kustomizations_need_no_kubectl() {
        let f = files(&[
            (
                "installations/a/manifests/kustomization.yaml",
                "resources: [cm.yaml, apps]\n",
            ),
            (
                "installations/a/manifests/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            ),
            (
                "installations/a/manifests/apps/kustomization.yaml",
                "resources: []\n",
            ),
        ]);
        let built = check(Path::new("/nonexistent"), &f, &HashMap::new(), None, false);
        assert!(built.findings.is_empty() && built.unbuilt.is_empty());
    }

    #[test]
    fn missing_kubectl_for_an_unmodelled_feature_is_one_warning() {
        let f = files(&[
            (
                "installations/a/manifests/kustomization.yaml",
                "resources: []\ncomponents: [c]\n",
            ),
            (
                "installations/b/x/Kustomization",
                "resources: []\nreplacements: []\n",
            ),
        ]);
        let built = check(Path::new("/nonexistent"), &f, &HashMap::new(), None, false);
        assert!(built.findings.is_empty());
        let out: Vec<Finding> = unbuilt(&built.unbuilt).into_iter().collect();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].severity, super::super::Severity::Warning);
        assert!(
            out[0].message.starts_with("2 kustomization(s)"),
            "{}",
            out[0].message
        );
    }
}
