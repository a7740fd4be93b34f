//! A persistent index: each new batch is matched against every article seen before, and the
//! history stays on disk in one SQLite file.
//!
//! ```text
//! batch ──► batch::prepare ──► [write lock] add: dups ──► groups ──► stories ──► commit
//! ```
//!
//! - [`batch`] reads and signs a batch (before the write lock: the slow part runs concurrently
//!   with other processes' reads and writes);
//! - [`add`] does everything that needs the stored state, in one transaction: a crash or a kill
//!   leaves the index as it was before the batch;
//! - [`dups`] finds near-duplicate edges through the stored LSH buckets;
//! - [`stories`] places new groups in stories: a batch's own stories first, then each joins a
//!   stored story or stays new;
//! - [`export`] writes `cluster`'s CSV files for everything stored, and the statistics;
//! - [`store`] is the file: schema, parameters, blob layout.
//!
//! Dup groups are the same as `cluster --no-boilerplate` on everything at once (connected
//! components of the same verified edges). Stories match a batch run when everything comes in
//! one batch; across batches they differ, since stored groups never change story (the README
//! says how much).

pub mod add;
pub mod batch;
pub mod dups;
pub mod export;
pub mod store;
pub mod stories;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};
use crate::input::{ReadOptions, ReadStats, Reject};
use crate::keyterms::TermWeights;
use crate::lsh::{self, LshParams};
use crate::minhash::{Algorithm, MinHasher};
use crate::pipeline::{Options, Progress};
use crate::story::StoryOptions;
use crate::text::ShingleOptions;

pub use add::{AddReport, AddedArticle, Match, MatchKind, Skipped};
pub use store::IndexParams;

/// Settings a run asks for; `None` means "whatever the index has" (or the default when the
/// index is created by this run).
#[derive(Debug, Clone, Default)]
pub struct ParamRequest {
    pub num_perm: Option<usize>,
    pub shingle: Option<usize>,
    pub seed: Option<u64>,
    pub threshold: Option<f64>,
    pub lsh: Option<LshParams>,
    pub algorithm: Option<Algorithm>,
    pub max_doc_bytes: Option<usize>,
    pub story_threshold: Option<f64>,
    pub no_stories: bool,
}

impl ParamRequest {
    /// The parameters this request means, filling gaps from `base` (the stored parameters,
    /// or the defaults for a new index).
    pub fn resolve(&self, base: &IndexParams) -> IndexParams {
        let threshold = self.threshold.unwrap_or(base.threshold);
        let num_perm = self.num_perm.unwrap_or(base.num_perm);
        let lsh = match (
            self.lsh,
            self.threshold.is_some() || self.num_perm.is_some(),
        ) {
            (Some(lsh), _) => lsh,
            (None, true) => lsh::optimal_params(threshold, num_perm, 0.5, 0.5),
            (None, false) => LshParams {
                bands: base.bands,
                rows: base.rows,
            },
        };
        IndexParams {
            num_perm,
            shingle: self.shingle.unwrap_or(base.shingle),
            seed: self.seed.unwrap_or(base.seed),
            threshold,
            bands: lsh.bands,
            rows: lsh.rows,
            algorithm: self.algorithm.unwrap_or(base.algorithm),
            max_doc_bytes: self.max_doc_bytes.unwrap_or(base.max_doc_bytes),
            story_threshold: match (self.no_stories, self.story_threshold) {
                (true, _) => None,
                (false, Some(t)) => Some(t),
                (false, None) => base.story_threshold,
            },
        }
    }
}

impl Default for IndexParams {
    fn default() -> Self {
        let lsh = lsh::optimal_params(crate::DEFAULT_THRESHOLD, crate::DEFAULT_NUM_PERM, 0.5, 0.5);
        IndexParams {
            num_perm: crate::DEFAULT_NUM_PERM,
            shingle: ShingleOptions::default().size,
            seed: crate::DEFAULT_SEED,
            threshold: crate::DEFAULT_THRESHOLD,
            bands: lsh.bands,
            rows: lsh.rows,
            algorithm: Algorithm::default(),
            max_doc_bytes: crate::DEFAULT_MAX_DOC_BYTES,
            story_threshold: Some(crate::DEFAULT_STORY_THRESHOLD),
        }
    }
}

impl IndexParams {
    /// The pipeline options that sign and extract key terms exactly as this index does.
    pub fn options(&self, read: ReadOptions) -> Options {
        Options {
            read,
            shingle: ShingleOptions {
                size: self.shingle,
                seed: self.seed,
                max_doc_bytes: self.max_doc_bytes,
            },
            num_perm: self.num_perm,
            algorithm: self.algorithm,
            threshold: self.threshold,
            lsh: Some(LshParams {
                bands: self.bands,
                rows: self.rows,
            }),
            boilerplate: false,
            spool_tokens: false,
            stories: self.story_threshold.map(|threshold| StoryOptions {
                threshold,
                seed: self.seed,
                ..StoryOptions::default()
            }),
            term_weights: TermWeights::default(),
            ..Options::default()
        }
    }

    fn hasher(&self) -> MinHasher {
        MinHasher::new(self.num_perm, self.seed, self.algorithm)
    }
}

/// An open index file.
pub struct Index {
    conn: Connection,
    path: PathBuf,
    params: IndexParams,
}

/// How long a writer waits for another process's batch by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

