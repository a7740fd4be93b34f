//! Stories in the index, batch by batch: a batch's new dup groups are first clustered among
//! themselves as `cluster` clusters them (`story::stories_of_vectors`); each story so formed
//! then joins the stored story its groups are most similar to on average (group-average
//! linkage, the criterion `cluster` uses), or stays a new story. Stored stories merge only when
//! a dup group grows over groups of two stories; the merge is recorded (old id → new id), ids
//! are never renumbered.
//!
//! Key-term vectors are TF-IDF over dup groups, like `story::tfidf_vectors`, with document
//! frequencies counted over every group the index has created so far. A stored group keeps the
//! raw scores of its heaviest [`VECTOR_TERMS`] terms, weighed with the current document
//! frequencies whenever it is read.
//! After placement, each story the batch touched is refined as `cluster` refines stories
//! (`story::refine`: in-story document frequencies split two events of one kind); a part made
//! only of this batch's groups moves to a new story, while groups stored by earlier batches keep
//! their story (issued ids do not change). Not supported: `--story-window`.

use ahash::{AHashMap, AHashSet};
use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;
use crate::story::TermVector;

use super::store;

/// Terms kept per stored group vector (the heaviest; the file would grow by 12 bytes a term).
pub const VECTOR_TERMS: usize = 128;
/// A new group's candidates come from the stored groups sharing one of its heaviest terms.
const CANDIDATE_TERMS: usize = 10;
/// Per term, the most recent groups that are candidates (hot terms are capped). 16 → 64 raised
/// story B-cubed F1 on 100,000 generated articles added in 10 batches 0.718 → 0.736 and in 2
/// batches 0.857 → 0.867, for ~7% more time; the labelled sets did not change.
const GROUPS_PER_TERM: usize = 64;
/// Candidate groups scored per new group (those sharing the most heavy terms).
const CANDIDATE_GROUPS: usize = 8;

/// New groups join a stored story only if their group-average linkage to it reaches the story
/// threshold times this. A stored story is never split again (its groups keep their story), so
/// a join that the batch linkage would later have undone by refinement is final here. Measured
/// (story B-cubed F1, 10 batches): 1.2 raised 20,000 generated articles 0.816 → 0.857 and
/// 100,000 0.736 → 0.759 (2 batches 0.867 → 0.872), and left ecbplus-dev, gvc-dev and the demo
/// unchanged at 3 and 10 batches; 1.5 cost gvc-dev and the demo 0.01.
pub const JOIN_MARGIN: f64 = 1.2;

/// At most this many of a story's stored groups are scanned for a new group that joined it
/// without a candidate of its own in it (see [`recent_stored_groups`]).
const FALLBACK_GROUPS: usize = 1024;

/// Stories with more groups than this are not refined (all pairs would be too many).
const MAX_REFINE_GROUPS: usize = 60;

/// Smoothed inverse document frequency, as in `story`: a term in every group still weighs 1.
fn idf(groups: f32, df: f32) -> f32 {
    (groups / df.max(1.0)).ln() + 1.0
}

/// A group's key terms as stored: the mean raw scores of its [`VECTOR_TERMS`] heaviest terms
/// (by TF-IDF when stored), sorted by term. Weighed again with the current document frequencies
/// whenever it is read, so that groups stored when the index was small do not keep the IDF of
/// that time.
pub type RawTerms = TermVector;

/// TF-IDF of raw scores, L2-normalized, sorted by term.
pub fn weigh(raw: &RawTerms, df: &dyn Fn(u64) -> u32, groups: u64) -> TermVector {
    let groups = groups.max(1) as f32;
    let vector: TermVector = raw
        .iter()
        .map(|&(term, score)| {
            (
                term,
                (1.0 + score).ln() * idf(groups, df(term).max(1) as f32),
            )
        })
        .collect();
    normalize(vector)
}

/// The raw terms to store for mean scores `scores` (sorted by term): the heaviest
/// [`VECTOR_TERMS`] by TF-IDF.
pub fn kept_terms(scores: &[(u64, f32)], df: &AHashMap<u64, u32>, groups: u64) -> RawTerms {
    let lookup = |term| df.get(&term).copied().unwrap_or(1);
    let weights = weigh(&scores.to_vec(), &lookup, groups);
    if weights.len() <= VECTOR_TERMS {
        return scores.to_vec();
    }
    let mut ranked = weights;
    ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let keep: ahash::AHashSet<u64> = ranked.iter().take(VECTOR_TERMS).map(|&(t, _)| t).collect();
    scores
        .iter()
        .filter(|(term, _)| keep.contains(term))
        .copied()
        .collect()
}

