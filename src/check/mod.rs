//! `mcb check`: the config repo's CI gate. Independent checks over a repo root, each a
//! function that returns [`Finding`]s; [`run`] gathers them into a [`Report`].
//!
//! Owns: what counts as a finding and its stable rule id, the plaintext-secret scanner, SOPS
//! structure and recipient checks, expiry, Cluster API secret naming, strict schema
//! validation of every manifest, the kustomize build check, SARIF output and the CI workflow for config repos. It never writes to the repo,
//! never prints, and never puts a secret value into a finding (a finding names the file,
//! the line and the rule).
//!
//! Size: the check's shared types (finding, report, options, errors) and its one
//! orchestration (installations in batches, then the repo-wide checks), which uses them all;
//! each check lives in its own module.

mod capi;
mod changed;
mod consumers;
mod credentials;
pub mod dex;
mod expiry;
pub mod files;
mod flux;
mod kustomize;
mod plaintext;
mod rule;
pub mod sarif;
pub mod schema;
mod sopsfile;
mod spec;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use crate::progress::Progress;
pub use files::{RepoFile, IGNORE_FILE};
pub use rule::Rule;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the check.
    Error,
    /// Reported; fails only with `--strict`.
    Warning,
}

/// One problem found in the repo. Never carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Installation the file belongs to (`installations/<name>/…`); `None` for repo-wide files.
    pub installation: Option<String>,
    /// Path relative to the repo root, `/`-separated; empty when the finding is about no file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The rule it breaks.
    pub rule: Rule,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
}

impl Finding {
    /// An error finding.
    pub fn error(
        file: &RepoFile,
        line: Option<usize>,
        rule: Rule,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, file, line, rule, message)
    }

    /// A warning finding.
    pub fn warning(
        file: &RepoFile,
        line: Option<usize>,
        rule: Rule,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, file, line, rule, message)
    }

    fn new(
        severity: Severity,
        file: &RepoFile,
        line: Option<usize>,
        rule: Rule,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            installation: file.installation.clone(),
            file: file.path.clone(),
            line,
            rule,
            severity,
            message: message.into(),
        }
    }

    /// `file:line: rule: message` (the human form, also used in tests).
    pub fn location(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file),
            None => self.file.clone(),
        }
    }
}

/// `shared-unreadable`: a shared file that an installation using it cannot open (its
/// recipients lack the installation's key; `mcb render` with an admin key re-wraps it).
/// Unknown names are `shared-unknown`'s, reported with their spec line.
fn shared_unreadable(root: &Path, all: &[crate::repo::installation::Loaded]) -> Vec<Finding> {
    let Ok(found) = crate::repo::shared::check_loaded(root, all) else {
        return Vec::new();
    };
    found
        .into_iter()
        .filter_map(|f| match f {
            crate::repo::shared::Finding::NotReadable { installation, name, missing } => {
                let file = RepoFile::new(crate::repo::shared::shared_path(&name), Vec::new());
                let mut out = Finding::error(
                    &file,
                    None,
                    Rule::SharedUnreadable,
                    format!(
                        "not encrypted for installation {installation} ({}): run `mcb render` with an admin key to re-wrap it",
                        missing.join(", ")
                    ),
                );
                out.installation = Some(installation);
                Some(out)
            }
            crate::repo::shared::Finding::UnknownSharedSecret { .. } => None,
        })
        .collect()
}

/// The result of a check run.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Installations that were checked, sorted.
    pub installations: Vec<String>,
    /// Number of files read.
    pub files: usize,
    /// Number of SOPS files among them.
    pub sops_files: usize,
    /// Whether every SOPS file's MAC was checked (needs a key that opens them all; a
    /// mismatch is a finding); false when no key was given, the key did not open a file,
    /// or there is no SOPS file.
    pub mac_checked: bool,
    /// Number of SOPS files whose MAC was checked and matched.
    pub macs_verified: usize,
    /// Checks that did not run, with why (`render-drift: …`).
    pub skipped: Vec<String>,
    /// With `--changed-since`: installations no change affects, not checked, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<String>,
    /// Findings, sorted by installation, file, line, rule.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Number of error findings.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    /// Number of warning findings.
    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }

    /// Whether the check fails: any error, or with `strict` any finding at all.
    pub fn failed(&self, strict: bool) -> bool {
        self.errors() > 0 || (strict && !self.findings.is_empty())
    }
}

