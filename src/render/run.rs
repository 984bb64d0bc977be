//! The `mcb render` use case over a config repo: read specs, templates and the list of
//! secret files, render every installation, and plan the writes. Nothing is written here
//! (the caller applies the plan), so any error leaves the repo untouched.

use std::path::Path;

use crate::fileset::FileSet;
use crate::progress::Progress;
use crate::repo::{self, Plan, Sealer};
use crate::spec;

use super::{render, SecretSource, Templates};
use crate::spec::Installation;

/// Makes the secret source of one installation (by name).
pub type SourceFor<'a> = dyn Fn(&str) -> Box<dyn SecretSource + 'a> + 'a;

/// Files another use case adds to the render plan (shared secrets, `.sops.yaml`).
pub trait Extra {
    /// Files outside any installation's tree, planned as they are.
    fn repo_files(&self) -> Result<FileSet, crate::Error> {
        Ok(FileSet::new())
    }

    /// Files added to this installation's tree and the directories (ending in `/`) they
    /// own: files there that are not produced are removed. Secret files under
    /// `installations/<name>/secrets/` are listed by the generated kustomizations.
    fn installation_files(
        &self,
        _spec: &spec::Installation,
    ) -> Result<(FileSet, Vec<String>), crate::Error> {
        Ok((FileSet::new(), Vec::new()))
    }
}

/// Nothing extra.
pub struct NoExtra;

impl Extra for NoExtra {}

/// Renders `names` (all installations when empty) and plans writing them into the repo at
/// `root`. Each installation's `manifests/` is owned: files no longer produced are removed.
pub fn plan_repo(
    root: &Path,
    names: &[String],
    secrets: &SourceFor<'_>,
    sealer: &dyn Sealer,
    extra: &dyn Extra,
    progress: &mut dyn Progress,
) -> Result<Plan, crate::Error> {
    let names = if names.is_empty() {
        repo::list_installations(root)?
    } else {
        repo::check_installations(root, names)?;
        names.to_vec()
    };
    let templates = repo_templates(root)?;
    let mut files = extra.repo_files()?;
    let mut owned = Vec::new();
    for name in &names {
        progress.action(&format!("rendering installation {name}"));
        let path = root.join(repo::spec_path(name));
        let src = crate::fsutil::read(&path)?;
        let src = spec::decode(&src, &path)?;
        let spec = spec::parse(src, &path)?;
        if spec.name.as_str() != name {
            return Err(spec::Error::Invalid {
                file: path,
                line: 0,
                path: "name".into(),
                message: format!(
                    "name {:?} differs from its directory {name:?}",
                    spec.name.as_str()
                ),
                hint: format!("set `name: {name}` or move the directory"),
            }
            .into());
        }
        let desired = plan_installation(root, &templates, &spec, secrets(name).as_ref(), extra)?;
        files.extend(desired.files);
        owned.extend(desired.owned);
    }
    Ok(repo::plan(root, &files, &owned, sealer)?)
}

/// What mcb would write for one installation: the files it renders (plus the extra's) and
/// the directories it owns (files there that are not in `files` are removed).
#[derive(Debug)]
pub struct Desired {
    /// the desired files, by repo path
    pub files: FileSet,
    /// owned directories, each ending in `/`
    pub owned: Vec<String>,
}

/// The one planner of an installation's desired state: `mcb render` ([`plan_repo`]) and
/// `mcb check`'s render-drift both call it, so they cannot disagree on what belongs to an
/// installation. Reads the installation's secret files (the generated kustomizations list
/// them, shared copies included) and its inventory from the repo at `root`.
pub fn plan_installation(
    root: &Path,
    templates: &Templates,
    spec: &Installation,
    secrets: &dyn SecretSource,
    extra: &dyn Extra,
) -> Result<Desired, crate::Error> {
    let name = spec.name.as_str();
    let shared = spec.shared_secrets.iter().map(|r| r.name().as_str());
    let secret_files = repo::listed_secret_files(root, name, shared)?;
    let (extra_files, extra_owned) = extra.installation_files(spec)?;
    let inventory = repo::installation::read_inventory(root, name)?;
    let mut files = render(templates, spec, &secret_files, &inventory, secrets)?;
    files.extend(extra_files);
    let mut owned = vec![repo::manifests_dir(name)];
    owned.extend(extra_owned);
    Ok(Desired { files, owned })
}

/// The copies of the shared secrets `spec` lists, as [`Extra::installation_files`] gives
/// them: one file each at [`repo::shared_copy_path`] with the `content` made for it, in the
/// directory they own ([`repo::shared_copy_dir`]: a copy of a secret no longer listed goes).
pub fn shared_copies(
    spec: &Installation,
    mut content: impl FnMut(&spec::SharedSecretRef) -> Result<crate::fileset::Content, crate::Error>,
) -> Result<(FileSet, Vec<String>), crate::Error> {
    let inst = spec.name.as_str();
    let mut files = FileSet::new();
    for r in &spec.shared_secrets {
        files.insert(repo::shared_copy_path(inst, r.name().as_str()), content(r)?);
    }
    Ok((files, vec![repo::shared_copy_dir(inst)]))
}

/// The templates of the repo at `root`: the built-in ones, overridden by its `templates/`.
pub fn repo_templates(root: &Path) -> Result<Templates, crate::Error> {
    Ok(Templates::with_overrides(repo::read_templates(root)?)?)
}