/// Mean raw scores of a grown group: stored raw terms weighted by their group sizes, plus the
/// new members' scores (each weight 1), sorted by term.
pub fn mean_scores(parts: &[(f32, &[(u64, f32)])]) -> Vec<(u64, f32)> {
    let total: f32 = parts.iter().map(|(weight, _)| weight).sum();
    let mut sum: AHashMap<u64, f32> = AHashMap::new();
    for (weight, scores) in parts {
        for &(term, score) in scores.iter() {
            *sum.entry(term).or_default() += weight * score / total.max(1.0);
        }
    }
    let mut scores: Vec<(u64, f32)> = sum.into_iter().collect();
    scores.sort_unstable_by_key(|&(term, _)| term);
    scores
}

/// Sorted by term, with unit length.
pub fn normalize(mut vector: TermVector) -> TermVector {
    vector.sort_unstable_by_key(|&(term, _)| term);
    crate::story::normalize(&mut vector);
    vector
}

/// The terms a new group is found by: its heaviest, ties by term.
pub fn heavy_terms(vector: &TermVector) -> Vec<u64> {
    let mut ranked = vector.clone();
    ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .iter()
        .take(CANDIDATE_TERMS)
        .map(|&(term, _)| term)
        .collect()
}

fn dot(a: &TermVector, b: &AHashMap<u64, f32>) -> f64 {
    a.iter()
        .filter_map(|(term, w)| b.get(term).map(|v| (*w as f64) * (*v as f64)))
        .sum()
}

/// Cosine of two unit vectors sorted by term.
pub fn cosine(a: &TermVector, b: &TermVector) -> f64 {
    crate::story::cosine(a, b) as f64
}

/// New groups placed in a story together (a story the batch formed among its own groups): the
/// sum of their vectors, sorted by term, and how many they are.
#[derive(Debug, Clone, Default)]
pub struct NewGroups {
    pub sum: TermVector,
    pub count: usize,
}

impl NewGroups {
    /// One group on its own.
    pub fn one(vector: &TermVector) -> Self {
        NewGroups {
            sum: vector.clone(),
            count: 1,
        }
    }

    /// The groups of `vectors` (each sorted by term) together.
    pub fn of<'v>(vectors: impl IntoIterator<Item = &'v TermVector>) -> Self {
        let mut sum: AHashMap<u64, f32> = AHashMap::new();
        let mut count = 0;
        for vector in vectors {
            count += 1;
            for &(term, w) in vector {
                *sum.entry(term).or_default() += w;
            }
        }
        let mut sum: TermVector = sum.into_iter().collect();
        sum.sort_unstable_by_key(|&(term, _)| term);
        NewGroups { sum, count }
    }
}

/// A stored group as story scoring needs it.
#[derive(Debug, Clone)]
pub struct GroupVector {
    pub dup: i64,
    pub canonical_seq: i64,
    pub vector: TermVector,
}

/// One story's groups and the sum of their vectors (group-average linkage is a dot product with
/// the sum, divided by the number of groups).
#[derive(Debug, Default, Clone)]
pub struct StorySum {
    pub groups: Vec<GroupVector>,
    pub sum: AHashMap<u64, f32>,
    /// Position in `groups` by dup id.
    position: AHashMap<i64, usize>,
}

impl StorySum {
    pub fn add(&mut self, group: GroupVector) {
        for &(term, w) in &group.vector {
            *self.sum.entry(term).or_default() += w;
        }
        self.position.insert(group.dup, self.groups.len());
        self.groups.push(group);
    }

    /// Takes a group out (its vector leaves the sum).
    pub fn remove(&mut self, dup: i64) {
        let Some(i) = self.position.remove(&dup) else {
            return;
        };
        let group = self.groups.swap_remove(i);
        if let Some(moved) = self.groups.get(i) {
            self.position.insert(moved.dup, i);
        }
        for (term, w) in group.vector {
            if let Some(total) = self.sum.get_mut(&term) {
                *total -= w;
            }
        }
    }

    pub fn group(&self, dup: i64) -> Option<&GroupVector> {
        self.position.get(&dup).map(|&i| &self.groups[i])
    }

    /// Mean cosine between `vector` and the story's groups.
    pub fn average(&self, vector: &TermVector) -> f64 {
        if self.groups.is_empty() {
            return 0.0;
        }
        dot(vector, &self.sum) / self.groups.len() as f64
    }