/// Decrypts SOPS files for the checks that need plaintext (MAC, certificates inside
/// secrets). Implemented on top of the SOPS engine; a trait so the checks stay testable.
pub trait Opener: Sync {
    /// Decrypts `bytes` (the file at `path`), verifying its MAC.
    fn open(&self, path: &str, bytes: &[u8]) -> Result<secrecy::SecretBox<Vec<u8>>, OpenError>;
}

/// Why a SOPS file did not open. Messages carry no secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// None of the given identities can get the data key: the MAC was not checked.
    NoKey(String),
    /// The file does not verify (MAC mismatch, altered value…).
    Invalid(String),
}

/// [`Opener`] on mcb's SOPS engine with the given age identities.
pub struct SopsOpener(pub crate::sops::Identities);

impl Opener for SopsOpener {
    fn open(&self, path: &str, bytes: &[u8]) -> Result<secrecy::SecretBox<Vec<u8>>, OpenError> {
        let format = crate::sops::Format::from_path(Path::new(path));
        crate::sops::decrypt(
            bytes,
            format,
            &self.0,
            crate::sops::DecryptOptions::default(),
        )
        .map_err(|e| match e {
            crate::sops::Error::DataKey { .. } => OpenError::NoKey(engine_message(&e)),
            _ => OpenError::Invalid(engine_message(&e)),
        })
    }
}

/// The engine's message without its file prefix (the finding names the file).
pub(crate) fn engine_message(e: &crate::sops::Error) -> String {
    let m = e.to_string();
    m.strip_prefix(": ").map(str::to_owned).unwrap_or(m)
}

/// What to check.
pub struct Options {
    /// Installations to check; empty means all.
    pub names: Vec<String>,
    /// Certificates and credentials expiring sooner than this are warnings.
    pub warn_within: time::Duration,
    /// Opens SOPS files (MAC check, certificates inside secrets); `None` checks without a key.
    pub opener: Option<Box<dyn Opener>>,
    /// `kubectl` for the kustomize build; `None` skips it with a warning.
    pub kubectl: Option<PathBuf>,
    /// Whether kustomize may fetch remote resources; by default check is offline.
    pub allow_remote: bool,
    /// Rules not to run.
    pub skip: BTreeSet<Rule>,
    /// Check only the installations a change since this git revision affects.
    pub changed_since: Option<String>,
}

/// Errors that stop a check run (findings are not errors).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error(transparent)]
    Io(#[from] crate::fsutil::PathError),
    /// The git index could not be read.
    #[error("{}: cannot list the repository's files: {message}", root.display())]
    Git {
        /// the repo root
        root: PathBuf,
        /// what libgit2 said
        message: String,
    },
    /// No installations, or a named one that does not exist (the error every command gives).
    #[error(transparent)]
    Repo(#[from] crate::repo::Error),
    /// `--changed-since REF`: the revision or the diff against it is not available.
    #[error("--changed-since {rev}: {message}")]
    ChangedSince {
        /// the revision given
        rev: String,
        /// what libgit2 said
        message: String,
    },
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        match self {
            Error::Io(e) => crate::Help::help(e),
            Error::Git { .. } => {
                Some("run mcb check from a healthy git checkout, or pass --repo DIR".into())
            }
            Error::Repo(e) => crate::Help::help(e),
            Error::ChangedSince { .. } => Some(
                "give a revision of this repository (`origin/main`, a commit id); in CI fetch it first (actions/checkout with fetch-depth: 0)".into(),
            ),
        }
    }
}

/// Installations checked together. A batch's files and parsed documents are held at
/// once and dropped before the next, so memory stays flat however large the fleet; what
/// the installations share (bodies of rendered files, [`yaml::Cache`]) is kept.
const BATCH: usize = 50;

/// Runs every check over the repo at `root`.
pub fn run(
    root: &Path,
    opts: &Options,
    now: OffsetDateTime,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    run_batched(root, opts, now, progress, BATCH)
}

/// [`run`] with `batch` installations at a time: the report is the same for any size.
fn run_batched(
    root: &Path,
    opts: &Options,
    now: OffsetDateTime,
    progress: &mut dyn Progress,
    batch: usize,
) -> Result<Report, Error> {
    // What does not depend on the file list is read on the other cores while git lists
    // the files: every installation for the repo-wide checks, the built-in schemas.
    std::thread::scope(|s| {
        let all = s.spawn(|| load_all(root));
        if !opts.skip.contains(&Rule::Schema) {
            s.spawn(crate::schema::warm);
        }
        let all = || all.join().expect("loading the installations panicked");
        check_repo(root, opts, now, progress, batch, all)
    })
}

