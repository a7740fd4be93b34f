//! Report: writes a [`Clustering`] as CSV files, and the deduplicated feed.
//!
//! - `clusters.csv`: one row per article, sorted by story, dup group, date, id;
//! - `stories.csv`: one row per story;
//! - `rejects.csv`: one row per rejected record (written only when there are any);
//! - the dedup feed: the canonical record of each dup group, in input order, fields untouched;
//! - the dups list: `id,duplicate_of,similarity` for every non-canonical article.
//!
//! Every file is written to a temporary name in the same folder and renamed when complete, so
//! an interrupted run never leaves a complete-looking partial file. Text cells that a
//! spreadsheet would execute as a formula are prefixed with `'`. This module computes nothing.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::input::{DateKey, RawRecord};
use crate::pipeline::{ArticleMeta, Clustering};

/// The columns of clusters.csv, in order (the contract of DESIGN.md).
pub const CLUSTER_COLUMNS: [&str; 11] = [
    "id",
    "story",
    "dup",
    "canonical",
    "similarity",
    "dup_size",
    "story_size",
    "date",
    "source",
    "url",
    "title",
];
/// The columns of stories.csv.
pub const STORY_COLUMNS: [&str; 8] = [
    "story",
    "size",
    "unique",
    "first_date",
    "last_date",
    "sources",
    "headline",
    "keywords",
];
/// The columns of rejects.csv.
pub const REJECT_COLUMNS: [&str; 4] = ["file", "line", "id", "reason"];

/// Makes a cell safe to open in a spreadsheet: a leading `=`, `+`, `-`, `@`, tab or carriage
/// return would start a formula, so such a cell gets a leading `'` (shown as text).
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    if starts_formula(cell) {
        return Cow::Owned(format!("'{cell}"));
    }
    Cow::Borrowed(cell)
}

/// Whether a cell starting with this byte needs [`safe_cell`]'s `'`.
fn starts_formula(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// One row's cells, formatted into buffers that are reused from row to row (a row of owned
/// strings cost ~8 allocations; clusters.csv has one row per article).
#[derive(Default)]
pub(crate) struct RowCells {
    text: String,
    /// Where each cell ends in `text`.
    ends: Vec<usize>,
}

impl RowCells {
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// A cell as it is (numbers, fixed words).
    pub(crate) fn raw(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.ends.push(self.text.len());
    }

    /// A text cell, made [`safe_cell`].
    pub(crate) fn text(&mut self, cell: &str) {
        if starts_formula(cell) {
            self.text.push('\'');
        }
        self.raw(cell);
    }

    /// A count or a number, written in place (by itoa: the formatter took ~10% of writing
    /// clusters.csv, four numbers a row).
    pub(crate) fn number(&mut self, value: usize) {
        self.text.push_str(itoa::Buffer::new().format(value));
        self.ends.push(self.text.len());
    }

    /// A date cell, `YYYY-MM-DD` (never taken for a formula: it starts with a digit).
    pub(crate) fn date(&mut self, date: DateKey) {
        date.push_iso(&mut self.text);
        self.ends.push(self.text.len());
    }

    /// A similarity cell: four decimals, as `{:.4}` writes them.
    pub(crate) fn similarity(&mut self, value: f32) {
        push_fixed4(&mut self.text, value);
        self.ends.push(self.text.len());
    }

    /// Starts a text cell built in pieces with [`RowCells::piece`], ended by
    /// [`RowCells::end_text`].
    pub(crate) fn start_text(&mut self) -> usize {
        self.text.len()
    }

    pub(crate) fn piece(&mut self, piece: &str) {
        self.text.push_str(piece);
    }

    /// Ends a text cell begun at `start`, made [`safe_cell`].
    pub(crate) fn end_text(&mut self, start: usize) {
        if starts_formula(&self.text[start..]) {
            self.text.insert(start, '\'');
        }
        self.ends.push(self.text.len());
    }

    fn cells(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start..end])
    }
}

