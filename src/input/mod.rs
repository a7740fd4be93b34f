//! Input: turn files, folders and stdin into [`Article`]s and [`Reject`]s.
//!
//! Reads JSONL, CSV (with a header row), and folders of `.txt`/`.md`/`.html` files (recursively);
//! `.gz` is decompressed by extension; `-` is stdin. Field names are mapped with [`FieldMap`].
//!
//! Every record either becomes an `Article` or a `Reject` naming its file, line and reason: a bad
//! record is never skipped silently and never stops the run (unless the caller asks for strict
//! mode). Invalid UTF-8 is decoded lossily and counted. This module does not normalize or tokenize
//! text; that is `text`'s job.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ahash::AHashMap;
use rayon::prelude::*;

use crate::error::{Error, Result};

mod jsonl;
use jsonl::read_jsonl;

/// How an input is encoded. Detected from the file extension unless forced with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// Plain text (also Markdown): the whole file is one article.
    Text,
    /// An HTML page: the whole file is one article, reduced to its visible text.
    Html,
}

impl Format {
    /// The format implied by a file name (`.gz` looks at the extension before it).
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit_once('.').map(|(_, ext)| ext)?;
        match ext {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "txt" | "md" | "markdown" | "text" => Some(Format::Text),
            "html" | "htm" | "xhtml" => Some(Format::Html),
            _ => None,
        }
    }
}

/// Which record fields hold what. Each list is tried in order; the first present field wins,
/// except `text`, where a user-given list is joined in order (`--text-field title,body`).
#[derive(Debug, Clone)]
pub struct FieldMap {
    pub id: Vec<String>,
    pub text: Vec<String>,
    /// True when the user listed the text fields: join all of them instead of taking the first.
    pub join_text: bool,
    pub title: Vec<String>,
    pub date: Vec<String>,
    pub url: Vec<String>,
    pub source: Vec<String>,
}

impl Default for FieldMap {
    fn default() -> Self {
        fn names(list: &[&str]) -> Vec<String> {
            list.iter().map(|s| s.to_string()).collect()
        }
        FieldMap {
            id: names(&["id", "guid", "uuid", "doc_id"]),
            text: names(&["text", "body", "content", "article"]),
            join_text: false,
            title: names(&["title", "headline"]),
            date: names(&["date", "published", "published_at", "pubdate", "timestamp"]),
            url: names(&["url", "link"]),
            source: names(&["source", "site", "domain", "publisher"]),
        }
    }
}

/// Options of the readers.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub fields: FieldMap,
    /// Force one format for every input instead of detecting it.
    pub format: Option<Format>,
    /// Keep each record's original form so that `dedup` can write it back untouched.
    pub keep_raw: bool,
    /// Stop at the first rejected record.
    pub strict: bool,
}

/// Where a record came from: the input file as the user named it and the 1-based line
/// (0 for a whole file such as a folder's `.txt` or an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOrigin {
    pub file: Arc<str>,
    pub line: u64,
    /// Where the record's bytes lie in the file, for a line of an uncompressed JSONL file: it
    /// can then be read again alone (see [`SpanReader`]).
    pub span: Option<RecordSpan>,
}

/// Bytes of a file: a JSONL record's line, without its line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    pub offset: u64,
    pub len: u32,
}

/// A record in its original form, for writing it back untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawRecord {
    /// The JSONL line, without its line end.
    JsonLine(String),
    /// The CSV row's fields, in header order; the header is in [`Corpus::csv_headers`].
    CsvRow { header: usize, fields: Vec<String> },
    /// A whole file from a folder (its decoded content): written back as a JSONL object.
    File { text: String },
}

/// One news article as read from the input.
#[derive(Debug, Clone)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub text: String,
    /// The date as written in the input (may be empty).
    pub date: String,
    pub url: String,
    pub source: String,
    pub origin: RecordOrigin,
    pub format: Format,
    /// Present only when [`ReadOptions::keep_raw`] is set.
    pub raw: Option<RawRecord>,
}

/// Why a record could not become an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    InvalidJson(String),
    NotAnObject,
    InvalidCsv(String),
    RaggedRow {
        fields: usize,
        header: usize,
    },
    MissingText {
        tried: String,
    },
    EmptyText,
    /// The text has characters but not one word (only punctuation or symbols).
    NoWords,
    TextNotAString {
        field: String,
    },
    DuplicateId {
        first: String,
    },
    Unreadable(String),
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::InvalidJson(msg) => write!(f, "invalid JSON: {msg}"),
            RejectReason::NotAnObject => write!(f, "JSON line is not an object"),
            RejectReason::InvalidCsv(msg) => write!(f, "invalid CSV: {msg}"),
            RejectReason::RaggedRow { fields, header } => {
                write!(f, "row has {fields} fields, header has {header}")
            }
            RejectReason::MissingText { tried } => write!(f, "missing text field (tried {tried})"),
            RejectReason::EmptyText => write!(f, "empty text"),
            RejectReason::NoWords => write!(f, "text has no words"),
            RejectReason::TextNotAString { field } => {
                write!(f, "text field '{field}' is not a string")
            }
            RejectReason::DuplicateId { first } => {
                write!(f, "duplicate id (first seen at {first})")
            }
            RejectReason::Unreadable(msg) => write!(f, "unreadable: {msg}"),
        }
    }
}

/// A record that did not become an article, with enough context to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub file: String,
    pub line: u64,
    /// The record's id when it could be read, else empty.
    pub id: String,
    pub reason: RejectReason,
}

impl Reject {
    /// The reject of a record (at `origin`, with `id`) whose id the record at `first` has.
    pub(crate) fn repeated_id(origin: &RecordOrigin, id: &str, first: &RecordOrigin) -> Reject {
        Reject {
            file: origin.file.to_string(),
            line: origin.line,
            id: id.to_string(),
            reason: RejectReason::DuplicateId {
                first: format!("{}:{}", first.file, first.line),
            },
        }
    }
}

/// Counters for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub files: usize,
    pub bytes: u64,
    /// Records whose bytes were not valid UTF-8 and were decoded lossily (they are still read).
    pub invalid_utf8: usize,
}

/// Everything read from the inputs.
#[derive(Debug, Default)]
pub struct Corpus {
    pub articles: Vec<Article>,
    pub rejects: Vec<Reject>,
    pub stats: ReadStats,
    /// Header rows of the CSV inputs, referenced by [`RawRecord::CsvRow`].
    pub csv_headers: Vec<Vec<String>>,
}

/// Where readers deliver records, one at a time in input order. [`Corpus`] keeps them all;
/// the streaming pipeline hashes each batch and keeps no text.
pub trait RecordSink {
    /// A record: an article, or the reject it became. `lossy` when its bytes were not valid
    /// UTF-8 and were decoded with replacement characters.
    fn record(&mut self, record: std::result::Result<Article, Reject>, lossy: bool);
    /// A CSV file's header row; returns the index that [`RawRecord::CsvRow`] refers to.
    fn csv_header(&mut self, header: Vec<String>) -> usize;
    /// A new input file starts.
    fn file_started(&mut self) {}
    /// Whether the record starting at `line` of `file` (0 for a whole file) is wanted. Readers
    /// pass on only the wanted records, and skip the others unparsed: a pass that needs a few
    /// articles again reads the input without building every article.
    fn wants(&self, _file: &str, _line: u64) -> bool {
        true
    }
}

