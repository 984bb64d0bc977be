//! The credentials `init-installation` obtains from outside services: OIDC clients
//! registered at an external issuer (RFC 7591) and the GitHub App (created by the manifest
//! flow or imported). It turns them into Secrets and inventory entries; it writes nothing.

use secrecy::{ExposeSecret, SecretString};

use crate::creds::github_app::{self, Browser, ImportedApp, ManifestParams};
use crate::creds::oidc;
use crate::inventory::Credential;
use crate::k8s::Secret;
use crate::ops::Error as OpsError;
use crate::progress::Progress;
use crate::spec::Installation;
use crate::{Env, Error};

/// Secret holding a created app's id, OAuth client, webhook secret and private key (GitHub
/// shows the key and the client secret only once), kept encrypted in the repo outside
/// every path Flux applies (`init::app_secret_path`): no cluster needs them.
pub const APP_SECRET: &str = "github-app";

/// Where the installation's GitHub App comes from.
pub enum GithubAppSource {
    /// an existing app: its id (`None`: the spec's `githubApp.appId`) and private key (PEM)
    Import {
        /// `--import-github-app ID`
        app_id: Option<u64>,
        /// `--private-key-file PEM`
        private_key: SecretString,
    },
    /// a new app by GitHub's manifest flow; `browser` shows the local page's URL
    Create {
        /// what to create and where (web and API bases)
        params: ManifestParams,
        /// shows the local page's URL to the user
        browser: Box<dyn Browser>,
    },
}

/// The app as init uses it.
pub(super) struct App {
    /// Flux's credential, when the installation id is known
    pub imported: Option<ImportedApp>,
    /// [`APP_SECRET`], for a created app
    pub secret: Option<Secret>,
    /// where to install a created app
    pub install_url: Option<String>,
    /// the GitHub API the app lives at (Flux's `githubAppBaseURL` unless github.com)
    pub api_base: String,
}

/// Resolves the GitHub App: imports it, or runs the manifest flow. `installation_id` is
/// `--github-app-installation-id` (else the spec's `githubApp.installationId`).
pub(super) fn github_app(
    env: &Env,
    spec: &Installation,
    source: Option<&GithubAppSource>,
    installation_id: Option<u64>,
    made: &mut Made,
    progress: &mut dyn Progress,
) -> Result<Option<App>, Error> {
    let spec_app = spec.github_app.as_ref();
    let installation_id = installation_id.or(spec_app.and_then(|a| a.installation_id));
    match source {
        None => Ok(None),
        Some(GithubAppSource::Import {
            app_id,
            private_key,
        }) => {
            let app_id = app_id.or(spec_app.and_then(|a| a.app_id)).ok_or_else(|| {
                missing(
                    "--import-github-app ID (or githubApp.appId in the spec)",
                    "the app's id is part of Flux's credential",
                )
            })?;
            let inst = installation_id.ok_or_else(|| {
                missing(
                    "--github-app-installation-id N (or githubApp.installationId in the spec)",
                    "Flux authenticates as the app's installation on the config repo's owner",
                )
            })?;
            let imported = github_app::import_app(app_id, inst, private_key.clone())?;
            Ok(Some(App {
                imported: Some(imported),
                secret: None,
                install_url: None,
                api_base: crate::forge::DEFAULT_API.into(),
            }))
        }
        Some(GithubAppSource::Create { params, browser }) => {
            progress.action(&format!(
                "creating GitHub App {} (open the printed URL in a browser)",
                params.name
            ));
            let params = manifest_params(spec, params);
            let created = github_app::create_app(env, &params, browser.as_ref())?;
            progress.generated(&format!("GitHub App {} (id {})", created.slug, created.id));
            made.app = Some((created.id, created.slug.clone()));
            let mut secret = Secret::new(APP_SECRET, github_app::FLUX_NAMESPACE, "Opaque")
                .with("appID", created.id.to_string())
                .with("clientID", created.client_id.clone())
                .with("clientSecret", exposed(&created.client_secret))
                .with("privateKey", exposed(&created.private_key_pem));
            if let Some(w) = &created.webhook_secret {
                secret = secret.with("webhookSecret", exposed(w));
            }
            let imported = installation_id.map(|i| created.import(i)).transpose()?;
            Ok(Some(App {
                imported,
                secret: Some(secret),
                install_url: Some(created.install_url.clone()),
                api_base: params.api_base.clone(),
            }))
        }
    }
}