/// A file written under a temporary name and renamed into place by [`AtomicFile::commit`].
/// Dropped without a successful commit (an error on the way included), the temporary file is
/// removed.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: BufWriter<File>,
    /// Nothing was written since the last [`AtomicFile::sync`]: the commit need not sync again
    /// (`write_cluster_outputs` syncs both files side by side, then committed each with a
    /// second fsync on one thread: 3-8 ms each under strace, ~1 ms without it).
    synced: bool,
    /// Bytes written since the kernel was last asked to start writing the file out.
    unkicked: usize,
    committed: bool,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let temp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&temp).map_err(|source| Error::Output {
            path: temp.clone(),
            source,
        })?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            writer: BufWriter::with_capacity(1 << 16, file),
            synced: false,
            unkicked: 0,
            committed: false,
        })
    }

    /// Flushes and syncs everything written so far to the temporary file: after this only the
    /// rename of [`AtomicFile::commit`] is left to fail.
    pub fn sync(&mut self) -> Result<()> {
        let output_error = |source| Error::Output {
            path: self.target.clone(),
            source,
        };
        self.writer.flush().map_err(output_error)?;
        self.writer.get_ref().sync_all().map_err(output_error)?;
        self.synced = true;
        Ok(())
    }

    /// Flushes, syncs (unless synced since the last write) and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        if !self.synced {
            self.sync()?;
        }
        std::fs::rename(&self.temp, &self.target).map_err(|source| Error::Output {
            path: self.target.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !buf.is_empty() {
            self.synced = false;
        }
        let written = self.writer.write(buf)?;
        self.unkicked += written;
        if self.unkicked >= KICK_BYTES {
            self.unkicked = 0;
            self.writer.flush()?;
            start_writeback(self.writer.get_ref());
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Bytes after which [`AtomicFile`] asks the kernel to start writing what it has out.
const KICK_BYTES: usize = 4 << 20;

/// Starts the writeback of a file's dirty pages without waiting for it (Linux), so that the
/// final fsync finds less to wait for: the disk writes while the rows are still being formatted
/// (1M articles, `--no-stories`: writing 1.21-1.34 -> 1.09-1.14 s). An error (a file system
/// without it) changes nothing: the fsync still syncs everything.
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: a valid descriptor of an open file; the call only schedules writeback.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes rows to a CSV file atomically.
pub(crate) struct CsvOutput {
    path: PathBuf,
    /// Taken only while [`CsvOutput::rows_in_parallel`] writes formatted rows to the file.
    writer: Option<csv::Writer<AtomicFile>>,
}

impl CsvOutput {
    pub(crate) fn create(path: &Path, header: &[&str]) -> Result<CsvOutput> {
        let mut output = CsvOutput {
            path: path.to_path_buf(),
            writer: Some(csv::Writer::from_writer(AtomicFile::create(path)?)),
        };
        output.row(header)?;
        Ok(output)
    }

    pub(crate) fn row<I, T>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let csv_error = |source| Error::OutputCsv {
            path: self.path.clone(),
            source,
        };
        let Some(writer) = self.writer.as_mut() else {
            return Err(self.lost_writer());
        };
        for cell in cells {
            writer.write_field(cell.as_ref()).map_err(csv_error)?;
        }
        writer.write_record(None::<&[u8]>).map_err(csv_error)
    }

    /// The error after a failed [`CsvOutput::rows_in_parallel`] lost the writer.
    fn lost_writer(&self) -> Error {
        Error::Output {
            path: self.path.clone(),
            source: io::Error::other("an earlier write failed"),
        }
    }

    /// Writes one row per item, the same bytes as [`CsvOutput::row`] for each in turn; the
    /// rows are formatted on all threads, a slice per task and a window at a time (so the
    /// formatted rows held stay small), and written in order.
    ///
    /// `prefetch(item, step)` is called for the items ahead of the one being formatted: with
    /// step 0 [`ROWS_AHEAD`] rows ahead, with step 1 half as far (to fetch what step 0 found the
    /// place of).
    pub(crate) fn rows_in_parallel<T: Sync>(
        &mut self,
        items: &[T],
        prefetch: impl Fn(&T, usize) + Sync,
        cells: impl Fn(&T, &mut RowCells) + Sync,
    ) -> Result<()> {
        let format = |rows: &[T]| -> csv::Result<Vec<u8>> {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let mut row = RowCells::default();
            for (i, item) in rows.iter().enumerate() {
                if let Some(ahead) = rows.get(i + ROWS_AHEAD) {
                    prefetch(ahead, 0);
                }
                if let Some(ahead) = rows.get(i + ROWS_AHEAD / 2) {
                    prefetch(ahead, 1);
                }
                row.clear();
                cells(item, &mut row);
                for cell in row.cells() {
                    writer.write_field(cell)?;
                }
                writer.write_record(None::<&[u8]>)?;
            }
            writer
                .into_inner()
                .map_err(|e| csv::Error::from(e.into_error()))
        };
        let path = &self.path;
        let csv_error = |source| Error::OutputCsv {
            path: path.clone(),
            source,
        };
        let io_error = |source| Error::Output {
            path: path.clone(),
            source,
        };
        let Some(writer) = self.writer.take() else {
            return Err(self.lost_writer());
        };
        let mut file = writer.into_inner().map_err(|e| io_error(e.into_error()))?;
        for window in items.chunks(ROWS_AT_ONCE) {
            let parts: Vec<csv::Result<Vec<u8>>> =
                window.par_chunks(ROWS_PER_TASK).map(format).collect();
            for part in parts {
                let bytes = part.map_err(csv_error)?;
                file.write_all(&bytes).map_err(io_error)?;
            }
        }
        self.writer = Some(csv::Writer::from_writer(file));
        Ok(())
    }

    /// Writes out and syncs everything so far (see [`AtomicFile::sync`]).
    pub(crate) fn sync(&mut self) -> Result<()> {
        let Some(writer) = self.writer.take() else {
            return Err(self.lost_writer());
        };
        let mut file = writer.into_inner().map_err(|e| Error::Output {
            path: self.path.clone(),
            source: e.into_error(),
        })?;
        file.sync()?;
        self.writer = Some(csv::Writer::from_writer(file));
        Ok(())
    }

    pub(crate) fn commit(mut self) -> Result<()> {
        let Some(writer) = self.writer.take() else {
            return Err(self.lost_writer());
        };
        let path = self.path;
        let file = writer.into_inner().map_err(|e| Error::Output {
            path: path.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        file.commit()
    }
}

/// `value` with four decimals, as `format!("{value:.4}")` writes it (see [`push_fixed4`]).
pub(crate) fn fixed4(value: f32) -> String {
    let mut text = String::with_capacity(6);
    push_fixed4(&mut text, value);
    text
}

/// Appends `value` with four decimals, the same text as `format!("{value:.4}")`: from 0 to 1
/// (every similarity) by integer arithmetic, which is exact there (`value` × 10,000 is exact in
/// an f64, and `{:.4}` rounds its exact decimal value half to even), else by the formatter.
/// The float formatter took ~13% of writing clusters.csv.
pub(crate) fn push_fixed4(out: &mut String, value: f32) {
    // Negative zero is written "-0.0000".
    if !(0.0..=1.0).contains(&value) || value.is_sign_negative() {
        use std::fmt::Write as _;
        let _ = write!(out, "{value:.4}");
        return;
    }
    let ten_thousandths = (f64::from(value) * 10_000.0).round_ties_even() as u32;
    let (units, fraction) = (ten_thousandths / 10_000, ten_thousandths % 10_000);
    out.push(char::from(b'0' + units as u8));
    out.push('.');
    for divisor in [1000, 100, 10, 1] {
        out.push(char::from(b'0' + (fraction / divisor % 10) as u8));
    }
}

/// Rows formatted before they are written, and per formatting task (see
/// [`CsvOutput::rows_in_parallel`]).
const ROWS_AT_ONCE: usize = 1 << 16;
const ROWS_PER_TASK: usize = 1 << 10;
/// How far ahead [`CsvOutput::rows_in_parallel`] prefetches what a row reads.
const ROWS_AHEAD: usize = 16;

/// Checks before any work starts that `dir` exists (creating it) and can be written.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    let output_error = |source| Error::Output {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(output_error)?;
    let probe = dir.join(format!(".storyhash-write-test-{}", std::process::id()));
    File::create(&probe).map_err(output_error)?;
    std::fs::remove_file(&probe).map_err(output_error)
}

/// Checks before any work starts that the folder of an output file exists and can be written
/// (`-`, stdout, always can).
pub fn check_output_file(path: &Path) -> Result<()> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let output_error = |source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(output_error(io::Error::other("is a folder")));
    }
    let probe = dir.join(format!(".storyhash-write-test-{}", std::process::id()));
    File::create(&probe).map_err(output_error)?;
    std::fs::remove_file(&probe).map_err(output_error)
}

/// Writes clusters.csv, stories.csv and (when there are rejects) rejects.csv into `dir`.
/// A rejects.csv left from an earlier run is removed when this run has none.
///
/// The two main files are written side by side, both flushed and synced, and only then renamed
/// into place: a failed write (a full disk) leaves both old files as they were.
pub fn write_cluster_outputs(clustering: &Clustering, dir: &Path) -> Result<()> {
    // Each file is synced as soon as it is written (the shorter one while the other is still
    // being formatted); both are renamed into place only once both are safely on disk.
    let synced = |output: Result<CsvOutput>| {
        let mut output = output?;
        output.sync()?;
        Ok::<_, Error>(output)
    };
    let (clusters, stories) = rayon::join(
        || synced(clusters_output(clustering, &dir.join("clusters.csv"))),
        || synced(stories_output(clustering, &dir.join("stories.csv"))),
    );
    let (clusters, stories) = (clusters?, stories?);
    clusters.commit()?;
    stories.commit()?;
    let rejects = dir.join("rejects.csv");
    if !clustering.rejects.is_empty() {
        return write_rejects(clustering, &rejects);
    }
    match std::fs::remove_file(&rejects) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(Error::Output {
            path: rejects,
            source: err,
        }),
        _ => Ok(()),
    }
}

