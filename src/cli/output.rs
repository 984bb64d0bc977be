//! What the user sees: results on stdout (human text or JSON), progress and warnings on
//! stderr. [`Reporter`] implements the library's [`mcb::progress::Progress`] on stderr.

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// The values are explained in the flag's help (one line, not a list in every --help).
pub enum OutputFormat {
    Human,
    Json,
    Sarif,
}

/// Progress on stderr: respects `--quiet`, `--verbose` and `--color`.
#[derive(Debug)]
pub struct Reporter {
    quiet: bool,
    verbose: u8,
    color: bool,
    /// when the command started: -vv prefixes each line with the time since
    started: std::time::Instant,
}

impl Reporter {
    /// A reporter for these global flags.
    pub fn new(g: &super::GlobalArgs) -> Self {
        Reporter {
            quiet: g.quiet,
            verbose: g.verbose,
            color: g.color.enabled_for_stderr(),
            started: std::time::Instant::now(),
        }
    }

    /// The end of a dry run: `what` was planned, nothing written (never "✔ done").
    pub fn dry_run(&mut self, what: &str) {
        if !self.quiet {
            self.line(
                "○",
                "\x1b[36m",
                &format!("dry run: {what} planned; nothing was written"),
            );
        }
    }

    fn line(&self, symbol: &str, ansi: &str, msg: &str) {
        let mut err = std::io::stderr().lock();
        // -vv: where the time goes (a slow push, a slow issuer) without a profiler.
        let elapsed = if self.verbose > 1 {
            format!("[{:>7.2}s] ", self.started.elapsed().as_secs_f64())
        } else {
            String::new()
        };
        if self.color {
            let _ = writeln!(err, "{elapsed}{ansi}{symbol}\x1b[0m {msg}");
        } else {
            let _ = writeln!(err, "{elapsed}{symbol} {msg}");
        }
    }
}

impl mcb::progress::Progress for Reporter {
    fn action(&mut self, msg: &str) {
        if !self.quiet && self.verbose > 0 {
            self.line("►", "\x1b[36m", msg);
        }
    }
    fn generated(&mut self, msg: &str) {
        if !self.quiet {
            self.line("✚", "\x1b[32m", msg);
        }
    }
    fn up_to_date(&mut self, msg: &str) {
        if !self.quiet {
            self.line("✔", "\x1b[32m", msg);
        }
    }
    fn warn(&mut self, msg: &str) {
        // -q means errors only: a warning that must not be missed is an error instead.
        if !self.quiet {
            self.line("⚠", "\x1b[33m", msg);
        }
    }
    fn success(&mut self, msg: &str) {
        if !self.quiet {
            self.line("✔", "\x1b[32m", msg);
        }
    }
}

/// Prints `value` as pretty JSON plus a newline on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// The plan part of a publishing command's human output: a dry-run title naming `what`,
/// then one line per changed file.
pub fn print_files(o: &mcb::ops::publish::Outcome, what: &str) -> std::io::Result<()> {
    if o.dry_run {
        outln!("Plan for {what} (dry run, nothing written):");
    }
    for (path, change) in &o.files {
        outln!("  {:<8} {path}", format!("{change:?}").to_lowercase());
    }
    if !o.planned.is_empty() {
        outln!("then it would:");
        for step in &o.planned {
            outln!("  {step}");
        }
    }
    Ok(())
}

/// The git part of a publishing command's human output: the commit and the pull request.
pub fn print_published(o: &mcb::ops::publish::Outcome) -> std::io::Result<()> {
    if let (Some(b), Some(c)) = (&o.branch, &o.commit) {
        outln!("committed on branch {b} ({})", &c[..c.len().min(12)]);
    }
    if let Some(pr) = &o.pr {
        outln!("pull request: {}", pr.url);
    }
    Ok(())
}
