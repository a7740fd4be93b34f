//! Cluster: from verified similarity edges to near-duplicate groups and stories.
//!
//! Near-duplicate groups are the connected components of the verified edges (union-find).
//! Each group has one canonical article: the earliest date, then the longest text, then the
//! smallest id. Groups are numbered by size (largest first), then by their canonical article,
//! so numbering is the same for the same input whatever the thread count or input order.
//!
//! Stories are sets of whole dup groups (found by `story`; without it each dup group is its own
//! story). This module does not read text or signatures.

use std::cmp::{Ordering, Reverse};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use rayon::prelude::*;

use crate::input::DateKey;

/// A verified similarity edge between two documents (indices into the article list).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub a: u32,
    pub b: u32,
    pub similarity: f32,
}

/// Disjoint sets with path halving and union by size.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grandparent = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grandparent;
            x = grandparent;
        }
        x
    }

    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

/// Disjoint sets that threads join at once (lock-free): a root is linked under the smaller-
/// numbered root, by compare-and-swap, so parents only ever point to smaller numbers and no
/// cycle can form; `find` halves paths as it goes. The sets at the end are the connected
/// components of the pairs joined, whatever the order or the threads; which member is a root
/// is not ([`ConcurrentUnionFind::labels`] numbers them canonically).
#[derive(Debug)]
pub struct ConcurrentUnionFind {
    parent: Vec<AtomicU32>,
}

impl ConcurrentUnionFind {
    pub fn new(n: usize) -> Self {
        ConcurrentUnionFind {
            parent: (0..n as u32).map(AtomicU32::new).collect(),
        }
    }

    pub fn find(&self, mut x: u32) -> u32 {
        loop {
            let parent = self.parent[x as usize].load(Relaxed);
            if parent == x {
                return x;
            }
            let grandparent = self.parent[parent as usize].load(Relaxed);
            if grandparent != parent {
                // Another thread may have moved `x` meanwhile: then this halving is skipped.
                let _ = self.parent[x as usize].compare_exchange_weak(
                    parent,
                    grandparent,
                    Relaxed,
                    Relaxed,
                );
            }
            x = grandparent;
        }
    }

    /// Whether `a` and `b` are in one set already. A `true` stays true; a `false` may be stale
    /// by the time it is read (joining them then is harmless).
    pub fn same(&self, a: u32, b: u32) -> bool {
        self.find(a) == self.find(b)
    }

    pub fn union(&self, a: u32, b: u32) {
        let (mut a, mut b) = (a, b);
        loop {
            a = self.find(a);
            b = self.find(b);
            if a == b {
                return;
            }
            let (child, root) = if a > b { (a, b) } else { (b, a) };
            // Fails only when `child` stopped being a root meanwhile: find again.
            let linked =
                self.parent[child as usize].compare_exchange(child, root, Relaxed, Relaxed);
            if linked.is_ok() {
                return;
            }
        }
    }

    /// Each element's set, named by its smallest member.
    pub fn labels(self) -> Vec<u32> {
        let mut parent: Vec<u32> = self.parent.into_iter().map(AtomicU32::into_inner).collect();
        // Parents point to smaller numbers, so in ascending order each element's parent already
        // holds its final label: the root, which is its set's smallest member.
        for x in 0..parent.len() {
            let up = parent[x] as usize;
            parent[x] = parent[up];
        }
        parent
    }
}

/// What the canonical choice and the row order need to know about an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankKey<'a> {
    pub date: Option<DateKey>,
    pub text_len: usize,
    pub id: &'a str,
}

/// Canonical order: dated before undated, earlier first, then longer text, then smaller id.
pub fn canonical_order(a: &RankKey<'_>, b: &RankKey<'_>) -> Ordering {
    let date = |k: &RankKey<'_>| (k.date.is_none(), k.date);
    date(a)
        .cmp(&date(b))
        .then(Reverse(a.text_len).cmp(&Reverse(b.text_len)))
        .then(a.id.cmp(b.id))
}

/// One group of near-duplicate articles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupGroup {
    /// Members in canonical order: the first is the canonical article.
    pub members: Vec<u32>,
}

impl DupGroup {
    pub fn canonical(&self) -> u32 {
        self.members[0]
    }
}

/// Near-duplicate groups of `n` documents from verified edges, numbered largest first.
pub fn dup_groups<'a>(
    n: usize,
    edges: &[Edge],
    rank: impl Fn(u32) -> RankKey<'a> + Sync,
) -> Vec<DupGroup> {
    let mut sets = UnionFind::new(n);
    for edge in edges {
        sets.union(edge.a, edge.b);
    }
    let set_of: Vec<u32> = (0..n as u32).map(|doc| sets.find(doc)).collect();
    drop(sets);
    dup_groups_of_sets(&set_of, rank)
}