impl RecordSink for Corpus {
    fn record(&mut self, record: std::result::Result<Article, Reject>, lossy: bool) {
        if lossy {
            self.stats.invalid_utf8 += 1;
        }
        match record {
            Ok(article) => self.articles.push(article),
            Err(reject) => self.rejects.push(reject),
        }
    }

    fn csv_header(&mut self, header: Vec<String>) -> usize {
        self.csv_headers.push(header);
        self.csv_headers.len() - 1
    }

    fn file_started(&mut self) {
        self.stats.files += 1;
    }
}

/// Receives the number of input bytes consumed, for a progress bar.
pub type ProgressFn<'a> = &'a (dyn Fn(u64) + Sync);

/// One readable source after expanding folders.
struct Source {
    /// The path as shown in messages and `rejects.csv`.
    display: Arc<str>,
    /// `None` for stdin.
    path: Option<PathBuf>,
    /// The id of a whole-file article: the path relative to the folder it was found in.
    file_id: String,
    format: Option<Format>,
}

/// Total size in bytes of the given inputs (0 for stdin), for sizing a progress bar.
pub fn input_size(inputs: &[PathBuf]) -> u64 {
    let mut total = 0;
    for input in inputs {
        if let Ok(sources) = expand_input(input, None) {
            for source in sources {
                if let Some(meta) = source.path.as_ref().and_then(|p| std::fs::metadata(p).ok()) {
                    total += meta.len();
                }
            }
        }
    }
    total
}

/// Reads every input. Fails only when an input named on the command line cannot be opened, or
/// in strict mode at the first rejected record.
pub fn read_corpus(
    inputs: &[PathBuf],
    opts: &ReadOptions,
    progress: ProgressFn<'_>,
) -> Result<Corpus> {
    let mut sources = Vec::new();
    for input in inputs {
        sources.extend(expand_input(input, opts.format)?);
    }
    let mut corpus = Corpus::default();
    for source in &sources {
        read_source(source, opts, &mut corpus, progress);
        if opts.strict {
            check_strict(&corpus)?;
        }
    }
    reject_duplicate_ids(&mut corpus);
    if opts.strict {
        check_strict(&corpus)?;
    }
    Ok(corpus)
}

/// Reads every input into `sink`, in input order, without keeping anything itself. Fails only
/// when an input named on the command line cannot be opened. Strict mode and duplicate ids are
/// the caller's business ([`read_corpus`] rejects the later duplicates itself).
pub fn stream_records(
    inputs: &[PathBuf],
    opts: &ReadOptions,
    progress: ProgressFn<'_>,
    sink: &mut dyn RecordSink,
) -> Result<()> {
    let mut sources = Vec::new();
    for input in inputs {
        sources.extend(expand_input(input, opts.format)?);
    }
    for source in &sources {
        read_source(source, opts, sink, progress);
    }
    Ok(())
}

/// Records handed on by [`stream_records_ahead`] at once: about this much text...
const AHEAD_CHUNK_BYTES: usize = 4 << 20;
/// ...or this many records, whichever comes first.
const AHEAD_CHUNK_RECORDS: usize = 2048;
/// Chunks waiting between the threads: the reading thread parses on a pool of its own
/// ([`parse_pool`]), so it gets ahead while the sink signs, by up to this many chunks and the
/// block being parsed (~16 MB, or a few huge articles, more than plain reading). Measured at
/// 100k `--no-stories`, 10 alternating runs: with none (and parsing on the global pool)
/// 1.192 s, 159 MB peak; 2 on the parse pool 1.159 s, 174 MB; 4: 1.164 s, 179 MB. (Waiting
/// chunks without a pool of their own did not help: the parsing could not get ahead.)
const AHEAD_CHUNKS: usize = 2;

/// [`stream_records`] on a reading thread of its own: `sink` gets the same calls in the same
/// order on the calling thread, while the input after them is read and parsed.
///
/// The calling thread's serial work (a batch's bookkeeping, whatever `sink` does between its
/// parallel steps) and the reading thread's (file reads, cutting blocks into lines, handing
/// records on) then overlap, instead of leaving a core idle in turn. CSV headers are numbered
/// in the order they come (0, 1, ...): `sink` must number them the same way, or ignore them.
pub fn stream_records_ahead(
    inputs: &[PathBuf],
    opts: &ReadOptions,
    progress: ProgressFn<'_>,
    sink: &mut dyn RecordSink,
) -> Result<()> {
    stream_wanted_records_ahead(inputs, opts, progress, &|_, _| true, sink)
}

/// Which records a reader passes on, by origin: file (as displayed) and line (see
/// [`RecordSink::wants`]).
pub type WantedFn<'a> = &'a (dyn Fn(&str, u64) -> bool + Sync);

/// [`stream_records_ahead`] of the records that `wanted` accepts only (the others are skipped
/// unparsed; `sink.wants` is not asked, as `sink` lives on the calling thread).
pub fn stream_wanted_records_ahead(
    inputs: &[PathBuf],
    opts: &ReadOptions,
    progress: ProgressFn<'_>,
    wanted: WantedFn<'_>,
    sink: &mut dyn RecordSink,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (chunks, received) = std::sync::mpsc::sync_channel(AHEAD_CHUNKS);
        let reader = scope.spawn(move || {
            let mut ahead = ReadAhead {
                chunks,
                events: Vec::new(),
                text_bytes: 0,
                headers: 0,
                wanted,
            };
            let mut read = || stream_records(inputs, opts, progress, &mut ahead);
            let result = match parse_pool() {
                Some(pool) => pool.install(read),
                None => read(),
            };
            ahead.send();
            result
        });
        for events in received {
            for event in events {
                match event {
                    SinkEvent::Record(record, lossy) => sink.record(record, lossy),
                    SinkEvent::CsvHeader(header) => {
                        sink.csv_header(header);
                    }
                    SinkEvent::FileStarted => sink.file_started(),
                }
            }
        }
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Threads of their own for parsing ahead, as many as the global pool's (half as many made the
/// 100k run 4% slower than this; parsing is a fifth of the first pass's work, so they are mostly
/// asleep). On the global pool a block's parsing waited behind the signing of the batch before
/// (a worker takes injected jobs only when its own are done), so the reading thread could never
/// get ahead, and the pool idled while it read and cut the next block; the system shares the
/// cores between the two pools. `None` with one worker thread (`--threads 1` keeps to about one
/// core) or if the threads cannot be made: then parsing shares the global pool.
fn parse_pool() -> Option<rayon::ThreadPool> {
    let threads = rayon::current_num_threads();
    if threads < 2 {
        return None;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("storyhash-parse-{i}"))
        .build()
        .ok()
}

/// A [`RecordSink`] call, as [`stream_records_ahead`] passes it between threads.
// Events travel by value in chunks that are reused; boxing the article would cost an allocation
// per record.
#[allow(clippy::large_enum_variant)]
enum SinkEvent {
    Record(std::result::Result<Article, Reject>, bool),
    CsvHeader(Vec<String>),
    FileStarted,
}

/// The reading thread's sink of [`stream_records_ahead`]: collects calls into chunks and sends
/// them to the calling thread.
struct ReadAhead<'w> {
    chunks: std::sync::mpsc::SyncSender<Vec<SinkEvent>>,
    events: Vec<SinkEvent>,
    text_bytes: usize,
    headers: usize,
    wanted: WantedFn<'w>,
}

impl ReadAhead<'_> {
    fn send(&mut self) {
        if self.events.is_empty() {
            return;
        }
        self.text_bytes = 0;
        // The calling thread is gone only if it panicked; the panic is reported there.
        let _ = self.chunks.send(std::mem::take(&mut self.events));
    }
}

