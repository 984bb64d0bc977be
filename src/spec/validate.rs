//! The checks of a whole spec beyond its types (`Installation::check`): cross-field rules,
//! each failure with its YAML path, message and hint.

use super::types::{
    is_cidr, is_dns1123_subdomain, is_secret_key, GitAuth, Installation, Invalid, Name,
    SharedSecretRef,
};
use std::collections::BTreeSet;

impl Installation {
    /// Cross-field checks the types cannot express.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        let bad = |path: &str, msg: String, hint: &str| Err((path.into(), msg, hint.into()));
        if !is_dns1123_subdomain(&self.base_domain) {
            return bad(
                "baseDomain",
                format!("{:?} is not a DNS name", self.base_domain),
                "use lowercase labels separated by dots, e.g. `gauss.example.com`",
            );
        }
        let v = &self.kubernetes_version;
        let semver = v.strip_prefix('v').is_some_and(|r| {
            let p: Vec<_> = r.split('.').collect();
            p.len() == 3
                && p.iter()
                    .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        });
        if !semver {
            return bad(
                "kubernetesVersion",
                format!("{v:?} is not a version like v1.33.4"),
                "write the version with a leading `v` and three numbers",
            );
        }
        self.provider.check()?;
        let supported = crate::pki::KUBERNETES_MINORS;
        if self.kubernetes_major_minor().0 != 1 || !supported.contains(&self.kubernetes_minor()) {
            return bad(
                "kubernetesVersion",
                format!(
                    "{v} is not supported: mcb supports Kubernetes 1.{} to 1.{}",
                    supported.start(),
                    supported.end()
                ),
                "choose a version in that range (kubeadm's admin identity and the secret shapes are known for those)",
            );
        }
        let nets = [
            ("cluster.podCidrs", &self.cluster.pod_cidrs),
            ("cluster.serviceCidrs", &self.cluster.service_cidrs),
        ];
        for (path, cidrs) in nets {
            if cidrs.is_empty() {
                return bad(
                    path,
                    "no CIDR block".into(),
                    "list at least one block, or leave the key out for the default",
                );
            }
            if let Some((i, c)) = cidrs.iter().enumerate().find(|(_, c)| !is_cidr(c)) {
                return bad(
                    &format!("{path}[{i}]"),
                    format!("{c:?} is not a CIDR block"),
                    "write an address and a prefix length, e.g. `10.96.0.0/12`",
                );
            }
        }
        match self.git.auth {
            GitAuth::Ssh if !(self.git.url.starts_with("ssh://")) => {
                return bad(
                    "git.url",
                    format!(
                        "{:?} is not an ssh:// URL, but git.auth is ssh",
                        self.git.url
                    ),
                    "use `ssh://git@github.com/OWNER/REPO` or set `git.auth: github-app`",
                )
            }
            GitAuth::GithubApp if !self.git.url.starts_with("https://") => {
                return bad(
                    "git.url",
                    format!(
                        "{:?} is not an https:// URL, but git.auth is github-app",
                        self.git.url
                    ),
                    "use `https://github.com/OWNER/REPO` or set `git.auth: ssh`",
                )
            }
            GitAuth::GithubApp if self.github_app.is_none() => {
                return bad(
                    "githubApp",
                    "git.auth is github-app but githubApp is missing".into(),
                    "add `githubApp: {owner: ORG}`",
                )
            }
            _ => {}
        }
        let Some(flux) = crate::flux::find(&self.flux.version) else {
            return bad(
                "flux.version",
                format!("mcb ships no Flux {}", self.flux.version),
                &format!(
                    "use one of: {} (the upstream installs in mcb's vendor/flux/)",
                    crate::flux::versions().join(", ")
                ),
            );
        };
        if self.git.auth == GitAuth::GithubApp && !flux.supports_github_app() {
            return bad(
                "git.auth",
                format!(
                    "Flux {} (source-controller {}) has no GitHub App auth for Git repositories",
                    flux.version,
                    flux.controller_tag("source-controller").unwrap_or("?")
                ),
                &format!(
                    "set `flux.version` to {} (source-controller v1.5.0 added it), or use `git.auth: ssh`",
                    crate::flux::installs()
                        .iter()
                        .filter(|i| i.supports_github_app())
                        .map(|i| i.version)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            );
        }
        if self.api_server.port == Some(0) {
            return bad(
                "apiServer.port",
                "port 0 is not a port the API server can listen on".into(),
                "use 1-65535 (6443 is the default), or remove the field",
            );
        }
        for (path, pool) in [
            ("controlPlane.replicas", &self.control_plane),
            ("workers.replicas", &self.workers),
        ] {
            if pool.replicas == 0 {
                return bad(
                    path,
                    "0 machines: the cluster would have none".into(),
                    "use at least 1 (3 is the default)",
                );
            }
        }
        // Parsed by the age crate: anything else (a newline and YAML, a typo) would end up
        // in `.sops.yaml` and decide who can decrypt.
        for (i, r) in self.sops.recipients.iter().enumerate() {
            if r.parse::<age::x25519::Recipient>().is_err() {
                return bad(
                    &format!("sops.recipients[{i}]"),
                    format!("{r:?} is not an age recipient"),
                    "use the public key printed by `age-keygen -y KEYFILE` (age1…)",
                );
            }
        }
        let mut seen = BTreeSet::new();
        let mut consumers = BTreeSet::new();
        for (i, c) in self.oidc.static_clients.iter().enumerate() {
            if c.id.is_empty()
                || !c
                    .id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            {
                return bad(
                    &format!("oidc.staticClients[{i}].id"),
                    format!("{:?} is not a valid client id", c.id),
                    "use letters, digits, '-', '_' and '.'",
                );
            }
            if !seen.insert(super::id_key(&c.id)) {
                return bad(
                    &format!("oidc.staticClients[{i}].id"),
                    format!("client id {:?} clashes with an earlier one", c.id),
                    "give every static client a distinct id (ids differing only in case or punctuation share a secret name)",
                );
            }
            for (j, k) in c.consumers.iter().enumerate() {
                let at = format!("oidc.staticClients[{i}].consumers[{j}]");
                if !is_dns1123_subdomain(&k.secret_name) {
                    return bad(
                        &format!("{at}.secretName"),
                        format!("{:?} is not a Secret name", k.secret_name),
                        "use a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
                    );
                }
                let mut keys = vec![("clientID", &k.keys.client_id)];
                if !c.public {
                    keys.push(("clientSecret", &k.keys.client_secret));
                }
                keys.extend(k.keys.issuer.as_ref().map(|v| ("issuer", v)));
                let mut names = BTreeSet::new();
                for (field, key) in keys {
                    if !is_secret_key(key) || !names.insert(key.as_str()) {
                        return bad(
                            &format!("{at}.keys.{field}"),
                            format!("{key:?} is not a distinct Secret key"),
                            "use letters, digits, '-', '_' and '.', a different key for each value",
                        );
                    }
                }
                if !consumers.insert((k.namespace.as_str().to_owned(), k.secret_name.clone())) {
                    return bad(
                        &format!("{at}.secretName"),
                        format!(
                            "Secret {}/{} is already another consumer's",
                            k.namespace.as_str(),
                            k.secret_name
                        ),
                        "give each consumer its own Secret (namespace and name)",
                    );
                }
            }
        }
        if let Some(issuer) = &self.oidc.issuer {
            if self.oidc_issuer_host().is_none() {
                return bad(
                    "oidc.issuer",
                    format!("{issuer:?} is not an https:// URL with a host name"),
                    "use `https://dex.<baseDomain>` or leave oidc.issuer out for that default",
                );
            }
        }
        if !is_dns1123_subdomain(&self.ingress.class_name) {
            return bad(
                "ingress.className",
                format!("{:?} is not an IngressClass name", self.ingress.class_name),
                "name an IngressClass of the cluster, e.g. `nginx`",
            );
        }
        if !is_dns1123_subdomain(&self.ingress.issuer.name) {
            return bad(
                "ingress.issuer.name",
                format!(
                    "{:?} is not a cert-manager issuer name",
                    self.ingress.issuer.name
                ),
                "name the ClusterIssuer (or Issuer in namespace dex) that signs the certificates",
            );
        }
        unique(
            self.oidc.connectors.iter().map(|c| &c.id),
            "oidc.connectors",
            "id",
        )?;
        for (i, c) in self.oidc.connectors.iter().enumerate() {
            if let Some(r) = &c.client_secret {
                self.check_shared_key(r, &format!("oidc.connectors[{i}].clientSecret"))?;
            }
        }
        for (i, o) in self.organizations.iter().enumerate() {
            if o.name.as_str().len() > 59 {
                return bad(
                    &format!("organizations[{i}].name"),
                    format!(
                        "{:?} is too long for its namespace org-{}",
                        o.name.as_str(),
                        o.name
                    ),
                    "use at most 59 characters (a namespace name has at most 63)",
                );
            }
            for (j, g) in o.groups.iter().enumerate() {
                let at = format!("organizations[{i}].groups[{j}]");
                if g.name.trim().is_empty() {
                    return bad(
                        &format!("{at}.name"),
                        "the group name is empty".into(),
                        "give the OIDC group as Dex issues it, e.g. `example:team-a` for a GitHub team",
                    );
                }
                if !is_dns1123_subdomain(&g.role) {
                    return bad(
                        &format!("{at}.role"),
                        format!("{:?} is not a ClusterRole name mcb can bind", g.role),
                        "use `admin`, `edit`, `view` or your own ClusterRole (lowercase letters, digits, '-' and '.')",
                    );
                }
            }
        }
        unique(
            self.organizations.iter().map(|o| &o.name),
            "organizations",
            "name",
        )?;
        unique(
            self.shared_secrets.iter().map(SharedSecretRef::name),
            "sharedSecrets",
            "name",
        )?;
        for (i, s) in self.shared_secrets.iter().enumerate() {
            let m = s.mapping();
            let secret_name = m.secret_name.unwrap_or_default();
            if !is_dns1123_subdomain(&secret_name) {
                return bad(
                    &format!("sharedSecrets[{i}].secretName"),
                    format!("{secret_name:?} is not a valid Secret name"),
                    "use lowercase letters, digits, '-' and '.'",
                );
            }
            let bad_key = m
                .keys
                .iter()
                .flat_map(|(a, b)| [a, b])
                .find(|k| !is_secret_key(k))
                .cloned();
            if let Some(k) = bad_key {
                return bad(
                    &format!("sharedSecrets[{i}].keys"),
                    format!("{k:?} is not a valid Secret key"),
                    "use letters, digits, '-', '_' and '.'",
                );
            }
        }
        Ok(())
    }
}

pub(super) fn unique<'a>(
    names: impl Iterator<Item = &'a Name>,
    list: &str,
    field: &str,
) -> Result<(), Invalid> {
    let mut seen = BTreeSet::new();
    for (i, n) in names.enumerate() {
        if !seen.insert(n) {
            return Err((
                format!("{list}[{i}].{field}"),
                format!("{n:?} appears twice"),
                format!("every entry of {list} needs a distinct {field}"),
            ));
        }
    }
    Ok(())
}
