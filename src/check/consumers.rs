//! `oidc-consumer-secret`: every consumer an OIDC client of a valid spec names has its
//! Secret in the repo (`secrets/oidc-consumers/<namespace>.<secretName>.sops.yaml`) with
//! the client id key, and no other file is there (a consumer removed from the spec would
//! keep a copy that no rotation updates, and Flux would still apply it). Only key names
//! are read (SOPS leaves them in clear), so no age key is needed and no value is seen.

use super::{Finding, RepoFile, Rule};
use crate::creds::consumers;
use crate::spec::Installation;

/// The rule id.
pub const RULE: Rule = Rule::OidcConsumerSecret;

/// The findings for the valid `specs`.
pub fn check(files: &[RepoFile], specs: &[Installation]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in specs {
        let name = s.name.as_str();
        let spec_path = crate::repo::spec_path(name);
        let Some(spec_file) = files.iter().find(|f| f.path == spec_path) else {
            continue;
        };
        let dir = crate::repo::consumers_dir(name);
        let named: Vec<String> = s
            .oidc
            .static_clients
            .iter()
            .flat_map(|c| &c.consumers)
            .map(consumers::file_name)
            .collect();
        for f in files.iter().filter(|f| {
            f.path.strip_prefix(&dir).is_some_and(|rest| {
                rest.ends_with(".sops.yaml") && !named.iter().any(|n| n == rest)
            })
        }) {
            out.push(Finding::error(
                f,
                None,
                RULE,
                format!(
                    "{} is no consumer of the spec's OIDC clients: no rotation updates it, and Flux still applies it; delete it (git rm) or name it under `consumers` in {spec_path}",
                    f.path
                ),
            ));
        }
        for (i, client) in s.oidc.static_clients.iter().enumerate() {
            for (j, c) in client.consumers.iter().enumerate() {
                let path = format!(
                    "{}{}",
                    crate::repo::consumers_dir(name),
                    consumers::file_name(c)
                );
                let present = files
                    .iter()
                    .find(|f| f.path == path)
                    .is_some_and(|f| super::dex::has_key(f.text(), &c.keys.client_id));
                if present {
                    continue;
                }
                let at = format!("oidc.staticClients[{i}].consumers[{j}]");
                let line = crate::spec::line_of(spec_file.text(), &at).map(|l| l as usize);
                out.push(Finding::error(
                    spec_file,
                    line,
                    RULE,
                    format!(
                        "{at}: {path} is missing or has no key {}: the consumer has no copy of client `{}`; run `mcb rotate {name} --only oidc/{}` to give every consumer the client's new credentials",
                        c.keys.client_id, client.id, client.id
                    ),
                ));
            }
        }
    }
    out
}