impl RecordSink for ReadAhead<'_> {
    fn record(&mut self, record: std::result::Result<Article, Reject>, lossy: bool) {
        self.text_bytes += record.as_ref().map_or(0, |article| article.text.len());
        self.events.push(SinkEvent::Record(record, lossy));
        if self.text_bytes >= AHEAD_CHUNK_BYTES || self.events.len() >= AHEAD_CHUNK_RECORDS {
            self.send();
        }
    }

    fn csv_header(&mut self, header: Vec<String>) -> usize {
        self.events.push(SinkEvent::CsvHeader(header));
        self.headers += 1;
        self.headers - 1
    }

    fn file_started(&mut self) {
        self.events.push(SinkEvent::FileStarted);
    }

    fn wants(&self, file: &str, line: u64) -> bool {
        (self.wanted)(file, line)
    }
}

/// Reads records again by their spans ([`RecordOrigin::span`]): a pass that needs a few
/// records of large JSONL files reads those bytes only, instead of the files.
pub struct SpanReader {
    /// The input files that records can come from, by the name their origins give.
    sources: AHashMap<Arc<str>, Source>,
}

/// Bytes between two wanted records that one read takes in rather than split in two reads.
const SPAN_GAP_READ: u64 = 64 << 10;
/// The most one read takes in (unless one record is larger).
const SPAN_READ_BYTES: u64 = 4 << 20;

impl SpanReader {
    /// The files of `inputs` (folders expanded, as the readers do).
    pub fn new(inputs: &[PathBuf], opts: &ReadOptions) -> Result<SpanReader> {
        let mut sources = AHashMap::new();
        for input in inputs {
            for source in expand_input(input, opts.format)? {
                sources.insert(source.display.clone(), source);
            }
        }
        Ok(SpanReader { sources })
    }

    /// Whether the record at `origin` can be read again alone.
    pub fn can_read(&self, origin: &RecordOrigin) -> bool {
        origin.span.is_some()
            && self
                .sources
                .get(&origin.file)
                .is_some_and(|source| source.path.is_some())
    }

    /// The records at `origins` (each readable, see [`SpanReader::can_read`]), in that order;
    /// `None` for one that cannot be read or is no longer an article (the file changed). Each
    /// read takes in neighbouring records together; reads and parsing run on all threads.
    pub fn read(&self, origins: &[&RecordOrigin], opts: &ReadOptions) -> Vec<Option<Article>> {
        let mut order: Vec<usize> = (0..origins.len()).collect();
        let place = |i: usize| (&*origins[i].file, origins[i].span.map(|span| span.offset));
        order.sort_by(|&a, &b| place(a).cmp(&place(b)));
        let runs = span_runs(&order, origins);
        let parsed: Vec<Vec<Option<Article>>> = runs
            .par_iter()
            .map(|run| self.read_run(run, origins, opts))
            .collect();
        let mut articles: Vec<Option<Article>> = vec![None; origins.len()];
        for (run, parsed) in runs.iter().zip(parsed) {
            for (&i, article) in run.iter().zip(parsed) {
                articles[i] = article;
            }
        }
        articles
    }

    /// The articles of one run of records (see [`span_runs`]), read at once.
    fn read_run(
        &self,
        run: &[usize],
        origins: &[&RecordOrigin],
        opts: &ReadOptions,
    ) -> Vec<Option<Article>> {
        let first = origins[run[0]];
        let source = self.sources.get(&first.file);
        let bytes = source.and_then(|source| read_span_bytes(source, run, origins));
        let (Some(source), Some(bytes)) = (source, bytes) else {
            return vec![None; run.len()];
        };
        let start = first.span.map_or(0, |span| span.offset);
        run.iter()
            .map(|&i| {
                let origin = origins[i];
                let span = origin.span?;
                let from = (span.offset - start) as usize;
                let record = bytes.get(from..from + span.len as usize)?;
                let parsed =
                    jsonl::parse_jsonl_line(source, origin.line, record, Some(span), opts)?;
                parsed.record.ok()
            })
            .collect()
    }
}

/// `order` (indices into `origins`, by file and offset) cut into runs read at once (see
/// [`byte_runs`]).
fn span_runs<'o>(order: &'o [usize], origins: &[&RecordOrigin]) -> Vec<&'o [usize]> {
    let bounds = |i: usize| {
        let span = origins[i].span.unwrap_or(RecordSpan { offset: 0, len: 0 });
        (span.offset, span.offset + u64::from(span.len))
    };
    let same_file = |a: usize, b: usize| origins[a].file == origins[b].file;
    byte_runs(order, bounds, same_file, SPAN_GAP_READ, SPAN_READ_BYTES)
}

/// `items` (in file order) cut into runs that one read takes in: byte ranges (`bounds`, start
/// and end) of one file (`together`), at most `gap` bytes apart, at most `most` bytes from the
/// first's start to the last's end (a larger item is a run of its own).
pub(crate) fn byte_runs(
    items: &[usize],
    bounds: impl Fn(usize) -> (u64, u64),
    together: impl Fn(usize, usize) -> bool,
    gap: u64,
    most: u64,
) -> Vec<&[usize]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=items.len() {
        let cut = match items.get(i) {
            None => true,
            Some(&next) => {
                let (first, previous) = (items[start], items[i - 1]);
                !together(first, next)
                    || bounds(next).0.saturating_sub(bounds(previous).1) > gap
                    || bounds(next).1.saturating_sub(bounds(first).0) > most
            }
        };
        if cut {
            runs.push(&items[start..i]);
            start = i;
        }
    }
    runs
}

/// The bytes from the first record of `run` to the end of its last, read at once.
fn read_span_bytes(source: &Source, run: &[usize], origins: &[&RecordOrigin]) -> Option<Vec<u8>> {
    let path = source.path.as_deref()?;
    let first = origins[*run.first()?].span?;
    let last = origins[*run.last()?].span?;
    let end = last.offset + u64::from(last.len);
    let mut bytes = vec![0u8; usize::try_from(end.checked_sub(first.offset)?).ok()?];
    let mut file = File::open(path).ok()?;
    use std::io::Seek;
    file.seek(io::SeekFrom::Start(first.offset)).ok()?;
    file.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

/// Whether an input is stdin, which can be read only once.
pub fn is_stdin(input: &Path) -> bool {
    input.as_os_str() == "-"
}

fn check_strict(corpus: &Corpus) -> Result<()> {
    match corpus.rejects.first() {
        Some(reject) => Err(Error::Strict {
            file: reject.file.clone(),
            line: reject.line,
            reason: reject.reason.to_string(),
        }),
        None => Ok(()),
    }
}

/// Expands one command-line input into readable sources: stdin, a file, or a folder's files.
fn expand_input(input: &Path, forced: Option<Format>) -> Result<Vec<Source>> {
    if input.as_os_str() == "-" {
        return Ok(vec![Source {
            display: Arc::from("<stdin>"),
            path: None,
            file_id: "<stdin>".to_string(),
            format: forced,
        }]);
    }
    let meta = std::fs::metadata(input).map_err(|source| Error::Input {
        path: input.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        File::open(input).map_err(|source| Error::Input {
            path: input.to_path_buf(),
            source,
        })?;
        let display = input.display().to_string();
        return Ok(vec![Source {
            display: Arc::from(display.as_str()),
            path: Some(input.to_path_buf()),
            file_id: display,
            format: forced.or_else(|| Format::from_path(input)),
        }]);
    }
    let mut files = Vec::new();
    let mut visited = Vec::new();
    walk_folder(input, &mut files, &mut visited);
    Ok(files
        .into_iter()
        .filter_map(|path| {
            let format = forced.or_else(|| Format::from_path(&path))?;
            let relative = path.strip_prefix(input).unwrap_or(&path);
            let file_id = relative.to_string_lossy().replace('\\', "/");
            Some(Source {
                display: Arc::from(path.display().to_string().as_str()),
                path: Some(path),
                file_id,
                format: Some(format),
            })
        })
        .collect())
}

/// Collects the files under `dir`, sorted, following symlinks but never entering a folder twice
/// (a symlink loop ends there). Entries that cannot be listed are kept as files so that reading
/// them produces an "unreadable" reject instead of vanishing.
fn walk_folder(dir: &Path, files: &mut Vec<PathBuf>, visited: &mut Vec<PathBuf>) {
    let Ok(canonical) = dir.canonicalize() else {
        files.push(dir.to_path_buf());
        return;
    };
    if visited.contains(&canonical) {
        return;
    }
    visited.push(canonical);
    let Ok(entries) = std::fs::read_dir(dir) else {
        files.push(dir.to_path_buf());
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk_folder(&path, files, visited);
        } else {
            files.push(path);
        }
    }
}

/// A reader that reports the bytes it hands out, so progress follows the compressed file size.
struct CountingReader<'a, R> {
    inner: R,
    progress: ProgressFn<'a>,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("gz"))
}

