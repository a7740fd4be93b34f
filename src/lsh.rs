//! LSH: banding of MinHash signatures into candidate pairs.
//!
//! A signature of `bands × rows` values is cut into bands; two documents whose values agree on
//! a whole band share a [`BandKey`] and become a candidate pair. The band/row split for a
//! threshold minimizes the weighted false-positive + false-negative probability area, as
//! datasketch does. Buckets are found by sorting (key, document) pairs per band, which is
//! deterministic and needs no per-bucket allocation.
//!
//! Hot buckets (thousands of documents with one band key) would cost quadratic work; above
//! [`HOT_BUCKET`] members a bucket pairs each member only with its [`HOT_WINDOW`] nearest
//! neighbours in signature order (sorted neighbourhood), which is linear in the bucket size.
//! [`bucket_pairs`] is the same bucket join for any keys (stories use it on key terms).
//! This module verifies candidates in one place only: [`join_similar`], which joins the similar
//! ones into sets as it meets them; the pair lists are verified by their callers.

use std::borrow::Cow;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::cluster::ConcurrentUnionFind;
use crate::minhash::Signatures;
use crate::termtable;

/// How a signature is cut for banding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LshParams {
    pub bands: usize,
    pub rows: usize,
}

/// The hash of one band of one signature: equal keys in the same band make candidates.
pub type BandKey = u64;

/// A bucket with more members than this is "hot" and paired by sorted neighbourhood.
pub const HOT_BUCKET: usize = 64;
/// In a hot bucket, each member is paired with this many following members.
pub const HOT_WINDOW: usize = 32;

/// The probability that two documents of Jaccard `s` share at least one band.
pub fn collision_probability(s: f64, params: LshParams) -> f64 {
    1.0 - (1.0 - s.powi(params.rows as i32)).powi(params.bands as i32)
}

/// Simpson's rule steps over each interval (even).
const STEPS: usize = 1000;

/// The points of composite Simpson's rule over [a, b], with their weights (before `h / 3`).
fn simpson_points(a: f64, b: f64) -> Vec<(f64, f64)> {
    let h = (b - a) / STEPS as f64;
    let mut points = vec![(a, 1.0), (b, 1.0)];
    for i in 1..STEPS {
        let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
        points.push((a + i as f64 * h, weight));
    }
    points
}

/// Integrates over [a, b] with composite Simpson's rule, given `f` at [`simpson_points`].
fn integrate(values: impl Iterator<Item = f64>, weights: &[(f64, f64)], a: f64, b: f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    let h = (b - a) / STEPS as f64;
    let sum = values
        .zip(weights)
        .fold(0.0, |sum, (value, &(_, weight))| sum + weight * value);
    sum * h / 3.0
}

/// The bands and rows (bands × rows ≤ `num_perm`) that minimize
/// `fp_weight · P(false positive area below threshold) + fn_weight · P(false negative area above)`.
///
/// Every (bands, rows) pair is scored, rows in parallel, each row count's powers `s^rows`
/// computed once for all band counts; ties go to the fewest bands, then the fewest rows.
pub fn optimal_params(
    threshold: f64,
    num_perm: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> LshParams {
    let defaults = num_perm == crate::DEFAULT_NUM_PERM && fp_weight == 0.5 && fn_weight == 0.5;
    let known = KNOWN_PARAMS
        .iter()
        .find(|&&(known, _)| defaults && known == threshold);
    match known {
        Some(&(_, params)) => params,
        None => search_params(threshold, num_perm, fp_weight, fn_weight),
    }
}

/// [`search_params`]' answers for 128 permutations and equal weights at the thresholds most
/// runs use (the default, the loose grouping of boilerplate detection, and 0.8, the usual
/// setting of other MinHash tools), so that a run does not spend tens of milliseconds finding
/// them again. A test checks them.
const KNOWN_PARAMS: [(f64, LshParams); 3] = [
    (0.6, LshParams { bands: 18, rows: 7 }),
    (0.3, LshParams { bands: 37, rows: 3 }),
    (0.8, LshParams { bands: 9, rows: 13 }),
];

/// The search behind [`optimal_params`].
fn search_params(threshold: f64, num_perm: usize, fp_weight: f64, fn_weight: f64) -> LshParams {
    let below = simpson_points(0.0, threshold);
    let above = simpson_points(threshold, 1.0);
    let mut scored: Vec<(LshParams, f64)> = (1..=num_perm.max(1))
        .into_par_iter()
        .flat_map_iter(|rows| {
            let powers = |points: &[(f64, f64)]| -> Vec<f64> {
                points.iter().map(|&(s, _)| s.powi(rows as i32)).collect()
            };
            let (powers_below, powers_above) = (powers(&below), powers(&above));
            let (below, above) = (&below, &above);
            (1..=num_perm / rows).map(move |bands| {
                let collision = |power: &f64| 1.0 - (1.0 - power).powi(bands as i32);
                let false_positive =
                    integrate(powers_below.iter().map(collision), below, 0.0, threshold);
                let false_negative = integrate(
                    powers_above.iter().map(|power| 1.0 - collision(power)),
                    above,
                    threshold,
                    1.0,
                );
                let error = fp_weight * false_positive + fn_weight * false_negative;
                (LshParams { bands, rows }, error)
            })
        })
        .collect();
    scored.sort_by_key(|(params, _)| (params.bands, params.rows));
    let mut best = LshParams { bands: 1, rows: 1 };
    let mut best_error = f64::INFINITY;
    for (params, error) in scored {
        if error < best_error {
            best_error = error;
            best = params;
        }
    }
    best
}

/// The key of band `band` of a signature: xxh3 of the band's values as little-endian bytes,
/// seeded with the band number.
pub fn band_key(signature: &[u32], band: usize, rows: usize) -> BandKey {
    let values = &signature[band * rows..(band + 1) * rows];
    xxh3_64_with_seed(&le_bytes(values), band as u64)
}

/// The bytes of `values` as little-endian numbers: on a little-endian machine, their own memory.
/// (The band was once copied byte by byte into a buffer, which xxh3 then read 8 bytes at a
/// time: the processor could not forward those small stores to the wide loads, and waited.)
#[cfg(target_endian = "little")]
fn le_bytes(values: &[u32]) -> Cow<'_, [u8]> {
    let len = std::mem::size_of_val(values);
    // SAFETY: the bytes are exactly the memory of `values`, borrowed for as long as they are;
    // a u32 has no padding and every byte value is a valid u8.
    Cow::Borrowed(unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), len) })
}

