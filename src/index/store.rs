//! The index file: an SQLite database, its schema, its recorded parameters, and the byte layout
//! of the two kinds of blob it holds (signatures and key-term vectors).
//!
//! This module knows tables and bytes; it does not decide anything about duplicates or stories.
//! The schema is documented in the README ("The index file") and kept readable with the
//! `sqlite3` shell: plain tables, integer ids, ISO dates.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::{Error, Result};
use crate::minhash::Algorithm;
use crate::story::TermVector;

/// Version of the file layout; a file of another version is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// Version of everything that turns text into hashes (tokenizer, shingles, MinHash, key terms).
/// Signatures made by another version cannot be compared, so such a file is refused.
pub const HASH_VERSION: u32 = 2;

const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE batches (
    batch    INTEGER PRIMARY KEY,
    added_at TEXT NOT NULL,
    inputs   TEXT NOT NULL,
    articles INTEGER NOT NULL,
    skipped  INTEGER NOT NULL,
    rejected INTEGER NOT NULL
);
CREATE TABLE articles (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    batch      INTEGER NOT NULL,
    dup        INTEGER NOT NULL,
    date       TEXT NOT NULL,
    date_iso   TEXT,
    source     TEXT NOT NULL,
    url        TEXT NOT NULL,
    title      TEXT NOT NULL,
    text_len   INTEGER NOT NULL,
    matched_seq        INTEGER,
    matched_similarity REAL,
    signature  BLOB NOT NULL
);
CREATE INDEX articles_by_dup ON articles (dup);
CREATE TABLE bands (
    key INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE TABLE dup_groups (
    dup           INTEGER PRIMARY KEY,
    story         INTEGER NOT NULL,
    canonical_seq INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    day           INTEGER,
    batch         INTEGER NOT NULL,
    merged_into   INTEGER,
    vector        BLOB NOT NULL
);
CREATE INDEX dup_groups_by_story ON dup_groups (story);
CREATE INDEX dup_groups_by_merged ON dup_groups (merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE stories (
    story       INTEGER PRIMARY KEY,
    batch       INTEGER NOT NULL,
    merged_into INTEGER
);
CREATE TABLE merges (
    kind  TEXT NOT NULL,
    old   INTEGER NOT NULL,
    new   INTEGER NOT NULL,
    batch INTEGER NOT NULL
);
CREATE TABLE term_groups (
    term INTEGER NOT NULL,
    dup  INTEGER NOT NULL,
    PRIMARY KEY (term, dup)
) WITHOUT ROWID;
CREATE TABLE term_df (
    term INTEGER PRIMARY KEY,
    df   INTEGER NOT NULL
);
CREATE TABLE term_labels (
    term  INTEGER PRIMARY KEY,
    label TEXT NOT NULL
);
";

/// Everything that must be equal for two batches to be comparable. Recorded when the index is
/// created; a batch asking for anything else is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexParams {
    pub num_perm: usize,
    pub shingle: usize,
    pub seed: u64,
    pub threshold: f64,
    pub bands: usize,
    pub rows: usize,
    pub algorithm: Algorithm,
    pub max_doc_bytes: usize,
    /// `None` when the index was created with stories off.
    pub story_threshold: Option<f64>,
}

impl IndexParams {
    /// (name, value) pairs as stored in `meta`, with the option name a user would pass.
    fn entries(&self) -> Vec<(&'static str, String)> {
        let algorithm = match self.algorithm {
            Algorithm::Oph => "oph",
            Algorithm::Classic => "classic",
        };
        vec![
            ("num-perm", self.num_perm.to_string()),
            ("shingle", self.shingle.to_string()),
            ("seed", self.seed.to_string()),
            ("threshold", self.threshold.to_string()),
            ("bands", self.bands.to_string()),
            ("rows", self.rows.to_string()),
            ("algorithm", algorithm.to_string()),
            ("max-doc-bytes", self.max_doc_bytes.to_string()),
            (
                "story-threshold",
                self.story_threshold
                    .map_or_else(|| "off".to_string(), |t| t.to_string()),
            ),
        ]
    }

    /// The settings as (option name, value), for `index stats`.
    pub fn display_entries(&self) -> Vec<(String, String)> {
        self.entries()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn from_meta(get: &dyn Fn(&str) -> Option<String>) -> Option<IndexParams> {
        let number = |key: &str| get(key)?.parse::<usize>().ok();
        let story_threshold = match get("story-threshold")?.as_str() {
            "off" => None,
            value => Some(value.parse().ok()?),
        };
        Some(IndexParams {
            num_perm: number("num-perm")?,
            shingle: number("shingle")?,
            seed: get("seed")?.parse().ok()?,
            threshold: get("threshold")?.parse().ok()?,
            bands: number("bands")?,
            rows: number("rows")?,
            algorithm: match get("algorithm")?.as_str() {
                "oph" => Algorithm::Oph,
                "classic" => Algorithm::Classic,
                _ => return None,
            },
            max_doc_bytes: number("max-doc-bytes")?,
            story_threshold,
        })
    }

    /// The first setting in which `asked` differs from these, as a message for the user.
    pub fn mismatch(&self, asked: &IndexParams) -> Option<String> {
        self.entries()
            .into_iter()
            .zip(asked.entries())
            .find(|(have, want)| have.1 != want.1)
            .map(|((name, have), (_, want))| {
                format!(
                    "the index was built with --{name} {have}, this run asks for {want} \
                     (leave the option out to use the index's setting)"
                )
            })
    }
}

/// Opens the database with the settings every connection needs: WAL (readers never block the
/// writer), full sync at commit, and a wait of `busy` for another process's write lock.
pub fn connect(path: &Path, create: bool, busy: Duration) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, e))?;
    conn.busy_timeout(busy).map_err(|e| sql_error(path, e))?;
    // Every point query of an add is a cached statement; the default cache (16) is too small.
    conn.set_prepared_statement_cache_capacity(128);
    // Without the query planner stability guarantee, SQLite re-prepares a statement whenever a
    // new value is bound to a parameter that could change its plan: for the point queries of an
    // add that was an eighth of the time (measured with perf).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| sql_error(path, e))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| sql_error(path, e))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| sql_error(path, e))?;
    conn.pragma_update(None, "cache_size", -262_144i64) // 256 MiB of page cache
        .map_err(|e| sql_error(path, e))?;
    Ok(conn)
}