/// Opens a source as a buffered byte stream, decompressing `.gz`.
fn open_source<'a>(source: &Source, progress: ProgressFn<'a>) -> io::Result<Box<dyn BufRead + 'a>> {
    let raw: Box<dyn Read> = match &source.path {
        None => Box::new(io::stdin()),
        Some(path) => Box::new(File::open(path)?),
    };
    let counted = CountingReader {
        inner: raw,
        progress,
    };
    let gz = source.path.as_deref().is_some_and(is_gzip);
    if gz {
        let decoder = flate2::read::MultiGzDecoder::new(BufReader::new(counted));
        return Ok(Box::new(BufReader::with_capacity(1 << 16, decoder)));
    }
    Ok(Box::new(BufReader::with_capacity(1 << 16, counted)))
}

fn read_source(
    source: &Source,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
    progress: ProgressFn<'_>,
) {
    sink.file_started();
    match open_source(source, progress) {
        Ok(stream) => read_stream(source, stream, opts, sink),
        Err(err) => push_unreadable(sink, source, 0, &err.to_string()),
    }
}

/// Reads one opened source in its format (sniffed when unknown).
fn read_stream(
    source: &Source,
    mut stream: Box<dyn BufRead + '_>,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
) {
    let format = match source.format {
        Some(format) => format,
        None => match sniff_format(&mut stream) {
            Ok(format) => format,
            Err(err) => {
                push_unreadable(sink, source, 0, &err.to_string());
                return;
            }
        },
    };
    match format {
        Format::Jsonl => read_jsonl(source, stream, opts, sink),
        Format::Csv => read_csv(source, stream, opts, sink),
        Format::Text | Format::Html => read_whole_file(source, stream, format, opts, sink),
    }
}

/// Reads records from bytes in memory as if they were a file called `name` (its extension,
/// `.gz` included, picks the format unless `opts.format` is set). Used by tests and fuzzers.
pub fn read_bytes(name: &str, bytes: &[u8], opts: &ReadOptions) -> Corpus {
    let path = Path::new(name);
    let source = Source {
        display: Arc::from(name),
        path: None,
        file_id: name.to_string(),
        format: opts.format.or_else(|| Format::from_path(path)),
    };
    let mut corpus = Corpus::default();
    corpus.stats.files = 1;
    let stream: Box<dyn BufRead + '_> = if is_gzip(path) {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(bytes)))
    } else {
        Box::new(bytes)
    };
    read_stream(&source, stream, opts, &mut corpus);
    reject_duplicate_ids(&mut corpus);
    corpus
}

/// Guesses JSONL (first visible byte is `{`) or CSV for stdin and unknown extensions.
fn sniff_format(stream: &mut Box<dyn BufRead + '_>) -> io::Result<Format> {
    let head = stream.fill_buf()?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    Ok(match first {
        Some(b'{') => Format::Jsonl,
        Some(b'<') => Format::Html,
        _ => Format::Csv,
    })
}

fn push_unreadable(sink: &mut dyn RecordSink, source: &Source, line: u64, message: &str) {
    let reject = Reject {
        file: source.display.to_string(),
        line,
        id: String::new(),
        reason: RejectReason::Unreadable(message.to_string()),
    };
    sink.record(Err(reject), false);
}

/// Decodes bytes as UTF-8, lossily when needed. The flag says whether bytes were replaced.
fn decode(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(err) => (String::from_utf8_lossy(err.as_bytes()).into_owned(), true),
    }
}

/// The outcome of parsing one record.
struct Parsed {
    record: std::result::Result<Article, Reject>,
    lossy: bool,
}

/// A field value as the article builder sees it: text borrowed from the record where it can be
/// (an article's text is copied once, into the article).
#[derive(Clone)]
enum FieldValue<'a> {
    Missing,
    Text(Cow<'a, str>),
    NotText,
}

/// Read access to a record's fields by name, whatever the input format.
trait RecordFields {
    /// Field `name`, borrowed from the record.
    fn get(&self, name: &str) -> FieldValue<'_>;

    /// Field `name` as owned text, moved out of the record when it holds it owned (a JSON
    /// string with escapes: a scraped text with its newlines), else copied; the record reads
    /// differently afterwards, so this is the last thing asked of it.
    fn take_text(&mut self, name: &str) -> Option<String> {
        match self.get(name) {
            FieldValue::Text(text) => Some(text.into_owned()),
            _ => None,
        }
    }

    /// The first present, non-empty field of `names`.
    fn first_text(&self, names: &[String]) -> Option<String> {
        names.iter().find_map(|name| match self.get(name) {
            FieldValue::Text(text) if !text.trim().is_empty() => Some(text.into_owned()),
            _ => None,
        })
    }
}

struct CsvFields<'a> {
    header: &'a AHashMap<String, usize>,
    row: &'a [String],
}

impl RecordFields for CsvFields<'_> {
    fn get(&self, name: &str) -> FieldValue<'_> {
        match self.header.get(name).and_then(|&i| self.row.get(i)) {
            Some(value) => FieldValue::Text(Cow::Borrowed(value)),
            None => FieldValue::Missing,
        }
    }
}

