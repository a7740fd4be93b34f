//! Boilerplate: lines that recur across unrelated articles ("Subscribe to our newsletter"), so
//! that signatures can leave them out.
//!
//! The rule ([`find_boilerplate`]): articles are grouped loosely (Jaccard ≥ [`LOOSE_THRESHOLD`]),
//! which puts wire copies of one story together even when each carries another site's header
//! and footer; a line that recurs in at least `min_groups` *different* loose groups is
//! boilerplate. A story's own paragraphs, repeated only by that story's copies, are not.
//!
//! The rule needs every article's signature, so the first pass cannot know the final lines
//! while it signs. It guesses instead ([`ProvisionalLines`]): after each batch it learns the
//! lines that already recur in several unrelated articles of the batch, re-signs the batch's
//! articles that carry them, and skips them in every later batch. Once the final lines are
//! known, only the articles whose skipped lines differ between the guess and the final set
//! ([`stale_signatures`]) are signed again: the final signatures are exactly those of the
//! final lines, guessed well or not; a good guess (a site's boilerplate shows in the first
//! batch that carries the site) saves signing nearly every article twice.
//!
//! This module does not read, tokenize or sign: it decides which lines to skip.

use ahash::AHashMap;
use rayon::prelude::*;

use crate::cluster;
use crate::lsh;
use crate::minhash::{estimate, Signatures};
use crate::text::BoilerplateLines;

/// The Jaccard at which articles are grouped to tell boilerplate from a story's own text.
/// Low on purpose: a wire copy must join its original here even with heavy boilerplate.
pub const LOOSE_THRESHOLD: f64 = 0.3;

/// Lines that recur in at least `min_groups` different loose groups, over all articles
/// (`line_hashes` gives each article's line hashes, in signature order).
pub fn find_boilerplate<'h>(
    signatures: &Signatures,
    line_hashes: impl ExactSizeIterator<Item = &'h [u64]>,
    min_groups: usize,
) -> BoilerplateLines {
    let n = line_hashes.len();
    if n < min_groups.max(2) {
        return BoilerplateLines::default();
    }
    let group_of = loose_groups(signatures);
    let mut line_groups: Vec<(u64, u32)> = Vec::new();
    for (doc, lines) in line_hashes.enumerate() {
        let group = group_of[doc];
        line_groups.extend(lines.iter().map(|&line| (line, group)));
    }
    line_groups.par_sort_unstable();
    line_groups.dedup();
    let boilerplate = line_groups
        .chunk_by(|x, y| x.0 == y.0)
        .filter(|run| run.len() >= min_groups)
        .map(|run| run[0].0);
    BoilerplateLines::new(boilerplate)
}

/// Each article's loose group (named by its smallest member): the connected components of the
/// candidate pairs of the loose LSH whose estimated Jaccard is at least [`LOOSE_THRESHOLD`]
/// (joined as met, see [`lsh::join_similar`]).
fn loose_groups(signatures: &Signatures) -> Vec<u32> {
    let n = signatures.len();
    let docs: Vec<u32> = (0..n as u32).collect();
    let params = lsh::optimal_params(LOOSE_THRESHOLD, signatures.num_perm(), 0.5, 0.5);
    let sets = cluster::ConcurrentUnionFind::new(n);
    lsh::join_similar(signatures, &docs, params, LOOSE_THRESHOLD, &sets);
    sets.labels()
}

/// Above this `min_groups` nothing is guessed (the final rule alone decides): a line's articles
/// are compared with up to `min_groups - 1` others each, which a huge setting would make
/// quadratic in a batch.
const MAX_GUESSED_GROUPS: usize = 64;

