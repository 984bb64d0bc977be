//! What the user sees: results on stdout (human text or JSON), progress and warnings on
//! stderr. [`Reporter`] implements the library's [`mcb::progress::Progress`] on stderr,
//! with a progress bar for long work when stderr is a terminal (never with `-q`).

use std::io::{IsTerminal, Write};

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
    /// what long work has done so far; a bar shows it when `bar` is `Some`
    meter: Meter,
    /// the drawn bar: only on a terminal, never with `-q`
    bar: Option<Bar>,
    bars: bool,
}

/// How far the current long work is: the pure part of the progress bar (tested without a
/// terminal).
#[derive(Debug, Default, PartialEq, Eq)]
struct Meter {
    what: String,
    done: usize,
    total: usize,
}

impl Meter {
    /// Takes one advance of the library's progress; whether a bar should show after it:
    /// only while work of more than one unit is under way (a finished one is cleared).
    fn advance(&mut self, what: &str, done: usize, total: usize) -> bool {
        *self = Meter {
            what: what.to_owned(),
            done: done.min(total),
            total,
        };
        total > 1 && done < total
    }
}

/// An indicatif bar on stderr.
struct Bar(indicatif::ProgressBar);

impl std::fmt::Debug for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bar")
    }
}

/// Whether long work draws a bar: on a terminal (a bar in a log or a pipe is noise), and
/// not with `-q` (errors only).
fn shows_bars(quiet: bool, stderr_is_terminal: bool) -> bool {
    !quiet && stderr_is_terminal
}

impl Reporter {
    /// A reporter for these global flags.
    pub fn new(g: &super::GlobalArgs) -> Self {
        Reporter {
            quiet: g.quiet,
            verbose: g.verbose,
            color: g.color.enabled_for_stderr(),
            started: std::time::Instant::now(),
            meter: Meter::default(),
            bar: None,
            bars: shows_bars(g.quiet, std::io::stderr().is_terminal()),
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
        match &self.bar {
            // The bar steps aside for the line and is drawn again below it.
            Some(b) => b.0.suspend(|| self.write_line(symbol, ansi, msg)),
            None => self.write_line(symbol, ansi, msg),
        }
    }

    fn write_line(&self, symbol: &str, ansi: &str, msg: &str) {
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
    fn advance(&mut self, what: &str, done: usize, total: usize) {
        let visible = self.meter.advance(what, done, total);
        if !self.bars {
            return;
        }
        if !visible {
            if let Some(b) = self.bar.take() {
                b.0.finish_and_clear();
            }
            return;
        }
        let m = &self.meter;
        let bar = self.bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(m.total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
            {
                b.set_style(style.progress_chars("=> "));
            }
            Bar(b)
        });
        bar.0.set_length(m.total as u64);
        bar.0.set_position(m.done as u64);
        bar.0.set_message(m.what.clone());
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        // An error ends the work early: its message must not land behind a bar.
        if let Some(b) = self.bar.take() {
            b.0.finish_and_clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_shows_only_while_work_of_several_units_is_under_way() {
        let mut m = Meter::default();
        assert!(m.advance("installations checked", 1, 3));
        assert_eq!(
            m,
            Meter {
                what: "installations checked".into(),
                done: 1,
                total: 3
            }
        );
        assert!(m.advance("installations checked", 2, 3));
        assert!(
            !m.advance("installations checked", 3, 3),
            "finished: cleared"
        );
        assert!(!m.advance("credentials rotated", 1, 1), "one unit: no bar");
        assert!(!m.advance("x", 0, 0));
        assert!(!m.advance("x", 5, 3), "past the end: cleared");
        assert_eq!(m.done, 3);
    }

    #[test]
    fn bars_only_on_a_terminal_and_never_with_quiet() {
        assert!(shows_bars(false, true));
        assert!(!shows_bars(false, false), "a pipe or a log gets no bar");
        assert!(!shows_bars(true, true), "-q: errors only");
    }
}
