//! Random primes for RSA keys: a sieve over a window of odd candidates, then the rsa crate's
//! own primality test (num-bigint-dig `probably_prime` with 20, i.e. 21 Miller-Rabin rounds
//! plus a Lucas test, exactly as its `gen_prime`). Sieving by every odd prime below 2^16
//! drops about 90% of the candidates before any modular exponentiation, where `gen_prime`
//! sieves only by the primes up to 53 (about 72%): the search does half the big-number work.
//! The sieve only skips numbers with a small factor; it never decides that a number is prime.

use std::sync::OnceLock;

use num_bigint_dig::prime::probably_prime;
use num_bigint_dig::BigUint;
use rand_core::RngCore;

/// The sieve uses the odd primes below this.
const SIEVE_LIMIT: u32 = 1 << 16;
/// Odd candidates searched from one random start. About 11 primes are expected among 4096
/// odd 1024-bit numbers, so one start nearly always suffices.
const WINDOW: usize = 4096;
/// Extra Miller-Rabin rounds, as num-bigint-dig's `gen_prime` asks for.
const MR_ROUNDS: usize = 20;

/// The odd primes below [`SIEVE_LIMIT`], computed once.
fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let mut composite = vec![false; SIEVE_LIMIT as usize];
        let mut primes = Vec::new();
        for n in (3..SIEVE_LIMIT).step_by(2) {
            if composite[n as usize] {
                continue;
            }
            primes.push(n);
            // n < 2^16, so n * n fits in a u32.
            for m in (n * n..SIEVE_LIMIT).step_by(2 * n as usize) {
                composite[m as usize] = true;
            }
        }
        primes
    })
}

/// `has_factor[i]` is true when `base + 2i` has an odd prime factor below [`SIEVE_LIMIT`]
/// (`base` odd and larger than the limit, so such a number is never prime itself).
fn sieve(base_be: &[u8]) -> Vec<bool> {
    let mut has_factor = vec![false; WINDOW];
    // Big-endian bytes, left-padded to whole 32-bit words for the remainder fold.
    let pad = (4 - base_be.len() % 4) % 4;
    let words: Vec<u64> = std::iter::repeat_n(0u8, pad)
        .chain(base_be.iter().copied())
        .collect::<Vec<u8>>()
        .chunks(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    for &p in small_primes() {
        let p = u64::from(p);
        let r = words.iter().fold(0u64, |r, &w| ((r << 32) | w) % p);
        // base + 2i ≡ 0 (mod p)  ⇔  i ≡ -r · 2⁻¹ (mod p), and 2⁻¹ = (p + 1) / 2.
        let first = ((p - r) % p) * p.div_ceil(2) % p;
        for i in (first as usize..WINDOW).step_by(p as usize) {
            has_factor[i] = true;
        }
    }
    has_factor
}

/// A random prime of exactly `bits` bits (a multiple of 8, at least 64) with the top two bits
/// set, as rsa's generator makes them: the product of two has exactly `2 * bits` bits.
pub(crate) fn random_prime(rng: &mut impl RngCore, bits: usize) -> BigUint {
    debug_assert!(bits >= 64 && bits.is_multiple_of(8));
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; bits / 8]);
    loop {
        rng.fill_bytes(&mut bytes);
        bytes[0] |= 0xc0;
        *bytes.last_mut().expect("bits >= 64") |= 1;
        let has_factor = sieve(&bytes);
        let base = BigUint::from_bytes_be(&bytes);
        for (i, _) in has_factor.iter().enumerate().filter(|(_, f)| !**f) {
            let candidate = &base + BigUint::from(2 * i);
            if candidate.bits() == bits && probably_prime(&candidate, MR_ROUNDS) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn small_primes_are_the_odd_primes_below_the_limit() {
        let p = small_primes();
        // π(65536) = 6542, less the prime 2.
        assert_eq!(p.len(), 6541);
        assert_eq!(&p[..6], &[3, 5, 7, 11, 13, 17]);
        assert_eq!(*p.last().unwrap(), 65521);
    }

    #[test]
    fn the_sieve_never_drops_a_prime_and_drops_most_composites() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut bytes = vec![0u8; 32];
        rng.fill_bytes(&mut bytes);
        bytes[0] |= 0xc0;
        bytes[31] |= 1;
        let has_factor = sieve(&bytes);
        let base = BigUint::from_bytes_be(&bytes);
        let mut primes = 0;
        for (i, &f) in has_factor.iter().enumerate() {
            let n = &base + BigUint::from(2 * i);
            let prime = probably_prime(&n, MR_ROUNDS);
            assert!(!(prime && f), "offset {i} is prime but was sieved out");
            if f {
                // A sieved number really has a small factor.
                assert!(small_primes()
                    .iter()
                    .any(|&p| (&n % BigUint::from(p)) == BigUint::from(0u32)));
            }
            primes += usize::from(prime);
        }
        assert!(primes > 0);
        let kept = has_factor.iter().filter(|f| !**f).count();
        assert!(kept < WINDOW / 8, "kept {kept} of {WINDOW}");
    }

    #[test]
    fn random_primes_have_the_size_and_repeat_per_seed() {
        let prime = |seed| random_prime(&mut ChaCha20Rng::seed_from_u64(seed), 512);
        let a = prime(1);
        assert_eq!(a.bits(), 512);
        assert!(a.to_bytes_be()[0] >= 0xc0);
        assert!(probably_prime(&a, MR_ROUNDS));
        assert_eq!(a, prime(1));
        assert_ne!(a, prime(2));
    }
}