/// The first pass's guess at the boilerplate lines, grown batch by batch: lines are added,
/// never removed, and each remembers when it was added, so that the lines an article was
/// signed without are known from the guess's size at the time ([`ProvisionalLines::len`]).
#[derive(Debug, Default)]
pub struct ProvisionalLines {
    lines: BoilerplateLines,
    /// Each line's place in the order the lines were added.
    added: AHashMap<u64, u32>,
    /// Lines not yet guessed, seen in more than one but fewer than enough mutually dissimilar
    /// articles: those articles' numbers among all signed articles.
    pending: AHashMap<u64, Vec<u32>>,
}

impl ProvisionalLines {
    /// The lines to skip while signing, `None` while there are none.
    pub fn skip(&self) -> Option<&BoilerplateLines> {
        (!self.lines.is_empty()).then_some(&self.lines)
    }

    /// Lines guessed so far.
    pub fn len(&self) -> u32 {
        self.added.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
    }

    /// Whether `line` was among the first `known` lines guessed.
    pub fn guessed_within(&self, line: u64, known: u32) -> bool {
        self.added.get(&line).is_some_and(|&place| place < known)
    }

    /// Learns from one batch (signed without the lines guessed so far): a line not yet guessed
    /// that shows in at least `min_groups` mutually dissimilar articles (Jaccard below
    /// [`LOOSE_THRESHOLD`] to each other), of this batch and of the earlier ones that left it
    /// pending, is added. Returns the lines added, in the order added.
    ///
    /// Each line's articles are compared with the line's first dissimilar articles only, never
    /// all pairs: at most `min_groups - 1` comparisons an article. A line seen in fewer
    /// dissimilar articles than needed, but more than one, stays pending with those articles
    /// (at most `MAX_PENDING_LINES` lines): a site seen twice in one batch and once in the
    /// next is guessed there, not only in a batch that holds three of its articles.
    pub fn learn(&mut self, batch: &LearnBatch, min_groups: usize) -> Vec<u64> {
        let min_groups = min_groups.max(2);
        if min_groups > MAX_GUESSED_GROUPS {
            return Vec::new();
        }
        let mut places: Vec<(u64, u32)> = batch
            .lines
            .iter()
            .enumerate()
            .flat_map(|(doc, lines)| lines.iter().map(move |&line| (line, doc as u32)))
            .filter(|&(line, _)| !self.lines.contains(line))
            .collect();
        places.par_sort_unstable();
        places.dedup();
        let mut new = Vec::new();
        for run in places.chunk_by(|x, y| x.0 == y.0) {
            let line = run[0].0;
            let carried = self.pending.get(&line);
            if run.len() < 2 && carried.is_none() {
                continue;
            }
            let mut unrelated: Vec<Rep> = carried
                .map(|docs| docs.iter().map(|&doc| Rep::Earlier(doc)).collect())
                .unwrap_or_default();
            let before = unrelated.len();
            for &(_, doc) in run {
                let here = batch.signature(Rep::Here(doc));
                let related = unrelated
                    .iter()
                    .any(|&other| estimate(here, batch.signature(other)) >= LOOSE_THRESHOLD);
                if !related {
                    unrelated.push(Rep::Here(doc));
                    if unrelated.len() >= min_groups {
                        break;
                    }
                }
            }
            if unrelated.len() >= min_groups {
                self.pending.remove(&line);
                new.push(line);
            } else if unrelated.len() > before.max(1) {
                self.keep_pending(line, &unrelated, batch);
            }
        }
        for &line in &new {
            self.added.insert(line, self.added.len() as u32);
        }
        self.lines.extend(new.iter().copied());
        new
    }

    /// Keeps `line` pending with its dissimilar articles, as numbers among all signed articles.
    fn keep_pending(&mut self, line: u64, unrelated: &[Rep], batch: &LearnBatch) {
        if self.pending.len() >= MAX_PENDING_LINES && !self.pending.contains_key(&line) {
            return;
        }
        let docs = unrelated
            .iter()
            .filter_map(|&rep| match rep {
                Rep::Earlier(doc) => Some(doc),
                Rep::Here(doc) => batch.numbers[doc as usize],
            })
            .collect();
        self.pending.insert(line, docs);
    }
}