/// Near-duplicate groups given each document's set (any number shared by the members of one
/// set and no other), numbered largest first.
///
/// The groups are ordered on all threads, the same whatever the thread count; how the sets are
/// numbered matters only between groups whose canonical articles tie on date, length and id
/// (the pipeline rejects repeated ids).
pub fn dup_groups_of_sets<'a>(
    set_of: &[u32],
    rank: impl Fn(u32) -> RankKey<'a> + Sync,
) -> Vec<DupGroup> {
    let mut by_set: Vec<(u32, u32)> = set_of
        .iter()
        .enumerate()
        .map(|(doc, &set)| (set, doc as u32))
        .collect();
    by_set.par_sort_unstable();
    // Each group with its canonical article's rank, read once instead of at every comparison.
    let mut ranked: Vec<(RankKey<'a>, DupGroup)> = by_set
        .par_chunk_by(|x, y| x.0 == y.0)
        .map(|run| {
            let mut members: Vec<u32> = run.iter().map(|&(_, doc)| doc).collect();
            members.sort_by(|&a, &b| canonical_order(&rank(a), &rank(b)));
            (rank(members[0]), DupGroup { members })
        })
        .collect();
    ranked.par_sort_by(|x, y| {
        y.1.members
            .len()
            .cmp(&x.1.members.len())
            .then_with(|| canonical_order(&x.0, &y.0))
    });
    ranked.into_iter().map(|(_, group)| group).collect()
}

/// One story: a set of whole dup groups (indices into the dup group list), largest group first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    pub dup_groups: Vec<u32>,
}

/// The trivial story assignment: each dup group is its own story.
pub fn one_story_per_group(groups: &[DupGroup]) -> Vec<Story> {
    (0..groups.len() as u32)
        .map(|g| Story {
            dup_groups: vec![g],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(a: u32, b: u32) -> Edge {
        Edge {
            a,
            b,
            similarity: 1.0,
        }
    }

    #[test]
    fn concurrent_sets_are_the_components_of_the_pairs_joined_on_all_threads() {
        // Pairs from a fixed pseudo-random sequence: long chains and stars, joined in parallel.
        let n = 20_000u32;
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pairs: Vec<(u32, u32)> = (0..15_000)
            .map(|_| ((next() % n as u64) as u32, (next() % n as u64) as u32))
            .collect();
        let mut reference = UnionFind::new(n as usize);
        for &(a, b) in &pairs {
            reference.union(a, b);
        }
        let sets = ConcurrentUnionFind::new(n as usize);
        pairs.par_iter().with_max_len(16).for_each(|&(a, b)| {
            if !sets.same(a, b) {
                sets.union(a, b);
            }
        });
        let labels = sets.labels();
        let mut smallest = vec![u32::MAX; n as usize];
        for doc in 0..n {
            let root = reference.find(doc) as usize;
            smallest[root] = smallest[root].min(doc);
        }
        for doc in 0..n {
            assert_eq!(labels[doc as usize], smallest[reference.find(doc) as usize]);
        }
    }

    #[test]
    fn groups_are_components_numbered_largest_first() {
        let ids = ["a", "b", "c", "d", "e", "f"];
        let rank = |doc: u32| RankKey {
            date: None,
            text_len: 10,
            id: ids[doc as usize],
        };
        let groups = dup_groups(6, &[edge(4, 5), edge(1, 2), edge(2, 3)], rank);
        let members: Vec<Vec<u32>> = groups.iter().map(|g| g.members.clone()).collect();
        assert_eq!(members, vec![vec![1, 2, 3], vec![4, 5], vec![0]]);
        // The same sets, however numbered, are the same groups.
        for set_of in [[0, 1, 1, 1, 4, 4], [7, 3, 3, 3, 0, 0], [2, 9, 9, 9, 1, 1]] {
            assert_eq!(dup_groups_of_sets(&set_of, rank), groups);
        }
    }

    #[test]
    fn canonical_is_earliest_then_longest_then_smallest_id() {
        let d = |y, m, day| Some(DateKey::new(y, m, day));
        let keys = [
            RankKey {
                date: d(2020, 1, 2),
                text_len: 900,
                id: "a",
            },
            RankKey {
                date: d(2020, 1, 1),
                text_len: 100,
                id: "z",
            },
            RankKey {
                date: d(2020, 1, 1),
                text_len: 500,
                id: "y",
            },
            RankKey {
                date: d(2020, 1, 1),
                text_len: 500,
                id: "x",
            },
            RankKey {
                date: None,
                text_len: 9999,
                id: "0",
            },
        ];
        let groups = dup_groups(5, &[edge(0, 1), edge(1, 2), edge(2, 3), edge(3, 4)], |i| {
            keys[i as usize].clone()
        });
        assert_eq!(groups[0].members, vec![3, 2, 1, 0, 4]);
    }
}
