//! MinHash: fixed-size signatures whose agreement estimates the Jaccard similarity of two
//! shingle sets.
//!
//! Two algorithms, chosen by measurement (see the README and `benches/pipeline.rs`):
//! - [`Algorithm::Oph`] (default): one-permutation hashing with optimal densification
//!   (Li, Owen & Zhang 2012; Shrivastava 2017). One hash per shingle picks a bin and a value;
//!   each bin keeps its minimum; empty bins borrow the value of a bin chosen by a seeded probe
//!   sequence shared by all documents, which keeps the estimator unbiased. O(n + k) per document.
//! - [`Algorithm::Classic`]: k independent multiply-shift hash functions, O(n · k).
//!
//! Signatures are pure functions of (shingles, seed, k): computing them in parallel gives the
//! same values for any thread count. This module does not decide what is similar enough.

/// Which MinHash construction to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Algorithm {
    /// One-permutation hashing with optimal densification.
    #[default]
    Oph,
    /// Classic k-permutation MinHash with multiply-shift hashing.
    Classic,
}

/// Marks a bin that no shingle fell into (before densification).
const EMPTY: u32 = u32::MAX;

/// Computes signatures of `num_perm` values.
#[derive(Debug, Clone)]
pub struct MinHasher {
    num_perm: usize,
    seed: u64,
    algorithm: Algorithm,
    /// (multiplier, offset) pairs of the classic algorithm; multipliers are odd.
    classic: Vec<(u64, u64)>,
}

impl MinHasher {
    pub fn new(num_perm: usize, seed: u64, algorithm: Algorithm) -> Self {
        let num_perm = num_perm.max(1);
        let mut state = seed ^ 0x6a09_e667_f3bc_c909;
        let classic = (0..num_perm)
            .map(|_| (splitmix64(&mut state) | 1, splitmix64(&mut state)))
            .collect();
        MinHasher {
            num_perm,
            seed,
            algorithm,
            classic,
        }
    }

    pub fn num_perm(&self) -> usize {
        self.num_perm
    }

    /// Writes the signature of a shingle multiset (duplicates do not matter) into `out`,
    /// which must hold `num_perm` values. An empty set gives a signature of `EMPTY` values.
    pub fn sign(&self, shingles: &[u64], out: &mut [u32]) {
        self.start(out);
        for &shingle in shingles {
            self.add(shingle, out);
        }
        self.finish(out);
    }

    /// Starts a signature in `out` (which must hold `num_perm` values), for shingles that are
    /// streamed in with [`MinHasher::add`] and ended with [`MinHasher::finish`]: the same
    /// values as [`MinHasher::sign`] without collecting the shingles first.
    pub fn start(&self, out: &mut [u32]) {
        assert_eq!(
            out.len(),
            self.num_perm,
            "signature buffer has the wrong length"
        );
        out.fill(EMPTY);
    }

    /// Adds one shingle to a signature begun with [`MinHasher::start`].
    #[inline]
    pub fn add(&self, shingle: u64, out: &mut [u32]) {
        let h = mix64(shingle ^ self.seed);
        match self.algorithm {
            Algorithm::Oph => {
                let bin = (((h >> 32) * self.num_perm as u64) >> 32) as usize;
                // Without a branch: whether a shingle lowers its bin is a coin flip early in
                // a document, and a mispredicted branch costs more than the store.
                out[bin] = out[bin].min(h as u32);
            }
            Algorithm::Classic => {
                for (slot, &(a, b)) in out.iter_mut().zip(&self.classic) {
                    let value = (a.wrapping_mul(h).wrapping_add(b) >> 32) as u32;
                    if value < *slot {
                        *slot = value;
                    }
                }
            }
        }
    }

    /// Ends a streamed signature.
    pub fn finish(&self, out: &mut [u32]) {
        if self.algorithm == Algorithm::Oph {
            self.densify(out);
        }
    }

    fn densify(&self, out: &mut [u32]) {
        let filled = out.iter().filter(|&&v| v != EMPTY).count();
        if filled == 0 || filled == out.len() {
            return;
        }
        let original = out.to_vec();
        let k = self.num_perm as u64;
        for (bin, value) in out.iter_mut().enumerate() {
            if *value != EMPTY {
                continue;
            }
            for attempt in 0u64.. {
                let probe =
                    mix64(self.seed ^ ((bin as u64) << 32 | attempt) ^ 0x9e37_79b9_7f4a_7c15);
                let source = (((probe >> 32) * k) >> 32) as usize;
                if original[source] != EMPTY {
                    *value = original[source];
                    break;
                }
            }
        }
    }
}

/// The fraction of positions where two signatures agree: the Jaccard estimate.
pub fn estimate(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

/// The signatures of many documents, stored contiguously.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    num_perm: usize,
    values: Vec<u32>,
}