    /// Mean cosine over all pairs of one new group and one of the story's groups
    /// (group-average linkage between the new groups and the story).
    pub fn average_of(&self, new: &NewGroups) -> f64 {
        if new.count == 0 {
            return 0.0;
        }
        self.average(&new.sum) / new.count as f64
    }
}

/// A new group's candidate groups and their stories.
#[derive(Debug, Default)]
pub struct Candidates {
    pub groups: Vec<i64>,
    pub stories: Vec<i64>,
}

/// Reads stories and groups for scoring, within the add transaction (it sees the batch's own
/// writes), remembering story sums until a story changes.
pub struct StoryReader<'c> {
    conn: &'c Connection,
    path: &'c std::path::Path,
    sums: AHashMap<i64, StorySum>,
    /// Groups read into `sums` since it was last emptied (bounds its memory).
    read_groups: usize,
    /// Document frequencies known so far (the batch's, then stored ones as they are read).
    df: AHashMap<u64, u32>,
    groups: u64,
}

/// Story sums are forgotten (and read again when needed) once this many groups were read.
const MAX_READ_GROUPS: usize = 200_000;

impl<'c> StoryReader<'c> {
    /// A reader that weighs stored terms with `df` (falling back to `term_df`) over `groups`.
    pub fn new(
        conn: &'c Connection,
        path: &'c std::path::Path,
        df: AHashMap<u64, u32>,
        groups: u64,
    ) -> Self {
        StoryReader {
            conn,
            path,
            sums: AHashMap::new(),
            read_groups: 0,
            df,
            groups,
        }
    }

    /// The TF-IDF vector of raw terms under the current document frequencies.
    pub fn weigh(&mut self, raw: &RawTerms) -> Result<TermVector> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT df FROM term_df WHERE term = ?1")
            .map_err(|e| store::sql_error(self.path, e))?;
        for &(term, _) in raw {
            if self.df.contains_key(&term) {
                continue;
            }
            let stored: Option<i64> = statement
                .query_row([store::to_sql(term)], |row| row.get(0))
                .optional()
                .map_err(|e| store::sql_error(self.path, e))?;
            self.df.insert(term, stored.unwrap_or(0) as u32);
        }
        let df = &self.df;
        Ok(weigh(
            raw,
            &|term| df.get(&term).copied().unwrap_or(1),
            self.groups,
        ))
    }

    /// The live groups (not merged away) of a story, with their vectors.
    pub fn story(&mut self, story: i64) -> Result<&StorySum> {
        if !self.sums.contains_key(&story) {
            let mut statement = self
                .conn
                .prepare_cached(
                    "SELECT dup, canonical_seq, vector FROM dup_groups \
                     WHERE story = ?1 AND merged_into IS NULL ORDER BY dup",
                )
                .map_err(|e| store::sql_error(self.path, e))?;
            let rows = statement
                .query_map([story], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        store::decode_vector(&row.get::<_, Vec<u8>>(2)?),
                    ))
                })
                .map_err(|e| store::sql_error(self.path, e))?;
            let rows: Vec<(i64, i64, RawTerms)> = rows
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| store::sql_error(self.path, e))?;
            drop(statement);
            self.read_groups += rows.len();
            let mut sum = StorySum::default();
            for (dup, canonical_seq, raw) in rows {
                sum.add(GroupVector {
                    dup,
                    canonical_seq,
                    vector: self.weigh(&raw)?,
                });
            }
            self.sums.insert(story, sum);
        }
        Ok(&self.sums[&story])
    }

    /// Forgets every story sum once too many groups were read (bounds memory on very large
    /// batches). Called between groups, never while one group's stories are compared.
    pub fn trim(&mut self) {
        if self.read_groups > MAX_READ_GROUPS {
            self.sums.clear();
            self.read_groups = 0;
        }
    }

    /// Records that `group` joined `story` (keeps a remembered sum current).
    pub fn joined(&mut self, story: i64, group: GroupVector) {
        if let Some(sum) = self.sums.get_mut(&story) {
            sum.add(group);
        }
    }

    /// Records that the groups `removed` of `story` became `group` (a grown or merged dup
    /// group).
    pub fn replaced(&mut self, story: i64, removed: &[i64], group: GroupVector) {
        if let Some(sum) = self.sums.get_mut(&story) {
            for &dup in removed {
                sum.remove(dup);
            }
            sum.remove(group.dup);
            sum.add(group);
        }
    }

    /// Records that story `old` merged into `survivor`.
    pub fn merged(&mut self, old: i64, survivor: i64) {
        let old_sum = self.sums.remove(&old);
        match (old_sum, self.sums.get_mut(&survivor)) {
            (Some(old_sum), Some(sum)) => {
                for group in old_sum.groups {
                    sum.add(group);
                }
            }
            _ => {
                self.sums.remove(&survivor);
            }
        }
    }

    /// Forgets a story whose groups changed in a way not tracked here.
    pub fn forget(&mut self, story: i64) {
        self.sums.remove(&story);
    }

    /// The live group a stored group id now is (following dup merges), and its story.
    pub fn live_group(&self, mut dup: i64) -> Result<Option<(i64, i64)>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT story, merged_into FROM dup_groups WHERE dup = ?1")
            .map_err(|e| store::sql_error(self.path, e))?;
        for _ in 0..64 {
            let row: Option<(i64, Option<i64>)> = statement
                .query_row([dup], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map_err(|e| store::sql_error(self.path, e))?;
            match row {
                None => return Ok(None),
                Some((story, None)) => return Ok(Some((dup, story))),
                Some((_, Some(next))) => dup = next,
            }
        }
        Ok(None)
    }

    /// Stored groups with ids below `below` sharing the most heavy terms with `vector`, best
    /// first.
    pub fn candidate_groups(&self, vector: &TermVector, below: i64) -> Result<Vec<i64>> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT dup FROM term_groups WHERE term = ?1 AND dup < ?2 ORDER BY dup DESC \
                 LIMIT {GROUPS_PER_TERM}"
            ))
            .map_err(|e| store::sql_error(self.path, e))?;
        let mut shared: AHashMap<i64, u32> = AHashMap::new();
        for term in heavy_terms(vector) {
            let rows = statement
                .query_map((store::to_sql(term), below), |row| row.get::<_, i64>(0))
                .map_err(|e| store::sql_error(self.path, e))?;
            for dup in rows {
                let dup = dup.map_err(|e| store::sql_error(self.path, e))?;
                *shared.entry(dup).or_default() += 1;
            }
        }
        let mut ranked: Vec<(i64, u32)> = shared.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        ranked.truncate(CANDIDATE_GROUPS);
        Ok(ranked.into_iter().map(|(dup, _)| dup).collect())
    }

    /// The candidate groups of `vector` among the groups with ids below `below` (live ids),
    /// and their distinct stories, in candidate order.
    pub fn candidates(&self, vector: &TermVector, below: i64) -> Result<Candidates> {
        let mut found = Candidates::default();
        let mut seen = AHashSet::new();
        for dup in self.candidate_groups(vector, below)? {
            let Some((live, story)) = self.live_group(dup)? else {
                continue;
            };
            found.groups.push(live);
            if seen.insert(story) {
                found.stories.push(story);
            }
        }
        Ok(found)
    }
}

