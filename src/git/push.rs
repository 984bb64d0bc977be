//! Pushing a branch over file://, HTTPS and SSH, with credentials chosen explicitly and SSH
//! host keys checked against a known_hosts file of our choosing (not libgit2's defaults).
//! Every failure is classified into a [`super::Error`] that says what to do.
//!
//! Size: one push, its credential and host-key callbacks and the classification of every
//! failure they can give, which need each other; the tests are in `push/tests.rs`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use git2::{CertificateCheckStatus, Cred, CredentialType, ErrorClass, ErrorCode, RemoteCallbacks};
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;

use super::{ConfigRepo, Error, Result};

/// How to authenticate a push.
#[derive(Debug, Default, Clone)]
pub struct PushAuth {
    /// HTTPS token, sent as basic auth with user `x-access-token` (GitHub's convention).
    /// Without it, `user:password` from the remote URL is used.
    pub token: Option<SecretString>,
    /// SSH private key file; None uses ssh-agent.
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file; None means `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// Trust and record an SSH host key that is not in known_hosts yet.
    pub accept_new_host_key: bool,
}

/// Where and how to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// the remote's name (`origin`)
    pub remote: String,
    /// credentials and host key policy
    pub auth: PushAuth,
}

/// A finished push.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushResult {
    /// the remote URL, credentials removed
    pub url: String,
    /// the remote ref that was updated
    pub refname: String,
    /// whether an SSH host key was added to known_hosts
    pub host_key_added: bool,
}

/// What a callback found out; libgit2 only passes back a generic error.
#[derive(Default)]
struct Outcome {
    failure: Option<Error>,
    rejected: Option<(String, String)>,
    auth_attempts: u32,
    /// why the credentials callback gave up (no key, agent down, rejected)
    cred_failed: Option<String>,
    host_key_added: bool,
}

/// What [`transfer`] does over the connection.
pub(super) enum Mode<'a> {
    /// push `refs/heads/<branch>`; never forced, except over the given commit: the tip of
    /// a branch whose pull request was merged or closed, replaced by a fresh one (a lease:
    /// a remote branch anywhere else is refused)
    Push(Option<&'a str>),
    /// connect for a push and list the refs, sending nothing
    Check,
    /// fetch the remote's `base` branch (None: its default branch) into
    /// `refs/remotes/<remote>/<base>`
    Fetch(Option<&'a str>),
}

/// Pushes `branch` (over `replacing`, if the remote branch is there, see [`Mode::Push`]),
/// or with `check_only` connects for a push without sending anything: the remote exists,
/// is reachable and accepts the credentials.
pub(super) fn push(
    repo: &ConfigRepo,
    branch: &str,
    opts: &PushOptions,
    check_only: bool,
    replacing: Option<&str>,
) -> Result<PushResult> {
    let mode = match check_only {
        true => Mode::Check,
        false => Mode::Push(replacing),
    };
    transfer(repo, branch, opts, mode).map(|(r, _)| r)
}

/// A fetched base branch: its name and the commit it points at on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// the branch (`main`)
    pub branch: String,
    /// the remote-tracking ref it was fetched into (`refs/remotes/origin/main`)
    pub tracking: String,
    /// its commit
    pub tip: String,
}

/// Fetches `base` (None: the remote's default branch, as its HEAD says) with the same
/// credentials and host-key policy as a push. None: the remote is empty (no default branch).
pub(super) fn fetch(
    repo: &ConfigRepo,
    opts: &PushOptions,
    base: Option<&str>,
) -> Result<Option<Fetched>> {
    transfer(repo, "", opts, Mode::Fetch(base)).map(|(_, f)| f)
}

fn transfer(
    repo: &ConfigRepo,
    branch: &str,
    opts: &PushOptions,
    mode: Mode<'_>,
) -> Result<(PushResult, Option<Fetched>)> {
    let mut remote = repo
        .repo
        .find_remote(&opts.remote)
        .map_err(|_| Error::NoRemote {
            remote: opts.remote.clone(),
            repo: repo.root.clone(),
        })?;
    let raw_url = match mode {
        Mode::Fetch(_) => remote.url().ok(),
        _ => remote
            .pushurl()
            .ok()
            .flatten()
            .or_else(|| remote.url().ok()),
    }
    .unwrap_or("")
    .to_owned();
    let url = redact_url(&raw_url);
    let known_hosts = opts
        .auth
        .known_hosts
        .clone()
        .unwrap_or_else(default_known_hosts);
    let target = SshTarget::parse(&raw_url);
    let outcome = RefCell::new(Outcome::default());
    let refname = format!("refs/heads/{branch}");

    let callbacks = || {
        let mut cb = RemoteCallbacks::new();
        cb.credentials(|_url, user, allowed| {
            let r = credentials(&raw_url, user, allowed, &opts.auth, &outcome);
            if let Err(e) = &r {
                outcome.borrow_mut().cred_failed = Some(e.message().to_owned());
            }
            r
        });
        cb.certificate_check(|cert, _host| {
            let Some(hostkey) = cert.as_hostkey() else {
                return Ok(CertificateCheckStatus::CertificatePassthrough); // TLS: libgit2 verifies
            };
            let (Some(key), Some(kind)) = (hostkey.hostkey(), hostkey.hostkey_type()) else {
                return Err(git2::Error::from_str("server sent no raw host key"));
            };
            let host = target
                .as_ref()
                .map(SshTarget::known_hosts_name)
                .unwrap_or_default();
            let r = check_host_key(
                &known_hosts,
                &host,
                kind.name(),
                key,
                opts.auth.accept_new_host_key,
            );
            let mut o = outcome.borrow_mut();
            let failure = match r {
                Ok(added) => {
                    o.host_key_added = added;
                    return Ok(CertificateCheckStatus::CertificateOk);
                }
                Err(HostKey::Io(e)) => Error::Io(e),
                Err(HostKey::Unknown(fingerprint)) => Error::UnknownHostKey {
                    url: url.clone(),
                    host,
                    fingerprint,
                    known_hosts: known_hosts.clone(),
                },
                Err(HostKey::Mismatch(fingerprint)) => Error::HostKeyMismatch {
                    url: url.clone(),
                    host,
                    fingerprint,
                    known_hosts: known_hosts.clone(),
                },
            };
            let e = git2::Error::from_str(&failure.to_string());
            o.failure = Some(failure);
            Err(e)
        });
        cb.push_update_reference(|name, status| {
            if let Some(msg) = status {
                outcome.borrow_mut().rejected = Some((name.to_owned(), msg.to_owned()));
            }
            Ok(())
        });
        cb
    };
    let mut fetched = None;
    let res = match mode {
        // listing the refs needs the same authentication a push does
        Mode::Check => remote
            .connect_auth(git2::Direction::Push, Some(callbacks()), None)
            .and_then(|mut c| c.remote().list().map(|_| ())),
        Mode::Push(replacing) => (|| {
            let mut force = false;
            if let Some(expected) = replacing {
                // where the remote branch is now (listing authenticates as a push does)
                let now = {
                    let mut c =
                        remote.connect_auth(git2::Direction::Push, Some(callbacks()), None)?;
                    c.remote()
                        .list()?
                        .iter()
                        .find(|h| h.name() == refname)
                        .map(|h| h.oid().to_string())
                }; // dropping the connection disconnects
                outcome.borrow_mut().auth_attempts = 0; // the push connects again
                match now {
                    None => {}
                    Some(tip) if tip == expected => force = true,
                    Some(tip) => {
                        outcome.borrow_mut().rejected = Some((
                            refname.clone(),
                            format!("the remote branch moved to {tip} after its pull request was closed at {expected}; not replaced"),
                        ));
                        return Ok(());
                    }
                }
            }
            let mut po = git2::PushOptions::new();
            po.remote_callbacks(callbacks());
            // "+" only over the lease checked above; otherwise a non-fast-forward must be
            // refused by the server, never forced.
            let plus = if force { "+" } else { "" };
            let spec = format!("{plus}{refname}:{refname}");
            remote.push(&[spec.as_str()], Some(&mut po))
        })(),
        Mode::Fetch(base) => (|| {
            let base = match base {
                Some(b) => b.to_owned(),
                None => {
                    let head = {
                        let c =
                            remote.connect_auth(git2::Direction::Fetch, Some(callbacks()), None)?;
                        // an empty remote has no HEAD to follow
                        match c.default_branch() {
                            Ok(h) => h.as_str().unwrap_or_default().to_owned(),
                            Err(e) if e.code() == ErrorCode::NotFound => return Ok(()),
                            Err(e) => return Err(e),
                        }
                    }; // dropping the connection disconnects
                       // the fetch connects again and is asked for credentials afresh
                    outcome.borrow_mut().auth_attempts = 0;
                    head.strip_prefix("refs/heads/").unwrap_or(&head).to_owned()
                }
            };
            let tracking = format!("refs/remotes/{}/{base}", opts.remote);
            let mut fo = git2::FetchOptions::new();
            fo.remote_callbacks(callbacks());
            // set, so libgit2 does not look for `http.followRedirects` in a sealed config
            fo.follow_redirects(git2::RemoteRedirect::Initial);
            let spec = format!("+refs/heads/{base}:{tracking}");
            remote.fetch(&[spec.as_str()], Some(&mut fo), None)?;
            let tip = repo
                .repo
                .find_reference(&tracking)
                .and_then(|r| r.peel_to_commit())?
                .id()
                .to_string();
            fetched = Some(Fetched {
                branch: base,
                tracking,
                tip,
            });
            Ok(())
        })(),
    };
    let mut o = outcome.into_inner();
    if let Err(e) = res {
        if let Some(f) = o.failure.take() {
            return Err(f);
        }
        if let Some(detail) = o.cred_failed {
            return Err(Error::Auth { url, detail });
        }
        return Err(classify(&url, &refname, e, o.auth_attempts));
    }
    if let Some((refname, reason)) = o.rejected {
        return Err(Error::Rejected {
            url,
            refname,
            reason,
        });
    }
    Ok((
        PushResult {
            url,
            refname,
            host_key_added: o.host_key_added,
        },
        fetched,
    ))
}

fn credentials(
    raw_url: &str,
    user_from_url: Option<&str>,
    allowed: CredentialType,
    auth: &PushAuth,
    outcome: &RefCell<Outcome>,
) -> std::result::Result<Cred, git2::Error> {
    let user = user_from_url.unwrap_or("git");
    if allowed.contains(CredentialType::USERNAME) {
        return Cred::username(user);
    }
    // libgit2 asks again after each rejection; a second ask means the first was refused.
    let mut o = outcome.borrow_mut();
    o.auth_attempts += 1;
    if o.auth_attempts > 1 {
        return Err(git2::Error::from_str("credentials were rejected"));
    }
    drop(o);
    if allowed.contains(CredentialType::SSH_KEY) {
        return match &auth.ssh_key {
            Some(k) => Cred::ssh_key(user, None, k, None),
            None => Cred::ssh_key_from_agent(user),
        };
    }
    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
        if let Some(t) = &auth.token {
            return Cred::userpass_plaintext("x-access-token", t.expose_secret());
        }
        if let Ok(u) = url::Url::parse(raw_url) {
            if let Some(p) = u.password() {
                let user = percent_decode(u.username());
                let pass = SecretString::from(percent_decode(p));
                return Cred::userpass_plaintext(&user, pass.expose_secret());
            }
        }
        return Err(git2::Error::from_str("no credentials for HTTPS"));
    }
    Err(git2::Error::from_str("no supported authentication method"))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn classify(url: &str, refname: &str, e: git2::Error, auth_attempts: u32) -> Error {
    let detail = e.message().to_owned();
    let lower = detail.to_lowercase();
    if e.code() == ErrorCode::NotFastForward
        || lower.contains("non-fast")
        || lower.contains("fast-forward")
    {
        return Error::Rejected {
            url: url.to_owned(),
            refname: refname.to_owned(),
            reason: detail,
        };
    }
    if e.code() == ErrorCode::Auth
        || auth_attempts > 1
        || lower.contains("authentication")
        || lower.contains("credentials")
        || lower.contains("401")
    {
        return Error::Auth {
            url: url.to_owned(),
            detail,
        };
    }
    if matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssh | ErrorClass::Http
    ) || lower.contains("connect")
    {
        return Error::Network {
            url: url.to_owned(),
            detail,
        };
    }
    Error::Git {
        what: format!("push {refname} to {url}"),
        source: e,
    }
}

/// `https://user:secret@host/x` -> `https://user:***@host/x`; other URLs unchanged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

fn default_known_hosts() -> PathBuf {
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".ssh/known_hosts")
}

