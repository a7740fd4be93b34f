//! storyhash: deduplicate scraped news articles and group them into stories.
//!
//! The flow runs one way, one module per stage:
//!
//! ```text
//! input ──► text ──► minhash ──► lsh ──► cluster ──► report
//! ```
//!
//! - [`input`] reads JSONL, CSV, folders and stdin into articles and rejects;
//! - [`text`] normalizes, tokenizes and shingles, and skips boilerplate lines; [`boilerplate`]
//!   decides which lines those are; [`spool`] keeps the first pass's tokens in a temporary file
//!   for re-signing the articles whose boilerplate was not known when they were signed;
//! - [`minhash`] computes signatures; [`lsh`] bands them into candidate pairs;
//! - [`keyterms`] extracts names, numbers and salient words (for stories);
//! - [`cluster`] turns verified edges into near-duplicate groups; [`story`] groups those into
//!   stories ([`termtable`] numbers their terms);
//! - [`report`] writes the CSV files and the deduplicated feed;
//! - [`pipeline`] runs the stages in order; [`eval`] scores a result against labels;
//! - [`gen`] writes synthetic corpora with known duplicates, for benchmarks and tests;
//! - [`index`] keeps signatures, groups and stories in an SQLite file, so that each new batch
//!   is matched against everything seen before.
//!
//! The binary (`src/main.rs`) is a thin command-line front end over [`pipeline::run`].

pub mod boilerplate;
pub mod cluster;
pub mod error;
pub mod eval;
pub mod gen;
pub mod index;
pub mod input;
pub mod keyterms;
pub mod lsh;
pub mod minhash;
pub mod pipeline;
pub mod report;
pub mod spool;
pub mod story;
pub mod termtable;
pub mod text;

pub use error::{Error, Result};
pub use pipeline::{cluster_corpus, run, Clustering, Options};

/// Seed of every hash unless `--seed` says otherwise.
pub const DEFAULT_SEED: u64 = 0x5707_4A54;
/// Values per MinHash signature.
pub const DEFAULT_NUM_PERM: usize = 128;
/// Near-duplicate Jaccard threshold (on shingles after boilerplate removal); chosen by
/// measurement, see the README.
pub const DEFAULT_THRESHOLD: f64 = 0.6;
/// Average cosine similarity of key-term vectors needed to join a story; chosen by measurement,
/// see the README.
pub const DEFAULT_STORY_THRESHOLD: f64 = 0.12;
/// Bytes of one article that are hashed at most; the rest of a giant article is not hashed.
pub const DEFAULT_MAX_DOC_BYTES: usize = 1 << 20;