#[cfg(not(target_endian = "little"))]
fn le_bytes(values: &[u32]) -> Cow<'_, [u8]> {
    Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// Candidate pairs `(a, b)` with `a < b` among `docs` (indices into `signatures`), sorted and
/// deduplicated.
pub fn candidate_pairs(
    signatures: &Signatures,
    docs: &[u32],
    params: LshParams,
) -> Vec<(u32, u32)> {
    let mut pairs: Vec<(u32, u32)> = (0..params.bands)
        .into_par_iter()
        .flat_map_iter(|band| band_pairs(signatures, docs, band, params.rows))
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// Joins into `sets` every candidate pair among `docs` (on all bands, on all threads) whose
/// estimated Jaccard is at least `threshold`; returns the candidate pairs met (a pair counted
/// once per band it shares).
///
/// A pair already in one set is not verified: similar documents share most bands, so most
/// candidates repeat (at 100,000 generated articles the loose bands of boilerplate detection
/// meet 1.7 million pairs for 72,486 distinct ones), and the sets need neither the pairs' list
/// nor its sort. The sets at the end are the connected components of the similar candidate
/// pairs, whatever the order in which the threads met them.
pub fn join_similar(
    signatures: &Signatures,
    docs: &[u32],
    params: LshParams,
    threshold: f64,
    sets: &ConcurrentUnionFind,
) -> usize {
    (0..params.bands)
        .into_par_iter()
        .map(|band| {
            let mut met = 0;
            for_each_band_pair(signatures, docs, band, params.rows, |a, b| {
                met += 1;
                if sets.same(a, b) {
                    return;
                }
                if signatures.similarity(a as usize, b as usize) >= threshold {
                    sets.union(a, b);
                }
            });
            met
        })
        .sum()
}

/// How many documents ahead [`band_pairs`] fetches a band.
const PREFETCH_AHEAD: usize = 16;

/// The candidate pairs of one band.
fn band_pairs(signatures: &Signatures, docs: &[u32], band: usize, rows: usize) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    for_each_band_pair(signatures, docs, band, rows, |a, b| pairs.push((a, b)));
    pairs
}

