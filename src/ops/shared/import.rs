//! `mcb shared import` and `mcb shared rotate`: the value stored, every installation that
//! uses it re-rendered, all published in one commit on one branch (one PR).

use std::path::Path;

use super::files::{open, users};
use super::input::SharedValue;
use super::render_extra::RenderExtra;
use super::{shared_path, Error, CHANGE_KIND};
use crate::forge::body::{ChangeSummary, CredentialAction, CredentialChange};
use crate::git::PublishOptions;
use crate::ops::publish::{self, Outcome, PrTarget};
use crate::progress::Progress;
use crate::render::{self, Extra, NoSecrets, SecretSource};
use crate::repo;
use crate::repo::installation::{self, Loaded};
use crate::repo::seal::SopsSealer;
use crate::repo::shared_copy_dir as copy_dir;
use crate::sops::Identities;
use crate::spec::{self};
use crate::Env;

/// `import` replaces the value; `rotate` requires an existing secret and updates the keys
/// given (the others keep their values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `mcb shared import`
    Import,
    /// `mcb shared rotate`
    Rotate,
}

/// What `import`/`rotate` needs, resolved by the CLI.
pub struct Request {
    /// the shared secret
    pub name: String,
    /// the new value (all keys for import; the keys to change for rotate)
    pub value: SharedValue,
    /// import or rotate
    pub mode: Mode,
    /// branch, commit and push settings
    pub publish: PublishOptions,
    /// the pull request, with `--pr`
    pub pr: Option<PrTarget>,
}

/// What `import`/`rotate` did (names only, never values; `-o json`: docs/json.md).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// the shared secret
    pub name: String,
    /// import or rotate
    pub mode: Mode,
    /// every key it now has
    pub keys: Vec<String>,
    /// keys added or given a new value
    pub changed_keys: Vec<String>,
    /// keys dropped by an import
    pub removed_keys: Vec<String>,
    /// installations whose copy was (re)written
    pub installations: Vec<String>,
    /// files, branch, commit, push, PR
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The branch import and rotate work on: one per shared secret.
pub fn branch(name: &str) -> Result<String, crate::Error> {
    Ok(crate::git::branch_name("shared", name, None)?)
}

/// Runs `mcb shared import` / `mcb shared rotate`: stores the value in the shared file,
/// re-renders every installation that uses it (copies, kustomizations, `.sops.yaml`) and
/// publishes it all in one commit on one branch (and one PR).
pub fn import(
    env: &Env,
    root: &Path,
    ids: &Identities,
    req: Request,
    progress: &mut dyn Progress,
) -> Result<Report, crate::Error> {
    let name = spec::Name::try_from(req.name.clone())
        .map_err(|_| Error::BadName {
            name: req.name.clone(),
        })?
        .to_string();
    let repo_git = crate::ops::transaction::open(root, progress)?;
    let root = repo_git.root().to_path_buf();
    let all = installation::load_all(&root)?;
    let refs: Vec<&Loaded> = all.iter().collect();
    if installation::shared_recipients(&refs, &name).is_empty() {
        return Err(Error::NoRecipients { name }.into());
    }
    let old_file = open(&root, &name, ids)?;
    let old = old_file.as_ref().map(|o| &o.value);
    let new = match (req.mode, &old) {
        (Mode::Rotate, None) => {
            return Err(Error::Unknown {
                path: shared_path(&name),
                name,
            }
            .into())
        }
        (Mode::Rotate, Some(o)) => o.merged(&req.value),
        (Mode::Import, _) => req.value,
    };
    let changed_keys = new.changed_from(old);
    let removed_keys: Vec<String> = old
        .map(|o| {
            o.keys()
                .into_iter()
                .filter(|k| new.get(k).is_none())
                .collect()
        })
        .unwrap_or_default();
    let keys = new.keys();
    let user_names: Vec<String> = users(&all, &name)
        .iter()
        .map(|l| l.name().to_owned())
        .collect();
    progress.action(&format!(
        "{} shared secret {name} ({} key(s)) for {} installation(s)",
        match req.mode {
            Mode::Import => "importing",
            Mode::Rotate => "rotating",
        },
        keys.len(),
        user_names.len()
    ));

    let mut extra = RenderExtra::load(&root, &all, ids)?;
    extra.replace(env, &name, new, old_file.as_ref());
    let sealer = SopsSealer::new(env, &root, extra.sops_yaml(), ids)?;
    let action = if old.is_some() {
        CredentialAction::Rotated
    } else {
        CredentialAction::Created
    };
    let summary = ChangeSummary {
        headline: format!(
            "{} shared secret `{name}` for {} installation(s)",
            match req.mode {
                Mode::Import if old.is_none() => "Import",
                Mode::Import => "Re-import",
                Mode::Rotate => "Rotate",
            },
            user_names.len()
        ),
        installations: user_names.clone(),
        credentials: changed_keys
            .iter()
            .map(|k| CredentialChange {
                action: if old.is_some_and(|o| o.get(k).is_some()) {
                    action
                } else {
                    CredentialAction::Created
                },
                kind: CHANGE_KIND.into(),
                id: format!("{name}/{k}"),
                fingerprint: None,
                not_after: None,
                previous: None,
            })
            .collect(),
        ..ChangeSummary::default()
    };
    let verb = match req.mode {
        Mode::Import => "import",
        Mode::Rotate => "rotate",
    };
    let mut owned = vec![repo::SOPS_CONFIG.to_owned(), shared_path(&name)];
    owned.extend(user_names.iter().map(|n| copy_dir(n)));
    let request = publish::Request {
        branch: branch(&name)?,
        message: format!(
            "feat(shared): {verb} {name}\n\nKeys changed: {}\nInstallations: {}\n",
            list_or_none(&changed_keys),
            list_or_none(&user_names)
        ),
        title: format!("{} shared secret {name}", capitalised(verb)),
        owned,
        summary,
        reviewers: Vec::new(),
        needs: Default::default(),
    };
    let no_secrets = |_: &str| -> Box<dyn SecretSource> { Box::new(NoSecrets) };
    let mut silent = crate::progress::Nop;
    let mut make_plan = || -> Result<repo::Plan, crate::Error> {
        if user_names.is_empty() {
            Ok(repo::plan(&root, &extra.repo_files()?, &[], &sealer)?)
        } else {
            render::plan_repo(
                &root,
                &user_names,
                &no_secrets,
                &sealer,
                &extra,
                &mut silent,
            )
        }
    };
    let outcome = publish::run(
        &repo_git,
        env,
        &request,
        &req.publish,
        req.pr,
        &mut make_plan,
        None,
        progress,
    )?;
    Ok(Report {
        name,
        mode: req.mode,
        keys,
        changed_keys,
        removed_keys,
        installations: user_names,
        outcome,
    })
}

pub(super) fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

pub(super) fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