/// Lines kept pending at most (see [`ProvisionalLines::learn`]): a few bytes and two article
/// numbers each.
const MAX_PENDING_LINES: usize = 1 << 16;

/// One batch of the first pass, as [`ProvisionalLines::learn`] reads it.
pub struct LearnBatch<'a> {
    /// Values per signature.
    pub k: usize,
    /// The batch's signatures, article after article.
    pub signatures: &'a [u32],
    /// Each batch article's line hashes (empty for an article without words).
    pub lines: &'a [&'a [u64]],
    /// Each batch article's number among all the articles signed (`None` for one without
    /// words, which is not kept).
    pub numbers: &'a [Option<u32>],
    /// The signatures of the articles of the earlier batches, by number.
    pub earlier: &'a [u32],
}

/// An article of a line's: of this batch (its place) or of an earlier one (its number).
#[derive(Debug, Clone, Copy)]
enum Rep {
    Here(u32),
    Earlier(u32),
}

impl LearnBatch<'_> {
    fn signature(&self, rep: Rep) -> &[u32] {
        let (values, doc) = match rep {
            Rep::Here(doc) => (self.signatures, doc as usize),
            Rep::Earlier(doc) => (self.earlier, doc as usize),
        };
        &values[doc * self.k..(doc + 1) * self.k]
    }
}

/// Which articles' first-pass signatures are not those of the final boilerplate lines.
#[derive(Debug, Default)]
pub struct StaleSignatures {
    /// Per article: signed without other lines than the final set says.
    pub stale: Vec<bool>,
    /// Articles that have final boilerplate lines and other lines with words.
    pub with_boilerplate: usize,
}

/// Compares, article by article, the lines skipped when it was signed (the first `known[doc]`
/// lines of `provisional`) with the lines the final set skips. Both are taken as signing takes
/// them: an article made of nothing but skipped lines is signed whole.
pub fn stale_signatures<'h>(
    line_hashes: impl IndexedParallelIterator<Item = &'h [u64]>,
    last: &BoilerplateLines,
    provisional: &ProvisionalLines,
    known: &[u32],
) -> StaleSignatures {
    let articles: Vec<(bool, bool)> = line_hashes
        .zip(known.par_iter())
        .map(|(lines, &known)| {
            compare_skipped(
                lines,
                |line| provisional.guessed_within(line, known),
                |line| last.contains(line),
            )
        })
        .collect();
    StaleSignatures {
        with_boilerplate: articles.iter().filter(|&&(_, some)| some).count(),
        stale: articles.into_iter().map(|(stale, _)| stale).collect(),
    }
}