impl Index {
    /// Opens an existing index, or creates one with `request`'s settings when `create` is set
    /// and the file does not exist yet. Refuses settings that differ from the stored ones.
    pub fn open(
        path: &Path,
        request: &ParamRequest,
        create: bool,
        wait: Duration,
    ) -> Result<Index> {
        if !create && !path.exists() {
            return Err(Error::Index {
                path: path.to_path_buf(),
                message: "no such index (create one with `storyhash index add`)".into(),
            });
        }
        let asked = request.resolve(&IndexParams::default());
        if !path.exists() {
            validate(&asked)?; // before the file is created
        }
        let mut conn = store::connect(path, create, wait)?;
        if !store::is_initialized(&conn, path)? {
            if !create || !store::is_empty(&conn, path)? {
                return Err(Error::Index {
                    path: path.to_path_buf(),
                    message: "not a storyhash index".into(),
                });
            }
            validate(&asked)?;
            // Two processes may create the same file at once: the loser finds it initialized.
            if let Err(err) = store::initialize(&mut conn, path, &asked) {
                if !store::is_initialized(&conn, path)? {
                    return Err(err);
                }
            }
        }
        let params = store::read_params(&conn, path)?;
        let asked = request.resolve(&params);
        if let Some(message) = params.mismatch(&asked) {
            return Err(Error::Options(format!("{}: {message}", path.display())));
        }
        Ok(Index {
            conn,
            path: path.to_path_buf(),
            params,
        })
    }

    pub fn params(&self) -> &IndexParams {
        &self.params
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads, signs and adds a batch in one transaction. Articles whose id is stored already
    /// are skipped (listed in the report).
    ///
    /// `before_commit` sees the report while the batch can still be rolled back: when it fails
    /// (the report cannot be written), nothing is stored.
    pub fn add(
        &mut self,
        inputs: &[PathBuf],
        read: ReadOptions,
        progress: &dyn Progress,
        before_commit: &mut dyn FnMut(&AddReport) -> Result<()>,
    ) -> Result<(AddReport, ReadStats)> {
        let opts = self.params.options(read);
        let hasher = self.params.hasher();
        progress.stage("reading");
        let prepared = batch::prepare(inputs, &opts, &hasher, progress)?;
        if opts.read.strict {
            if let Some(reject) = prepared.rejects.first() {
                return Err(Error::Strict {
                    file: reject.file.clone(),
                    line: reject.line,
                    reason: reject.reason.to_string(),
                });
            }
        }
        progress.stage("waiting for the index");
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| locked_error(&path, e))?;
        hold_lock_for_test();
        progress.stage("adding");
        let batch: i64 = tx
            .query_row("SELECT coalesce(max(batch), 0) + 1 FROM batches", [], |r| {
                r.get(0)
            })
            .map_err(|e| store::sql_error(&path, e))?;
        let adder = add::BatchAdder {
            conn: &tx,
            progress,
            path: &path,
            params: &self.params,
            batch,
        };
        let mut report = adder.add(prepared.articles)?;
        report.rejects = prepared.rejects;
        let inputs_text: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        tx.execute(
            "INSERT INTO batches (batch, added_at, inputs, articles, skipped, rejected) \
             VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?2, ?3, ?4, ?5)",
            (
                batch,
                inputs_text.join(" "),
                report.added.len() as i64,
                report.skipped.len() as i64,
                report.rejects.len() as i64,
            ),
        )
        .map_err(|e| store::sql_error(&path, e))?;
        before_commit(&report)?;
        failpoint("index-add-before-commit");
        progress.stage("committing");
        tx.commit().map_err(|e| store::sql_error(&path, e))?;
        Ok((report, prepared.read_stats))
    }

    /// Nearest stored articles of each query article: near-duplicates, then story matches.
    pub fn query(
        &self,
        inputs: &[PathBuf],
        read: ReadOptions,
        top: usize,
    ) -> Result<(Vec<export::QueryMatch>, Vec<Reject>)> {
        let opts = self.params.options(read);
        let corpus = crate::input::read_corpus(inputs, &opts.read, &|_| {})?;
        let (articles, mut rejects) =
            batch::prepare_articles(corpus.articles, &opts, &self.params.hasher());
        rejects.extend(corpus.rejects);
        // One read transaction: a batch committed meanwhile is seen whole or not at all.
        let snapshot = self
            .conn
            .unchecked_transaction()
            .map_err(|e| store::sql_error(&self.path, e))?;
        let matches = export::query(&snapshot, &self.path, &self.params, &articles, top)?;
        Ok((matches, rejects))
    }

    /// Writes clusters.csv, stories.csv and merges.csv for everything stored.
    pub fn export(&mut self, dir: &Path) -> Result<export::ExportCounts> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| store::sql_error(&path, e))?;
        export::export(&tx, &path, dir)
    }

    pub fn stats(&self) -> Result<export::IndexStats> {
        let snapshot = self
            .conn
            .unchecked_transaction()
            .map_err(|e| store::sql_error(&self.path, e))?;
        export::stats(&snapshot, &self.path, &self.params)
    }
}

fn validate(params: &IndexParams) -> Result<()> {
    let opts = params.options(ReadOptions::default());
    opts.validate().map(|_| ())
}

/// A busy database at the start of a write means another process holds the write lock longer
/// than we were willing to wait.
fn locked_error(path: &Path, err: rusqlite::Error) -> Error {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            Error::Index {
                path: path.to_path_buf(),
                message: "another process is adding a batch; gave up waiting (see --wait)".into(),
            }
        }
        _ => store::sql_error(path, err),
    }
}

/// Test hook: `STORYHASH_TEST_HOLD_LOCK_MS` keeps the write lock that long before adding, so
/// that a test can meet a busy index deterministically.
fn hold_lock_for_test() {
    if let Some(ms) = std::env::var("STORYHASH_TEST_HOLD_LOCK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Test hook: when `STORYHASH_FAILPOINT` names this point, the process aborts here, as a crash
/// would (the crash-safety test uses it to stop in the middle of a batch).
fn failpoint(name: &str) {
    if std::env::var("STORYHASH_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("storyhash: failpoint {name}: aborting");
        std::process::abort();
    }
}
