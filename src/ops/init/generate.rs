//! The credentials of a new installation, made in memory: the age key, the PKI (a new or an
//! imported cluster CA), OIDC clients (static, or registered at an issuer), the GitHub App
//! or Flux's deploy key, the connectors' secrets; each with its inventory entry.

use std::collections::BTreeMap;

use super::{app_secret_path, default_known_hosts, external, rfc3339, step, Request};
use crate::inventory::Credential;
use crate::k8s::Secret;
use crate::ops::Error as OpsError;
use crate::progress::Progress;
use crate::repo::installation::AGE_KEY_KIND;
use crate::spec::{GitAuth, Installation};
use crate::{creds, pki, repo, sops, Env, Error};

/// The credentials of a new installation and the secrets that carry them.
pub(super) struct Generated {
    pub(super) age: sops::AgeKey,
    pub(super) secrets: Vec<Secret>,
    /// the OIDC clients' consumer Secrets, by file name in `secrets/oidc-consumers/`
    pub(super) consumers: Vec<(String, Secret)>,
    pub(super) credentials: Vec<Credential>,
    pub(super) github_app_install_url: Option<String>,
    /// Flux's deploy key's public line (`git.auth: ssh`)
    pub(super) deploy_key: Option<String>,
}

/// Makes every credential of the new installation (and registers or creates what lives
/// outside: `made` holds it for an undo).
pub(super) fn generate(
    env: &Env,
    spec: &Installation,
    req: &Request,
    made: &mut external::Made,
    progress: &mut dyn Progress,
) -> Result<Generated, Error> {
    let name = spec.name.as_str();
    let created = rfc3339(env);
    step(progress, name, 0);
    let age = sops::generate_age_key(env);
    let mut credentials = vec![Credential {
        kind: AGE_KEY_KIND,
        id: "installation".into(),
        subject: Some(format!("SOPS age key of installation {name}")),
        fingerprint: age.recipient.clone(),
        not_before: None,
        not_after: None,
        created: created.clone(),
        rotated: None,
        file: None,
        extra: BTreeMap::new(),
    }];
    progress.generated(&format!("age key {}", age.recipient));
    step(progress, name, 1);
    let mut secrets = Vec::new();
    let mut consumers = Vec::new();

    // PKI: the cluster CA (imported or new), etcd and front-proxy CAs, SA key, kubeconfigs.
    let server = format!("https://{}:{}", spec.api_endpoint(), spec.api_port());
    let mut params = pki::Params::new(name, spec.cluster.namespace.as_str(), &server);
    params.key_type = spec.pki.key_type.into();
    params.kubernetes_minor = spec.kubernetes_minor();
    let cluster_pki = match &req.import_ca {
        Some((cert, key)) => {
            let ca = pki::import_ca_files(cert, key, env.now())?;
            pki::generate_with_ca(env, &params, ca)?
        }
        None => pki::generate(env, &params)?,
    };
    secrets.extend(cluster_pki.secrets());
    let pki_creds: Vec<Credential> = cluster_pki
        .credentials(&created)
        .into_iter()
        .map(|c| {
            let secret = c.extra.get("secret").cloned().unwrap_or_default();
            in_file(c, name, &secret)
        })
        .collect();
    for c in &pki_creds {
        progress.generated(&format!("{}/{} ({})", c.kind, c.id, c.fingerprint));
    }
    credentials.extend(pki_creds);
    step(progress, name, 2);

    // OIDC clients registered at an external issuer: before the GitHub App, because a
    // registration can be undone and a created app cannot.
    if let Some(issuer) = &req.oidc_issuer {
        let clients = external::register_clients(
            env,
            spec,
            issuer,
            req.oidc_initial_access_token.as_ref(),
            progress,
        )?;
        for r in clients {
            let id = r.credential.id.clone();
            if let Some(c) = spec.oidc.static_clients.iter().find(|c| c.id == id) {
                consumers.extend(creds::consumers::secrets(
                    c,
                    &creds::consumers::Credentials {
                        client_id: &r.client.client_id,
                        client_secret: r.client.client_secret.as_ref(),
                        issuer,
                    },
                ));
            }
            credentials.push(in_file(r.credential, name, &r.secret.name));
            secrets.push(r.secret);
            made.clients.push(r.client);
        }
    }

    // The GitHub App before the Git credential, which may be the app's.
    let mut app = external::github_app(
        env,
        spec,
        req.github_app.as_ref(),
        req.github_app_installation_id,
        made,
        progress,
    )?;

    // Git credential Flux clones with.
    let mut deploy_key = None;
    match spec.git.auth {
        GitAuth::Ssh => {
            let key = creds::deploy_key::generate(env, "flux", &format!("flux@{name}"))?;
            let known_hosts = match &req.git_known_hosts {
                Some(k) => k.clone(),
                None => default_known_hosts(&spec.git.url)?,
            };
            secrets.push(key.flux_secret("flux-system", "flux-system", &known_hosts));
            progress.generated(&format!("deploy-key/flux ({})", key.fingerprint));
            credentials.push(in_file(key.credential(env), name, "flux-system"));
            deploy_key = Some(key.public_openssh.clone());
        }
        GitAuth::GithubApp => match app.as_mut().and_then(|a| a.imported.take()) {
            Some(imported) => {
                let api = app.as_ref().map_or(crate::forge::DEFAULT_API, |a| &a.api_base);
                secrets.push(imported.flux_secret("flux-system", "flux-system", api));
                credentials.push(in_file(
                    imported.credential(env, "flux"),
                    name,
                    "flux-system",
                ));
            }
            // The app exists now and its key is only in Secret github-app: keep it.
            None if app.as_ref().is_some_and(|a| a.secret.is_some()) => progress.warn(&format!(
                "no flux-system Secret: the new GitHub App's installation id is unknown until it is installed; install it, set githubApp.appId and githubApp.installationId in {}, then run `mcb rotate {name} --only github-app --import KEY` with privateKey from {}",
                repo::spec_path(name),
                app_secret_path(name)
            )),
            None => {
                return Err(OpsError::MissingInput {
                    what: "--github-app-private-key FILE (or --create-github-app with --github-app-installation-id N)".into(),
                    why: "git.auth is github-app: Flux authenticates as the app's installation"
                        .into(),
                }
                .into())
            }
        },
    }
    let mut github_app_install_url = None;
    if let Some(a) = app {
        if let Some(s) = a.secret {
            credentials.extend(a.imported.map(|i| {
                let mut c = i.credential(env, "app");
                c.file = Some(app_secret_path(name));
                c
            }));
            secrets.push(s);
        }
        github_app_install_url = a.install_url;
    }

    // Dex static clients, unless registered at an external issuer above.
    let dex_static = req
        .oidc_issuer
        .is_none()
        .then_some(&spec.oidc.static_clients);
    let clients: Vec<creds::oidc::StaticClient> = dex_static
        .into_iter()
        .flatten()
        .map(|c| creds::oidc::StaticClient {
            id: c.id.clone(),
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            redirect_uris: c.redirect_uris.clone(),
            public: c.public,
        })
        .collect();
    if !clients.is_empty() {
        let dex = creds::oidc::dex_static_clients(env, &clients, &BTreeMap::new())?;
        let issuer = spec.oidc_issuer();
        for c in dex_static.into_iter().flatten() {
            let value = dex.secret_of(&c.id);
            consumers.extend(creds::consumers::secrets(
                c,
                &creds::consumers::Credentials {
                    client_id: &c.id,
                    client_secret: value.as_ref(),
                    issuer: &issuer,
                },
            ));
        }
        secrets.push(dex.secret);
        credentials.extend(
            dex.credentials
                .into_iter()
                .map(|c| in_file(c, name, creds::oidc::DEX_CLIENTS_SECRET)),
        );
    }
    if !spec.oidc.connectors.is_empty() {
        let mut given = Vec::new();
        // A connector with `clientSecret` reads a shared secret, not dex-connectors.
        for c in spec
            .oidc
            .connectors
            .iter()
            .filter(|c| c.client_secret.is_none())
        {
            let var = creds::oidc::connector_secret_env(c.id.as_str());
            match req.connector_secrets.get(&var) {
                Some(s) => given.push(creds::oidc::ConnectorSecret {
                    id: c.id.as_str().to_owned(),
                    client_secret: s.clone(),
                }),
                None => progress.warn(&format!(
                    "Dex connector {} has no client secret (set MCB_{} when running init, or give it `clientSecret` from a shared secret): Dex cannot use it and `mcb check` fails (dex-connector-secret) until {}dex-connectors.sops.yaml holds it",
                    c.id.as_str(),
                    var,
                    repo::secrets_dir(name)
                )),
            }
        }
        if !given.is_empty() {
            secrets.push(creds::oidc::dex_connectors_secret(&given)?);
        }
    }
    step(progress, name, 3);
    Ok(Generated {
        age,
        secrets,
        consumers,
        credentials,
        github_app_install_url,
        deploy_key,
    })
}

/// Records which repo file holds a credential (the Secret `secret` of installation `name`).
fn in_file(mut c: Credential, name: &str, secret: &str) -> Credential {
    c.file = Some(format!("{}{secret}.sops.yaml", repo::secrets_dir(name)));
    c
}