/// Articles in clusters.csv order: story, dup group, date (undated last), id, then input
/// order (a repeated id).
pub fn row_order(clustering: &Clustering) -> Vec<u32> {
    // The keys are read once per article, not at every comparison.
    let mut keyed: Vec<_> = (0..clustering.articles.len() as u32)
        .into_par_iter()
        .map(|doc| {
            let article = &clustering.articles[doc as usize];
            let key = (
                clustering.story_of[doc as usize],
                clustering.dup_of[doc as usize],
                article.date_key.is_none(),
                article.date_key,
                article.id(),
            );
            (key, doc)
        })
        .collect();
    keyed.par_sort_unstable();
    keyed.into_iter().map(|(_, doc)| doc).collect()
}

pub fn write_clusters(clustering: &Clustering, path: &Path) -> Result<()> {
    clusters_output(clustering, path)?.commit()
}

/// clusters.csv written under its temporary name, to be committed.
fn clusters_output(clustering: &Clustering, path: &Path) -> Result<CsvOutput> {
    let mut out = CsvOutput::create(path, &CLUSTER_COLUMNS)?;
    let story_sizes: Vec<usize> = clustering
        .stories
        .iter()
        .map(|story| {
            story
                .dup_groups
                .iter()
                .map(|&g| clustering.dup_groups[g as usize].members.len())
                .sum()
        })
        .collect();
    // Rows go by story, articles lie in input order: each row's metadata is somewhere else.
    let prefetch = |&doc: &u32, step: usize| {
        let article = &clustering.articles[doc as usize];
        match step {
            0 => crate::termtable::prefetch(article),
            _ => article.prefetch_fields(),
        }
    };
    out.rows_in_parallel(&row_order(clustering), prefetch, |&doc, row| {
        let doc = doc as usize;
        let article = &clustering.articles[doc];
        let dup = clustering.dup_of[doc] as usize;
        let story = clustering.story_of[doc] as usize;
        let group = &clustering.dup_groups[dup];
        let canonical = group.canonical() as usize == doc;
        row.text(article.id());
        row.number(story + 1);
        row.number(dup + 1);
        row.raw(if canonical { "true" } else { "false" });
        row.similarity(clustering.similarity[doc]);
        row.number(group.members.len());
        row.number(story_sizes[story]);
        match article.date_key {
            Some(date) => row.date(date),
            None => row.text(article.date()),
        }
        row.text(article.source());
        row.text(article.url());
        row.text(article.title());
    })?;
    Ok(out)
}