/// [`run_batched`] once it is reading the installations (`all` waits for them).
fn check_repo(
    root: &Path,
    opts: &Options,
    now: OffsetDateTime,
    progress: &mut dyn Progress,
    batch: usize,
    all: impl FnOnce() -> Result<Vec<crate::repo::installation::Loaded>, crate::Error>,
) -> Result<Report, Error> {
    let mut selected = select(root, &opts.names)?;
    progress.action("listing repository files");
    let listing = files::list(root)?;
    let mut unchanged = Vec::new();
    if let Some(rev) = &opts.changed_since {
        let affected = changed::affected(root, rev, &selected, &listing)?;
        unchanged = selected
            .iter()
            .filter(|n| affected.binary_search(n).is_err())
            .cloned()
            .collect();
        selected = affected;
    }
    let wanted: BTreeSet<&str> = selected.iter().map(String::as_str).collect();
    // Files outside installations (rules, shared secrets, repo-wide CRDs) are context for
    // every batch; the checks' findings on them repeat identically and are deduplicated.
    let mut common = Vec::new();
    let mut by_inst: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in listing.paths {
        match files::installation_of(&p) {
            None => common.push(p),
            Some(i) if wanted.contains(i) => by_inst.entry(i.to_owned()).or_default().push(p),
            Some(_) => {}
        }
    }
    let common = files::read(root, &common)?;

    let mut report = Report {
        installations: selected.clone(),
        files: common.len(),
        ..Report::default()
    };
    if let Some(rev) = &opts.changed_since {
        if !unchanged.is_empty() {
            report.skipped.push(format!(
                "{} installation(s) unchanged since {rev}: {}",
                unchanged.len(),
                unchanged.join(", ")
            ));
        }
        report.unchanged = unchanged;
    }
    if opts.opener.is_none() {
        report.skipped.push("sops-mac: no age key given (--age-key-file); structure, recipients and plaintext were checked".into());
    }
    report.skipped.extend(
        Rule::ALL
            .iter()
            .filter(|r| opts.skip.contains(r))
            .filter_map(|r| r.skipped_note()),
    );

    let mut acc = Batches::default();
    let chunks: Vec<&[String]> = if selected.is_empty() {
        vec![&[]]
    } else {
        selected.chunks(batch.max(1)).collect()
    };
    let mut checked = 0;
    if !selected.is_empty() {
        progress.advance("installations checked", 0, selected.len());
    }
    for (n, names) in chunks.into_iter().enumerate() {
        let mut paths = Vec::new();
        for name in names {
            paths.extend(by_inst.remove(name).unwrap_or_default());
        }
        let mut files = common.clone();
        files.extend(files::read(root, &paths)?);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        check_batch(root, opts, now, progress, &files, names, n == 0, &mut acc);
        acc.cache.forget_single();
        checked += names.len();
        if !selected.is_empty() {
            progress.advance("installations checked", checked, selected.len());
        }
    }
    let mut findings = acc.findings;
    report.files += acc.files;
    report.sops_files = acc.sops_files;
    if opts.opener.is_some() {
        // Only what was verified counts: a wrong key verifies nothing.
        report.macs_verified = acc.macs.verified;
        report.mac_checked = acc.macs.files > 0 && acc.macs.checked == acc.macs.files;
    }
    findings.extend(kustomize::unbuilt(&acc.unbuilt));
    // Repo-wide checks, once, when every installation loads (one that does not is already
    // a spec-invalid finding).
    if let Ok(all) = all() {
        findings.extend(
            shared_unreadable(root, &all)
                .into_iter()
                .filter(|f| f.installation.as_deref().is_none_or(|i| wanted.contains(i))),
        );
        if !opts.skip.contains(&Rule::RenderDrift) {
            findings.extend(spec::sops_config_drift(&common, &all));
        }
    }

    findings.retain(|f| !opts.skip.contains(&f.rule));
    findings.sort();
    findings.dedup();
    report.findings = findings;
    Ok(report)
}

/// Every installation of the repo, loaded on every core.
fn load_all(root: &Path) -> Result<Vec<crate::repo::installation::Loaded>, crate::Error> {
    let names = crate::repo::list_installations(root)?;
    par_map_min(&names, 2, |n| crate::repo::installation::load(root, n))
        .into_iter()
        .collect()
}