impl Signatures {
    pub fn new(num_perm: usize, values: Vec<u32>) -> Self {
        assert!(num_perm > 0 && values.len().is_multiple_of(num_perm));
        Signatures { num_perm, values }
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.num_perm.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn num_perm(&self) -> usize {
        self.num_perm
    }

    pub fn get(&self, doc: usize) -> &[u32] {
        &self.values[doc * self.num_perm..(doc + 1) * self.num_perm]
    }

    /// All values, document after document (`num_perm` each).
    pub fn values_mut(&mut self) -> &mut [u32] {
        &mut self.values
    }

    pub fn similarity(&self, a: usize, b: usize) -> f64 {
        estimate(self.get(a), self.get(b))
    }
}

/// A bijective 64-bit mixer (the SplitMix64 finalizer): spreads shingle hashes over all bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64: a small seeded generator for hash parameters and test data.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix64(*state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::jaccard;

    /// Two sets with a chosen overlap, drawn from a seeded generator.
    fn set_pair(
        state: &mut u64,
        common: usize,
        only_a: usize,
        only_b: usize,
    ) -> (Vec<u64>, Vec<u64>) {
        let shared: Vec<u64> = (0..common).map(|_| splitmix64(state)).collect();
        let mut a = shared.clone();
        let mut b = shared;
        a.extend((0..only_a).map(|_| splitmix64(state)));
        b.extend((0..only_b).map(|_| splitmix64(state)));
        a.sort_unstable();
        b.sort_unstable();
        (a, b)
    }

    /// Mean absolute error overall and signed bias per Jaccard decile, over `pairs` pairs with
    /// Jaccard spread evenly over 0..1 and set sizes from 5 to 2,000.
    fn error_profile(algorithm: Algorithm, pairs: usize) -> (f64, Vec<(f64, usize)>) {
        let mut state = 7;
        let mut total_error = 0.0;
        let mut bias = vec![(0.0, 0usize); 10];
        for i in 0..pairs {
            let target = (i as f64 + 0.5) / pairs as f64;
            let union = 5 + (splitmix64(&mut state) % 1995) as usize;
            let common = (target * union as f64).round() as usize;
            let rest = union - common;
            let only_a = rest / 2;
            let (a, b) = set_pair(&mut state, common, only_a, rest - only_a);
            let hasher = MinHasher::new(128, i as u64, algorithm);
            let (mut sa, mut sb) = (vec![0; 128], vec![0; 128]);
            hasher.sign(&a, &mut sa);
            hasher.sign(&b, &mut sb);
            let exact = jaccard(&a, &b);
            let error = estimate(&sa, &sb) - exact;
            total_error += error.abs();
            let band = ((exact * 10.0) as usize).min(9);
            bias[band].0 += error;
            bias[band].1 += 1;
        }
        (total_error / pairs as f64, bias)
    }

    fn assert_accurate(algorithm: Algorithm) {
        let (mae, bias) = error_profile(algorithm, 2000);
        let worst_bias = bias
            .iter()
            .map(|(sum, count)| (sum / *count as f64).abs())
            .fold(0.0, f64::max);
        eprintln!("{algorithm:?}: mean absolute error {mae:.4}, worst band bias {worst_bias:.4}");
        assert!(
            mae <= 0.03,
            "{algorithm:?}: mean absolute error {mae:.4} > 0.03"
        );
        for (band, (sum, count)) in bias.iter().enumerate() {
            let mean = sum / *count as f64;
            assert!(
                mean.abs() <= 0.012,
                "{algorithm:?}: bias {mean:+.4} in Jaccard band {band}/10 over {count} pairs"
            );
        }
    }

    #[test]
    fn oph_estimates_jaccard_within_bounds() {
        assert_accurate(Algorithm::Oph);
    }

    #[test]
    fn classic_estimates_jaccard_within_bounds() {
        assert_accurate(Algorithm::Classic);
    }

    #[test]
    fn identical_and_disjoint_sets() {
        for algorithm in [Algorithm::Oph, Algorithm::Classic] {
            let hasher = MinHasher::new(64, 3, algorithm);
            let (mut a, mut b) = (vec![0; 64], vec![0; 64]);
            hasher.sign(&[1, 2, 3], &mut a);
            hasher.sign(&[3, 2, 1, 1], &mut b);
            assert_eq!(a, b);
            hasher.sign(&(100..400).collect::<Vec<_>>(), &mut b);
            assert!(estimate(&a, &b) < 0.1);
        }
    }

    #[test]
    fn densification_fills_every_bin() {
        let hasher = MinHasher::new(128, 9, Algorithm::Oph);
        let mut out = vec![0; 128];
        hasher.sign(&[42], &mut out);
        assert!(out.iter().all(|&v| v != EMPTY));
    }
}
