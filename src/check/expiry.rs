//! Expiry: every credential in `installations/<name>/credentials.yaml` with a `notAfter`,
//! and every X.509 certificate found in a file's text (PEM, or base64-wrapped PEM as in a
//! kubeconfig or a Secret's `data`). Expired is an error, expiring within the warning
//! window a warning. Certificates are public; secrets are only seen through [`super::Opener`].

use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{line_of, Finding, RepoFile, Rule};
use crate::inventory::Inventory;

static PEM_CERT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s|>-]*?-----END CERTIFICATE-----")
        .expect("valid pattern")
});
/// base64 of `-----BEGIN CERTIFICATE-----`.
static BASE64_CERT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t[A-Za-z0-9+/=]*").expect("valid pattern")
});

/// Inventories and certificates in clear files.
pub fn check(files: &[RepoFile], now: OffsetDateTime, warn_within: Duration) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in files {
        let Some(text) = &f.text else { continue };
        if f.installation.is_some()
            && f.path.ends_with("/credentials.yaml")
            && f.path.matches('/').count() == 2
        {
            inventory(f, text, now, warn_within, &mut out);
        } else {
            out.extend(certificates(f, text, now, warn_within));
        }
    }
    out
}

fn inventory(
    f: &RepoFile,
    text: &str,
    now: OffsetDateTime,
    warn: Duration,
    out: &mut Vec<Finding>,
) {
    let inv = match Inventory::parse(&f.path, text) {
        Ok(i) => i,
        Err(e) => {
            out.push(Finding::error(
                f,
                None,
                Rule::InventoryInvalid,
                format!("{}: restore it from git", e.message),
            ));
            return;
        }
    };
    // `to_yaml` writes one `notAfter:` per credential that has one, in order.
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("notAfter:"))
        .map(|(i, _)| i + 1);
    for c in &inv.credentials {
        let Some(na) = &c.not_after else { continue };
        let line = lines.next();
        // replaced and still valid by design: it is listed until it expires
        if c.kind == crate::pki::SUPERSEDED_KUBECONFIG {
            continue;
        }
        let what = format!("{} `{}`", c.kind, c.id);
        match OffsetDateTime::parse(na, &Rfc3339) {
            Ok(t) => judge(f, line, &what, t, now, warn, out),
            Err(_) => out.push(Finding::error(
                f,
                line,
                Rule::InventoryInvalid,
                format!("{what}: notAfter {na:?} is not an RFC 3339 time"),
            )),
        }
    }
}

/// Every certificate in `text`, judged against `now`.
pub fn certificates(f: &RepoFile, text: &str, now: OffsetDateTime, warn: Duration) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in PEM_CERT.find_iter(text) {
        cert(
            f,
            Some(line_of(text, m.start())),
            m.as_str(),
            now,
            warn,
            &mut out,
        );
    }
    for m in BASE64_CERT.find_iter(text) {
        let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(m.as_str()) else {
            continue;
        };
        let pem = String::from_utf8_lossy(&pem);
        for c in PEM_CERT.find_iter(&pem) {
            cert(
                f,
                Some(line_of(text, m.start())),
                c.as_str(),
                now,
                warn,
                &mut out,
            );
        }
    }
    out
}

fn cert(
    f: &RepoFile,
    line: Option<usize>,
    block: &str,
    now: OffsetDateTime,
    warn: Duration,
    out: &mut Vec<Finding>,
) {
    // YAML block scalars indent the lines; only the base64 body matters.
    let body: String = block
        .trim_start_matches("-----BEGIN CERTIFICATE-----")
        .trim_end_matches("-----END CERTIFICATE-----")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '=')
        .collect();
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) else {
        return;
    };
    let Ok((_, x)) = x509_parser::parse_x509_certificate(&der) else {
        return;
    };
    let Ok(t) = OffsetDateTime::from_unix_timestamp(x.validity().not_after.timestamp()) else {
        return;
    };
    judge(
        f,
        line,
        &format!("certificate `{}`", x.subject()),
        t,
        now,
        warn,
        out,
    );
}

fn judge(
    f: &RepoFile,
    line: Option<usize>,
    what: &str,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
    warn: Duration,
    out: &mut Vec<Finding>,
) {
    let when = not_after.format(&Rfc3339).unwrap_or_default();
    let rotate = match &f.installation {
        Some(n) => format!("rotate it with `mcb rotate {n}`"),
        None => "rotate it".to_owned(),
    };
    if not_after <= now {
        out.push(Finding::error(
            f,
            line,
            Rule::CertExpired,
            format!("{what} expired on {when}: {rotate}"),
        ));
    } else if not_after - now <= warn {
        let days = (not_after - now).whole_days();
        out.push(Finding::warning(
            f,
            line,
            Rule::CertExpiring,
            format!("{what} expires on {when} (in {days} days): {rotate}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn pem(not_after: OffsetDateTime) -> String {
        let mut p = rcgen::CertificateParams::new(vec!["x".into()]).unwrap();
        p.not_before = not_after - Duration::days(365);
        p.not_after = not_after;
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "test-ca");
        let key = rcgen::KeyPair::generate().unwrap();
        p.self_signed(&key).unwrap().pem()
    }

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    fn judge_text(text: &str) -> Vec<(Rule, Option<usize>)> {
        let f = RepoFile::new(
            "installations/a/manifests/ca.yaml",
            text.as_bytes().to_vec(),
        );
        certificates(&f, text, NOW, Duration::days(30))
            .into_iter()
            .map(|f| (f.rule, f.line))
            .collect()
    }

    #[test]
    fn pem_in_yaml_block_and_base64() {
        let expired = pem(datetime!(2026-01-01 0:00 UTC));
        let indented: String = expired.lines().map(|l| format!("    {l}\n")).collect();
        let text = format!("ca: |\n{indented}");
        assert_eq!(judge_text(&text), vec![(Rule::CertExpired, Some(2))]);
        let soon =
            base64::engine::general_purpose::STANDARD.encode(pem(datetime!(2026-12-10 0:00 UTC)));
        assert_eq!(
            judge_text(&format!("a: 1\ncertificate-authority-data: {soon}\n")),
            vec![(Rule::CertExpiring, Some(2))]
        );
        assert!(judge_text(&pem(datetime!(2036-01-01 0:00 UTC))).is_empty());
    }

    #[test]
    fn inventory_not_after() {
        let mut inv = Inventory::new();
        for (id, na) in [
            ("cluster", "2026-11-01T00:00:00Z"),
            ("etcd", "2036-11-01T00:00:00Z"),
        ] {
            inv.upsert(crate::inventory::Credential {
                kind: crate::inventory::CredentialKind::Ca,
                id: id.into(),
                subject: None,
                fingerprint: "sha256:00".into(),
                not_before: None,
                not_after: Some(na.into()),
                created: "2025-11-01T00:00:00Z".into(),
                rotated: None,
                file: None,
                extra: Default::default(),
            });
        }
        let text = inv.to_yaml();
        let f = RepoFile::new(
            "installations/a/credentials.yaml",
            text.clone().into_bytes(),
        );
        let found = check(&[f], NOW, Duration::days(30));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, Rule::CertExpired);
        assert!(found[0].message.contains("ca `cluster`"));
        let line = found[0].line.unwrap();
        assert!(
            text.lines().nth(line - 1).unwrap().contains("2026-11-01"),
            "{text}"
        );
    }
}