/// Creates the tables and records the parameters, in one transaction.
pub fn initialize(conn: &mut Connection, path: &Path, params: &IndexParams) -> Result<()> {
    let tx = conn.transaction().map_err(|e| sql_error(path, e))?;
    tx.execute_batch(SCHEMA).map_err(|e| sql_error(path, e))?;
    let mut entries = params.entries();
    entries.push(("schema-version", SCHEMA_VERSION.to_string()));
    entries.push(("hash-version", HASH_VERSION.to_string()));
    entries.push((
        "created-by",
        format!("storyhash {}", env!("CARGO_PKG_VERSION")),
    ));
    for (key, value) in entries {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )
        .map_err(|e| sql_error(path, e))?;
    }
    tx.commit().map_err(|e| sql_error(path, e))
}

/// Whether the file already holds an index (its `meta` table exists).
pub fn is_initialized(conn: &Connection, path: &Path) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| sql_error(path, e))
}

/// Whether the database has no tables at all (a new file, not someone else's database).
pub fn is_empty(conn: &Connection, path: &Path) -> Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n == 0)
    .map_err(|e| sql_error(path, e))
}

/// Reads the recorded parameters, refusing files of another schema or hash version.
pub fn read_params(conn: &Connection, path: &Path) -> Result<IndexParams> {
    let get = |key: &str| -> Option<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()
        .ok()
        .flatten()
    };
    let not_an_index = || Error::Index {
        path: path.to_path_buf(),
        message: "not a storyhash index (no parameters recorded)".into(),
    };
    for (key, ours) in [
        ("schema-version", SCHEMA_VERSION),
        ("hash-version", HASH_VERSION),
    ] {
        let theirs = get(key).ok_or_else(not_an_index)?;
        if theirs != ours.to_string() {
            return Err(Error::Index {
                path: path.to_path_buf(),
                message: format!(
                    "the index has {key} {theirs}, this storyhash writes {ours}; \
                     rebuild it with `storyhash index add` from the original articles"
                ),
            });
        }
    }
    IndexParams::from_meta(&get).ok_or_else(not_an_index)
}

pub fn sql_error(path: &Path, source: rusqlite::Error) -> Error {
    Error::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// A signature as stored: its values as little-endian u32s.
pub fn encode_signature(signature: &[u32]) -> Vec<u8> {
    signature.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn decode_signature(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A key-term vector as stored: (term hash as little-endian u64, weight as little-endian f32)
/// pairs, sorted by term hash.
pub fn encode_vector(vector: &[(u64, f32)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(vector.len() * 12);
    for &(term, weight) in vector {
        bytes.extend_from_slice(&term.to_le_bytes());
        bytes.extend_from_slice(&weight.to_le_bytes());
    }
    bytes
}

pub fn decode_vector(bytes: &[u8]) -> TermVector {
    bytes
        .chunks_exact(12)
        .map(|c| {
            let mut term = [0u8; 8];
            term.copy_from_slice(&c[..8]);
            (
                u64::from_le_bytes(term),
                f32::from_le_bytes([c[8], c[9], c[10], c[11]]),
            )
        })
        .collect()
}

/// SQLite integers are signed: hashes are stored as their two's-complement i64.
pub fn to_sql(hash: u64) -> i64 {
    hash as i64
}

/// The size of the index file and its write-ahead log, in bytes.
pub fn file_size(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip() {
        let signature = vec![0, 1, u32::MAX, 123_456_789];
        assert_eq!(decode_signature(&encode_signature(&signature)), signature);
        let vector = vec![(0, 0.5), (u64::MAX, -1.25), (42, f32::MIN_POSITIVE)];
        assert_eq!(decode_vector(&encode_vector(&vector)), vector);
    }

    #[test]
    fn a_mismatch_names_the_option() {
        let params = IndexParams {
            num_perm: 128,
            shingle: 5,
            seed: 1,
            threshold: 0.6,
            bands: 18,
            rows: 7,
            algorithm: Algorithm::Oph,
            max_doc_bytes: 1 << 20,
            story_threshold: Some(0.12),
        };
        assert_eq!(params.mismatch(&params.clone()), None);
        let asked = IndexParams {
            threshold: 0.8,
            ..params.clone()
        };
        let message = params.mismatch(&asked).unwrap_or_default();
        assert!(message.contains("--threshold 0.6"), "{message}");
        assert!(message.contains("asks for 0.8"), "{message}");
    }
}