/// Whether signing skips different lines of an article (`lines`) under two sets of boilerplate
/// lines (`signed` and `wanted` say whether a line is in each), and whether it skips any under
/// `wanted`. A set that holds every line of the article skips none: it is then signed whole.
fn compare_skipped(
    lines: &[u64],
    signed: impl Fn(u64) -> bool,
    wanted: impl Fn(u64) -> bool,
) -> (bool, bool) {
    let (mut any, mut all, mut differ) = ([false; 2], [true; 2], false);
    for &line in lines {
        let marked = [signed(line), wanted(line)];
        for set in 0..2 {
            any[set] |= marked[set];
            all[set] &= marked[set];
        }
        differ |= marked[0] != marked[1];
    }
    let skips = [any[0] && !all[0], any[1] && !all[1]];
    let stale = match skips {
        [false, false] => false,
        [true, true] => differ,
        _ => true,
    };
    (stale, skips[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature of `k` values: `shared` of them common to every signature made with the same
    /// `family`, the rest unique to `id`.
    fn signature(k: usize, family: u32, shared: usize, id: u32) -> Vec<u32> {
        (0..k as u32)
            .map(|i| {
                if (i as usize) < shared {
                    family * 1000 + i
                } else {
                    1_000_000 + id * 1000 + i
                }
            })
            .collect()
    }

    /// A first batch (nothing earlier), its articles numbered by `numbers`.
    fn batch<'a>(
        k: usize,
        signatures: &'a [u32],
        lines: &'a [&'a [u64]],
        numbers: &'a [Option<u32>],
    ) -> LearnBatch<'a> {
        LearnBatch {
            k,
            signatures,
            lines,
            numbers,
            earlier: &[],
        }
    }

    /// Every article numbered by its place.
    fn numbered(articles: usize) -> Vec<Option<u32>> {
        (0..articles as u32).map(Some).collect()
    }

    #[test]
    fn loose_groups_are_the_components_of_the_verified_candidate_pairs() {
        // Families of signatures sharing 30 to 100 of 128 values (Jaccard of the estimate
        // from ~0.13 to ~0.6): some families join loosely, some do not, some only by chains.
        let k = crate::DEFAULT_NUM_PERM;
        let mut values = Vec::new();
        for id in 0..3_000u32 {
            let family = id % 97;
            let shared = 30 + (id as usize * 7) % 71;
            values.extend(signature(k, family, shared, id));
        }
        let signatures = Signatures::new(k, values);
        let n = signatures.len();
        let docs: Vec<u32> = (0..n as u32).collect();
        let params = lsh::optimal_params(LOOSE_THRESHOLD, k, 0.5, 0.5);
        let mut reference = cluster::UnionFind::new(n);
        for (a, b) in lsh::candidate_pairs(&signatures, &docs, params) {
            if signatures.similarity(a as usize, b as usize) >= LOOSE_THRESHOLD {
                reference.union(a, b);
            }
        }
        let groups = loose_groups(&signatures);
        let mut smallest = vec![u32::MAX; n];
        for doc in 0..n as u32 {
            let root = reference.find(doc) as usize;
            smallest[root] = smallest[root].min(doc);
        }
        for doc in 0..n as u32 {
            assert_eq!(groups[doc as usize], smallest[reference.find(doc) as usize]);
        }
        let distinct: std::collections::BTreeSet<u32> = groups.iter().copied().collect();
        assert!(
            distinct.len() > 97 && distinct.len() < n / 2,
            "some articles join, not all: {} groups",
            distinct.len()
        );
    }

    #[test]
    fn a_line_seen_twice_in_one_batch_and_once_in_the_next_is_learned() {
        let k = 16;
        const SITE: u64 = 77;
        let first: Vec<u32> = (0..3).flat_map(|id| signature(k, id, 0, id)).collect();
        // Twice among unrelated articles, and in a copy of one of them: not enough yet.
        let first_lines: Vec<&[u64]> = vec![&[SITE, 1], &[SITE, 2], &[SITE, 1]];
        let mut copies = first.clone();
        copies[2 * k..].copy_from_slice(&first[..k]);
        let mut guess = ProvisionalLines::default();
        assert!(guess
            .learn(&batch(k, &copies, &first_lines, &numbered(3)), 3)
            .is_empty());
        // The next batch: one more unrelated article (numbered after the first batch's three).
        let second = signature(k, 9, 0, 9);
        let second_lines: Vec<&[u64]> = vec![&[SITE, 3]];
        let next = LearnBatch {
            k,
            signatures: &second,
            lines: &second_lines,
            numbers: &[Some(3)],
            earlier: &copies,
        };
        assert_eq!(guess.learn(&next, 3), vec![SITE]);
        // A copy of an article already counted does not count again.
        let mut guess = ProvisionalLines::default();
        guess.learn(&batch(k, &copies, &first_lines, &numbered(3)), 3);
        let copy_next = LearnBatch {
            signatures: &copies[..k],
            ..next
        };
        assert!(guess.learn(&copy_next, 3).is_empty());
    }

    #[test]
    fn a_line_in_unrelated_articles_is_learned_a_line_in_copies_is_not() {
        let k = 16;
        // Articles 0-3: four copies of one story (identical signatures); 4-6: unrelated.
        let mut signatures = Vec::new();
        for _ in 0..4 {
            signatures.extend(signature(k, 1, k, 0));
        }
        for id in 4..7 {
            signatures.extend(signature(k, id, 0, id));
        }
        const STORY_LINE: u64 = 11;
        const FOOTER: u64 = 99;
        let copy: &[u64] = &[STORY_LINE, 12];
        let lines: Vec<&[u64]> = vec![
            copy,
            copy,
            copy,
            copy,
            &[FOOTER, 41],
            &[FOOTER, 51],
            &[FOOTER, 61],
        ];
        let mut guess = ProvisionalLines::default();
        assert_eq!(
            guess.learn(&batch(k, &signatures, &lines, &numbered(lines.len())), 3),
            vec![FOOTER]
        );
        assert!(guess.guessed_within(FOOTER, 1));
        assert!(!guess.guessed_within(FOOTER, 0));
        assert!(!guess.guessed_within(STORY_LINE, 1));
        // Learned once: the same batch again adds nothing.
        assert!(guess
            .learn(&batch(k, &signatures, &lines, &numbered(lines.len())), 3)
            .is_empty());
        assert_eq!(guess.len(), 1);
    }

    #[test]
    fn nothing_is_guessed_for_a_huge_group_count() {
        let k = 4;
        let signatures: Vec<u32> = (0..200).flat_map(|id| signature(k, id, 0, id)).collect();
        let lines: Vec<&[u64]> = vec![&[7]; 200];
        let mut guess = ProvisionalLines::default();
        assert_eq!(
            guess.learn(&batch(k, &signatures, &lines, &numbered(lines.len())), 100),
            Vec::<u64>::new()
        );
        assert_eq!(
            guess.learn(&batch(k, &signatures, &lines, &numbered(lines.len())), 50),
            vec![7]
        );
    }

    #[test]
    fn a_line_in_fewer_unrelated_articles_than_needed_is_not_learned() {
        let k = 16;
        let mut signatures = Vec::new();
        for id in 0..2 {
            signatures.extend(signature(k, id, 0, id));
        }
        let lines: Vec<&[u64]> = vec![&[5, 6], &[5, 7]];
        let mut guess = ProvisionalLines::default();
        assert!(guess
            .learn(&batch(k, &signatures, &lines, &numbered(lines.len())), 3)
            .is_empty());
        assert!(guess.skip().is_none());
    }

    #[test]
    fn stale_where_the_guess_and_the_final_lines_differ() {
        let mut guess = ProvisionalLines::default();
        let k = 4;
        let mut signatures = Vec::new();
        for id in 0..3 {
            signatures.extend(signature(k, id, 0, id));
        }
        let lines: Vec<&[u64]> = vec![&[1, 10], &[1, 20], &[1, 30]];
        assert_eq!(
            guess.learn(&batch(k, &signatures, &lines, &numbered(lines.len())), 3),
            vec![1]
        );
        let last = BoilerplateLines::new([1, 2]);
        let articles: Vec<&[u64]> = vec![
            &[1, 10],  // signed after the guess: skipped line 1, as the final set does
            &[1, 10],  // signed before the guess: line 1 was not skipped
            &[2, 10],  // line 2 was never guessed
            &[1, 2],   // signed without line 1; the final set skips every line: signed whole
            &[1],      // nothing but boilerplate under both sets: signed whole both times
            &[10, 20], // no boilerplate
        ];
        let known = [1, 0, 1, 1, 1, 1];
        let result = stale_signatures(articles.into_par_iter(), &last, &guess, &known);
        assert_eq!(result.stale, [false, true, true, true, false, false]);
        assert_eq!(result.with_boilerplate, 3);
    }
}
