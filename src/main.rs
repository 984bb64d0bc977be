//! The `mcb` binary: parse arguments, run one use case, print its result, exit with
//! 0 (ok), 1 (a check or drift failed) or 2 (usage or runtime error).
//!
//! This is the only place that uses `anyhow` and the only place that prints errors.

mod cli;

use std::process::ExitCode;

use mcb::Help;

fn main() -> ExitCode {
    cli::answer_completion_requests();
    let args = cli::parse();
    let color = args.global.color.enabled_for_stderr();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            print_error(&err, color);
            ExitCode::from(2)
        }
    }
}

/// A reader closed stdout early (`mcb ... | head`): not an error, as ripgrep treats it.
/// serde_json wraps the io::Error without exposing it as a source, so it is asked too.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
    })
}

/// `error: …`, one `caused by: …` per source, then `help: …` when the error knows a fix.
fn print_error(err: &anyhow::Error, color: bool) {
    let (red, yellow, reset) = if color {
        ("\x1b[1;31m", "\x1b[1;33m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    eprintln!("{red}error:{reset} {err}");
    // A cause whose text the lines above already hold (`PATH: No such file…` then `No such
    // file…`) would only repeat it.
    let mut shown = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
            shown.push_str(&text);
        }
    }
    // Any library error carries its hint up through `?` and anyhow's context: the library
    // knows its error types (mcb::help_of, asked for each link); the CLI adds its own usage errors.
    let help = err.chain().find_map(|c| {
        c.downcast_ref::<cli::UsageError>()
            .and_then(Help::help)
            .or_else(|| mcb::help_of(c))
    });
    if let Some(h) = help {
        eprintln!("{yellow}help:{reset} {h}");
    }
}
