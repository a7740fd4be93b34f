//! Near-duplicates of a batch against the index: every new article's band keys are looked up
//! in the stored buckets and among the batch's earlier articles; candidates are verified on
//! their signatures, exactly as `cluster` verifies them.
//!
//! Because a dup group is a connected component of verified edges, finding every edge between
//! a new article and anything earlier gives the same groups as clustering everything at once
//! (tested). This module finds edges and the best earlier match; it writes nothing.

use ahash::AHashMap;
use rayon::prelude::*;
use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;
use crate::lsh::{self, BandKey};
use crate::minhash;

use super::store::{self, IndexParams};

/// At most this many of a band key's stored articles (the most recent) are candidates. A bucket
/// this full means thousands of copies of one page; the recent ones are enough to join it.
pub const BUCKET_CANDIDATES: usize = 256;

/// A stored article, as far as matching needs it.
#[derive(Debug, Clone)]
pub struct StoredArticle {
    pub signature: Vec<u32>,
    pub dup: i64,
}

/// An earlier article an article is similar to: a stored one (`Stored(seq)`) or one before it
/// in the same batch (`Batch(index)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Earlier {
    Stored(i64),
    Batch(usize),
}

/// A verified near-duplicate edge from a new article to an earlier one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DupEdge {
    pub article: usize,
    pub earlier: Earlier,
    pub similarity: f64,
}

/// Reads stored articles by `seq`, remembering what it read.
pub struct StoredArticles<'c> {
    conn: &'c Connection,
    path: &'c std::path::Path,
    cache: AHashMap<i64, StoredArticle>,
}

impl<'c> StoredArticles<'c> {
    pub fn new(conn: &'c Connection, path: &'c std::path::Path) -> Self {
        StoredArticles {
            conn,
            path,
            cache: AHashMap::new(),
        }
    }

    pub fn get(&mut self, seq: i64) -> Result<Option<&StoredArticle>> {
        if !self.cache.contains_key(&seq) {
            let mut statement = self
                .conn
                .prepare_cached("SELECT signature, dup FROM articles WHERE seq = ?1")
                .map_err(|e| store::sql_error(self.path, e))?;
            let row = statement
                .query_row([seq], |row| {
                    Ok(StoredArticle {
                        signature: store::decode_signature(&row.get::<_, Vec<u8>>(0)?),
                        dup: row.get(1)?,
                    })
                })
                .optional()
                .map_err(|e| store::sql_error(self.path, e))?;
            let Some(article) = row else {
                return Ok(None);
            };
            self.cache.insert(seq, article);
        }
        Ok(self.cache.get(&seq))
    }

    /// Forgets what was read (its dup ids change when groups merge).
    pub fn clear(&mut self) {
        self.cache.clear();
    }
}

/// The band keys of one signature, band by band.
pub fn band_keys(signature: &[u32], params: &IndexParams) -> Vec<BandKey> {
    (0..params.bands)
        .map(|band| lsh::band_key(signature, band, params.rows))
        .collect()
}

