//! The upstream versions this mcb release pins (cert-manager, Cluster API Operator, Cluster
//! API, providers): one file, `versions.env`, read here at build time and by the vendor
//! scripts, so the rendered manifests and the vendored CRDs they are validated against
//! always name the same versions. Templates see them as `versions.<keyName>`.

use std::collections::BTreeMap;

/// `versions.env`, embedded.
const FILE: &str = include_str!("../versions.env");

/// Every pinned version, by key as written in `versions.env` (`CAPI_OPERATOR`).
pub fn all() -> BTreeMap<&'static str, &'static str> {
    FILE.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// The pinned version of `key` (a `versions.env` key); panics on an unknown key, which
/// is a programming error caught by the tests.
pub fn get(key: &str) -> &'static str {
    all()
        .get(key)
        .copied()
        .unwrap_or_else(|| panic!("versions.env has no {key}"))
}

/// What templates see: every version under its camelCase key (`CAPI_OPERATOR` ->
/// `capiOperator`), plus `charts`, the Helm chart versions derived from them (the
/// operator's chart is versioned without the tag's `v`; cert-manager's keeps it; Dex's is
/// `DEX_CHART` itself).
pub fn context() -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (k, v) in all() {
        m.insert(camel(k), v.into());
    }
    let charts = serde_json::json!({
        "certManager": get("CERT_MANAGER"),
        "capiOperator": get("CAPI_OPERATOR").trim_start_matches('v'),
        "dex": get("DEX_CHART"),
    });
    m.insert("charts".into(), charts);
    serde_json::Value::Object(m)
}

/// `SNAKE_CASE` -> `snakeCase`.
fn camel(key: &str) -> String {
    let mut out = String::new();
    for (i, part) in key.split('_').enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut c = lower.chars();
            if let Some(f) = c.next() {
                out.push(f.to_ascii_uppercase());
                out.extend(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_is_a_tag() {
        let all = all();
        for key in ["CERT_MANAGER", "CAPI_OPERATOR", "CAPI"] {
            assert!(all.contains_key(key), "{key} missing");
        }
        for (k, v) in all {
            // Helm chart versions carry no `v`, nor do the tags of
            // vmware/cloud-provider-for-cloud-director (`1.6.0`); everything else is a
            // `v` release tag.
            let bare = if k.ends_with("_CHART") || k == "CAPVCD_CPI" {
                Some(v)
            } else {
                v.strip_prefix('v')
            };
            assert!(
                bare.is_some_and(|b| b.split('.').count() == 3),
                "{k}={v} is not a vX.Y.Z tag (or X.Y.Z chart version)"
            );
        }
    }

    #[test]
    fn context_keys_are_camel_case_and_charts_derived() {
        let c = context();
        assert_eq!(c["capiOperator"], get("CAPI_OPERATOR"));
        assert_eq!(c["certManager"], get("CERT_MANAGER"));
        assert_eq!(
            c["charts"]["capiOperator"].as_str().unwrap(),
            &get("CAPI_OPERATOR")[1..]
        );
        assert_eq!(camel("A_BC_D"), "aBcD");
    }
}