/// Builds an article from any record, applying the field map and the text checks.
fn build_article(
    fields: &mut dyn RecordFields,
    source: &Source,
    line: u64,
    format: Format,
    opts: &ReadOptions,
) -> std::result::Result<Article, Reject> {
    let map = &opts.fields;
    let id = fields
        .first_text(&map.id)
        .map(|id| id.trim().to_string())
        .unwrap_or_else(|| format!("{}:{}", source.file_id, line));
    let trimmed = |names: &[String]| {
        fields
            .first_text(names)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let (date, url, source_name) = (trimmed(&map.date), trimmed(&map.url), trimmed(&map.source));
    let title = fields.first_text(&map.title).unwrap_or_default();
    // The text last: it may be moved out of the record (see `RecordFields::take_text`).
    let reject = |reason| Reject {
        file: source.display.to_string(),
        line,
        id: id.clone(),
        reason,
    };
    let mut text = extract_text(fields, map).map_err(reject)?;
    if looks_like_html(&text) {
        // Scrapers often store the page instead of its text: keep what a reader would see.
        text = html_to_text(&text).1;
    }
    if text.trim().is_empty() {
        return Err(reject(RejectReason::EmptyText));
    }
    Ok(Article {
        id,
        title,
        text,
        date,
        url,
        source: source_name,
        origin: RecordOrigin {
            file: source.display.clone(),
            line,
            span: None,
        },
        format,
        raw: None,
    })
}

/// The article text: the user's fields joined in order, or the first fallback field present.
fn extract_text(
    fields: &mut dyn RecordFields,
    map: &FieldMap,
) -> std::result::Result<String, RejectReason> {
    let mut parts = Vec::new();
    let mut any_present = false;
    for name in &map.text {
        match fields.get(name) {
            FieldValue::Missing => continue,
            FieldValue::NotText => {
                return Err(RejectReason::TextNotAString {
                    field: name.clone(),
                })
            }
            FieldValue::Text(text) => {
                any_present = true;
                if text.trim().is_empty() {
                    continue;
                }
                parts.push((name, text));
                if !map.join_text {
                    break;
                }
            }
        }
    }
    if !any_present {
        return Err(RejectReason::MissingText {
            tried: map.text.join(", "),
        });
    }
    match &parts[..] {
        [] => Err(RejectReason::EmptyText),
        [(name, _)] => {
            let name = *name;
            drop(parts);
            Ok(fields.take_text(name).unwrap_or_default())
        }
        _ => {
            let texts: Vec<&str> = parts.iter().map(|(_, text)| text.as_ref()).collect();
            Ok(texts.join("\n"))
        }
    }
}

/// Turns CRLF into LF. The csv crate ends a record at the `\r` of a CRLF and counts the `\n` in
/// the next record's position, which would make every reported line number one short.
struct CrlfToLf<R> {
    inner: R,
    /// A `\r` seen at the end of the last chunk, not yet known to be followed by `\n`.
    pending_cr: bool,
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() < 2 {
            return self.inner.read(buf);
        }
        let start = usize::from(self.pending_cr);
        let n = self.inner.read(&mut buf[start..])?;
        if self.pending_cr {
            buf[0] = b'\r';
            self.pending_cr = false;
            if n == 0 {
                return Ok(1);
            }
        } else if n == 0 {
            return Ok(0);
        }
        let len = start + n;
        let mut write = 0;
        for read in 0..len {
            let byte = buf[read];
            if byte == b'\r' {
                if read + 1 == len {
                    self.pending_cr = true;
                    continue;
                }
                if buf[read + 1] == b'\n' {
                    continue;
                }
            }
            buf[write] = byte;
            write += 1;
        }
        if write == 0 {
            // Only a held-back `\r` so far: read on, so that 0 still means end of input.
            return self.read(buf);
        }
        Ok(write)
    }
}

fn read_csv(
    source: &Source,
    stream: Box<dyn BufRead + '_>,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
) {
    let stream = CrlfToLf {
        inner: stream,
        pending_cr: false,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(stream);
    let mut record = csv::ByteRecord::new();
    let header: Vec<String> = match reader.read_byte_record(&mut record) {
        Ok(true) => record
            .iter()
            .map(decode_csv_field)
            .map(|(f, _)| f)
            .collect(),
        Ok(false) => return, // an empty file holds no records
        Err(err) => {
            push_unreadable(sink, source, 1, &format!("CSV header: {err}"));
            return;
        }
    };
    let header: Vec<String> = header
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let name = if i == 0 {
                name.trim_start_matches('\u{FEFF}').to_string()
            } else {
                name
            };
            name.trim().to_string()
        })
        .collect();
    let columns: AHashMap<String, usize> = header
        .iter()
        .enumerate()
        .rev() // the first of two same-named columns wins
        .map(|(i, name)| (name.clone(), i))
        .collect();
    let header_index = sink.csv_header(header.clone());
    loop {
        let line = reader.position().line() + 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                if !sink.wants(&source.display, line) {
                    continue;
                }
                let parsed =
                    parse_csv_row(source, line, &record, &header, &columns, header_index, opts);
                sink.record(parsed.record, parsed.lossy);
            }
            Err(err) => {
                let fatal = matches!(err.kind(), csv::ErrorKind::Io(_));
                let line = err.position().map_or(line, |p| p.line());
                if !fatal && !sink.wants(&source.display, line) {
                    continue;
                }
                sink.record(
                    Err(Reject {
                        file: source.display.to_string(),
                        line,
                        id: String::new(),
                        reason: RejectReason::InvalidCsv(err.to_string()),
                    }),
                    false,
                );
                if fatal {
                    break;
                }
            }
        }
    }
}

fn decode_csv_field(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), true),
    }
}

fn parse_csv_row(
    source: &Source,
    line: u64,
    record: &csv::ByteRecord,
    header: &[String],
    columns: &AHashMap<String, usize>,
    header_index: usize,
    opts: &ReadOptions,
) -> Parsed {
    let mut lossy = false;
    let row: Vec<String> = record
        .iter()
        .map(|field| {
            let (text, bad) = decode_csv_field(field);
            lossy |= bad;
            text
        })
        .collect();
    if row.len() != header.len() {
        let fields = CsvFields {
            header: columns,
            row: &row,
        };
        let id = fields.first_text(&opts.fields.id).unwrap_or_default();
        let reject = Reject {
            file: source.display.to_string(),
            line,
            id,
            reason: RejectReason::RaggedRow {
                fields: row.len(),
                header: header.len(),
            },
        };
        return Parsed {
            record: Err(reject),
            lossy,
        };
    }
    let mut fields = CsvFields {
        header: columns,
        row: &row,
    };
    let record = build_article(&mut fields, source, line, Format::Csv, opts).map(|mut article| {
        if opts.keep_raw {
            article.raw = Some(RawRecord::CsvRow {
                header: header_index,
                fields: row.clone(),
            });
        }
        article
    });
    Parsed { record, lossy }
}

/// A folder's `.txt`/`.md`/`.html` file: one article whose id is the relative path.
fn read_whole_file(
    source: &Source,
    mut stream: Box<dyn BufRead + '_>,
    format: Format,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
) {
    if !sink.wants(&source.display, 0) {
        return;
    }
    let mut bytes = Vec::new();
    if let Err(err) = stream.read_to_end(&mut bytes) {
        push_unreadable(sink, source, 0, &format!("read error: {err}"));
        return;
    }
    let (content, lossy) = decode(bytes);
    let content = content.trim_start_matches('\u{FEFF}');
    let (title, text) = match format {
        Format::Html => html_to_text(content),
        _ => plain_title_and_text(content),
    };
    let parsed = if text.trim().is_empty() {
        Err(Reject {
            file: source.display.to_string(),
            line: 0,
            id: source.file_id.clone(),
            reason: RejectReason::EmptyText,
        })
    } else {
        Ok(Article {
            id: source.file_id.clone(),
            title,
            text,
            date: String::new(),
            url: String::new(),
            source: String::new(),
            origin: RecordOrigin {
                file: source.display.clone(),
                line: 0,
                span: None,
            },
            format,
            raw: opts.keep_raw.then(|| RawRecord::File {
                text: content.to_string(),
            }),
        })
    };
    sink.record(parsed, lossy);
}

/// Plain text and Markdown: the first non-empty line is the title; the whole file is the text.
fn plain_title_and_text(content: &str) -> (String, String) {
    let title = content
        .lines()
        .map(|line| line.trim().trim_start_matches('#').trim())
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    let title: String = title.chars().take(300).collect();
    (title, content.replace("\r\n", "\n"))
}

