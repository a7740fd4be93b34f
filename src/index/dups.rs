//! Near-duplicates of a batch against the index: every new article's band keys are looked up
//! in the stored buckets and among the batch's earlier articles; candidates are verified on
//! their signatures, exactly as `cluster` verifies them.
//!
//! Because a dup group is a connected component of verified edges, finding every edge between
//! a new article and anything earlier gives the same groups as clustering everything at once
//! (tested). This module finds edges and the best earlier match; it writes nothing.

use ahash::AHashMap;
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
        .prepare_cached("SELECT seq FROM bands WHERE key = ?1 ORDER BY seq DESC LIMIT ?2")
        .map_err(|e| store::sql_error(path, e))?;
    let mut found = Vec::new();
    for &key in keys {
        let rows = statement
            .query_map((store::to_sql(key), BUCKET_CANDIDATES as i64), |row| {
                row.get::<_, i64>(0)
            })
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
/// and to earlier articles of the batch.
pub fn batch_edges(
    signatures: &[&[u32]],
    params: &IndexParams,
    stored: &mut StoredArticles<'_>,
) -> Result<Vec<DupEdge>> {
    let mut edges = Vec::new();
    let mut batch_buckets: AHashMap<BandKey, Vec<usize>> = AHashMap::new();
    for (article, signature) in signatures.iter().enumerate() {
        let keys = band_keys(signature, params);
        for seq in stored_candidates(stored.conn, stored.path, &keys)? {
            let Some(earlier) = stored.get(seq)? else {
                continue;
            };
            let similarity = minhash::estimate(signature, &earlier.signature);
            if similarity >= params.threshold {
                edges.push(DupEdge {
                    article,
                    earlier: Earlier::Stored(seq),
                    similarity,
                });
            }
        }
        let mut in_batch: Vec<usize> = Vec::new();
        for key in &keys {
            let bucket = batch_buckets.entry(*key).or_default();
            let start = bucket.len().saturating_sub(BUCKET_CANDIDATES);
            in_batch.extend_from_slice(&bucket[start..]);
            bucket.push(article);
        }
        in_batch.sort_unstable();
        in_batch.dedup();
        for other in in_batch {
            let similarity = minhash::estimate(signature, signatures[other]);
            if similarity >= params.threshold {
                edges.push(DupEdge {
                    article,
                    earlier: Earlier::Batch(other),
                    similarity,
                });
            }
        }
    }
    Ok(edges)
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
