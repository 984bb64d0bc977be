//! Failure injection between steps, for tests that prove a failure half way leaves the
//! repo as it was, and that a run killed half way is settled by the next one. Off unless
//! a variable names a step.

/// `MCB_TEST_FAIL_AFTER=<step>` makes the use case fail right after that step.
pub const VAR: &str = "MCB_TEST_FAIL_AFTER";

/// `MCB_TEST_KILL_AFTER=<step>` makes the process SIGKILL itself right after that step:
/// nothing is cleaned up, as when the machine dies.
pub const KILL_VAR: &str = "MCB_TEST_KILL_AFTER";

/// Fails with [`super::Error::Injected`] if [`VAR`] names `step`; dies if [`KILL_VAR`] does.
pub fn check(step: &str) -> Result<(), super::Error> {
    if std::env::var(KILL_VAR).is_ok_and(|s| s == step) {
        kill_self();
    }
    match std::env::var(VAR) {
        Ok(s) if s == step => Err(super::Error::Injected(step.to_owned())),
        _ => Ok(()),
    }
}

/// SIGKILL to this process (through kill(1): the library has no libc binding), and an
/// abort should that fail: no destructor, no cleanup runs either way.
fn kill_self() -> ! {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::process::abort()
}
