//! Waiting for a child process (the editor of `mcb secrets edit`) while SIGINT, SIGTERM
//! and SIGHUP are caught instead of killing mcb on the spot, so whatever holds plaintext
//! (the edit's temporary directory) is removed before mcb exits. The handler only records
//! the signal (async-signal-safe); the waiting loop stops the child and returns.

use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The last signal caught while a [`Guard`] was active (0: none).
static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// Catches [`SIGNALS`] while it lives; the previous handlers come back on drop. Create it
/// before the temporary files it protects, so no signal falls between the two.
pub struct Guard {
    previous: Vec<(libc::c_int, libc::sighandler_t)>,
}

impl Guard {
    /// Starts catching.
    pub fn install() -> Guard {
        CAUGHT.store(0, Ordering::SeqCst);
        let handler = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
        let previous = SIGNALS
            .iter()
            // SAFETY: `record` only stores into an atomic, which is async-signal-safe.
            .map(|&s| (s, unsafe { libc::signal(s, handler) }))
            .collect();
        Guard { previous }
    }

    /// The signal caught so far, if any.
    pub fn caught(&self) -> Option<i32> {
        match CAUGHT.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Waits for `child`. If a signal arrives first, the child gets SIGTERM, is reaped,
    /// and the signal is returned as `Err`.
    pub fn wait(&self, child: &mut Child) -> std::io::Result<Result<ExitStatus, i32>> {
        loop {
            if let Some(sig) = self.caught() {
                // SAFETY: plain kill(2) on our own child's pid.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                let _ = child.wait();
                return Ok(Err(sig));
            }
            if let Some(status) = child.try_wait()? {
                return Ok(self.caught().map_or(Ok(status), Err));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for &(s, h) in &self.previous {
            // SAFETY: restoring the handler that was installed before.
            unsafe { libc::signal(s, h) };
        }
    }
}
