//! Token spool (`--spool-tokens`): the first pass's token streams, kept in a temporary file so
//! that the second pass can re-shingle articles without re-reading, re-parsing and
//! re-tokenizing the input.
//!
//! Boilerplate is a property of the whole corpus (lines that recur across unrelated groups),
//! so it is known only after every article has been signed once; the first pass guesses it (see
//! `boilerplate`), and the articles it guessed wrong are signed again. Reading back 4 bytes per
//! token costs a fraction of reading the input again, but writing them for every article costs
//! more than the second pass saves unless many guesses are wrong (2.2 GB at a million generated
//! articles, none of them read back): hence off by default.
//!
//! A record is an article's lines with words, in order, each as its token count followed by
//! its tokens, all little-endian `u32`. The file is anonymous (deleted when closed, even if
//! the process dies). This module does not decide which lines to skip; it is told.

use std::fs::File;
use std::io;
#[cfg(not(unix))]
use std::io::{Read, Seek, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(unix))]
use std::sync::{Mutex, PoisonError};

use crate::text::{ShingleWindow, Token};

/// Where an article's record lies in the spool, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolRecord {
    pub offset: u64,
    pub len: u32,
}

/// The spool while the first pass writes it, from any thread: a writer reserves the place of
/// its bytes with one atomic addition and writes them there itself (a positional write), so
/// that writers never wait for each other (behind a lock, they waited for each other's copies
/// into the page cache, which slow down as a spool of gigabytes grows). Records land in
/// whatever order threads finish; each one's place is returned, so the order does not change
/// what is read back. After a failed write (a full disk) the spool is abandoned.
#[derive(Debug)]
pub struct SharedSpool {
    file: File,
    /// Bytes reserved so far.
    end: AtomicU64,
    failed: AtomicBool,
    /// Serializes seek-then-write where the system has no positional writes.
    #[cfg(not(unix))]
    seek: Mutex<()>,
}

impl SharedSpool {
    /// An empty spool in the system's temporary folder (`TMPDIR`), or `None` when no temporary
    /// file can be made.
    pub fn create() -> Option<SharedSpool> {
        Some(SharedSpool {
            file: tempfile::tempfile().ok()?,
            end: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            #[cfg(not(unix))]
            seek: Mutex::new(()),
        })
    }

    /// Appends `records` (one or more records made with [`encode_line`], one after the other);
    /// returns the offset where they start, or `None` once writing has failed.
    pub fn append(&self, records: &[u8]) -> Option<u64> {
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let at = self.end.fetch_add(records.len() as u64, Ordering::Relaxed);
        if self.write_all_at(records, at).is_err() {
            self.failed.store(true, Ordering::Relaxed);
            return None;
        }
        Some(at)
    }

    /// Marks the spool as failed: [`SharedSpool::finish`] then gives `None`.
    pub fn abandon(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// The spool to read back, or `None` if any write failed.
    pub fn finish(self) -> Option<SpoolReader> {
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        Some(SpoolReader {
            file: self.file,
            #[cfg(not(unix))]
            seek: Mutex::new(()),
        })
    }

    #[cfg(unix)]
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(bytes, offset)
    }

    #[cfg(not(unix))]
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        let _seek = self.seek.lock().unwrap_or_else(PoisonError::into_inner);
        let mut file = &self.file;
        file.seek(io::SeekFrom::Start(offset))?;
        file.write_all(bytes)
    }
}

/// Appends a line's record part: its token count, then its tokens.
pub fn encode_line(tokens: &[Token], out: &mut Vec<u8>) {
    out.reserve(4 * (tokens.len() + 1));
    out.extend_from_slice(&(tokens.len() as u32).to_le_bytes());
    for token in tokens {
        out.extend_from_slice(&token.to_le_bytes());
    }
}

/// The spool read back: any part, from any thread (reads at an offset share no position).
#[derive(Debug)]
pub struct SpoolReader {
    file: File,
    /// Serializes seek-then-read where the system has no positional reads.
    #[cfg(not(unix))]
    seek: Mutex<()>,
}

impl SpoolReader {
    /// Appends the bytes of `record` to `out`.
    pub fn read_into(&self, record: SpoolRecord, out: &mut Vec<u8>) -> io::Result<()> {
        self.read_span(record.offset, record.len as usize, out)
    }

