//! Spec validation and render drift. Every checked installation needs an
//! `installation.yaml` that [`crate::spec::parse`] accepts; a valid spec is then planned
//! by the planner `mcb render` uses ([`crate::render::plan_installation`]: built-in
//! templates plus the repo's `templates/`) and compared with the repo: what
//! `mcb render --check` would report. Plain files are compared byte for byte; encrypted
//! outputs only for presence (their content needs a key, and their values are not
//! rendered here: a placeholder stands in, which plain output never contains).

use std::path::Path;

use secrecy::SecretString;

use super::{Finding, RepoFile, Rule};
use crate::fileset::{Content, FileSet};
use crate::render::{self, Extra, SecretError, SecretSource};
use crate::repo::installation::Loaded;
use crate::repo::{self, Change, SealError, Sealer};
use crate::spec::{self, Installation};

const SPEC: Rule = Rule::SpecInvalid;
const DRIFT: Rule = Rule::RenderDrift;

/// Parses the spec of each installation in `names`; returns the findings and the valid specs.
pub fn check(files: &[RepoFile], names: &[String]) -> (Vec<Finding>, Vec<Installation>) {
    let mut out = Vec::new();
    let mut specs = Vec::new();
    for n in names {
        let path = repo::spec_path(n);
        let Some(f) = files.iter().find(|f| f.path == path) else {
            out.push(Finding::error(
                &RepoFile::new(path, Vec::new()),
                None,
                SPEC,
                "the installation has no spec: restore installation.yaml from git, or remove the directory",
            ));
            continue;
        };
        let parsed = match &f.text {
            Some(text) => spec::parse(text, Path::new(&f.path)),
            None => Err(spec::Error::Encoding {
                file: f.path.clone().into(),
                line: 0,
                offset: 0,
            }),
        };
        match parsed {
            Ok(s) if s.name.as_str() != n => out.push(Finding::error(
                f,
                None,
                SPEC,
                format!(
                    "name: `{}` does not match its directory `{n}`",
                    s.name.as_str()
                ),
            )),
            Ok(s) => specs.push(s),
            Err(spec::Error::Parse {
                line,
                path,
                message,
                ..
            }) => out.push(Finding::error(
                f,
                (line > 0).then_some(line as usize),
                SPEC,
                format!("{path}: {message}; `mcb schema` prints every field"),
            )),
            Err(spec::Error::Invalid {
                path,
                message,
                hint,
                ..
            }) => out.push(Finding::error(
                f,
                None,
                SPEC,
                format!("{path}: {message}; {hint}"),
            )),
            Err(spec::Error::Encoding { .. }) => out.push(Finding::error(
                f,
                None,
                SPEC,
                "not UTF-8 text: save the spec as UTF-8",
            )),
        }
    }
    (out, specs)
}

/// Every shared secret a valid spec lists in `sharedSecrets` must exist in the repo.
pub fn shared(files: &[RepoFile], specs: &[Installation]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in specs {
        let spec_path = repo::spec_path(s.name.as_str());
        let Some(spec_file) = files.iter().find(|f| f.path == spec_path) else {
            continue;
        };
        for r in &s.shared_secrets {
            let name = r.name().as_str();
            let want = format!("{}/{name}.sops.yaml", repo::SHARED_SECRETS_DIR);
            if !files.iter().any(|f| f.path == want) {
                out.push(Finding::error(
                    spec_file,
                    Some(super::yaml::find_line(spec_file.text(), 1, "sharedSecrets:")),
                    Rule::SharedUnknown,
                    format!("uses shared secret `{name}`, but {want} does not exist: import it with `mcb shared import {name}`"),
                ));
            }
        }
    }
    out
}

/// `.sops.yaml` must be what the specs and inventories derive (`mcb render` rewrites it).
/// Only when every installation of the repo loads: the rules cover all of them.
/// `all`: every installation of the repo, loaded ([`crate::repo::installation::load_all`]).
pub fn sops_config_drift(files: &[RepoFile], all: &[Loaded]) -> Vec<Finding> {
    if all.is_empty() {
        return Vec::new();
    }
    let want = crate::repo::installation::sops_config(&all.iter().collect::<Vec<_>>());
    let path = repo::SOPS_CONFIG;
    match files.iter().find(|f| f.path == path) {
        Some(f) if f.text() == want => Vec::new(),
        found => {
            let f = found
                .cloned()
                .unwrap_or_else(|| RepoFile::new(path, Vec::new()));
            let line = found.and_then(|f| {
                let mut a = f.text().lines();
                let mut b = want.lines();
                (1..).find(|_| a.next() != b.next())
            });
            vec![Finding::error(
                &f,
                line,
                DRIFT,
                "differs from the rules the specs and inventories derive: run `mcb render` and commit the result",
            )]
        }
    }
}

