//! The effects the engine takes from its caller: the clock (`lastmodified`) and
//! randomness (data keys, IVs, age keys). The caller decides where they come from; mcb
//! pins both in tests, so the same input gives the same bytes.

use time::OffsetDateTime;

/// Clock and randomness for one run. `Sync`: the engine may seal values on several
/// threads.
pub trait Effects: Sync {
    /// The current time in UTC, whole seconds.
    fn now(&self) -> OffsetDateTime;
    /// Fills `buf` from a cryptographically secure generator.
    fn fill_random(&self, buf: &mut [u8]);
}

impl dyn Effects + '_ {
    /// `N` random bytes.
    pub fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut b = [0u8; N];
        self.fill_random(&mut b);
        b
    }
}

/// A fixed clock and a seeded generator, for the engine's own tests.
#[cfg(test)]
pub(crate) struct Seeded {
    now: OffsetDateTime,
    rng: std::sync::Mutex<rand_chacha::ChaCha20Rng>,
}

#[cfg(test)]
impl Seeded {
    /// Same seed, same bytes.
    pub(crate) fn new(seed: u64, now: OffsetDateTime) -> Self {
        use rand_chacha::rand_core::SeedableRng;
        Seeded {
            now,
            rng: std::sync::Mutex::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        }
    }
}

#[cfg(test)]
impl Effects for Seeded {
    fn now(&self) -> OffsetDateTime {
        self.now
    }
    fn fill_random(&self, buf: &mut [u8]) {
        use rand_chacha::rand_core::RngCore;
        self.rng.lock().unwrap().fill_bytes(buf)
    }
}