    /// Appends the `len` bytes at `offset` to `out` (several records at once, say).
    pub fn read_span(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.resize(start + len, 0);
        self.read_exact_at(&mut out[start..], offset)
    }

    #[cfg(unix)]
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(buf, offset)
    }

    #[cfg(not(unix))]
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let _seek = self.seek.lock().unwrap_or_else(PoisonError::into_inner);
        let mut file = &self.file;
        file.seek(io::SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

/// Streams the shingles of a record into `emit`, leaving out the lines whose indices (among
/// the record's lines, ascending) are in `skipped`: the same shingles as
/// [`crate::text::shingle_text`] with those lines skipped. Returns the number of tokens
/// shingled. A malformed record (never written by this module) ends early, without a panic.
pub fn shingle_record(
    record: &[u8],
    skipped: &[u32],
    size: usize,
    mut emit: impl FnMut(u64),
) -> usize {
    let mut words = record
        .chunks_exact(4)
        .map(|word| u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
    let mut window = ShingleWindow::new(size);
    let mut skipped = skipped.iter().copied().peekable();
    let mut line = 0u32;
    while let Some(count) = words.next() {
        let skip = skipped.next_if_eq(&line).is_some();
        line += 1;
        for _ in 0..count {
            let Some(token) = words.next() else {
                break;
            };
            if !skip {
                window.push(token, &mut emit);
            }
        }
    }
    window.finish(&mut emit);
    window.seen()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{self, BoilerplateLines, Scratch, ShingleOptions};

    #[test]
    fn replayed_records_shingle_like_the_text() {
        let text = "Breaking: a headline\nSubscribe to our newsletter\n\nBody text, with 1,000 words.\nShare this\nEnd";
        let opts = ShingleOptions::default();
        let mut scratch = Scratch::default();
        let mut record = Vec::new();
        let mut line_hashes = Vec::new();
        text::for_each_line(text, &opts, &mut scratch, |tokens| {
            line_hashes.push(text::tokens_line_hash(tokens, opts.seed));
            encode_line(tokens, &mut record);
        });
        let spool = SharedSpool::create().unwrap();
        spool.append(b"junk").unwrap();
        let at = SpoolRecord {
            offset: spool.append(&record).unwrap(),
            len: record.len() as u32,
        };
        let reader = spool.finish().unwrap();
        let mut read = Vec::new();
        reader.read_into(at, &mut read).unwrap();
        assert_eq!(read, record);
        for skipped in [vec![], vec![1], vec![0, 3], vec![1, 2, 3, 4]] {
            let boilerplate =
                BoilerplateLines::new(skipped.iter().map(|&i| line_hashes[i as usize]));
            let mut expected = Vec::new();
            let expected_tokens = text::shingle_text(
                text,
                &opts,
                Some(&boilerplate),
                &mut scratch,
                &mut Vec::new(),
                |shingle| expected.push(shingle),
            );
            let mut replayed = Vec::new();
            let tokens =
                shingle_record(&read, &skipped, opts.size, |shingle| replayed.push(shingle));
            assert_eq!(replayed, expected, "{skipped:?}");
            assert_eq!(tokens, expected_tokens);
        }
    }

    #[test]
    fn records_from_many_threads_read_back_and_a_failed_spool_is_none() {
        let spool = SharedSpool::create().unwrap();
        let places: Vec<(u64, Vec<u8>)> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..4u8)
                .map(|t| {
                    let spool = &spool;
                    scope.spawn(move || {
                        (0..50u8)
                            .map(|i| {
                                let record = vec![t ^ i; 1 + usize::from(i)];
                                (spool.append(&record).unwrap(), record)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            writers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let reader = spool.finish().unwrap();
        for (offset, record) in places {
            let mut read = Vec::new();
            let place = SpoolRecord {
                offset,
                len: record.len() as u32,
            };
            reader.read_into(place, &mut read).unwrap();
            assert_eq!(read, record);
        }
        let failed = SharedSpool::create().unwrap();
        failed.abandon();
        assert_eq!(failed.append(b"late"), None);
        assert!(failed.finish().is_none());
    }

    #[test]
    fn malformed_records_do_not_panic() {
        let mut emitted = 0;
        shingle_record(&[9, 0, 0, 0, 1, 2], &[], 5, |_| emitted += 1);
        shingle_record(&[1, 2, 3], &[0], 5, |_| emitted += 1);
        assert!(emitted <= 1);
    }
}