/// Host and port of an SSH remote (`ssh://u@h:p/x` or scp-like `u@h:x`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SshTarget {
    host: String,
    port: u16,
}

impl SshTarget {
    fn parse(url: &str) -> Option<SshTarget> {
        if let Some(rest) = url
            .strip_prefix("ssh://")
            .or_else(|| url.strip_prefix("git+ssh://"))
        {
            let u = url::Url::parse(&format!("ssh://{rest}")).ok()?;
            return Some(SshTarget {
                host: u.host_str()?.trim_matches(['[', ']']).to_owned(),
                port: u.port().unwrap_or(22),
            });
        }
        if url.contains("://") {
            return None;
        }
        let (left, _) = url.split_once(':')?;
        let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
        Some(SshTarget {
            host: host.to_owned(),
            port: 22,
        })
    }

    /// The name OpenSSH uses in known_hosts: `host`, or `[host]:port` off port 22.
    fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

#[derive(Debug)]
enum HostKey {
    Unknown(String),
    Mismatch(String),
    Io(crate::fsutil::PathError),
}

fn fingerprint(key: &[u8]) -> String {
    let d = sha2::Sha256::digest(key);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)
    )
}

/// OpenSSH's hashed form (`HashKnownHosts yes`, Debian's default):
/// `|1|base64(salt)|base64(HMAC-SHA1(salt, host))`.
fn hashed_host_matches(entry: &str, host: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(rest) = entry.strip_prefix("|1|") else {
        return false;
    };
    let Some((salt, hash)) = rest.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, host.as_bytes(), &hash).is_ok()
}