/// The spec decides who owns the app (`githubApp.owner`, an organization; else the
/// signed-in user) and its homepage (the config repo when it is an https URL).
fn manifest_params(spec: &Installation, given: &ManifestParams) -> ManifestParams {
    let mut p = given.clone();
    if let Some(a) = &spec.github_app {
        p.owner = github_app::AppOwner::Organization(a.owner.clone());
    }
    if spec.git.url.starts_with("https://") {
        p.url = spec.git.url.clone();
    }
    p
}

fn exposed(s: &SecretString) -> Vec<u8> {
    s.expose_secret().as_bytes().to_vec()
}

fn missing(what: &str, why: &str) -> Error {
    OpsError::MissingInput {
        what: what.into(),
        why: why.into(),
    }
    .into()
}

/// A client registered at an external issuer: its Secret and inventory entry.
pub(super) struct Registered {
    /// `oidc-client-<id>` in namespace `dex`, as `mcb rotate --only oidc/<id>` loads it
    pub secret: Secret,
    /// `oidc-client` entry with the issuer, as rotation reads it
    pub credential: Credential,
    /// the client, to delete again if init does not keep it
    pub client: oidc::RegisteredClient,
}

/// Registers the spec's `oidc.staticClients` at `issuer` (discovery first: an issuer
/// without a registration endpoint fails before any client is made). On a failure the
/// clients already registered are deleted again, best effort.
pub(super) fn register_clients(
    env: &Env,
    spec: &Installation,
    issuer: &str,
    initial_access_token: Option<&SecretString>,
    progress: &mut dyn Progress,
) -> Result<Vec<Registered>, Error> {
    if spec.oidc.static_clients.is_empty() {
        return Err(missing(
            "oidc.staticClients in the spec",
            "--oidc-issuer registers the spec's clients at the issuer, and there are none",
        ));
    }
    let meta = oidc::discover(issuer)?;
    if meta.registration_endpoint.is_none() {
        return Err(crate::creds::Error::NoRegistrationEndpoint {
            issuer: issuer.trim_end_matches('/').into(),
        }
        .into());
    }
    let mut done: Vec<(String, oidc::RegisteredClient)> = Vec::new();
    for c in &spec.oidc.static_clients {
        let name = c.name.clone().unwrap_or_else(|| c.id.clone());
        let md = match c.public {
            true => oidc::ClientMetadata::public(&name, c.redirect_uris.clone()),
            false => oidc::ClientMetadata::web(&name, c.redirect_uris.clone()),
        };
        match oidc::register(issuer, initial_access_token, &md) {
            Ok(rc) => {
                progress.generated(&format!("oidc-client/{} registered at {issuer}", c.id));
                done.push((c.id.clone(), rc));
            }
            Err(e) => {
                let clients: Vec<_> = done.into_iter().map(|(_, rc)| rc).collect();
                undo_registrations(&clients, progress);
                return Err(e.into());
            }
        }
    }
    Ok(done
        .into_iter()
        .map(|(id, rc)| Registered {
            secret: rc.secret(&id, oidc::DEX_NAMESPACE),
            credential: rc.credential(env, &id, issuer),
            client: rc,
        })
        .collect())
}

/// What this run made outside the repo, to undo (or name) when nothing keeps it: a dry
/// run, or a failure before the commit.
#[derive(Default)]
pub(super) struct Made {
    /// clients registered at an external issuer
    pub clients: Vec<oidc::RegisteredClient>,
    /// a GitHub App created by the manifest flow: (id, slug)
    pub app: Option<(u64, String)>,
    /// Flux's deploy key registered at GitHub: the client and the key's id
    pub deploy_key: Option<(crate::forge::GitHub, u64)>,
}

