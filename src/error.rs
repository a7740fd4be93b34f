//! Typed errors of the library.
//!
//! Only *fatal* problems are errors: an input path that cannot be opened, an output that cannot be
//! written, bad options, or the first bad record under `--strict`. A single bad record is not an
//! error: it becomes a [`crate::input::Reject`] and the run goes on.

use std::path::PathBuf;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input given on the command line does not exist or cannot be opened.
    #[error("cannot read input {path}: {source}")]
    Input {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An output file or folder cannot be created or written.
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The temporary token spool could not be read back.
    #[error("cannot read the temporary token spool in {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A CSV writer failed (disk full, closed pipe...).
    #[error("cannot write {path}: {source}")]
    OutputCsv { path: PathBuf, source: csv::Error },
    /// Options that contradict each other or are out of range.
    #[error("invalid option: {0}")]
    Options(String),
    /// `--strict` turned the first rejected record into a fatal error.
    #[error("{file}:{line}: {reason} (stopped by --strict)")]
    Strict {
        file: String,
        line: u64,
        reason: String,
    },
    /// An index file cannot be used as asked (wrong version, locked, not an index).
    #[error("{path}: {message}")]
    Index { path: PathBuf, message: String },
    /// The index database failed.
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// A CSV file given to `eval` cannot be used.
    #[error("{path}: {message}")]
    BadTable { path: PathBuf, message: String },
}

pub type Result<T> = std::result::Result<T, Error>;