/// Where new groups go: the candidate story with the best group-average linkage to them, at or
/// above the story threshold times [`JOIN_MARGIN`], if any.
pub fn best_story(
    reader: &mut StoryReader<'_>,
    new: &NewGroups,
    candidates: &[i64],
    story_threshold: f64,
) -> Result<Option<(i64, f64)>> {
    let threshold = story_threshold * JOIN_MARGIN;
    let mut best: Option<(i64, f64)> = None;
    for &story in candidates {
        let score = reader.story(story)?.average_of(new);
        let better = match best {
            None => true,
            Some((best_story, best_score)) => {
                score > best_score || (score == best_score && story < best_story)
            }
        };
        if score >= threshold && better {
            best = Some((story, score));
        }
    }
    Ok(best)
}

/// Among `candidates` (dup ids), the group of the story most similar to `vector`: (its dup id,
/// cosine).
pub fn closest_group(
    sum: &StorySum,
    candidates: &[i64],
    vector: &TermVector,
) -> Option<(i64, f64)> {
    let mut best: Option<(i64, f64)> = None;
    for group in candidates.iter().filter_map(|&dup| sum.group(dup)) {
        let similarity = cosine(vector, &group.vector);
        if best.is_none_or(|(_, s)| similarity > s) {
            best = Some((group.dup, similarity));
        }
    }
    best
}

/// The stored groups (ids below `first_new`) of a story that a new group without a candidate in
/// it is compared with, for the article it continues: the `FALLBACK_GROUPS` (1,024) most
/// recent, so that a batch story of thousands of groups joining a story of thousands costs a
/// bounded scan.
pub fn recent_stored_groups(sum: &StorySum, first_new: i64) -> Vec<i64> {
    let mut stored: Vec<i64> = sum
        .groups
        .iter()
        .map(|g| g.dup)
        .filter(|&dup| dup < first_new)
        .collect();
    stored.sort_unstable_by(|a, b| b.cmp(a));
    stored.truncate(FALLBACK_GROUPS);
    stored
}