/// What the batches of one run add up to.
#[derive(Default)]
struct Batches {
    cache: yaml::Cache,
    /// The `.sops.yaml` rules of the last batch (the repo's own is parsed once).
    rules: sopsfile::RuleSets,
    findings: Vec<Finding>,
    /// Files of installations read (the common ones are counted once by the caller).
    files: usize,
    sops_files: usize,
    macs: sopsfile::MacResults,
    /// Kustomizations kubectl would have built, had there been one.
    unbuilt: Vec<(String, String)>,
}

/// Every per-installation check over one batch: `files` are the common files and those of
/// the installations `names`; `first` counts (and MAC-checks) the common files.
#[allow(clippy::too_many_arguments)]
fn check_batch(
    root: &Path,
    opts: &Options,
    now: OffsetDateTime,
    progress: &mut dyn Progress,
    files: &[RepoFile],
    names: &[String],
    first: bool,
    acc: &mut Batches,
) {
    let counted = |f: &RepoFile| first || f.installation.is_some();
    acc.files += files.iter().filter(|f| f.installation.is_some()).count();
    let mut findings = Vec::new();
    let docs = acc.cache.parse_all(files);
    acc.sops_files += docs
        .iter()
        .filter(|d| d.sops && counted(&files[d.file]))
        .count();

    progress.action("scanning for plaintext secrets");
    findings.extend(plaintext::check(files, &docs));
    progress.action("checking SOPS files");
    acc.rules = sopsfile::RuleSets::load_reusing(files, &acc.rules);
    findings.extend(sopsfile::check(files, &docs, &acc.rules));
    if let Some(opener) = &opts.opener {
        // A file already reported as broken would only repeat its finding as a MAC error;
        // a common file is checked with the first batch.
        let mut skip: BTreeSet<&str> = findings.iter().map(|f| f.file.as_str()).collect();
        skip.extend(
            files
                .iter()
                .filter(|f| !counted(f))
                .map(|f| f.path.as_str()),
        );
        let macs =
            sopsfile::check_macs(files, &docs, opener.as_ref(), &skip, now, opts.warn_within);
        acc.macs.files += macs.files;
        acc.macs.checked += macs.checked;
        acc.macs.verified += macs.verified;
        findings.extend(macs.findings);
    }
    progress.action("checking expiry");
    findings.extend(expiry::check(files, now, opts.warn_within));
    progress.action("checking specs and render drift");
    let (spec_findings, specs) = spec::check(files, names);
    findings.extend(spec_findings);
    findings.extend(spec::shared(files, &specs));
    findings.extend(credentials::check(files, &docs, &specs));
    findings.extend(dex::check(files, &specs));
    findings.extend(consumers::check(files, &specs));
    findings.extend(flux::check(files, &specs));
    if !opts.skip.contains(&Rule::RenderDrift) {
        findings.extend(spec::drift(root, files, &specs));
    }
    findings.extend(capi::check(files, &docs));
    // Every YAML file's documents, for the schema and kustomize rules.
    let fresh = acc.cache.parse_rest(files, &docs);
    let all_docs = yaml::index(&docs, &fresh);
    if !opts.skip.contains(&Rule::Schema) {
        progress.action("validating manifests against their schemas");
        findings.extend(schema::check(files, &all_docs));
    }
    if !opts.skip.contains(&Rule::KustomizeBuild) {
        progress.action("building kustomizations");
        let built = kustomize::check(
            root,
            files,
            &all_docs,
            opts.kubectl.as_deref(),
            opts.allow_remote,
        );
        findings.extend(built.findings);
        acc.unbuilt.extend(built.unbuilt);
    }
    acc.findings.extend(findings);
}

/// The installations `names` asks for (all when empty), sorted; an unknown name is an error.
pub fn select(root: &Path, names: &[String]) -> Result<Vec<String>, Error> {
    let known = files::installations(root)?;
    if known.is_empty() {
        return Err(crate::repo::no_installations(root).into());
    }
    if let Some(n) = names.iter().find(|n| !known.contains(n)) {
        return Err(crate::repo::unknown_installation(root, n).into());
    }
    if names.is_empty() {
        return Ok(known);
    }
    let s: BTreeSet<_> = names.iter().cloned().collect();
    Ok(s.into_iter().collect())
}

/// `f` over `items` on every core (file checks are independent), results in item order.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_map_min(items, 16, f)
}

/// [`par_map`] that spreads as few as `min` items (each a process, say) over the cores.
pub(crate) fn par_map_min<T: Sync, R: Send>(
    items: &[T],
    min: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || items.len() < min.max(2) {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a check thread panicked"))
            .collect()
    })
}

/// The 1-based line of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests;