/// Renders each valid spec and reports every file that differs from the repo.
pub fn drift(root: &Path, files: &[RepoFile], specs: &[Installation]) -> Vec<Finding> {
    if specs.is_empty() {
        return Vec::new();
    }
    let templates = match render::repo_templates(root) {
        Ok(t) => t,
        Err(e) => {
            let f = RepoFile::new(repo::TEMPLATES_DIR, Vec::new());
            return vec![Finding::error(
                &f,
                None,
                DRIFT,
                format!("templates do not load: {e}"),
            )];
        }
    };
    let mut out = Vec::new();
    for s in specs {
        let name = s.name.as_str();
        let spec_file = RepoFile::new(repo::spec_path(name), Vec::new());
        // The planner `mcb render` uses, without keys: placeholder values for the plain
        // files, encrypted ones kept as they are, shared copies by path. The shared files
        // and `.sops.yaml` render adds are checked once for the repo (`shared-unreadable`,
        // [`sops_config_drift`]).
        let plan = render::plan_installation(root, &templates, s, &Placeholder, &SharedCopies)
            .and_then(|d| Ok(repo::plan(root, &d.files, &d.owned, &KeepExisting)?))
            .map_err(|e| e.to_string());
        let plan = match plan {
            Ok(p) => p,
            Err(msg) => {
                out.push(Finding::error(
                    &spec_file,
                    None,
                    DRIFT,
                    format!("cannot render: {msg}"),
                ));
                continue;
            }
        };
        for e in plan.changes() {
            let file = files
                .iter()
                .find(|f| f.path == e.path)
                .cloned()
                .unwrap_or_else(|| RepoFile::new(e.path.clone(), Vec::new()));
            let fix = format!("run `mcb render {name}` and commit the result");
            let (line, what) = match e.change {
                Change::Added => (None, "is missing"),
                Change::Removed => (None, "is no longer rendered from the spec"),
                _ => (
                    e.diff().as_deref().and_then(first_changed_line),
                    "differs from what the spec renders to",
                ),
            };
            out.push(Finding::error(&file, line, DRIFT, format!("{what}: {fix}")));
        }
    }
    out
}

/// The old file's 1-based line of the first change in a unified diff.
fn first_changed_line(diff: &str) -> Option<usize> {
    let mut lines = diff.lines().skip_while(|l| !l.starts_with("@@ -"));
    let start: usize = lines
        .next()?
        .strip_prefix("@@ -")?
        .split([',', ' '])
        .next()?
        .parse()
        .ok()?;
    let context = lines.take_while(|l| l.starts_with(' ')).count();
    Some(start.max(1) + context)
}

/// Secret values are not needed to render plain files.
struct Placeholder;

impl SecretSource for Placeholder {
    fn get(&self, _: &str, _: &str) -> Result<SecretString, SecretError> {
        Ok(SecretString::from("mcb-check-placeholder".to_owned()))
    }
}

/// The copies of the shared secrets an installation lists, known by path only (what they
/// hold needs the shared file's key), in the directory render owns for them: a missing copy
/// is drift, and so is a copy of a secret the spec no longer lists.
struct SharedCopies;

impl Extra for SharedCopies {
    fn installation_files(
        &self,
        spec: &Installation,
    ) -> Result<(FileSet, Vec<String>), crate::Error> {
        render::shared_copies(spec, |_| Ok(Content::secret(Vec::new())))
    }
}

/// Treats an existing encrypted file as up to date (its content needs a key to compare).
struct KeepExisting;

impl Sealer for KeepExisting {
    fn seal(
        &self,
        _: &str,
        _: &secrecy::SecretBox<Vec<u8>>,
        existing: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError> {
        Ok(existing.map(<[u8]>::to_vec).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_have_lines() {
        let files = vec![RepoFile::new(
            "installations/a/installation.yaml",
            b"apiVersion: mcb/v1alpha1\nkind: Installation\nbogus: 1\n".to_vec(),
        )];
        let (f, specs) = check(&files, &["a".into()]);
        assert!(specs.is_empty());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, SPEC);
        let (f, _) = check(&[], &["b".into()]);
        assert_eq!(f[0].file, "installations/b/installation.yaml");
        assert_eq!(
            first_changed_line("--- a/x\n+++ b/x\n@@ -3,7 +3,7 @@\n a\n b\n c\n-d\n+e\n"),
            Some(6)
        );
    }
}