pub fn write_stories(clustering: &Clustering, path: &Path) -> Result<()> {
    stories_output(clustering, path)?.commit()
}

/// stories.csv written under its temporary name, to be committed.
fn stories_output(clustering: &Clustering, path: &Path) -> Result<CsvOutput> {
    let mut out = CsvOutput::create(path, &STORY_COLUMNS)?;
    let numbers: Vec<usize> = (0..clustering.stories.len()).collect();
    out.rows_in_parallel(
        &numbers,
        |_, _| {},
        |&s, row| {
            let story = &clustering.stories[s];
            let members = || {
                story
                    .dup_groups
                    .iter()
                    .flat_map(|&g| &clustering.dup_groups[g as usize].members)
                    .map(|&doc| &clustering.articles[doc as usize])
            };
            let dates = members().filter_map(|a| a.date_key);
            let (first, last) = dates.fold((None, None), |(first, last), date| {
                (
                    Some(first.map_or(date, |f: DateKey| f.min(date))),
                    Some(last.map_or(date, |l: DateKey| l.max(date))),
                )
            });
            let mut sources: Vec<&str> = members()
                .map(|a| a.source())
                .filter(|s| !s.is_empty())
                .collect();
            sources.sort_unstable();
            sources.dedup();
            row.number(s + 1);
            row.number(members().count());
            row.number(story.dup_groups.len());
            for date in [first, last] {
                match date {
                    Some(date) => row.date(date),
                    None => row.raw(""),
                }
            }
            let start = row.start_text();
            for (i, source) in sources.iter().enumerate() {
                if i > 0 {
                    row.piece(";");
                }
                row.piece(source);
            }
            row.end_text(start);
            row.text(story_headline(clustering, s));
            row.raw(clustering.story_keywords.get(s).map_or("", String::as_str));
        },
    )?;
    Ok(out)
}

