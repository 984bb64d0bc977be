//! The `mcb render` use case over a config repo: read specs, templates and the list of
//! secret files, render every installation, and plan the writes. Nothing is written here
//! (the caller applies the plan), so any error leaves the repo untouched.

use std::path::Path;

use crate::fileset::FileSet;
use crate::progress::Progress;
use crate::repo::{self, Plan, Sealer};
use crate::spec;

use super::{render, SecretSource, Templates};

/// Makes the secret source of one installation (by name).
pub type SourceFor<'a> = dyn Fn(&str) -> Box<dyn SecretSource + 'a> + 'a;

/// Renders `names` (all installations when empty) and plans writing them into the repo at
/// `root`. Each installation's `manifests/` is owned: files no longer produced are removed.
pub fn plan_repo(
    root: &Path,
    names: &[String],
    secrets: &SourceFor<'_>,
    sealer: &dyn Sealer,
    progress: &mut dyn Progress,
) -> Result<Plan, crate::Error> {
    let names = if names.is_empty() {
        repo::list_installations(root)?
    } else {
        repo::check_installations(root, names)?;
        names.to_vec()
    };
    let templates = Templates::with_overrides(repo::read_templates(root)?)?;
    let mut files = FileSet::new();
    let mut owned = Vec::new();
    for name in &names {
        progress.action(&format!("rendering installation {name}"));
        let path = root.join(repo::spec_path(name));
        let src = crate::fsutil::read(&path)?;
        let src = String::from_utf8_lossy(&src);
        let spec = spec::parse(&src, &path)?;
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
        let secret_files = repo::secret_files(root, name)?;
        files.extend(render(
            &templates,
            &spec,
            &secret_files,
            secrets(name).as_ref(),
        )?);
        owned.push(repo::manifests_dir(name));
    }
    Ok(repo::plan(root, &files, &owned, sealer)?)
}
