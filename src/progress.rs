//! How the library reports long work without printing: one verb per kind of progress
//! (after flux2's `pkg/log`). The CLI implements it on stderr; tests record it.

/// Receives progress from a running use case. Messages never carry secret values.
pub trait Progress {
    /// Something is about to happen ("generating etcd CA").
    fn action(&mut self, msg: &str);
    /// Something was produced ("generated etcd CA (sha256:ab12…)").
    fn generated(&mut self, msg: &str);
    /// Nothing needed doing ("manifests are up to date").
    fn up_to_date(&mut self, msg: &str);
    /// Worth the user's attention, but not an error.
    fn warn(&mut self, msg: &str);
    /// A step finished.
    fn success(&mut self, msg: &str);
    /// Long work moved on: `done` of `total` units of `what` ("installations checked") are
    /// done. The CLI draws a bar from it on a terminal; by default nothing happens.
    fn advance(&mut self, _what: &str, _done: usize, _total: usize) {}
}

/// Discards everything.
#[derive(Debug, Default)]
pub struct Nop;

impl Progress for Nop {
    fn action(&mut self, _: &str) {}
    fn generated(&mut self, _: &str) {}
    fn up_to_date(&mut self, _: &str) {}
    fn warn(&mut self, _: &str) {}
    fn success(&mut self, _: &str) {}
}

/// Keeps every message with its verb, for tests.
#[derive(Debug, Default)]
pub struct Recorder(pub Vec<(&'static str, String)>);

impl Progress for Recorder {
    fn action(&mut self, m: &str) {
        self.0.push(("action", m.to_owned()));
    }
    fn generated(&mut self, m: &str) {
        self.0.push(("generated", m.to_owned()));
    }
    fn up_to_date(&mut self, m: &str) {
        self.0.push(("up_to_date", m.to_owned()));
    }
    fn warn(&mut self, m: &str) {
        self.0.push(("warn", m.to_owned()));
    }
    fn success(&mut self, m: &str) {
        self.0.push(("success", m.to_owned()));
    }
    fn advance(&mut self, what: &str, done: usize, total: usize) {
        self.0.push(("advance", format!("{what} {done}/{total}")));
    }
}