/// The stored articles that share a band key with `keys` (each bucket capped), ascending.
pub fn stored_candidates(
    conn: &Connection,
    path: &std::path::Path,
    keys: &[BandKey],
) -> Result<Vec<i64>> {
    let mut statement = conn
        // The limit is written into the statement: a bound LIMIT makes SQLite re-prepare the
        // statement at every new binding (measured: an eighth of an add's time).
        .prepare_cached(&format!(
            "SELECT seq FROM bands WHERE key = ?1 ORDER BY seq DESC LIMIT {BUCKET_CANDIDATES}"
        ))
        .map_err(|e| store::sql_error(path, e))?;
    let mut found = Vec::new();
    for &key in keys {
        let rows = statement
            .query_map([store::to_sql(key)], |row| row.get::<_, i64>(0))
            .map_err(|e| store::sql_error(path, e))?;
        for seq in rows {
            found.push(seq.map_err(|e| store::sql_error(path, e))?);
        }
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// Every verified edge from the batch's articles (signatures in batch order) to stored articles
/// and to earlier articles of the batch, sorted by article (stored matches first, by seq).
///
/// Stored buckets are probed in band-key order, each distinct key once, and candidate
/// signatures are read in seq order: both walk the B-trees in order, so a large batch reads
/// each page once instead of once per probe.
pub fn batch_edges(
    signatures: &[&[u32]],
    params: &IndexParams,
    stored: &mut StoredArticles<'_>,
) -> Result<Vec<DupEdge>> {
    let keys: Vec<Vec<BandKey>> = signatures
        .par_iter()
        .map(|signature| band_keys(signature, params))
        .collect();
    let mut probes: Vec<(BandKey, u32)> = keys
        .iter()
        .enumerate()
        .flat_map(|(article, keys)| keys.iter().map(move |&key| (key, article as u32)))
        .collect();
    probes.par_sort_unstable();
    let mut pairs: Vec<(u32, i64)> = Vec::new();
    for run in probes.chunk_by(|a, b| a.0 == b.0) {
        let seqs = stored_candidates(stored.conn, stored.path, &[run[0].0])?;
        for &(_, article) in run {
            pairs.extend(seqs.iter().map(|&seq| (article, seq)));
        }
    }
    drop(probes);
    pairs.par_sort_unstable();
    pairs.dedup();
    let mut seqs: Vec<i64> = pairs.iter().map(|&(_, seq)| seq).collect();
    seqs.par_sort_unstable();
    seqs.dedup();
    for &seq in &seqs {
        stored.get(seq)?;
    }
    let cache = &stored.cache;
    let mut edges: Vec<DupEdge> = pairs
        .par_iter()
        .filter_map(|&(article, seq)| {
            let earlier = cache.get(&seq)?;
            let similarity = minhash::estimate(signatures[article as usize], &earlier.signature);
            (similarity >= params.threshold).then_some(DupEdge {
                article: article as usize,
                earlier: Earlier::Stored(seq),
                similarity,
            })
        })
        .collect();
    edges.extend(in_batch_edges(signatures, &keys, params));
    edges.sort_by_key(|edge| {
        let (kind, id) = match edge.earlier {
            Earlier::Stored(seq) => (0, seq),
            Earlier::Batch(j) => (1, j as i64),
        };
        (edge.article, kind, id)
    });
    Ok(edges)
}

/// Edges from each article to earlier articles of the same batch sharing a band key (each
/// bucket's most recent [`BUCKET_CANDIDATES`]).
fn in_batch_edges(
    signatures: &[&[u32]],
    keys: &[Vec<BandKey>],
    params: &IndexParams,
) -> Vec<DupEdge> {
    let mut buckets: AHashMap<BandKey, Vec<usize>> = AHashMap::new();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut earlier: Vec<usize> = Vec::new();
    for (article, article_keys) in keys.iter().enumerate() {
        earlier.clear();
        for key in article_keys {
            let bucket = buckets.entry(*key).or_default();
            let start = bucket.len().saturating_sub(BUCKET_CANDIDATES);
            earlier.extend_from_slice(&bucket[start..]);
            bucket.push(article);
        }
        earlier.sort_unstable();
        earlier.dedup();
        pairs.extend(earlier.iter().map(|&other| (article, other)));
    }
    pairs
        .par_iter()
        .filter_map(|&(article, other)| {
            let similarity = minhash::estimate(signatures[article], signatures[other]);
            (similarity >= params.threshold).then_some(DupEdge {
                article,
                earlier: Earlier::Batch(other),
                similarity,
            })
        })
        .collect()
}

/// Per article, its most similar earlier article (ties: the earliest stored, then the earliest
/// in the batch).
pub fn best_matches(n: usize, edges: &[DupEdge]) -> Vec<Option<DupEdge>> {
    let mut best: Vec<Option<DupEdge>> = vec![None; n];
    for edge in edges {
        let slot = &mut best[edge.article];
        let better = match slot {
            None => true,
            Some(current) => edge.similarity > current.similarity,
        };
        if better {
            *slot = Some(*edge);
        }
    }
    best
}
