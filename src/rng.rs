//! A small pseudo-random generator: jitter for backoff, and reproducible fault injection.
//!
//! SplitMix64 is plenty for both; nothing here is used for secrets (tokens come from the
//! operating system's generator through `uuid`).

use std::cell::Cell;

/// A seedable SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator with a fixed seed (reproducible sequences).
    pub fn seeded(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// A generator seeded from the operating system.
    pub fn from_entropy() -> Self {
        Rng::seeded(uuid::Uuid::new_v4().as_u64_pair().0)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

thread_local! {
    static THREAD_RNG: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A float in `[0, 1)` from a per-thread generator seeded from the operating system.
pub fn random_f64() -> f64 {
    THREAD_RNG.with(|cell| {
        let mut rng = match cell.get() {
            Some(state) => Rng::seeded(state),
            None => Rng::from_entropy(),
        };
        let x = rng.next_f64();
        cell.set(Some(rng.state));
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat() {
        let a: Vec<u64> = (0..4)
            .scan(Rng::seeded(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(Rng::seeded(7), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        let x = random_f64();
        assert!((0.0..1.0).contains(&x));
    }
}