/// The title of the canonical article of the story's largest dup group (its first), or of the
/// first canonical article that has a title.
fn story_headline(clustering: &Clustering, story: usize) -> &str {
    clustering.stories[story]
        .dup_groups
        .iter()
        .map(|&g| {
            clustering.articles[clustering.dup_groups[g as usize].canonical() as usize].title()
        })
        .find(|title| !title.trim().is_empty())
        .unwrap_or("")
}

pub fn write_rejects(clustering: &Clustering, path: &Path) -> Result<()> {
    let mut out = CsvOutput::create(path, &REJECT_COLUMNS)?;
    for reject in &clustering.rejects {
        out.row([
            safe_cell(&reject.file),
            Cow::Owned(reject.line.to_string()),
            safe_cell(&reject.id),
            Cow::Owned(safe_cell(&reject.reason.to_string()).into_owned()),
        ])?;
    }
    out.commit()
}

/// `id,duplicate_of,similarity` for every article that is not its group's canonical one.
pub fn write_dups(clustering: &Clustering, path: &Path) -> Result<()> {
    let mut out = CsvOutput::create(path, &["id", "duplicate_of", "similarity"])?;
    for group in &clustering.dup_groups {
        let canonical = &clustering.articles[group.canonical() as usize];
        for &doc in &group.members[1..] {
            out.row([
                safe_cell(clustering.articles[doc as usize].id()),
                safe_cell(canonical.id()),
                Cow::Owned(fixed4(clustering.similarity[doc as usize])),
            ])?;
        }
    }
    out.commit()
}