/// Calls `each(a, b)` (`a < b`) for every candidate pair of one band, bucket by bucket.
///
/// Each entry is one number: the band key with its low bits replaced by the document, so that
/// a plain sort of numbers groups the buckets, on half the bytes of (key, document) pairs. Two
/// keys that differ only in those low bits share a bucket: that pair is one candidate more,
/// verified like any other (about n² / 2^(65 − bits) such pairs a band: none at 100,000
/// documents, ~45 at 10,000,000).
pub fn for_each_band_pair(
    signatures: &Signatures,
    docs: &[u32],
    band: usize,
    rows: usize,
    mut each: impl FnMut(u32, u32),
) {
    let largest = docs.iter().copied().max().unwrap_or(0);
    let doc_mask = (1u64 << (u32::BITS - largest.leading_zeros())) - 1;
    let band_start = |doc: u32| &signatures.get(doc as usize)[band * rows..];
    let mut entries: Vec<u64> = docs
        .iter()
        .enumerate()
        .map(|(i, &doc)| {
            // Each band reads a few bytes of every signature, far apart: the hardware does not
            // see that stride coming, so the band a few documents ahead is fetched meanwhile.
            if let Some(&ahead) = docs.get(i + PREFETCH_AHEAD) {
                let ahead = band_start(ahead);
                for value in [ahead.first(), ahead.get(rows.saturating_sub(1))]
                    .into_iter()
                    .flatten()
                {
                    termtable::prefetch(value);
                }
            }
            (band_key(signatures.get(doc as usize), band, rows) & !doc_mask) | u64::from(doc)
        })
        .collect();
    entries.sort_unstable();
    // Sorted neighbourhood: order a hot bucket by the whole signature, so that similar
    // documents sit close.
    let order_hot = |members: &mut [u32]| {
        members.sort_unstable_by(|&a, &b| {
            signatures
                .get(a as usize)
                .cmp(signatures.get(b as usize))
                .then(a.cmp(&b))
        })
    };
    let mut members = Vec::new();
    for bucket in entries.chunk_by(|x, y| x & !doc_mask == y & !doc_mask) {
        if bucket.len() < 2 {
            continue;
        }
        members.clear();
        members.extend(bucket.iter().map(|&entry| (entry & doc_mask) as u32));
        each_bucket_pair(&mut members, HOT_BUCKET, HOT_WINDOW, &order_hot, &mut each);
    }
}

/// Pairs of documents that share a key. `keyed` holds (key, document) entries; a bucket of up
/// to `hot_bucket` members gives all its pairs, a larger one is ordered by `order_hot` and each
/// member is paired with the next `window` members (linear in the bucket size).
/// Pairs are `(a, b)` with `a < b`, unsorted, possibly repeated.
pub fn bucket_pairs(
    mut keyed: Vec<(u64, u32)>,
    hot_bucket: usize,
    window: usize,
    order_hot: &(dyn Fn(&mut [u32]) + Sync),
) -> Vec<(u32, u32)> {
    keyed.sort_unstable();
    let mut pairs = Vec::new();
    let mut members = Vec::new();
    for bucket in keyed.chunk_by(|x, y| x.0 == y.0) {
        if bucket.len() < 2 {
            continue;
        }
        members.clear();
        members.extend(bucket.iter().map(|&(_, doc)| doc));
        push_bucket_pairs(&mut members, hot_bucket, window, order_hot, &mut pairs);
    }
    pairs
}

/// The pairs of one bucket (of two or more members), as [`bucket_pairs`] makes them.
fn push_bucket_pairs(
    members: &mut [u32],
    hot_bucket: usize,
    window: usize,
    order_hot: &(dyn Fn(&mut [u32]) + Sync),
    pairs: &mut Vec<(u32, u32)>,
) {
    each_bucket_pair(members, hot_bucket, window, order_hot, &mut |a, b| {
        pairs.push((a, b))
    });
}