/// Ok(true) when the key was unknown and has been recorded, Ok(false) when it was known.
fn check_host_key(
    file: &Path,
    host: &str,
    kind: &str,
    key: &[u8],
    accept_new: bool,
) -> std::result::Result<bool, HostKey> {
    use crate::fsutil::IoResultExt;
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    let text = crate::fsutil::read_optional(file)
        .map_err(HostKey::Io)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut seen_host = false;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(hosts) = f.next() else { continue };
        if hosts.starts_with('#') || hosts.starts_with('@') {
            continue; // markers (@cert-authority, @revoked) are not supported
        }
        // wildcard patterns (`*.example.com`, `!host`) are not supported either
        if !hosts
            .split(',')
            .any(|h| h == host || hashed_host_matches(h, host))
        {
            continue;
        }
        let (Some(k), Some(data)) = (f.next(), f.next()) else {
            continue;
        };
        if k == kind && data == b64 {
            return Ok(false);
        }
        if k == kind {
            seen_host = true;
        }
    }
    if seen_host {
        return Err(HostKey::Mismatch(fingerprint(key)));
    }
    if !accept_new {
        return Err(HostKey::Unknown(fingerprint(key)));
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .context(dir)
            .map_err(HostKey::Io)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .context(file)
        .map_err(HostKey::Io)?;
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    use std::io::Write;
    f.write_all(format!("{sep}{host} {kind} {b64}\n").as_bytes())
        .context(file)
        .map_err(HostKey::Io)?;
    Ok(true)
}

#[cfg(test)]
mod tests;