/// Elements whose content is never visible text.
const INVISIBLE: &[&str] = &[
    "script", "style", "noscript", "template", "head", "svg", "iframe", "object", "canvas",
];

/// Elements that end a line of text, so that boilerplate lines stay lines.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "hr",
    "dd",
    "dt",
    "main",
    "form",
    "address",
];

/// A text field that holds HTML markup rather than text: it starts with a tag and closes one.
fn looks_like_html(text: &str) -> bool {
    let start = text.trim_start();
    start.starts_with('<')
        && start[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '!')
        && text.contains("</")
}

/// Reduces an HTML document to (title, visible text) with a real HTML parser (html5ever).
pub fn html_to_text(html: &str) -> (String, String) {
    let document = scraper::Html::parse_document(html);
    let mut text = String::with_capacity(html.len() / 2);
    collect_visible(document.tree.root(), &mut text);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let title_element = document.tree.root().descendants().find(|node| {
        node.value()
            .as_element()
            .is_some_and(|e| e.name() == "title")
    });
    let title: String = title_element
        .map(|node| {
            let parts: Vec<&str> = node
                .descendants()
                .filter_map(|d| d.value().as_text().map(|t| &**t))
                .collect();
            parts.concat()
        })
        .unwrap_or_default();
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    (title, lines.join("\n"))
}

fn collect_visible(node: ego_tree::NodeRef<'_, scraper::Node>, text: &mut String) {
    for child in node.children() {
        match child.value() {
            scraper::Node::Text(t) => push_collapsed(text, t),
            scraper::Node::Element(element) => {
                let name = element.name();
                if INVISIBLE.contains(&name) {
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    text.push('\n');
                }
                collect_visible(child, text);
                if block {
                    text.push('\n');
                }
            }
            _ => {}
        }
    }
}

/// Appends text with runs of whitespace collapsed to one space (HTML rendering rules).
fn push_collapsed(out: &mut String, text: &str) {
    let mut last_space = out.ends_with(' ') || out.ends_with('\n') || out.is_empty();
    for c in text.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

/// Rejects every record whose id was already seen; the first one stays.
fn reject_duplicate_ids(corpus: &mut Corpus) {
    let articles = &corpus.articles;
    let duplicate_of = repeated_ids(articles.len(), |i| &articles[i].id);
    if duplicate_of.is_empty() {
        return;
    }
    let mut is_duplicate = vec![false; corpus.articles.len()];
    for &(i, first) in &duplicate_of {
        is_duplicate[i] = true;
        let (article, first) = (&corpus.articles[i], &corpus.articles[first].origin);
        corpus
            .rejects
            .push(Reject::repeated_id(&article.origin, &article.id, first));
    }
    let mut index = 0;
    corpus.articles.retain(|_| {
        let keep = !is_duplicate[index];
        index += 1;
        keep
    });
}

/// The records whose id an earlier record already has, as (record, the first record with that
/// id), in record order; `id(i)` is record `i`'s id. On all threads: the ids are hashed, the
/// (hash, record) pairs sorted, and ids compared only within one hash (a map of every id, on
/// one thread at the end of the first pass, was ~7-10 ms of a 100,000-article run's timeline;
/// at 1,000,000 the reading stage went 7.82-8.24 -> 7.17-8.21 s without it). A million
/// records with one id cost a sort, not a million comparisons each.
pub(crate) fn repeated_ids<'a>(
    count: usize,
    id: impl Fn(usize) -> &'a str + Sync,
) -> Vec<(usize, usize)> {
    let mut keyed: Vec<(u64, u32)> = (0..count)
        .into_par_iter()
        .map(|i| (xxhash_rust::xxh3::xxh3_64(id(i).as_bytes()), i as u32))
        .collect();
    keyed.par_sort_unstable();
    let mut repeated = Vec::new();
    for same_hash in keyed.chunk_by(|a, b| a.0 == b.0) {
        if same_hash.len() < 2 {
            continue;
        }
        let mut records: Vec<usize> = same_hash.iter().map(|&(_, i)| i as usize).collect();
        records.sort_by(|&a, &b| id(a).cmp(id(b)).then(a.cmp(&b)));
        for same_id in records.chunk_by(|&a, &b| id(a) == id(b)) {
            repeated.extend(same_id[1..].iter().map(|&later| (later, same_id[0])));
        }
    }
    repeated.sort_unstable();
    repeated
}

/// A calendar date read from an article's date field, for ordering. Only the day counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateKey {
    year: u16,
    month: u8,
    day: u8,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

