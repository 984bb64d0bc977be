//! The effects every use case needs that would make output unreproducible: the clock and
//! randomness. One [`Env`] is built in `main` and passed down; tests pin both.
//!
//! `MCB_INSECURE_TEST_SEED` (an integer) and `MCB_TEST_NOW` (RFC 3339) pin them for the
//! binary, so integration tests are reproducible. A seeded generator is predictable and a
//! pinned clock steers certificate validity, so both exist only in builds with debug
//! assertions (the test and dev builds): a release build never reads them
//! ([`TEST_OVERRIDES`]), whoever sets them. `main` warns when they are active.

use std::sync::{Mutex, MutexGuard};

use rand_chacha::rand_core::SeedableRng;
use rand_core::{CryptoRng, CryptoRngCore, OsRng, RngCore};
use time::OffsetDateTime;

/// Name of the environment variable that seeds randomness (tests only).
pub const SEED_VAR: &str = "MCB_INSECURE_TEST_SEED";
/// Name of the environment variable that fixes the clock (tests only).
pub const NOW_VAR: &str = "MCB_TEST_NOW";

/// Whether this build honours [`SEED_VAR`] and [`NOW_VAR`]: only with debug assertions,
/// never in a release build (where keys must come from the operating system, always).
pub const TEST_OVERRIDES: bool = cfg!(debug_assertions);

/// Clock and randomness for one run.
pub struct Env {
    now: Option<OffsetDateTime>,
    rng: Mutex<Box<dyn CryptoRngCore + Send>>,
    seeded: bool,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("now", &self.now)
            .field("seeded", &self.seeded)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// The real clock and the operating system's random generator.
    pub fn system() -> Self {
        Env {
            now: None,
            rng: Mutex::new(Box::new(OsRng)),
            seeded: false,
        }
    }

    /// A fixed clock and a deterministic generator: same seed, same bytes.
    pub fn seeded(seed: u64, now: OffsetDateTime) -> Self {
        Env {
            now: Some(now),
            rng: Mutex::new(Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed))),
            seeded: true,
        }
    }

    /// [`Env::system`], unless the test variables ([`SEED_VAR`], [`NOW_VAR`]) pin it in a
    /// build that allows it ([`TEST_OVERRIDES`]).
    pub fn from_process_env() -> Result<Self, String> {
        Self::from_vars(
            std::env::var(SEED_VAR).ok(),
            std::env::var(NOW_VAR).ok(),
            TEST_OVERRIDES,
        )
    }

    /// [`Env::from_process_env`] on given values; with `overrides` false the values are
    /// ignored, as in a release build.
    pub fn from_vars(
        seed: Option<String>,
        now: Option<String>,
        overrides: bool,
    ) -> Result<Self, String> {
        if !overrides {
            return Ok(Env::system());
        }
        let now = match now {
            Some(s) => Some(
                OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| format!("{NOW_VAR}={s:?} is not an RFC 3339 time: {e}"))?,
            ),
            None => None,
        };
        let mut env = match seed {
            Some(s) => {
                let seed: u64 = s
                    .parse()
                    .map_err(|_| format!("{SEED_VAR}={s:?} is not an unsigned integer"))?;
                Env::seeded(seed, now.unwrap_or_else(OffsetDateTime::now_utc))
            }
            None => Env::system(),
        };
        if now.is_some() {
            env.now = now;
        }
        Ok(env)
    }

    /// Whether randomness is predictable (a test seed is in force).
    pub fn is_seeded(&self) -> bool {
        self.seeded
    }

    /// The current time in UTC, truncated to whole seconds (every timestamp mcb writes is
    /// second-precision, as sops' `lastmodified`).
    pub fn now(&self) -> OffsetDateTime {
        let t = self.now.unwrap_or_else(OffsetDateTime::now_utc);
        t.to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond")
    }

    /// A handle on the random generator. Hold it briefly: it is a lock.
    pub fn rng(&self) -> Rng<'_> {
        Rng(self.rng.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// `N` random bytes.
    pub fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng().fill_bytes(&mut b);
        b
    }
}

/// The SOPS engine's clock and randomness are the run's.
impl mcb_sops::Effects for Env {
    fn now(&self) -> OffsetDateTime {
        Env::now(self)
    }
    fn fill_random(&self, buf: &mut [u8]) {
        self.rng().fill_bytes(buf)
    }
}

/// A locked, cryptographically secure random generator (see [`Env::rng`]).
pub struct Rng<'a>(MutexGuard<'a, Box<dyn CryptoRngCore + Send>>);

impl RngCore for Rng<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl CryptoRng for Rng<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_env_is_reproducible() {
        let t = time::macros::datetime!(2026-11-25 12:00:00.5 UTC);
        let a = Env::seeded(7, t);
        let b = Env::seeded(7, t);
        assert_eq!(a.random_bytes::<32>(), b.random_bytes::<32>());
        assert_ne!(
            a.random_bytes::<32>(),
            Env::seeded(8, t).random_bytes::<32>()
        );
        assert_eq!(a.now(), time::macros::datetime!(2026-11-25 12:00:00 UTC));
    }

    /// Issue #15 item 7: a release build (no debug assertions) ignores the test seed and
    /// clock; this build, the tests' own, honours them.
    #[test]
    fn issue_15_release_builds_ignore_the_test_seed_and_clock() {
        let vars = || {
            (
                Some("42".to_owned()),
                Some("2020-01-01T00:00:00Z".to_owned()),
            )
        };
        let (seed, now) = vars();
        let release = Env::from_vars(seed, now, false).unwrap();
        assert!(!release.is_seeded());
        assert!(release.now().year() > 2020);
        let (seed, now) = vars();
        let a = Env::from_vars(seed, now, false).unwrap();
        assert_ne!(a.random_bytes::<32>(), release.random_bytes::<32>());
        let (seed, now) = vars();
        let test = Env::from_vars(seed, now, true).unwrap();
        assert!(test.is_seeded());
        assert_eq!(test.now().year(), 2020);
        assert_eq!(TEST_OVERRIDES, cfg!(debug_assertions));
    }

    #[test]
    fn system_env_differs_each_draw() {
        let e = Env::system();
        assert_ne!(e.random_bytes::<16>(), e.random_bytes::<16>());
        assert!(!e.is_seeded());
    }
}