impl Made {
    /// Deletes the registered clients (best effort) and names a created app, which no API
    /// can delete and whose private key is lost with this run.
    pub(super) fn undo(&self, progress: &mut dyn Progress) {
        undo_registrations(&self.clients, progress);
        if let Some((gh, id)) = &self.deploy_key {
            use crate::forge::Forge as _;
            match gh.delete_deploy_key(*id) {
                Ok(()) => progress.action(&format!(
                    "deleted deploy key {id} again at {} (not kept)",
                    gh.repo()
                )),
                Err(e) => progress.warn(&format!(
                    "deploy key {id} is registered at {} but not kept; delete it in the repository's Settings > Deploy keys: {e}",
                    gh.repo()
                )),
            }
        }
        if let Some((id, slug)) = &self.app {
            progress.warn(&format!(
                "GitHub App {slug} (id {id}) was created but is not kept: delete it in its owner's Settings > Developer settings > GitHub Apps, or generate a private key there and pass --import-github-app {id} --private-key-file PEM"
            ));
        }
    }
}

/// Deletes clients registered by this run that nothing keeps. Best effort: a failure is
/// reported as a warning naming the client.
fn undo_registrations(clients: &[oidc::RegisteredClient], progress: &mut dyn Progress) {
    for c in clients {
        match oidc::delete(c) {
            Ok(()) => progress.action(&format!(
                "deleted OIDC client {} again at the issuer (not kept)",
                c.client_id
            )),
            Err(e) => progress.warn(&format!(
                "OIDC client {} is registered but not kept; delete it at {}: {e}",
                c.client_id, c.registration_client_uri
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Nop;

    fn spec(edit: impl Fn(String) -> String) -> Installation {
        let text = edit(crate::spec::EXAMPLE.to_owned());
        crate::spec::parse(&text, std::path::Path::new("x.yaml")).unwrap()
    }

    #[test]
    fn the_spec_owns_the_app_and_gives_its_homepage() {
        let given = ManifestParams::new("mcb-x", "https://github.com", github_app::AppOwner::User);
        let p = manifest_params(
            &spec(|s| s.replace("githubApp:\n  owner: example\n", "")),
            &given,
        );
        assert_eq!(p.owner, github_app::AppOwner::User);
        assert_eq!(p.url, "https://github.com", "an ssh URL is no homepage");
        let https = spec(|s| {
            s.replace("ssh://git@github.com/", "https://github.com/")
                .replace("auth: ssh", "auth: github-app")
        });
        let p = manifest_params(&https, &given);
        assert_eq!(
            p.owner,
            github_app::AppOwner::Organization("example".into())
        );
        assert_eq!(p.url, "https://github.com/example/management-clusters");
    }

    #[test]
    fn an_issuer_needs_clients_to_register_and_asks_nothing_first() {
        let none = spec(|s| {
            let start = s.find("  # Secrets are generated").unwrap();
            let end = s.find("githubApp:").unwrap();
            format!("{}{}", &s[..start], &s[end..])
        });
        assert!(none.oidc.static_clients.is_empty());
        let env = Env::seeded(1, time::macros::datetime!(2026-11-25 12:00:00 UTC));
        // Port 9 is never asked: the spec check comes before discovery.
        let e = register_clients(&env, &none, "http://127.0.0.1:9", None, &mut Nop)
            .err()
            .unwrap();
        assert!(e.to_string().contains("oidc.staticClients"), "{e}");
    }

    #[test]
    fn import_needs_an_app_id_and_an_installation_id() {
        let source = GithubAppSource::Import {
            app_id: None,
            private_key: SecretString::from("x"),
        };
        let env = Env::seeded(1, time::macros::datetime!(2026-11-25 12:00:00 UTC));
        let e = github_app(
            &env,
            &spec(|s| s),
            Some(&source),
            Some(1),
            &mut Made::default(),
            &mut Nop,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("--import-github-app"), "{e}");
        let source = GithubAppSource::Import {
            app_id: Some(5),
            private_key: SecretString::from("x"),
        };
        let e = github_app(
            &env,
            &spec(|s| s),
            Some(&source),
            None,
            &mut Made::default(),
            &mut Nop,
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("--github-app-installation-id"),
            "{e}"
        );
    }
}