impl DateKey {
    /// A date from its parts, or `None` when they are out of range.
    pub fn checked(year: u32, month: u32, day: u32) -> Option<DateKey> {
        let valid =
            (1000..=9999).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day);
        valid.then_some(DateKey {
            year: year as u16,
            month: month as u8,
            day: day as u8,
        })
    }

    /// A date from parts known to be valid (tests and generators).
    pub fn new(year: u32, month: u32, day: u32) -> DateKey {
        DateKey::checked(year, month, day).unwrap_or(DateKey {
            year: 1970,
            month: 1,
            day: 1,
        })
    }

    /// Reads `2018-05-30`, `2018/05/30`, `2018-05-30T10:00:00Z`, `30 May 2018`,
    /// `Wed, 30 May 2018 10:00:00 GMT` and `May 30, 2018`. Anything else is `None`.
    pub fn parse(text: &str) -> Option<DateKey> {
        let text = text.trim();
        let bytes = text.as_bytes();
        if bytes.len() >= 10
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && matches!(bytes[4], b'-' | b'/' | b'.')
            && bytes[7] == bytes[4]
        {
            let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
            return DateKey::checked(number(0..4)?, number(5..7)?, number(8..10)?);
        }
        DateKey::parse_with_month_name(text)
    }

    fn parse_with_month_name(text: &str) -> Option<DateKey> {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        let month_at = words.iter().position(|w| {
            let w = w.to_ascii_lowercase();
            w.len() >= 3 && MONTHS.iter().any(|m| w.starts_with(m))
        })?;
        let month_word = words[month_at].to_ascii_lowercase();
        let month = MONTHS.iter().position(|m| month_word.starts_with(m))? as u32 + 1;
        let number = |i: usize| words.get(i)?.trim_end_matches('.').parse::<u32>().ok();
        // "30 May 2018" or "May 30, 2018"
        if let (Some(day), Some(year)) = (
            month_at.checked_sub(1).and_then(number),
            number(month_at + 1),
        ) {
            return DateKey::checked(year, month, day);
        }
        DateKey::checked(number(month_at + 2)?, month, number(month_at + 1)?)
    }

    /// `YYYY-MM-DD`.
    pub fn to_iso(self) -> String {
        let mut iso = String::with_capacity(10);
        self.push_iso(&mut iso);
        iso
    }

    /// Appends `YYYY-MM-DD` (as `{:04}-{:02}-{:02}` writes it) without the formatting
    /// machinery: clusters.csv writes a date per article.
    pub fn push_iso(self, out: &mut String) {
        if self.year > 9999 || self.month > 99 || self.day > 99 {
            use std::fmt::Write as _;
            // Writing into a String cannot fail.
            let _ = write!(out, "{:04}-{:02}-{:02}", self.year, self.month, self.day);
            return;
        }
        let digit = |n: u16| char::from(b'0' + (n % 10) as u8);
        let (year, month, day) = (self.year, u16::from(self.month), u16::from(self.day));
        for c in [
            digit(year / 1000),
            digit(year / 100),
            digit(year / 10),
            digit(year),
            '-',
            digit(month / 10),
            digit(month),
            '-',
            digit(day / 10),
            digit(day),
        ] {
            out.push(c);
        }
    }

    /// Days since 1970-01-01 (proleptic Gregorian), for date distances.
    pub fn days(self) -> i64 {
        let (y, m, d) = (self.year as i64, self.month as i64, self.day as i64);
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_read_the_same_borrowed_or_unescaped() {
        let opts = ReadOptions::default();
        let jsonl = concat!(
            r#"{"id": 7, "title": "T\u00e9st \"q\"", "text": "Line one\nline two caf\u00e9"}"#,
            "\n",
            r#"{"id": "b", "title": "plain", "text": ["para one", "para two"], "url": " u "}"#,
            "\n",
            r#"{"id": "c", "text": "plain text", "text": "the later member wins"}"#,
            "\n",
        );
        let corpus = read_bytes("in.jsonl", jsonl.as_bytes(), &opts);
        let fields: Vec<(&str, &str, &str, &str)> = corpus
            .articles
            .iter()
            .map(|a| {
                (
                    a.id.as_str(),
                    a.title.as_str(),
                    a.text.as_str(),
                    a.url.as_str(),
                )
            })
            .collect();
        assert_eq!(
            fields,
            vec![
                ("7", "T\u{e9}st \"q\"", "Line one\nline two caf\u{e9}", ""),
                ("b", "plain", "para one\npara two", "u"),
                ("c", "", "the later member wins", ""),
            ]
        );
        let csv = "id,title,text\nx,\"A, title\",\"two\nlines\"\n";
        let corpus = read_bytes("in.csv", csv.as_bytes(), &opts);
        assert_eq!(corpus.articles[0].title, "A, title");
        assert_eq!(corpus.articles[0].text, "two\nlines");
    }

    /// The text is moved out of the parsed record (not copied) only once every other field is
    /// read: a field mapped as the text and as another field, or twice as the text, reads the
    /// same for each.
    #[test]
    fn a_field_read_as_the_text_and_as_another_reads_the_same_for_both() {
        let jsonl = concat!(
            r#"{"id": "a", "body": "First line\nsecond line"}"#,
            "\n",
            r#"{"id": "b", "body": "no escapes here"}"#,
            "\n",
        );
        let mut opts = ReadOptions::default();
        opts.fields.text = vec!["body".into()];
        opts.fields.title = vec!["body".into()];
        opts.fields.source = vec!["body".into()];
        let corpus = read_bytes("in.jsonl", jsonl.as_bytes(), &opts);
        let read: Vec<(&str, &str, &str)> = corpus
            .articles
            .iter()
            .map(|a| (a.title.as_str(), a.text.as_str(), a.source.as_str()))
            .collect();
        assert_eq!(
            read,
            vec![
                (
                    "First line\nsecond line",
                    "First line\nsecond line",
                    "First line\nsecond line"
                ),
                ("no escapes here", "no escapes here", "no escapes here"),
            ]
        );
        opts.fields.text = vec!["body".into(), "body".into()];
        opts.fields.join_text = true;
        let corpus = read_bytes("in.jsonl", jsonl.as_bytes(), &opts);
        assert_eq!(
            corpus.articles[0].text,
            "First line\nsecond line\nFirst line\nsecond line"
        );
    }

    /// Reading ahead on a thread of its own hands the sink the same records, rejects, headers
    /// and counts in the same order: over several chunks, a bad line, invalid UTF-8, two CSV
    /// files (their headers numbered in order) and a folder's text file.
    #[test]
    fn read_ahead_gives_the_sink_what_plain_reading_gives() {
        let dir = std::env::temp_dir().join(format!("storyhash-ahead-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut jsonl: Vec<u8> = Vec::new();
        for i in 0..3 * AHEAD_CHUNK_RECORDS + 17 {
            match i % 500 {
                7 => jsonl.extend_from_slice(b"{\"id\": \"broken\", \"text\": \n"),
                8 => jsonl.extend_from_slice(b"{\"id\": \"bad-utf8\", \"text\": \"caf\xe9 au lait\"}\n"),
                9 => jsonl.extend_from_slice(b"\n"),
                _ => jsonl.extend_from_slice(
                    format!("{{\"id\": \"a{i}\", \"title\": \"T{i}\", \"text\": \"word {i} and more\"}}\n")
                        .as_bytes(),
                ),
            }
        }
        std::fs::write(dir.join("a.jsonl"), &jsonl).unwrap();
        std::fs::write(
            dir.join("b.csv"),
            "id,text\nb1,\"first, row\"\nb2,second row\n",
        )
        .unwrap();
        std::fs::write(dir.join("c.csv"), "text,id\nthird row,c1\n").unwrap();
        std::fs::write(dir.join("d.txt"), "A headline\nA body line.\n").unwrap();
        let opts = ReadOptions {
            keep_raw: true,
            ..ReadOptions::default()
        };
        let inputs = [dir.clone()];
        let mut plain = Corpus::default();
        stream_records(&inputs, &opts, &|_| {}, &mut plain).unwrap();
        let mut ahead = Corpus::default();
        stream_records_ahead(&inputs, &opts, &|_| {}, &mut ahead).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(plain.articles.len() > 2 * AHEAD_CHUNK_RECORDS);
        assert_eq!(plain.stats.files, 4);
        assert_eq!(plain.stats.invalid_utf8, 13);
        assert_eq!(plain.csv_headers.len(), 2);
        assert!(!plain.rejects.is_empty());
        assert_eq!(
            format!("{:?}", ahead.articles),
            format!("{:?}", plain.articles)
        );
        assert_eq!(ahead.rejects, plain.rejects);
        assert_eq!(ahead.stats, plain.stats);
        assert_eq!(ahead.csv_headers, plain.csv_headers);
        let missing = [PathBuf::from("/nonexistent/storyhash-ahead.jsonl")];
        assert!(stream_records_ahead(&missing, &opts, &|_| {}, &mut Corpus::default()).is_err());
    }

    /// Asked for some records, the readers pass on those and no other (not even a reject),
    /// whatever the format: JSONL, CSV with a record over two lines, a folder's files.
    #[test]
    fn wanted_records_are_the_only_ones_passed_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut jsonl = String::new();
        for i in 0..50 {
            match i {
                10 => jsonl.push_str("{\"id\": \"broken\", \"text\": \n"),
                _ => jsonl.push_str(&format!("{{\"id\": \"a{i}\", \"text\": \"word {i}\"}}\n")),
            }
        }
        std::fs::write(dir.path().join("a.jsonl"), jsonl).unwrap();
        let csv = "id,text\nb1,\"two\nlines\"\nb2,after the two lines\nb3,last\n";
        std::fs::write(dir.path().join("b.csv"), csv).unwrap();
        std::fs::write(dir.path().join("c.txt"), "A headline\nA body.\n").unwrap();
        std::fs::write(dir.path().join("d.txt"), "Another\nbody.\n").unwrap();
        let inputs = [dir.path().to_path_buf()];
        let opts = ReadOptions::default();
        let mut all = Corpus::default();
        stream_records(&inputs, &opts, &|_| {}, &mut all).unwrap();
        assert_eq!(all.articles.len(), 49 + 3 + 2);
        assert_eq!(all.rejects.len(), 1);
        let every_third = |id: &str| {
            id.strip_prefix('a')
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n % 3 == 0)
        };
        let picked: Vec<&RecordOrigin> = all
            .articles
            .iter()
            .filter(|a| a.id == "b2" || a.id == "d.txt" || every_third(&a.id))
            .map(|a| &a.origin)
            .collect();
        let wanted =
            |file: &str, line: u64| picked.iter().any(|o| &*o.file == file && o.line == line);
        let mut some = Corpus::default();
        stream_wanted_records_ahead(&inputs, &opts, &|_| {}, &wanted, &mut some).unwrap();
        let origins: Vec<&RecordOrigin> = some.articles.iter().map(|a| &a.origin).collect();
        assert_eq!(origins, picked);
        // b2 starts on line 4 of b.csv, after the record over lines 2 and 3.
        assert!(some
            .articles
            .iter()
            .any(|a| a.id == "b2" && a.origin.line == 4));
        assert!(some.articles.iter().all(|a| a.id != "c.txt"));
        assert!(some.rejects.is_empty(), "the broken line was not asked for");
        let article = |id: &str| {
            all.articles
                .iter()
                .find(|a| a.id == id)
                .unwrap()
                .text
                .clone()
        };
        for got in &some.articles {
            assert_eq!(got.text, article(&got.id));
        }
    }

    /// Records read again alone by their spans are the records read with the file: the first
    /// line behind a byte-order mark, CRLF line ends, blank and broken lines between, a last
    /// line without a line end. A gzipped file's records have no spans.
    #[test]
    fn records_read_again_by_their_spans_are_the_same_articles() {
        let dir = tempfile::tempdir().unwrap();
        let mut jsonl = String::from("\u{feff}");
        for i in 0..400 {
            match i % 50 {
                7 => jsonl.push_str("{\"id\": \"broken\", \"text\": \r\n"),
                8 => jsonl.push_str("\r\n"),
                _ => jsonl.push_str(&format!(
                    "{{\"id\": \"a{i}\", \"title\": \"T{i}\", \"text\": \"word {i}\\nline two\"}}\r\n"
                )),
            }
        }
        jsonl.push_str("{\"id\": \"last\", \"text\": \"no line end\"}");
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, &jsonl).unwrap();
        let inputs = [path.clone()];
        let opts = ReadOptions::default();
        let mut all = Corpus::default();
        stream_records(&inputs, &opts, &|_| {}, &mut all).unwrap();
        assert_eq!(all.articles.len(), 385);
        let reader = SpanReader::new(&inputs, &opts).unwrap();
        assert!(all.articles.iter().all(|a| reader.can_read(&a.origin)));
        let picked: Vec<&Article> = all
            .articles
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == 0 || *i == 384)
            .map(|(_, a)| a)
            .rev() // any order
            .collect();
        let origins: Vec<&RecordOrigin> = picked.iter().map(|a| &a.origin).collect();
        let again = reader.read(&origins, &opts);
        assert_eq!(again.len(), picked.len());
        for (article, again) in picked.iter().zip(&again) {
            assert_eq!(
                format!("{:?}", again.as_ref()),
                format!("{:?}", Some(article))
            );
        }
        let gz = dir.path().join("b.jsonl.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, jsonl.as_bytes()).unwrap();
        encoder.finish().unwrap();
        let mut zipped = Corpus::default();
        stream_records(&[gz], &opts, &|_| {}, &mut zipped).unwrap();
        assert_eq!(zipped.articles.len(), 385);
        assert!(zipped.articles.iter().all(|a| a.origin.span.is_none()));
    }

    #[test]
    fn html_keeps_visible_text_and_lines() {
        let html = "<html><head><title>Big  news</title><style>p{}</style></head><body>\
            <p>First  line</p><script>var x=1;</script><div>Second<br>Third</div></body></html>";
        let (title, text) = html_to_text(html);
        assert_eq!(title, "Big news");
        assert_eq!(text, "First line\nSecond\nThird");
    }

    #[test]
    fn repeated_ids_are_the_later_records_of_an_id_each_with_its_first() {
        let mut state = 17;
        for (count, distinct) in [(0, 1), (1, 1), (5, 1), (1000, 37), (5000, 4000), (3000, 1)] {
            let ids: Vec<String> = (0..count)
                .map(|_| format!("id{}", crate::minhash::splitmix64(&mut state) % distinct))
                .collect();
            let mut first_seen: AHashMap<&str, usize> = AHashMap::new();
            let mut expected = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                match first_seen.get(id.as_str()) {
                    Some(&first) => expected.push((i, first)),
                    None => {
                        first_seen.insert(id, i);
                    }
                }
            }
            assert_eq!(
                repeated_ids(ids.len(), |i| &ids[i]),
                expected,
                "{count} of {distinct}"
            );
        }
    }

    #[test]
    fn iso_dates_are_written_as_the_formatter_writes_them() {
        for year in [1000, 1009, 1970, 1999, 2000, 2024, 9999] {
            for month in 1..=12 {
                for day in 1..=31 {
                    let date = DateKey::new(year, month, day);
                    let expected = format!("{:04}-{:02}-{:02}", date.year, date.month, date.day);
                    assert_eq!(date.to_iso(), expected);
                }
            }
        }
    }

    #[test]
    fn dates_in_common_forms() {
        let may30 = DateKey::checked(2018, 5, 30);
        for text in [
            "2018-05-30",
            "2018/05/30",
            "2018-05-30T10:00:00Z",
            "30 May 2018",
            "Wed, 30 May 2018 10:00:00 GMT",
            "May 30, 2018",
        ] {
            assert_eq!(DateKey::parse(text), may30, "{text}");
        }
        assert_eq!(DateKey::parse("yesterday"), None);
        assert_eq!(DateKey::parse("2018-13-01"), None);
        assert_eq!(DateKey::new(1970, 1, 2).days(), 1);
        assert_eq!(
            DateKey::new(2019, 1, 17).days() - DateKey::new(2018, 5, 30).days(),
            232
        );
    }

    #[test]
    fn crlf_becomes_lf_across_chunk_boundaries() {
        let input = b"a\r\nb\r\r\nc\rd\r".to_vec();
        for chunk in 2..8 {
            let mut reader = CrlfToLf {
                inner: io::Cursor::new(input.clone()),
                pending_cr: false,
            };
            let mut out = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, b"a\nb\r\nc\rd\r", "chunk {chunk}");
        }
    }

    #[test]
    fn bytes_in_memory_read_like_a_file() {
        let jsonl = b"{\"id\":\"a\",\"text\":\"one two\"}\nnot json\n";
        let corpus = read_bytes("feed.jsonl", jsonl, &ReadOptions::default());
        assert_eq!(corpus.articles.len(), 1);
        assert_eq!(corpus.rejects[0].line, 2);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"id,text\nx,hello world\n").unwrap();
        let corpus = read_bytes(
            "feed.csv.gz",
            &gz.finish().unwrap(),
            &ReadOptions::default(),
        );
        assert_eq!(corpus.articles[0].id, "x");
    }

    #[test]
    fn html_in_a_text_field_is_detected() {
        assert!(looks_like_html("<p>Hello</p>"));
        assert!(looks_like_html(
            "  <!DOCTYPE html><html><body>x</body></html>"
        ));
        assert!(!looks_like_html("<3 this story"));
        assert!(!looks_like_html("Plain text with a </ slash"));
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(
            Format::from_path(Path::new("a/feed.jsonl.gz")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_path(Path::new("x.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("x.md")), Some(Format::Text));
        assert_eq!(Format::from_path(Path::new("x.htm")), Some(Format::Html));
        assert_eq!(Format::from_path(Path::new("README")), None);
    }
}