/// The canonical articles, in input order.
pub fn canonical_in_input_order(clustering: &Clustering) -> Vec<u32> {
    let mut docs: Vec<u32> = clustering
        .dup_groups
        .iter()
        .map(|g| g.canonical())
        .collect();
    docs.sort_unstable();
    docs
}

/// How the dedup feed is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedFormat {
    /// JSONL: JSONL records are written back byte for byte, others as normalized objects.
    Jsonl,
    /// CSV with the given header; every kept record came from a CSV with that header.
    Csv(usize),
}

/// The feed format: CSV when every kept record came from CSV inputs with one header, else JSONL.
pub fn feed_format(clustering: &Clustering) -> FeedFormat {
    let mut header = None;
    for doc in canonical_in_input_order(clustering) {
        match clustering.articles[doc as usize].raw.as_deref() {
            Some(RawRecord::CsvRow { header: h, .. }) => {
                let same =
                    clustering.csv_headers[*h] == clustering.csv_headers[*header.get_or_insert(*h)];
                if !same {
                    return FeedFormat::Jsonl;
                }
            }
            _ => return FeedFormat::Jsonl,
        }
    }
    header.map_or(FeedFormat::Jsonl, FeedFormat::Csv)
}

/// Writes the canonical record of each dup group to `out` (`-` for stdout), `.gz` compressed by
/// extension. Returns the number of records written.
pub fn write_dedup_feed(clustering: &Clustering, out: &Path) -> Result<usize> {
    let output_error = |source| Error::Output {
        path: out.to_path_buf(),
        source,
    };
    if out.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut lock = BufWriter::new(stdout.lock());
        let written = write_feed(clustering, &mut lock).map_err(output_error)?;
        lock.flush().map_err(output_error)?;
        return Ok(written);
    }
    let mut file = AtomicFile::create(out)?;
    let gz = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let written = if gz {
        let mut encoder = flate2::write::GzEncoder::new(&mut file, flate2::Compression::default());
        let written = write_feed(clustering, &mut encoder).map_err(output_error)?;
        encoder.finish().map_err(output_error)?;
        written
    } else {
        write_feed(clustering, &mut file).map_err(output_error)?
    };
    file.commit()?;
    Ok(written)
}

fn write_feed(clustering: &Clustering, out: &mut dyn Write) -> io::Result<usize> {
    let docs = canonical_in_input_order(clustering);
    match feed_format(clustering) {
        FeedFormat::Csv(header) => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(&clustering.csv_headers[header])?;
            for &doc in &docs {
                if let Some(RawRecord::CsvRow { fields, .. }) =
                    clustering.articles[doc as usize].raw.as_deref()
                {
                    writer.write_record(fields)?;
                }
            }
            writer.flush()?;
        }
        FeedFormat::Jsonl => {
            for &doc in &docs {
                write_json_record(clustering, &clustering.articles[doc as usize], out)?;
            }
        }
    }
    Ok(docs.len())
}

