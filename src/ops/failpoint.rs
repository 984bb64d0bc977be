//! Failure injection between steps, for tests that prove a failure half way leaves the
//! repo as it was. Off unless the variable names a step.

/// `MCB_TEST_FAIL_AFTER=<step>` makes the use case fail right after that step.
pub const VAR: &str = "MCB_TEST_FAIL_AFTER";

/// Fails with [`super::Error::Injected`] if [`VAR`] names `step`.
pub fn check(step: &str) -> Result<(), super::Error> {
    match std::env::var(VAR) {
        Ok(s) if s == step => Err(super::Error::Injected(step.to_owned())),
        _ => Ok(()),
    }
}