/// Calls `each(a, b)` (`a < b`) for the pairs of one bucket: all of them up to `hot_bucket`
/// members, else each member and its next `window` members in `order_hot`'s order.
fn each_bucket_pair(
    members: &mut [u32],
    hot_bucket: usize,
    window: usize,
    order_hot: &(dyn Fn(&mut [u32]) + Sync),
    each: &mut impl FnMut(u32, u32),
) {
    let reach = if members.len() <= hot_bucket {
        members.len()
    } else {
        order_hot(members);
        window
    };
    for (i, &a) in members.iter().enumerate() {
        for &b in members[i + 1..].iter().take(reach) {
            each(a.min(b), a.max(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collision_probability_is_s_curve() {
        let params = LshParams { bands: 16, rows: 8 };
        assert!(collision_probability(0.3, params) < 0.01);
        assert!(collision_probability(0.9, params) > 0.99);
    }

    /// The parallel search scores every pair exactly as a plain double loop over
    /// `collision_probability` does, and breaks ties the same way.
    #[test]
    fn optimal_params_equal_the_plain_search() {
        fn plain(threshold: f64, num_perm: usize) -> LshParams {
            let integral = |f: &dyn Fn(f64) -> f64, a: f64, b: f64| {
                if b <= a {
                    return 0.0;
                }
                let h = (b - a) / STEPS as f64;
                let mut sum = f(a) + f(b);
                for i in 1..STEPS {
                    let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
                    sum += weight * f(a + i as f64 * h);
                }
                sum * h / 3.0
            };
            let mut best = LshParams { bands: 1, rows: 1 };
            let mut best_error = f64::INFINITY;
            for bands in 1..=num_perm {
                for rows in 1..=num_perm / bands {
                    let params = LshParams { bands, rows };
                    let fp = integral(&|s| collision_probability(s, params), 0.0, threshold);
                    let fnr = integral(&|s| 1.0 - collision_probability(s, params), threshold, 1.0);
                    let error = 0.5 * fp + 0.5 * fnr;
                    if error < best_error {
                        best_error = error;
                        best = params;
                    }
                }
            }
            best
        }
        for (threshold, num_perm) in [
            (0.3, 32),
            (0.55, 24),
            (0.8, 40),
            (0.95, 16),
            (0.0, 8),
            (1.0, 8),
        ] {
            assert_eq!(
                search_params(threshold, num_perm, 0.5, 0.5),
                plain(threshold, num_perm),
                "{threshold} {num_perm}"
            );
        }
    }

    #[test]
    fn known_params_are_what_the_search_finds() {
        assert_eq!(crate::DEFAULT_THRESHOLD, KNOWN_PARAMS[0].0);
        assert_eq!(crate::pipeline::LOOSE_THRESHOLD, KNOWN_PARAMS[1].0);
        for (threshold, params) in KNOWN_PARAMS {
            let found = search_params(threshold, crate::DEFAULT_NUM_PERM, 0.5, 0.5);
            assert_eq!(found, params, "{threshold}");
        }
    }

    /// The values datasketch 2.0.0 (`_optimal_param` with scipy's quad) gives for 128 permutations.
    #[test]
    fn band_row_choice_matches_datasketch() {
        for (threshold, bands, rows) in [
            (0.3, 37, 3),
            (0.5, 25, 5),
            (0.7, 14, 9),
            (0.8, 9, 13),
            (0.9, 5, 25),
        ] {
            assert_eq!(
                search_params(threshold, 128, 0.5, 0.5),
                LshParams { bands, rows },
                "threshold {threshold}"
            );
        }
    }

    /// The key is xxh3 of the band's values as little-endian bytes, seeded with the band number,
    /// whichever path computes it: indexes on disk hold these keys.
    #[test]
    fn band_key_hashes_the_band_bytes() {
        let signature: Vec<u32> = (0..128u32)
            .map(|i| i.wrapping_mul(0x9E37_79B9) ^ 0xdead)
            .collect();
        for rows in [1, 2, 3, 7, 15, 16, 17, 32, 64] {
            for band in 0..128 / rows {
                let bytes: Vec<u8> = signature[band * rows..(band + 1) * rows]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                let expected = xxh3_64_with_seed(&bytes, band as u64);
                assert_eq!(band_key(&signature, band, rows), expected, "rows {rows}");
            }
        }
    }

    #[test]
    fn candidates_are_the_pairs_that_share_a_band() {
        // Random signatures, and copies that keep some of their original's bands.
        let (num_perm, rows, n) = (16, 4, 3000);
        let mut state = 0xba4d;
        let mut values: Vec<u32> = Vec::new();
        for doc in 0..n {
            let copy_of = (doc % 3 == 2).then(|| doc - 1 - (doc % 7).min(doc - 1));
            for i in 0..num_perm {
                let fresh = crate::minhash::splitmix64(&mut state) as u32;
                let kept = copy_of.filter(|_| (i / rows) % 2 == doc % 2);
                values.push(kept.map_or(fresh, |original| values[original * num_perm + i]));
            }
        }
        let signatures = Signatures::new(num_perm, values);
        let docs: Vec<u32> = (0..n as u32).collect();
        let params = LshParams { bands: 4, rows };
        let mut expected = Vec::new();
        for band in 0..params.bands {
            let mut keyed: Vec<(u64, u32)> = docs
                .iter()
                .map(|&doc| (band_key(signatures.get(doc as usize), band, rows), doc))
                .collect();
            keyed.sort_unstable();
            for bucket in keyed.chunk_by(|x, y| x.0 == y.0) {
                for (i, &(_, a)) in bucket.iter().enumerate() {
                    expected.extend(bucket[i + 1..].iter().map(|&(_, b)| (a.min(b), a.max(b))));
                }
            }
        }
        expected.sort_unstable();
        expected.dedup();
        assert!(expected.len() > n / 3, "{} pairs", expected.len());
        assert_eq!(candidate_pairs(&signatures, &docs, params), expected);
    }

    #[test]
    fn hot_bucket_is_not_quadratic() {
        let n = 5000;
        let values: Vec<u32> = (0..n).flat_map(|i| [7, 7, i as u32, 1]).collect();
        let signatures = Signatures::new(4, values);
        let docs: Vec<u32> = (0..n as u32).collect();
        let pairs = candidate_pairs(&signatures, &docs, LshParams { bands: 1, rows: 2 });
        assert!(pairs.len() <= n * HOT_WINDOW, "{} pairs", pairs.len());
        assert!(pairs.len() >= n - 1);
    }
}