/// A JSONL record: the original line when there is one; a CSV row as an object of its header's
/// fields; a folder's file as its id, title and text.
fn write_json_record(
    clustering: &Clustering,
    article: &ArticleMeta,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut object = serde_json::Map::new();
    match article.raw.as_deref() {
        Some(RawRecord::JsonLine(line)) => {
            out.write_all(line.as_bytes())?;
            return out.write_all(b"\n");
        }
        Some(RawRecord::CsvRow { header, fields }) => {
            for (name, value) in clustering.csv_headers[*header].iter().zip(fields) {
                object.insert(name.clone(), value.clone().into());
            }
        }
        Some(RawRecord::File { text }) => {
            object.insert("id".into(), article.id().to_string().into());
            object.insert("title".into(), article.title().to_string().into());
            object.insert("text".into(), text.clone().into());
        }
        None => {
            object.insert("id".into(), article.id().to_string().into());
            object.insert("title".into(), article.title().to_string().into());
        }
    }
    serde_json::to_writer(&mut *out, &object)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarities_are_written_as_the_formatter_writes_them() {
        let mut values: Vec<f32> = vec![0.0, -0.0, 1.0, 0.5, 0.99995, 0.00005, 1e-9, 0.9999499];
        // Exact ties of the fourth decimal (m / 32, m odd), and a dense sweep.
        values.extend((0..=32).map(|m| m as f32 / 32.0));
        values.extend((0..=200_000).map(|i| i as f32 / 200_000.0));
        values.extend([f32::NAN, f32::INFINITY, -0.25, 1.5, f32::MIN_POSITIVE]);
        let mut state = 0x9E37_79B9u32;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            values.push(f32::from_bits(state % 0x3F80_0001)); // 0.0 to 1.0
        }
        for value in values {
            let mut written = String::new();
            push_fixed4(&mut written, value);
            assert_eq!(written, format!("{value:.4}"), "{value:e}");
        }
    }

    #[test]
    fn row_cells_are_the_cells_pushed_with_formulas_defused() {
        let mut row = RowCells::default();
        for _ in 0..2 {
            // The second time round, the buffers are reused.
            row.clear();
            row.text("=SUM(A1)");
            row.raw("-1");
            row.number(12_345);
            row.text("");
            let start = row.start_text();
            row.piece("+a");
            row.piece(";b");
            row.end_text(start);
            row.text("plain");
            let cells: Vec<&str> = row.cells().collect();
            assert_eq!(cells, ["'=SUM(A1)", "-1", "12345", "", "'+a;b", "plain"]);
        }
    }

    /// The temporary files in `dir` (named `.<name>.tmp-<pid>`).
    fn temporary_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn a_failed_commit_leaves_no_temporary_file_and_the_target_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a folder with a file in it: the rename fails.
        let target = dir.path().join("clusters.csv");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("kept"), b"old").unwrap();
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"id,story\n").unwrap();
        assert!(file.commit().is_err());
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
        assert_eq!(std::fs::read(target.join("kept")).unwrap(), b"old");
    }

    #[test]
    fn a_committed_file_is_in_place_and_an_abandoned_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("stories.csv");
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"story\n1\n").unwrap();
        file.sync().unwrap();
        assert!(!target.exists(), "nothing in place before the commit");
        file.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"story\n1\n");
        let mut abandoned = AtomicFile::create(&dir.path().join("rejects.csv")).unwrap();
        abandoned.write_all(b"file,line\n").unwrap();
        drop(abandoned);
        assert_eq!(temporary_files(dir.path()), Vec::<String>::new());
        assert!(!dir.path().join("rejects.csv").exists());
    }

    #[test]
    fn formula_cells_are_neutralized() {
        for cell in ["=SUM(A1)", "+1", "-2", "@x", "\tx", "\rx"] {
            assert!(safe_cell(cell).starts_with('\''), "{cell:?}");
        }
        assert_eq!(safe_cell("plain, text"), "plain, text");
        assert_eq!(safe_cell(""), "");
    }
}