/// The parts of a story to move to new stories: parts that `story::refine` separates and that
/// hold only groups of this batch (`new_groups`). When no part holds a stored group, the part
/// with the oldest group stays.
pub fn refine_story(
    sum: &StorySum,
    new_groups: &AHashSet<i64>,
    opts: &crate::story::StoryOptions,
) -> Vec<Vec<i64>> {
    let Some(refine_threshold) = opts.refine_threshold else {
        return Vec::new();
    };
    let n = sum.groups.len();
    if n < 2 * opts.min_part.max(1) || n > MAX_REFINE_GROUPS {
        return Vec::new();
    }
    // In dup order: the order of `sum.groups` depends on the cache's history.
    let mut groups: Vec<&GroupVector> = sum.groups.iter().collect();
    groups.sort_unstable_by_key(|g| g.dup);
    let vectors: Vec<TermVector> = groups.iter().map(|g| g.vector.clone()).collect();
    let floor = 0.75 * opts.threshold;
    let mut edges = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let similarity = cosine(&vectors[a], &vectors[b]);
            if similarity >= floor {
                edges.push(crate::story::StoryEdge {
                    a: a as u32,
                    b: b as u32,
                    similarity: similarity as f32,
                });
            }
        }
    }
    let labels = crate::story::refine(
        &vectors,
        &edges,
        &vec![0; n],
        refine_threshold,
        opts.min_part,
        opts.split_floor,
    );
    let mut parts: AHashMap<u32, Vec<i64>> = AHashMap::new();
    for (i, &label) in labels.iter().enumerate() {
        parts.entry(label).or_default().push(groups[i].dup);
    }
    if parts.len() < 2 {
        return Vec::new();
    }
    let mut parts: Vec<Vec<i64>> = parts.into_values().collect();
    for part in &mut parts {
        part.sort_unstable();
    }
    parts.sort_unstable();
    let all_new = |part: &Vec<i64>| part.iter().all(|dup| new_groups.contains(dup));
    let keep_first = parts.iter().all(all_new);
    parts
        .into_iter()
        .enumerate()
        .filter(|(i, part)| all_new(part) && !(keep_first && *i == 0))
        .map(|(_, part)| part)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyterms::DocTerms;

    #[test]
    fn vectors_are_trimmed_sorted_and_unit() {
        let terms = DocTerms {
            scores: (0..300u64).map(|t| (t * 7919, 1.0 + t as f32)).collect(),
            labels: Vec::new(),
        };
        let mut scores = terms.scores.clone();
        scores.sort_unstable_by_key(|&(t, _)| t);
        let raw = kept_terms(&scores, &AHashMap::new(), 10);
        assert_eq!(raw.len(), VECTOR_TERMS);
        let vector = weigh(&raw, &|_| 1, 10);
        assert!(vector.windows(2).all(|w| w[0].0 < w[1].0));
        assert!((cosine(&vector, &vector) - 1.0).abs() < 1e-4);
        // The heaviest terms are the ones kept.
        assert!(vector.iter().any(|&(t, _)| t == 299 * 7919));
        assert!(!vector.iter().any(|&(t, _)| t == 0));
    }

    #[test]
    fn group_average_is_the_mean_cosine() {
        let a = normalize(vec![(1, 1.0), (2, 1.0)]);
        let b = normalize(vec![(2, 1.0), (3, 1.0)]);
        let c = normalize(vec![(1, 1.0)]);
        let mut story = StorySum::default();
        for (dup, vector) in [(1, a.clone()), (2, b.clone())] {
            story.add(GroupVector {
                dup,
                canonical_seq: dup,
                vector,
            });
        }
        let expected = (cosine(&c, &a) + cosine(&c, &b)) / 2.0;
        assert!((story.average(&c) - expected).abs() < 1e-6);
        // New groups together: the mean over every pair of a new group and a story group.
        let d = normalize(vec![(3, 1.0)]);
        let two = NewGroups::of([&c, &d]);
        let mean = (cosine(&c, &a) + cosine(&c, &b) + cosine(&d, &a) + cosine(&d, &b)) / 4.0;
        assert!((story.average_of(&two) - mean).abs() < 1e-6);
    }
}
