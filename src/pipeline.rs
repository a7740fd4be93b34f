//! Pipeline: runs the stages in order (input → text → minhash → lsh → cluster) and returns a
//! [`Clustering`] for `report` to write.
//!
//! Boilerplate (see [`boilerplate`]) is guessed batch by batch while the first pass signs, and
//! decided once every article is signed; the second pass re-signs only the articles whose
//! boilerplate the guess got wrong, read again from the input (only those records are parsed)
//! or from the token spool (`spool_tokens`).
//!
//! This module owns no algorithm of its own beyond that orchestration; it does not write files.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use crate::boilerplate::{self, ProvisionalLines};
use crate::cluster::{self, DupGroup, Edge, RankKey, Story};
use crate::error::{Error, Result};
use crate::input::{
    self, Article, Corpus, DateKey, Format, RawRecord, ReadOptions, ReadStats, RecordSink, Reject,
    RejectReason,
};
use crate::keyterms::{self, CompactTerms, DocTerms, TermWeights};
use crate::lsh::{self, LshParams};
use crate::minhash::{Algorithm, MinHasher, Signatures};
use crate::spool::{self, SharedSpool, SpoolReader, SpoolRecord};
use crate::story::{self, StoryOptions};
use crate::text::{self, BoilerplateLines, Scratch, ShingleOptions};

pub use crate::boilerplate::LOOSE_THRESHOLD;

/// How candidate pairs are verified before they become edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Verify {
    /// Estimated Jaccard from the signatures.
    #[default]
    Estimate,
    /// Exact Jaccard from the shingle sets, recomputed for candidate pairs only.
    Exact,
}

/// Everything that decides the result.
#[derive(Debug, Clone)]
pub struct Options {
    pub read: ReadOptions,
    pub shingle: ShingleOptions,
    pub num_perm: usize,
    pub algorithm: Algorithm,
    /// Near-duplicate Jaccard threshold.
    pub threshold: f64,
    /// Bands and rows; derived from the threshold when `None`.
    pub lsh: Option<LshParams>,
    pub verify: Verify,
    /// Drop boilerplate lines before shingling.
    pub boilerplate: bool,
    /// A line is boilerplate when it recurs in at least this many unrelated article groups.
    pub boilerplate_min_groups: usize,
    /// Keep the first pass's tokens in a temporary file (about 4 bytes per word) for re-signing
    /// the articles whose boilerplate was guessed wrong; otherwise those are read again from the
    /// input (only they are parsed). Same results.
    pub spool_tokens: bool,
    /// Story detection; `None` makes each dup group its own story.
    pub stories: Option<StoryOptions>,
    pub term_weights: TermWeights,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            read: ReadOptions::default(),
            shingle: ShingleOptions::default(),
            num_perm: crate::DEFAULT_NUM_PERM,
            algorithm: Algorithm::default(),
            threshold: crate::DEFAULT_THRESHOLD,
            lsh: None,
            verify: Verify::default(),
            boilerplate: true,
            boilerplate_min_groups: 3,
            spool_tokens: false,
            stories: Some(StoryOptions::default()),
            term_weights: TermWeights::default(),
        }
    }
}

/// Checks the story options' ranges (similarities are cosines of positive vectors: 0 to 1).
fn validate_story_options(stories: &StoryOptions) -> Result<()> {
    if !(stories.threshold > 0.0 && stories.threshold <= 1.0) {
        return Err(Error::Options(format!(
            "--story-threshold must be in (0, 1], got {}",
            stories.threshold
        )));
    }
    if let Some(refine) = stories.refine_threshold {
        if !(refine > 0.0 && refine <= 1.0) {
            return Err(Error::Options(format!(
                "--story-refine must be in [0, 1] (0 disables it), got {refine}"
            )));
        }
    }
    if !(0.0..=1.0).contains(&stories.split_floor) {
        return Err(Error::Options(format!(
            "--story-split-floor must be in [0, 1], got {}",
            stories.split_floor
        )));
    }
    Ok(())
}

impl Options {
    /// Checks ranges and returns the LSH parameters to use.
    pub fn validate(&self) -> Result<LshParams> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(Error::Options(format!(
                "--threshold must be in (0, 1], got {}",
                self.threshold
            )));
        }
        if !(1..=4096).contains(&self.num_perm) {
            return Err(Error::Options(format!(
                "--num-perm must be 1..=4096, got {}",
                self.num_perm
            )));
        }
        if !(1..=16).contains(&self.shingle.size) {
            return Err(Error::Options(format!(
                "--shingle must be 1..=16, got {}",
                self.shingle.size
            )));
        }
        if self.shingle.max_doc_bytes == 0 {
            return Err(Error::Options("--max-doc-bytes must be positive".into()));
        }
        if let Some(stories) = &self.stories {
            validate_story_options(stories)?;
        }
        let params = match self.lsh {
            Some(params) => params,
            None => lsh::optimal_params(self.threshold, self.num_perm, 0.5, 0.5),
        };
        if params.bands == 0 || params.rows == 0 || params.bands * params.rows > self.num_perm {
            return Err(Error::Options(format!(
                "--bands {} × --rows {} must be positive and at most --num-perm {}",
                params.bands, params.rows, self.num_perm
            )));
        }
        Ok(params)
    }
}

/// Hooks for a progress display. Every method has a do-nothing default.
pub trait Progress: Sync {
    /// A new stage starts (`"reading"`, `"signatures"`...).
    fn stage(&self, _name: &str) {}
    /// Input bytes consumed while reading.
    fn bytes(&self, _n: u64) {}
    /// Articles processed in the current stage.
    fn articles(&self, _n: u64) {}
}

/// A progress sink that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// An article after clustering: everything but its text, which is dropped once hashed.
#[derive(Clone)]
pub struct ArticleMeta {
    /// The id, title, date, url and source, one after another: one allocation per article
    /// instead of five (a tenth of the metadata's memory, and fewer small blocks left between
    /// freed texts).
    fields: Box<str>,
    /// Where the id, title, date and url end in `fields` (the source runs to its end).
    ends: [u32; 4],
    pub date_key: Option<DateKey>,
    /// Length of the text in bytes (the canonical choice prefers longer texts).
    pub text_len: usize,
    pub origin: input::RecordOrigin,
    pub format: Format,
    /// The original record, kept only for `dedup` (boxed: most runs keep none, and the slot
    /// is a pointer per article instead of five words).
    pub raw: Option<Box<RawRecord>>,
}

/// The longest a metadata field is kept, in bytes: five such fields fit the `u32` offsets of
/// [`ArticleMeta`]. A longer field (a title of 800 MiB) is cut at a character boundary.
const MAX_FIELD_BYTES: usize = 800 << 20;

impl std::fmt::Debug for ArticleMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArticleMeta")
            .field("id", &self.id())
            .field("title", &self.title())
            .field("date", &self.date())
            .field("url", &self.url())
            .field("source", &self.source())
            .field("date_key", &self.date_key)
            .field("text_len", &self.text_len)
            .field("origin", &self.origin)
            .field("format", &self.format)
            .field("raw", &self.raw)
            .finish()
    }
}

impl ArticleMeta {
    pub(crate) fn from_article(mut article: Article) -> ArticleMeta {
        ArticleMeta::from_kept(&mut article)
    }

    /// The metadata of an article that stays in memory: the small fields are copied, the raw
    /// record (which can be as large as the text) moves.
    fn from_kept(article: &mut Article) -> ArticleMeta {
        let parts = [
            article.id.as_str(),
            &article.title,
            &article.date,
            &article.url,
            &article.source,
        ]
        .map(|field| text::capped(field, MAX_FIELD_BYTES));
        let mut fields = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 4];
        for (i, part) in parts.iter().enumerate() {
            fields.push_str(part);
            if let Some(end) = ends.get_mut(i) {
                // At most 4 × MAX_FIELD_BYTES < 2^32.
                *end = fields.len() as u32;
            }
        }
        ArticleMeta {
            fields: fields.into_boxed_str(),
            ends,
            date_key: DateKey::parse(&article.date),
            text_len: article.text.len(),
            origin: article.origin.clone(),
            format: article.format,
            raw: article.raw.take().map(Box::new),
        }
    }

    /// Hints the processor to fetch the start of the fields (for a loop over articles that
    /// are far apart in memory).
    pub(crate) fn prefetch_fields(&self) {
        if let Some(first) = self.fields.as_bytes().first() {
            crate::termtable::prefetch(first);
        }
    }

    /// Field `i` of `fields`: id, title, date, url, source.
    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.fields.len(), |&e| e as usize);
        &self.fields[start..end]
    }

    pub fn id(&self) -> &str {
        self.field(0)
    }

    pub fn title(&self) -> &str {
        self.field(1)
    }

    /// The date as the input wrote it ([`ArticleMeta::date_key`] is its parsed day).
    pub fn date(&self) -> &str {
        self.field(2)
    }

    pub fn url(&self) -> &str {
        self.field(3)
    }

    pub fn source(&self) -> &str {
        self.field(4)
    }

    pub fn rank_key(&self) -> RankKey<'_> {
        RankKey {
            date: self.date_key,
            text_len: self.text_len,
            id: self.id(),
        }
    }
}

/// Counters for the summary line and the notes.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub read: ReadStats,
    pub articles: usize,
    pub rejected: usize,
    pub lsh: Option<LshParams>,
    /// Distinct boilerplate lines found, and articles that had at least one.
    pub boilerplate_lines: usize,
    pub articles_with_boilerplate: usize,
    /// Articles signed again once the boilerplate was decided: the first pass, which guesses
    /// the boilerplate as it goes, had signed them without other lines.
    pub resigned_articles: usize,
    /// Articles longer than `--max-doc-bytes`, hashed only up to the cap.
    pub capped_articles: usize,
    pub candidate_pairs: usize,
    pub edges: usize,
    pub dup_groups: usize,
    pub largest_group: usize,
    pub stories: usize,
    pub seconds: f64,
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Clustering {
    pub articles: Vec<ArticleMeta>,
    pub rejects: Vec<Reject>,
    pub dup_groups: Vec<DupGroup>,
    pub stories: Vec<Story>,
    /// Per article: its dup group, its story, and its estimated Jaccard with its canonical.
    pub dup_of: Vec<u32>,
    pub story_of: Vec<u32>,
    pub similarity: Vec<f32>,
    /// Per story: its top key terms, `;`-separated (empty until stories are detected).
    pub story_keywords: Vec<String>,
    /// CSV header rows of the inputs, for writing CSV records back.
    pub csv_headers: Vec<Vec<String>>,
    pub stats: RunStats,
}

/// Reads the inputs and clusters them.
///
/// No article text is kept: the first pass signs every article and keeps its metadata and line
/// hashes, skipping the boilerplate it has guessed so far; once boilerplate is known, a second
/// pass re-reads the records of the articles whose guess was wrong, if any, to re-sign them; once
/// the dup groups are known, a third pass re-reads
/// them to extract key terms, folding each article's terms straight into its dup group (when
/// stories are on). Memory grows with the number of articles and dup groups, not with their
/// text. Stdin (readable once), `dedup` (which writes records back) and `--verify exact` (which
/// needs shingle sets) keep the articles in memory.
pub fn run(inputs: &[PathBuf], opts: &Options, progress: &dyn Progress) -> Result<Clustering> {
    let start = Instant::now();
    let params = opts.validate()?;
    let hasher = MinHasher::new(opts.num_perm, opts.shingle.seed, opts.algorithm);
    let in_memory = inputs.iter().any(|i| input::is_stdin(i))
        || opts.read.keep_raw
        || opts.verify == Verify::Exact;
    progress.stage("reading");
    let mut signer = Signer::new(opts, &hasher, progress, in_memory);
    input::stream_records_ahead(inputs, &opts.read, &|n| progress.bytes(n), &mut signer)?;
    let first = signer.finish()?;
    let replay = if in_memory { None } else { Some(inputs) };
    let mut clustering = cluster_first_pass(first, replay, params, &hasher, opts, progress)?;
    clustering.stats.seconds = start.elapsed().as_secs_f64();
    Ok(clustering)
}

/// Clusters articles already in memory.
pub fn cluster_corpus(
    corpus: Corpus,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Clustering> {
    let start = Instant::now();
    let params = opts.validate()?;
    let hasher = MinHasher::new(opts.num_perm, opts.shingle.seed, opts.algorithm);
    let mut signer = Signer::new(opts, &hasher, progress, true);
    signer.first.rejects = corpus.rejects;
    signer.first.read_stats = corpus.stats;
    signer.first.csv_headers = corpus.csv_headers;
    for article in corpus.articles {
        signer.record(Ok(article), false);
    }
    let first = signer.finish()?;
    let mut clustering = cluster_first_pass(first, None, params, &hasher, opts, progress)?;
    clustering.stats.seconds = start.elapsed().as_secs_f64();
    Ok(clustering)
}

/// What the first pass keeps of every article (everything but its text), index-aligned.
#[derive(Default)]
struct FirstPass {
    metas: Vec<ArticleMeta>,
    /// Signatures, `num_perm` values per article.
    values: Vec<u32>,
    /// Each article's line hashes, for the boilerplate pass (empty without it).
    line_hashes: LineHashes,
    /// The articles themselves, in memory mode only.
    kept: Option<Vec<Article>>,
    rejects: Vec<Reject>,
    read_stats: ReadStats,
    csv_headers: Vec<Vec<String>>,
    capped_articles: usize,
    /// Every article's tokens, for the second pass (`None` unless `spool_tokens`, or when the
    /// temporary file could not be written: the input is then read again).
    spool: Option<SharedSpool>,
    /// Each article's record in `spool`.
    spooled: Vec<SpoolRecord>,
    /// The boilerplate lines guessed while signing.
    provisional: ProvisionalLines,
    /// Per article (with boilerplate removal on): how many of the guessed lines it was signed
    /// without (see [`ProvisionalLines::guessed_within`]).
    signed_known: Vec<u32>,
}

/// Every article's line hashes, one article after another in one vector (a vector per
/// article cost an allocation each; freed, they stayed with the allocator: at a million
/// articles ~80 MiB more resident after the boilerplate pass).
#[derive(Default)]
struct LineHashes {
    hashes: Vec<u64>,
    /// Where each article's hashes end in `hashes`.
    ends: Vec<usize>,
}

impl LineHashes {
    fn push(&mut self, lines: &[u64]) {
        self.hashes.extend_from_slice(lines);
        self.ends.push(self.hashes.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Article `doc`'s line hashes, in line order.
    fn of(&self, doc: usize) -> &[u64] {
        let start = doc.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.hashes[start..self.ends[doc]]
    }

    fn iter(&self) -> impl ExactSizeIterator<Item = &[u64]> + '_ {
        (0..self.len()).map(|doc| self.of(doc))
    }

    /// Keeps the articles whose `keep` flag is set.
    fn retain(&mut self, keep: &[bool]) {
        let mut kept = LineHashes::default();
        for (lines, _) in self.iter().zip(keep).filter(|(_, &k)| k) {
            kept.push(lines);
        }
        *self = kept;
    }
}

impl FirstPass {
    /// Borrowed apart: the vectors a signed batch is kept in ([`SignedBatch::keep`]), and what
    /// signing reads (the lines guessed so far, the spool).
    fn parts(
        &mut self,
    ) -> (
        KeepSigned<'_>,
        Option<&BoilerplateLines>,
        Option<&SharedSpool>,
    ) {
        let FirstPass {
            metas,
            values,
            line_hashes,
            kept,
            rejects,
            capped_articles,
            spool,
            spooled,
            provisional,
            signed_known,
            ..
        } = self;
        let keep = KeepSigned {
            metas,
            values,
            line_hashes,
            signed_known,
            spooled: spool.is_some().then_some(spooled),
            kept,
            rejects,
            capped_articles,
        };
        (keep, provisional.skip(), spool.as_ref())
    }

    /// Keeps the articles whose `keep` flag is set, in all the aligned vectors.
    fn retain(&mut self, keep: &[bool], num_perm: usize) {
        let mut index = 0..;
        self.metas
            .retain(|_| keep[index.next().unwrap_or_default()]);
        self.line_hashes.retain(keep);
        if !self.signed_known.is_empty() {
            let mut index = 0..;
            self.signed_known
                .retain(|_| keep[index.next().unwrap_or_default()]);
        }
        if let Some(kept) = &mut self.kept {
            let mut index = 0..;
            kept.retain(|_| keep[index.next().unwrap_or_default()]);
        }
        if self.spool.is_some() {
            let mut index = 0..;
            self.spooled
                .retain(|_| keep[index.next().unwrap_or_default()]);
        }
        let values = std::mem::take(&mut self.values);
        self.values = values
            .chunks(num_perm)
            .zip(keep)
            .filter(|(_, &k)| k)
            .flat_map(|(signature, _)| signature.iter().copied())
            .collect();
    }
}

/// Articles are signed in batches of about this much text, in parallel, while reading.
const BATCH_BYTES: usize = 16 << 20;
const BATCH_ARTICLES: usize = 8192;
/// The first batch is smaller: the boilerplate it shows is learned before most articles are
/// signed, and the articles signed again once it is learned are at most this many.
const FIRST_BATCH_ARTICLES: usize = 1024;

/// The first pass, as the readers' record sink: signs each batch of articles in parallel and
/// keeps their metadata, signatures and line hashes (and the articles, in memory mode).
struct Signer<'a> {
    opts: &'a Options,
    hasher: &'a MinHasher,
    progress: &'a dyn Progress,
    batch: Vec<Article>,
    batch_bytes: usize,
    /// Articles signed at once at most ([`BATCH_ARTICLES`]; fewer in tests).
    batch_articles: usize,
    /// The batch signed last, kept while the next one is signed.
    signed: Option<SignedBatch>,
    first: FirstPass,
}

impl<'a> Signer<'a> {
    fn new(
        opts: &'a Options,
        hasher: &'a MinHasher,
        progress: &'a dyn Progress,
        in_memory: bool,
    ) -> Self {
        Signer {
            opts,
            hasher,
            progress,
            batch: Vec::new(),
            batch_bytes: 0,
            batch_articles: BATCH_ARTICLES,
            signed: None,
            first: FirstPass {
                kept: in_memory.then(Vec::new),
                // Without a spool, the second pass reads its articles again from the input.
                spool: (opts.boilerplate && opts.spool_tokens)
                    .then(SharedSpool::create)
                    .flatten(),
                ..FirstPass::default()
            },
        }
    }

    /// Signs the batch read so far, beside the bookkeeping of the batch signed before it (see
    /// [`SignedBatch`]), then learns boilerplate from it.
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let k = self.hasher.num_perm();
        let (opts, hasher, progress) = (self.opts, self.hasher, self.progress);
        let earlier = self.signed.take();
        let (keep, skip, spool) = self.first.parts();
        let plan = SignPlan {
            opts,
            hasher,
            skip,
            spool,
            progress,
        };
        let articles = &batch;
        let sign = move || {
            let mut values = vec![0u32; articles.len() * k];
            let task = spool_task_articles(articles.len());
            let tasks: Vec<SignedTask> = values
                .par_chunks_mut(k * task)
                .zip(articles.par_chunks(task))
                .map_init(Worker::default, |worker, (signatures, articles)| {
                    sign_task(worker, signatures, articles, plan)
                })
                .collect();
            (values, tasks)
        };
        // The bookkeeping of the batch before (its metadata taken, its texts freed) runs on
        // the pool beside this batch's signing: on this thread alone, between two batches,
        // it left the pool idle (~8 ms a batch, ~15% of the pass at 100k).
        let ((values, tasks), ()) = match earlier {
            Some(earlier) => rayon::join(sign, || earlier.keep(keep, opts)),
            None => (sign(), ()),
        };
        let mut signed = SignedBatch {
            articles: batch,
            values,
            tasks,
            known: 0,
        };
        if opts.boilerplate {
            self.learn_boilerplate(&mut signed);
        }
        signed.known = self.first.provisional.len();
        self.signed = Some(signed);
    }

    /// Keeps the last signed batch (at the end of the pass).
    fn keep_signed(&mut self) {
        if let Some(signed) = self.signed.take() {
            signed.keep(self.first.parts().0, self.opts);
        }
    }

    /// Learns boilerplate lines from a signed batch (see [`ProvisionalLines::learn`]) and
    /// re-signs the batch's articles that carry the lines learned: every article of a batch
    /// leaves it signed without every line guessed so far.
    fn learn_boilerplate(&mut self, batch: &mut SignedBatch) {
        let k = self.hasher.num_perm();
        let SignedBatch {
            articles,
            values,
            tasks,
            ..
        } = batch;
        let signed = per_article(tasks);
        let lines: Vec<&[u64]> = signed
            .iter()
            .map(|article| article.map_or(&[][..], |(lines, _)| lines))
            .collect();
        // Numbers among all signed articles: the articles without words are not kept.
        let mut next = (self.first.values.len() / k) as u32;
        let numbers: Vec<Option<u32>> = signed
            .iter()
            .map(|article| {
                article.map(|_| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        let batch_view = boilerplate::LearnBatch {
            k,
            signatures: values,
            lines: &lines,
            numbers: &numbers,
            earlier: &self.first.values,
        };
        let provisional = &mut self.first.provisional;
        let learned = provisional.learn(&batch_view, self.opts.boilerplate_min_groups);
        if learned.is_empty() {
            return;
        }
        let learned = BoilerplateLines::new(learned);
        let (opts, hasher, skip) = (self.opts, self.hasher, provisional.skip());
        values
            .par_chunks_mut(k)
            .zip(articles.par_iter().zip(lines.par_iter()))
            .filter(|(_, (_, lines))| lines.iter().any(|&line| learned.contains(line)))
            .for_each(|(signature, (article, _))| {
                Worker::with_thread_worker(|worker| {
                    worker.sign_or_whole(&article.text, &opts.shingle, hasher, skip, signature);
                });
            });
    }

    /// Ends the first pass: signs the last batch, rejects duplicate ids (the first one read
    /// stays), and applies `--strict`.
    fn finish(mut self) -> Result<FirstPass> {
        self.flush();
        self.keep_signed();
        let mut first = self.first;
        let metas = &first.metas;
        let mut keep = vec![true; metas.len()];
        let mut duplicates = Vec::new();
        for (doc, original) in crate::input::repeated_ids(metas.len(), |doc| metas[doc].id()) {
            keep[doc] = false;
            let (meta, original) = (&metas[doc], &metas[original].origin);
            duplicates.push(Reject::repeated_id(&meta.origin, meta.id(), original));
        }
        if !duplicates.is_empty() {
            first.rejects.extend(duplicates);
            first.retain(&keep, self.hasher.num_perm());
        }
        if self.opts.read.strict {
            if let Some(reject) = first.rejects.first() {
                return Err(Error::Strict {
                    file: reject.file.clone(),
                    line: reject.line,
                    reason: reject.reason.to_string(),
                });
            }
        }
        Ok(first)
    }
}

/// A signed batch waiting for its bookkeeping, which runs beside the next batch's signing.
struct SignedBatch {
    articles: Vec<Article>,
    /// The signatures, `num_perm` values an article.
    values: Vec<u32>,
    tasks: Vec<SignedTask>,
    /// The lines guessed once the batch was learned from: its articles were signed without
    /// the first `known` (see [`ProvisionalLines::guessed_within`]).
    known: u32,
}

/// Where [`SignedBatch::keep`] puts a batch: the first pass's vectors.
struct KeepSigned<'f> {
    metas: &'f mut Vec<ArticleMeta>,
    values: &'f mut Vec<u32>,
    line_hashes: &'f mut LineHashes,
    signed_known: &'f mut Vec<u32>,
    /// `None` without a spool.
    spooled: Option<&'f mut Vec<SpoolRecord>>,
    kept: &'f mut Option<Vec<Article>>,
    rejects: &'f mut Vec<Reject>,
    capped_articles: &'f mut usize,
}

/// Each article's line hashes and spool record from the tasks that signed its batch; `None` for
/// an article without words.
fn per_article(tasks: &[SignedTask]) -> Vec<Option<(&[u64], Option<SpoolRecord>)>> {
    tasks
        .iter()
        .flat_map(|SignedTask { lines, signed }| {
            let mut next = 0;
            signed.iter().map(move |article| {
                article.map(|(count, spooled)| {
                    next += count;
                    (&lines[next - count..next], spooled)
                })
            })
        })
        .collect()
}

impl SignedBatch {
    /// Appends the batch to the first pass: each article's metadata, signature, line hashes
    /// and spool record (and the article itself in memory mode; else its text is freed);
    /// rejects the articles without words.
    fn keep(self, mut to: KeepSigned<'_>, opts: &Options) {
        let k = opts.num_perm;
        let signed = per_article(&self.tasks);
        for ((mut article, signed), signature) in self
            .articles
            .into_iter()
            .zip(signed)
            .zip(self.values.chunks(k))
        {
            let Some((lines, spooled_at)) = signed else {
                to.rejects.push(Reject {
                    file: article.origin.file.to_string(),
                    line: article.origin.line,
                    id: article.id,
                    reason: RejectReason::NoWords,
                });
                continue;
            };
            if article.text.len() > opts.shingle.max_doc_bytes {
                *to.capped_articles += 1;
            }
            to.values.extend_from_slice(signature);
            if opts.boilerplate {
                to.line_hashes.push(lines);
                to.signed_known.push(self.known);
            }
            if let Some(spooled) = &mut to.spooled {
                // A failed write abandons the whole spool (see `SharedSpool`): any place will do.
                spooled.push(spooled_at.unwrap_or(SpoolRecord { offset: 0, len: 0 }));
            }
            match to.kept {
                Some(kept) => {
                    to.metas.push(ArticleMeta::from_kept(&mut article));
                    kept.push(article);
                }
                None => to.metas.push(ArticleMeta::from_article(article)),
            }
        }
    }
}

/// What one task of the first pass returns: its articles' line hashes, one article after
/// another, and per article `None` when it has no words, else its number of line hashes and
/// its spool record.
struct SignedTask {
    lines: Vec<u64>,
    signed: Vec<Option<(usize, Option<SpoolRecord>)>>,
}

/// How the first pass signs a batch.
#[derive(Clone, Copy)]
struct SignPlan<'a> {
    opts: &'a Options,
    hasher: &'a MinHasher,
    /// The boilerplate lines guessed so far, skipped.
    skip: Option<&'a BoilerplateLines>,
    /// Where every article's tokens go, for the second pass.
    spool: Option<&'a SharedSpool>,
    progress: &'a dyn Progress,
}

/// One task of the first pass: signs `articles` into `signatures` (`num_perm` values each),
/// and appends their spool records in one write.
fn sign_task(
    worker: &mut Worker,
    signatures: &mut [u32],
    articles: &[Article],
    plan: SignPlan,
) -> SignedTask {
    let SignPlan {
        opts,
        hasher,
        skip,
        spool,
        progress,
    } = plan;
    // Line hashes only serve the boilerplate pass: without it, no article pays for them.
    let record_lines = opts.boilerplate;
    let mut records = Vec::new();
    let mut lines = Vec::new();
    let mut signed = Vec::with_capacity(articles.len());
    for (signature, article) in signatures.chunks_mut(hasher.num_perm()).zip(articles) {
        let (text, shingle) = (&article.text, &opts.shingle);
        let tokens = if record_lines {
            worker.sign_recording_lines(text, shingle, hasher, skip, signature, spool.is_some())
        } else {
            worker.sign(text, shingle, hasher, None, signature)
        };
        progress.articles(1);
        if tokens == 0 {
            signed.push(None); // rejected by the caller
            continue;
        }
        let place = spool.map(|_| {
            records.extend_from_slice(&worker.record);
            (records.len() - worker.record.len(), worker.record.len())
        });
        let count = if record_lines {
            lines.extend_from_slice(&worker.line_hashes);
            worker.line_hashes.len()
        } else {
            0
        };
        signed.push(Some((count, place)));
    }
    let base = spool.and_then(|spool| spool.append(&records));
    let record = |(start, len): (usize, usize)| {
        let len = u32::try_from(len).ok();
        if len.is_none() {
            spool.inspect(|spool| spool.abandon()); // never for a capped article
        }
        Some(SpoolRecord {
            offset: base? + start as u64,
            len: len?,
        })
    };
    let signed = signed
        .into_iter()
        .map(|article| article.map(|(count, place)| (count, place.and_then(record))))
        .collect();
    SignedTask { lines, signed }
}

impl RecordSink for Signer<'_> {
    fn record(&mut self, record: std::result::Result<Article, Reject>, lossy: bool) {
        if lossy {
            self.first.read_stats.invalid_utf8 += 1;
        }
        match record {
            Err(reject) => self.first.rejects.push(reject),
            Ok(article) => {
                self.batch_bytes += article.text.len().min(self.opts.shingle.max_doc_bytes);
                self.batch.push(article);
                // Nothing signed yet: the first batch.
                let first_batch = self.signed.is_none() && self.first.metas.is_empty();
                let limit = match first_batch {
                    true => self.batch_articles.min(FIRST_BATCH_ARTICLES),
                    false => self.batch_articles,
                };
                if self.batch_bytes >= BATCH_BYTES || self.batch.len() >= limit {
                    self.flush();
                }
            }
        }
    }

    fn csv_header(&mut self, header: Vec<String>) -> usize {
        self.first.csv_headers.push(header);
        self.first.csv_headers.len() - 1
    }

    fn file_started(&mut self) {
        self.first.read_stats.files += 1;
    }
}

/// A pass over the articles after the first: the re-read files, or the kept articles.
trait Revisit {
    /// Handles a batch of (article index, article), in input order.
    fn batch(&mut self, batch: &[(usize, &Article)]);
}

/// Runs `pass` over the articles kept by the first pass (`only` these, ascending, or all): the
/// kept articles in memory, or the re-read files. Re-reading for a few articles reads the files
/// but skips the other records unparsed.
fn revisit(
    pass: &mut dyn Revisit,
    only: Option<&[usize]>,
    kept: Option<&[Article]>,
    replay: Option<&[PathBuf]>,
    metas: &[ArticleMeta],
    opts: &Options,
    progress: &dyn Progress,
) -> Result<()> {
    match (kept, replay) {
        (Some(kept), _) => {
            let refs: Vec<(usize, &Article)> = match only {
                Some(docs) => docs.iter().map(|&doc| (doc, &kept[doc])).collect(),
                None => kept.iter().enumerate().collect(),
            };
            for chunk in refs.chunks(BATCH_ARTICLES) {
                pass.batch(chunk);
            }
        }
        (None, Some(inputs)) => {
            if let Some(docs) = only {
                if revisit_by_spans(pass, docs, inputs, metas, opts)? {
                    return Ok(());
                }
            }
            let mut replayer = Replayer {
                pass,
                metas,
                only,
                next: 0,
                batch: Vec::new(),
                batch_bytes: 0,
            };
            let progress = &|n| progress.bytes(n);
            match only {
                None => input::stream_records_ahead(inputs, &opts.read, progress, &mut replayer)?,
                Some(docs) => {
                    let origins = WantedOrigins::new(docs, metas);
                    let wanted = &|file: &str, line| origins.contains(file, line);
                    input::stream_wanted_records_ahead(
                        inputs,
                        &opts.read,
                        progress,
                        wanted,
                        &mut replayer,
                    )?;
                }
            }
            replayer.flush();
        }
        (None, None) => {}
    }
    Ok(())
}

/// [`revisit`] of a few articles by reading their records alone ([`input::SpanReader`]), when
/// every one of them can be (lines of uncompressed JSONL files); `false` when not. A record
/// that no longer reads as the same article (the file changed) is left out.
fn revisit_by_spans(
    pass: &mut dyn Revisit,
    docs: &[usize],
    inputs: &[PathBuf],
    metas: &[ArticleMeta],
    opts: &Options,
) -> Result<bool> {
    let reader = input::SpanReader::new(inputs, &opts.read)?;
    if !docs.iter().all(|&doc| reader.can_read(&metas[doc].origin)) {
        return Ok(false);
    }
    for chunk in docs.chunks(REVISIT_ARTICLES) {
        let origins: Vec<&input::RecordOrigin> =
            chunk.iter().map(|&doc| &metas[doc].origin).collect();
        let articles = reader.read(&origins, &opts.read);
        let refs: Vec<(usize, &Article)> = chunk
            .iter()
            .zip(&articles)
            .filter_map(|(&doc, article)| {
                let article = article.as_ref()?;
                (article.id == metas[doc].id()).then_some((doc, article))
            })
            .collect();
        pass.batch(&refs);
    }
    Ok(true)
}

/// Articles [`revisit_by_spans`] reads at once: their text is held while the pass works on
/// them, and in the third pass that made its peak (100,000 generated articles with stories:
/// 8,192 at once, a peak of 224,632-224,692 KB at the end of the third pass; 2,048 at once,
/// 213,456-213,740 KB, in the linkage; the same time).
const REVISIT_ARTICLES: usize = 2048;

/// The origins of some articles, for asking the readers for those records only.
struct WantedOrigins<'a> {
    /// Per file, the lines (ascending).
    lines: ahash::AHashMap<&'a str, Vec<u64>>,
}

impl<'a> WantedOrigins<'a> {
    fn new(docs: &[usize], metas: &'a [ArticleMeta]) -> Self {
        let mut lines: ahash::AHashMap<&'a str, Vec<u64>> = ahash::AHashMap::new();
        for &doc in docs {
            let origin = &metas[doc].origin;
            lines.entry(&*origin.file).or_default().push(origin.line);
        }
        for file_lines in lines.values_mut() {
            file_lines.sort_unstable();
        }
        WantedOrigins { lines }
    }

    fn contains(&self, file: &str, line: u64) -> bool {
        self.lines
            .get(file)
            .is_some_and(|lines| lines.binary_search(&line).is_ok())
    }
}

/// Which lines of each article are boilerplate, as indices among its lines with words (the
/// lines that have a line hash), from the first pass's line hashes.
struct SkippedLines {
    /// Article `doc`'s indices are `lines[starts[doc]..starts[doc + 1]]`, ascending.
    starts: Vec<u32>,
    lines: Vec<u32>,
}

impl SkippedLines {
    fn new<'h>(
        line_hashes: impl ExactSizeIterator<Item = &'h [u64]>,
        boilerplate: &BoilerplateLines,
    ) -> Self {
        let mut starts = Vec::with_capacity(line_hashes.len() + 1);
        let mut lines = Vec::new();
        starts.push(0);
        if !boilerplate.is_empty() {
            for hashes in line_hashes {
                lines.extend(
                    (0..hashes.len() as u32).filter(|&i| boilerplate.contains(hashes[i as usize])),
                );
                starts.push(lines.len() as u32);
            }
        }
        SkippedLines { starts, lines }
    }

    /// The boilerplate line indices of article `doc`.
    fn of(&self, doc: usize) -> &[u32] {
        match (self.starts.get(doc), self.starts.get(doc + 1)) {
            (Some(&start), Some(&end)) => &self.lines[start as usize..end as usize],
            _ => &[],
        }
    }
}

/// The second pass, over the articles that [`revisit`] gives it (the stale ones): re-signs them
/// without the final boilerplate.
struct Resign<'a> {
    boilerplate: &'a BoilerplateLines,
    hasher: &'a MinHasher,
    opts: &'a Options,
    signatures: &'a mut Signatures,
}

impl Revisit for Resign<'_> {
    fn batch(&mut self, batch: &[(usize, &Article)]) {
        let (boilerplate, hasher, opts) = (self.boilerplate, self.hasher, self.opts);
        let fresh: Vec<(usize, Vec<u32>)> = batch
            .par_iter()
            .map_init(Worker::default, |worker, &(doc, article)| {
                let mut fresh = vec![0u32; hasher.num_perm()];
                let skip = (!boilerplate.is_empty()).then_some(boilerplate);
                worker.sign_or_whole(&article.text, &opts.shingle, hasher, skip, &mut fresh);
                (doc, fresh)
            })
            .collect();
        let k = hasher.num_perm();
        for (doc, signature) in fresh {
            self.signatures.values_mut()[doc * k..(doc + 1) * k].copy_from_slice(&signature);
        }
    }
}

/// The second pass from the spool: re-signs the `stale` articles (ascending) from their
/// spooled tokens, without the lines of `skipped` (or whole when that leaves nothing).
fn resign_from_spool(
    spool: SpoolReader,
    spooled: &[SpoolRecord],
    stale: &[usize],
    skipped: &SkippedLines,
    hasher: &MinHasher,
    opts: &Options,
    signatures: &mut Signatures,
) -> Result<()> {
    let k = hasher.num_perm();
    let spool_error = |err: std::io::Error| Error::Spool {
        path: std::env::temp_dir(),
        source: err,
    };
    // In spool order, neighbours' records lie side by side: a task reads its articles' records
    // in one read, and every task reads on its own thread (no serial read between batches).
    let mut in_spool_order = stale.to_vec();
    in_spool_order.sort_unstable_by_key(|&doc| spooled[doc].offset);
    let resign = |docs: &[usize]| -> std::io::Result<Vec<(usize, Vec<u32>)>> {
        let mut fresh = Vec::with_capacity(docs.len());
        let mut records = Vec::new();
        for run in spool_runs(docs, spooled) {
            let (first, last) = (spooled[run[0]], spooled[run[run.len() - 1]]);
            let end = last.offset + u64::from(last.len);
            records.clear();
            spool.read_span(first.offset, (end - first.offset) as usize, &mut records)?;
            for &doc in run {
                let place = spooled[doc];
                let from = (place.offset - first.offset) as usize;
                let record = &records[from..from + place.len as usize];
                let mut signature = vec![0u32; k];
                let sign = |skip: &[u32], signature: &mut [u32]| {
                    hasher.start(signature);
                    let tokens =
                        spool::shingle_record(record, skip, opts.shingle.size, |shingle| {
                            hasher.add(shingle, signature)
                        });
                    hasher.finish(signature);
                    tokens
                };
                // Nothing but boilerplate: signed whole.
                if sign(skipped.of(doc), &mut signature) == 0 {
                    sign(&[], &mut signature);
                }
                fresh.push((doc, signature));
            }
        }
        Ok(fresh)
    };
    for window in in_spool_order.chunks(BATCH_ARTICLES) {
        let fresh: Vec<Vec<(usize, Vec<u32>)>> = window
            .par_chunks(spool_task_articles(window.len()))
            .map(resign)
            .collect::<std::io::Result<_>>()
            .map_err(spool_error)?;
        for (doc, signature) in fresh.into_iter().flatten() {
            signatures.values_mut()[doc * k..(doc + 1) * k].copy_from_slice(&signature);
        }
    }
    Ok(())
}

/// Articles of one task that writes their spool records (in one write) in the first pass, or
/// reads them back in [`resign_from_spool`] (in one read when they lie side by side): ~0.6 MB
/// at the generator's article lengths.
const SPOOL_TASK_ARTICLES: usize = 256;
/// The articles of one spool task when `n` articles are shared out: [`SPOOL_TASK_ARTICLES`],
/// or fewer so that every thread gets several tasks (a batch of a few long articles).
fn spool_task_articles(n: usize) -> usize {
    (n / (8 * rayon::current_num_threads())).clamp(1, SPOOL_TASK_ARTICLES)
}

/// Bytes between two records that one read of [`resign_from_spool`] reads through rather than
/// split in two reads.
const SPOOL_GAP_READ: u64 = 16 << 10;
/// The most one read of [`resign_from_spool`] reads, unless one record is larger: a task of
/// huge articles (`--max-doc-bytes` raised) must not hold hundreds of megabytes.
const SPOOL_READ_BYTES: u64 = 4 << 20;

/// `docs` (in spool order) cut into runs whose records are read at once: records side by side,
/// or nearly (a few articles without boilerplate between them), at most [`SPOOL_READ_BYTES`]
/// from the first record's start to the last one's end (a larger record is a run of its own).
fn spool_runs<'d>(docs: &'d [usize], spooled: &[SpoolRecord]) -> Vec<&'d [usize]> {
    let bounds = |doc: usize| {
        let place = spooled[doc];
        (place.offset, place.offset + u64::from(place.len))
    };
    input::byte_runs(docs, bounds, |_, _| true, SPOOL_GAP_READ, SPOOL_READ_BYTES)
}

/// The third pass: each dup group's terms, the mean of its members' key terms (see
/// [`story::merge_terms`]), where every member is taken to have the body of the group's
/// source article ([`term_sources`]) under its own headline. Only the sources are read again,
/// and each body is worked out once ([`trimmed_terms_under`]); the worker threads work out a
/// group's mean ([`keyterms::extract_headlines_mean`], or by merging its members' terms with
/// [`story::GroupMerge`]), and the groups' terms are stored as the sources come, never every
/// article's held.
struct GroupTerms<'a> {
    skipped: &'a SkippedLines,
    opts: &'a Options,
    dup_of: &'a [u32],
    groups: &'a [DupGroup],
    metas: &'a [ArticleMeta],
    /// The groups' terms.
    done: story::StoryTermsBuilder,
    /// The last slice's sources and their groups' terms, not yet stored.
    unfolded: Option<(Vec<usize>, Vec<CompactTerms>)>,
    /// Text bytes of the batches since freed memory was last returned to the system.
    untrimmed_bytes: usize,
}

impl<'a> GroupTerms<'a> {
    fn new(
        skipped: &'a SkippedLines,
        opts: &'a Options,
        dup_of: &'a [u32],
        groups: &'a [DupGroup],
        metas: &'a [ArticleMeta],
    ) -> Self {
        GroupTerms {
            skipped,
            opts,
            dup_of,
            groups,
            metas,
            done: story::StoryTermsBuilder::new(groups.len()),
            unfolded: None,
            untrimmed_bytes: 0,
        }
    }

    /// Every group's terms (empty for a group whose source was not read again: none, unless
    /// the input changed).
    fn finish(mut self) -> story::StoryTerms {
        if let Some(pending) = self.unfolded.take() {
            self.fold(pending);
        }
        self.done.finish()
    }

    /// Stores one slice's group terms, in input order (whatever the thread count).
    fn fold(&mut self, (sources, terms): (Vec<usize>, Vec<CompactTerms>)) {
        for (source, group_terms) in sources.into_iter().zip(terms) {
            self.done.set(self.dup_of[source] as usize, group_terms);
        }
    }
}

/// The article each dup group's body is read from: its longest (the most complete copy; ties
/// to the canonical order), ascending. Near-duplicates share most of their text: extracting
/// every copy's body cost ~30% of the key-terms pass on generated corpora (a third of the
/// articles are copies) for little more than their headlines, which differ from outlet to
/// outlet and are kept.
fn term_sources(groups: &[DupGroup], metas: &[ArticleMeta]) -> Vec<usize> {
    let mut sources: Vec<usize> = groups
        .iter()
        .map(|group| {
            let mut source = group.canonical();
            for &doc in &group.members[1..] {
                if metas[doc as usize].text_len > metas[source as usize].text_len {
                    source = doc;
                }
            }
            source as usize
        })
        .collect();
    sources.sort_unstable();
    sources
}

impl Revisit for GroupTerms<'_> {
    fn batch(&mut self, batch: &[(usize, &Article)]) {
        let (skipped, opts, dup_of, groups, metas) = (
            self.skipped,
            self.opts,
            self.dup_of,
            self.groups,
            self.metas,
        );
        let extract = |chunk: &[(usize, &Article)]| -> Vec<CompactTerms> {
            chunk
                .par_iter()
                .map(|&(doc, article)| {
                    let members = &groups[dup_of[doc] as usize].members;
                    let titles: Vec<&str> = match members[..] {
                        // The source's own title (its metadata's may be cut, see ArticleMeta).
                        [_] => vec![&article.title],
                        _ => members.iter().map(|&m| metas[m as usize].title()).collect(),
                    };
                    // A group of one article has its terms as they are, a larger group the
                    // mean of its members' (in canonical order), worked out here on all
                    // threads: directly, or by merging each member's terms.
                    let mut group = story::GroupMerge::new(titles.len());
                    let mean = Worker::with_thread_worker(|worker| {
                        let skipped = skipped.of(doc);
                        trimmed_terms_under(article, &titles, skipped, opts, worker, |terms| {
                            group.add(terms)
                        })
                    });
                    mean.unwrap_or_else(|| group.finish())
                })
                .collect()
        };
        // A slice of the batch at a time: the terms wait for the sequential fold, which runs
        // beside the extraction of the next slice (the last slice of a batch is folded beside
        // the first of the next batch, or by `finish`).
        for chunk in batch.chunks(TERMS_CHUNK) {
            let pending = self.unfolded.take();
            let (terms, ()) = rayon::join(
                || extract(chunk),
                || {
                    if let Some(pending) = pending {
                        self.fold(pending);
                    }
                },
            );
            self.unfolded = Some((chunk.iter().map(|&(doc, _)| doc).collect(), terms));
        }
        // The batch's terms are freed (and its articles, when they were read again); the
        // groups' terms stay. Returning the freed memory walks the heaps: once per first-pass
        // batch's worth of text, not after every batch.
        self.untrimmed_bytes += batch.iter().map(|(_, a)| a.text.len()).sum::<usize>();
        if self.untrimmed_bytes >= BATCH_BYTES {
            self.untrimmed_bytes = 0;
            release_freed_memory();
        }
    }
}

/// Gives the memory the allocator holds free back to the system. glibc keeps what the threads
/// freed in their arenas, between blocks still in use: through the third pass, which frees
/// each article's terms and keeps its group's, that was a third of the resident memory.
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer; it only returns free pages of glibc's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Articles read again from the input (the key-terms pass; the second pass without a token
/// spool) are passed on in batches of about this much text: smaller than
/// the first pass's batches, as the key-terms pass holds its batch beside every group's terms:
/// at 100,000 articles 16 MiB batches put the peak 11 MiB higher (219 MiB), 4 MiB ones cost
/// the stage 5%.
const REPLAY_BATCH_BYTES: usize = 4 << 20;

/// Articles whose terms the third pass extracts at once.
const TERMS_CHUNK: usize = 1024;

/// A pass over re-read files: matches each record to its first-pass article by origin
/// (rejected records were dropped from the first pass and are skipped here).
struct Replayer<'a, 'p> {
    pass: &'p mut dyn Revisit,
    metas: &'a [ArticleMeta],
    /// The articles asked for (ascending), or all.
    only: Option<&'a [usize]>,
    /// The next article expected, among `only` or all.
    next: usize,
    batch: Vec<(usize, Article)>,
    batch_bytes: usize,
}

impl Replayer<'_, '_> {
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let refs: Vec<(usize, &Article)> = batch.iter().map(|(doc, a)| (*doc, a)).collect();
        self.pass.batch(&refs);
    }
}

impl RecordSink for Replayer<'_, '_> {
    fn record(&mut self, record: std::result::Result<Article, Reject>, _lossy: bool) {
        let Ok(article) = record else {
            return;
        };
        let doc = match self.only {
            Some(docs) => match docs.get(self.next) {
                Some(&doc) => doc,
                None => return,
            },
            None => self.next,
        };
        let Some(meta) = self.metas.get(doc) else {
            return;
        };
        if meta.origin != article.origin {
            return;
        }
        self.batch_bytes += article.text.len();
        self.batch.push((doc, article));
        self.next += 1;
        if self.batch_bytes >= REPLAY_BATCH_BYTES || self.batch.len() >= BATCH_ARTICLES {
            self.flush();
        }
    }

    fn csv_header(&mut self, _header: Vec<String>) -> usize {
        0
    }
}

/// Everything after the first pass: boilerplate, the second pass (re-signing the articles whose
/// boilerplate was guessed wrong), near-duplicates, the third pass (key terms, folded into dup groups), stories.
/// `replay` is the inputs to re-read for the later passes, or `None` when the articles are kept.
fn cluster_first_pass(
    mut first: FirstPass,
    replay: Option<&[PathBuf]>,
    params: LshParams,
    hasher: &MinHasher,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Clustering> {
    let Settled {
        signatures,
        boilerplate,
        skipped,
        stats,
    } = settle_boilerplate(&mut first, replay, hasher, opts, progress)?;
    progress.stage("near-duplicates");
    let near = near_duplicate_sets(
        first.kept.as_deref(),
        &signatures,
        &boilerplate,
        params,
        opts,
    );
    let metas = std::mem::take(&mut first.metas);
    let dup_groups =
        cluster::dup_groups_of_sets(&near.set_of, |doc| metas[doc as usize].rank_key());
    let (dup_of, similarity) = dup_assignments(metas.len(), &dup_groups, &signatures);
    drop(signatures);
    let (stories, story_keywords) = match &opts.stories {
        Some(story_opts) => {
            progress.stage("key terms");
            let sources = term_sources(&dup_groups, &metas);
            let mut pass = GroupTerms::new(&skipped, opts, &dup_of, &dup_groups, &metas);
            revisit(
                &mut pass,
                Some(&sources),
                first.kept.as_deref(),
                replay,
                &metas,
                opts,
                progress,
            )?;
            drop(sources);
            let mut terms = pass.finish();
            release_freed_memory();
            progress.stage("stories");
            let (order, days) = group_places(&dup_groups, &metas);
            detect_stories(&mut terms, &order, &days, &dup_groups, story_opts, progress)
        }
        None => (cluster::one_story_per_group(&dup_groups), Vec::new()),
    };
    let story_of = story_assignments(&dup_of, dup_groups.len(), &stories);
    let mut rejects = first.rejects;
    rejects.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let stats = RunStats {
        articles: metas.len(),
        rejected: rejects.len(),
        read: first.read_stats,
        lsh: Some(params),
        capped_articles: first.capped_articles,
        candidate_pairs: near.candidate_pairs,
        edges: near.joins,
        dup_groups: dup_groups.len(),
        largest_group: dup_groups.first().map_or(0, |g| g.members.len()),
        stories: stories.len(),
        ..stats
    };
    Ok(Clustering {
        articles: metas,
        rejects,
        dup_groups,
        stories,
        dup_of,
        story_of,
        similarity,
        story_keywords,
        csv_headers: first.csv_headers,
        stats,
    })
}

/// The first pass's signatures once the boilerplate is decided, with what depends on it.
struct Settled {
    /// Every article's signature without the final boilerplate lines.
    signatures: Signatures,
    boilerplate: BoilerplateLines,
    skipped: SkippedLines,
    /// The boilerplate counters.
    stats: RunStats,
}

/// Decides the boilerplate lines over all articles and re-signs the articles signed without
/// other lines (the second pass): from the spool, the kept articles, or the input read again.
/// Takes the first pass's signatures and line hashes.
fn settle_boilerplate(
    first: &mut FirstPass,
    replay: Option<&[PathBuf]>,
    hasher: &MinHasher,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Settled> {
    let k = hasher.num_perm();
    let mut signatures = Signatures::new(k, std::mem::take(&mut first.values));
    if !opts.boilerplate {
        return Ok(Settled {
            signatures,
            boilerplate: BoilerplateLines::default(),
            skipped: SkippedLines::new(std::iter::empty(), &BoilerplateLines::default()),
            stats: RunStats::default(),
        });
    }
    progress.stage("boilerplate");
    let lines = std::mem::take(&mut first.line_hashes);
    let boilerplate =
        boilerplate::find_boilerplate(&signatures, lines.iter(), opts.boilerplate_min_groups);
    let stale = boilerplate::stale_signatures(
        (0..lines.len()).into_par_iter().map(|doc| lines.of(doc)),
        &boilerplate,
        &first.provisional,
        &first.signed_known,
    );
    let skipped = SkippedLines::new(lines.iter(), &boilerplate);
    drop(lines);
    let stale_docs: Vec<usize> = (0..stale.stale.len())
        .filter(|&doc| stale.stale[doc])
        .collect();
    let stats = RunStats {
        boilerplate_lines: boilerplate.len(),
        articles_with_boilerplate: stale.with_boilerplate,
        resigned_articles: stale_docs.len(),
        ..RunStats::default()
    };
    let spool = first.spool.take().and_then(SharedSpool::finish);
    let spooled = std::mem::take(&mut first.spooled);
    if stats.resigned_articles == 0 {
        return Ok(Settled {
            signatures,
            boilerplate,
            skipped,
            stats,
        });
    }
    progress.stage("second pass");
    match spool {
        Some(spool) => resign_from_spool(
            spool,
            &spooled,
            &stale_docs,
            &skipped,
            hasher,
            opts,
            &mut signatures,
        )?,
        None => {
            let mut resign = Resign {
                boilerplate: &boilerplate,
                hasher,
                opts,
                signatures: &mut signatures,
            };
            revisit(
                &mut resign,
                Some(&stale_docs),
                first.kept.as_deref(),
                replay,
                &first.metas,
                opts,
                progress,
            )?;
        }
    }
    Ok(Settled {
        signatures,
        boilerplate,
        skipped,
        stats,
    })
}

/// Per-thread buffers, reused from one article to the next.
#[derive(Default)]
pub(crate) struct Worker {
    pub(crate) scratch: Scratch,
    pub(crate) term_scratch: keyterms::TermScratch,
    /// The hashes of the lines with words of the article signed last (boilerplate included).
    pub(crate) line_hashes: Vec<u64>,
    /// The spool record of the article signed last by [`Worker::sign_recording_lines`] with `spool`.
    record: Vec<u8>,
    /// Sums of a story's vectors, for its keywords (an array over all terms: one a thread,
    /// freed after the keywords stage).
    story_sums: story::StorySums,
}

thread_local! {
    /// Each thread's [`Worker`] for key terms, kept for the thread's life: `map_init` makes one
    /// per rayon job split (many in a pass), and the word cache of its
    /// [`keyterms::TermScratch`] pays off only once warm.
    static THREAD_WORKER: std::cell::RefCell<Worker> = std::cell::RefCell::new(Worker::default());
}

impl Worker {
    /// Runs `f` with this thread's worker. `f` must not call into rayon: a job stolen meanwhile
    /// could ask for the worker again. The worker keeps its buffers for the thread's life: at
    /// most a few times the longest line hashed (`--max-doc-bytes` caps it) and the capped
    /// [`keyterms::TermScratch`].
    pub(crate) fn with_thread_worker<R>(f: impl FnOnce(&mut Worker) -> R) -> R {
        THREAD_WORKER.with_borrow_mut(f)
    }

    /// Signs `text` into `signature`, streaming its shingles straight into the MinHash bins.
    /// Returns the number of tokens shingled: 0 for a text without words outside `skip`.
    pub(crate) fn sign(
        &mut self,
        text: &str,
        shingle: &ShingleOptions,
        hasher: &MinHasher,
        skip: Option<&BoilerplateLines>,
        signature: &mut [u32],
    ) -> usize {
        hasher.start(signature);
        let tokens = text::shingle_skipping(text, shingle, skip, &mut self.scratch, |shingle| {
            hasher.add(shingle, signature)
        });
        hasher.finish(signature);
        tokens
    }

    /// [`Worker::sign`], or the whole text when `skip` leaves nothing: an article made of
    /// nothing but boilerplate is signed whole.
    pub(crate) fn sign_or_whole(
        &mut self,
        text: &str,
        shingle: &ShingleOptions,
        hasher: &MinHasher,
        skip: Option<&BoilerplateLines>,
        signature: &mut [u32],
    ) -> usize {
        let tokens = self.sign(text, shingle, hasher, skip, signature);
        if tokens > 0 || skip.is_none() {
            return tokens;
        }
        self.sign(text, shingle, hasher, None, signature)
    }

    /// [`Worker::sign_or_whole`], also recording the hash of every line with words (skipped or
    /// not) in `self.line_hashes` (for the boilerplate pass) and, with `spool`, encoding the
    /// article's spool record (all its tokens, line by line) into `self.record`.
    fn sign_recording_lines(
        &mut self,
        text: &str,
        shingle: &ShingleOptions,
        hasher: &MinHasher,
        skip: Option<&BoilerplateLines>,
        signature: &mut [u32],
        spool: bool,
    ) -> usize {
        self.line_hashes.clear();
        self.record.clear();
        let (line_hashes, record) = (&mut self.line_hashes, &mut self.record);
        hasher.start(signature);
        let tokens = text::shingle_lines(
            text,
            shingle,
            skip,
            &mut self.scratch,
            |tokens, line_hash| {
                line_hashes.push(line_hash);
                if spool {
                    spool::encode_line(tokens, record);
                }
            },
            |shingle| hasher.add(shingle, signature),
        );
        hasher.finish(signature);
        if tokens == 0 && !self.line_hashes.is_empty() {
            return self.sign(text, shingle, hasher, None, signature);
        }
        tokens
    }
}

/// The near-duplicate sets: each article's set (see [`cluster::dup_groups_of_sets`]), with
/// counters for [`RunStats`].
struct NearDuplicates {
    set_of: Vec<u32>,
    /// Candidate pairs met: with `--verify estimate`, a pair counted once per band it shares.
    candidate_pairs: usize,
    /// Joins of two sets (articles minus sets).
    joins: usize,
}

/// The near-duplicate sets: the connected components of the verified candidate pairs.
///
/// Articles with identical signatures are joined directly (one of them enters the LSH), so that
/// a thousand copies of one page cost one bucket entry instead of a hot bucket. With estimated
/// similarities the pairs are joined as the bands meet them ([`lsh::join_similar`]).
fn near_duplicate_sets(
    articles: Option<&[Article]>,
    signatures: &Signatures,
    boilerplate: &BoilerplateLines,
    params: LshParams,
    opts: &Options,
) -> NearDuplicates {
    let n = signatures.len();
    let mut by_signature: Vec<u32> = (0..n as u32).collect();
    by_signature.par_sort_unstable_by(|&a, &b| {
        signatures
            .get(a as usize)
            .cmp(signatures.get(b as usize))
            .then(a.cmp(&b))
    });
    let sets = cluster::ConcurrentUnionFind::new(n);
    let mut representatives = Vec::new();
    for run in
        by_signature.chunk_by(|&a, &b| signatures.get(a as usize) == signatures.get(b as usize))
    {
        representatives.push(run[0]);
        for &doc in &run[1..] {
            sets.union(run[0], doc);
        }
    }
    drop(by_signature);
    representatives.sort_unstable();
    let candidate_pairs = match opts.verify {
        Verify::Estimate => {
            lsh::join_similar(signatures, &representatives, params, opts.threshold, &sets)
        }
        Verify::Exact => {
            let candidates = lsh::candidate_pairs(signatures, &representatives, params);
            // run() keeps the articles whenever --verify exact is set.
            let edges = articles.map_or_else(Vec::new, |articles| {
                exact_edges(articles, &candidates, boilerplate, opts)
            });
            for edge in edges {
                sets.union(edge.a, edge.b);
            }
            candidates.len()
        }
    };
    let set_of = sets.labels();
    let joins = set_of
        .iter()
        .enumerate()
        .filter(|&(doc, &set)| set as usize != doc)
        .count();
    NearDuplicates {
        set_of,
        candidate_pairs,
        joins,
    }
}

/// Exact Jaccard of candidate pairs, from the shingle sets of the articles involved only.
fn exact_edges(
    articles: &[Article],
    candidates: &[(u32, u32)],
    boilerplate: &BoilerplateLines,
    opts: &Options,
) -> Vec<Edge> {
    let mut involved: Vec<u32> = candidates.iter().flat_map(|&(a, b)| [a, b]).collect();
    involved.sort_unstable();
    involved.dedup();
    // The exact sets are taken on the text the signatures saw: without boilerplate, unless the
    // article is nothing but boilerplate.
    let sets: Vec<Vec<u64>> = involved
        .par_iter()
        .map(|&doc| {
            let text = &articles[doc as usize].text;
            let set = text::shingle_set(text, &opts.shingle, Some(boilerplate));
            if set.is_empty() {
                return text::shingle_set(text, &opts.shingle, None);
            }
            set
        })
        .collect();
    let set_of = |doc: u32| &sets[involved.binary_search(&doc).unwrap_or_default()];
    candidates
        .par_iter()
        .filter_map(|&(a, b)| {
            let similarity = text::jaccard(set_of(a), set_of(b));
            (similarity >= opts.threshold).then_some(Edge {
                a,
                b,
                similarity: similarity as f32,
            })
        })
        .collect()
}

/// Where every dup group is in time: its place in date order and its day (see [`story::GroupInfo`]).
fn group_places(groups: &[DupGroup], metas: &[ArticleMeta]) -> (Vec<u32>, Vec<Option<i64>>) {
    // Date order of the groups' canonical articles (undated last, then group number).
    let canonical_date = |g: u32| metas[groups[g as usize].canonical() as usize].date_key;
    let mut order: Vec<u32> = (0..groups.len() as u32).collect();
    order.sort_by_key(|&g| (canonical_date(g).is_none(), canonical_date(g), g));
    let mut rank = vec![0u32; groups.len()];
    for (position, &g) in order.iter().enumerate() {
        rank[g as usize] = position as u32;
    }
    let days = (0..groups.len() as u32)
        .map(|g| canonical_date(g).map(DateKey::days))
        .collect();
    (rank, days)
}

/// The key terms of one article, from its headline and its non-boilerplate lines.
// Everything uses `trimmed_article_terms`; this slower reference is kept for its test.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn article_terms(
    article: &Article,
    boilerplate: &BoilerplateLines,
    opts: &Options,
    scratch: &mut Scratch,
) -> DocTerms {
    let text = text::capped(&article.text, opts.shingle.max_doc_bytes);
    let lines: Vec<&str> = text::lines(text)
        .filter(|line| {
            text::line_hash(line, opts.shingle.seed, scratch)
                .is_some_and(|h| !boilerplate.contains(h))
        })
        .collect();
    let first_line = lines.first().copied().unwrap_or_default();
    let headline = keyterms::headline(&article.title, first_line);
    keyterms::extract(
        headline,
        lines.iter().copied(),
        opts.term_weights,
        opts.shingle.seed,
    )
}

/// [`article_terms`] trimmed by [`story::trim_terms`], given the indices of the article's
/// boilerplate lines among its lines with words (see [`SkippedLines`]): an ASCII line is
/// checked for words without being hashed, and labels that trimming drops are never built.
/// The labels come in one buffer ([`CompactTerms`]); `into_doc_terms` gives the [`DocTerms`].
pub(crate) fn trimmed_article_terms(
    article: &Article,
    skipped: &[u32],
    opts: &Options,
    worker: &mut Worker,
) -> CompactTerms {
    let mut only = CompactTerms::default();
    // One headline: its terms are handed out, never a mean.
    trimmed_terms_under(article, &[&article.title], skipped, opts, worker, |terms| {
        only = terms
    });
    only
}

/// [`trimmed_article_terms`] of `article`'s body under each of `titles` (each the headline it
/// would be with that title, see [`keyterms::headline`]), the body worked out once
/// ([`keyterms::extract_headlines_mean`]): their mean, or `None` and each handed to `each` in
/// the order of `titles`.
fn trimmed_terms_under(
    article: &Article,
    titles: &[&str],
    skipped: &[u32],
    opts: &Options,
    worker: &mut Worker,
    each: impl FnMut(CompactTerms),
) -> Option<CompactTerms> {
    let scratch = &mut worker.scratch;
    let text = text::capped(&article.text, opts.shingle.max_doc_bytes);
    let mut with_words = 0u32;
    let lines: Vec<&str> = text::lines(text)
        .filter(|line| {
            // An ASCII line has words exactly when it has a letter or digit.
            let has_words = if line.is_ascii() {
                line.bytes().any(|b| b.is_ascii_alphanumeric())
            } else {
                text::line_hash(line, opts.shingle.seed, scratch).is_some()
            };
            if !has_words {
                return false;
            }
            with_words += 1;
            skipped.binary_search(&(with_words - 1)).is_err()
        })
        .collect();
    let first_line = lines.first().copied().unwrap_or_default();
    let headlines: Vec<&str> = titles
        .iter()
        .map(|title| keyterms::headline(title, first_line))
        .collect();
    let limits = keyterms::TermLimits {
        max_terms: story::MAX_ARTICLE_TERMS,
        max_labels: story::LABELLED_TERMS,
    };
    keyterms::extract_headlines_mean(
        &headlines,
        lines.into_iter(),
        opts.term_weights,
        opts.shingle.seed,
        limits,
        &mut worker.term_scratch,
        each,
    )
}

/// Stories over dup groups, and each story's keywords.
fn detect_stories(
    terms: &mut story::StoryTerms,
    order: &[u32],
    days: &[Option<i64>],
    groups: &[DupGroup],
    opts: &StoryOptions,
    progress: &dyn Progress,
) -> (Vec<Story>, Vec<String>) {
    let labels = terms.detect(order, days, opts, &|name| progress.stage(name));
    progress.stage("story keywords");
    let sizes: Vec<usize> = groups.iter().map(|g| g.members.len()).collect();
    let stories = story::stories_from_labels(&labels, &sizes);
    let terms = &*terms;
    let keywords = stories
        .par_iter()
        .map(|s| {
            Worker::with_thread_worker(|worker| {
                terms.keywords(&s.dup_groups, 8, &mut worker.story_sums)
            })
        })
        .collect();
    rayon::broadcast(|_| {
        Worker::with_thread_worker(|worker| worker.story_sums = story::StorySums::default())
    });
    (stories, keywords)
}

/// Per article: its dup group, and its similarity with the group's canonical article.
fn dup_assignments(n: usize, groups: &[DupGroup], signatures: &Signatures) -> (Vec<u32>, Vec<f32>) {
    let mut dup_of = vec![0u32; n];
    let mut canonical_of = vec![0u32; n];
    for (g, group) in groups.iter().enumerate() {
        for &doc in &group.members {
            dup_of[doc as usize] = g as u32;
            canonical_of[doc as usize] = group.canonical();
        }
    }
    let similarity = canonical_of
        .par_iter()
        .enumerate()
        .map(|(doc, &canonical)| signatures.similarity(doc, canonical as usize) as f32)
        .collect();
    (dup_of, similarity)
}

/// Per article: its story.
fn story_assignments(dup_of: &[u32], groups: usize, stories: &[Story]) -> Vec<u32> {
    let mut story_of_group = vec![0u32; groups];
    for (s, story) in stories.iter().enumerate() {
        for &g in &story.dup_groups {
            story_of_group[g as usize] = s as u32;
        }
    }
    dup_of.iter().map(|&g| story_of_group[g as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_runs_are_near_records_of_bounded_size() {
        let at = |offset: u64, len: u32| SpoolRecord { offset, len };
        let spooled = [
            at(0, 100),
            at(100, 100),
            at(200 + SPOOL_GAP_READ, 100),     // just near enough
            at(301 + 2 * SPOOL_GAP_READ, 100), // one byte too far
            at(401 + 2 * SPOOL_GAP_READ, SPOOL_READ_BYTES as u32),
            at(401 + 2 * SPOOL_GAP_READ + SPOOL_READ_BYTES, 10),
        ];
        let docs: Vec<usize> = (0..spooled.len()).collect();
        let runs = spool_runs(&docs, &spooled);
        // A record of SPOOL_READ_BYTES is a run alone: with its neighbours on either side, the
        // read would be larger.
        assert_eq!(runs, [&[0, 1, 2][..], &[3], &[4], &[5]]);
        assert!(spool_runs(&[], &spooled).is_empty());
        let small = [at(0, 10), at(10, 10), at(20, 10)];
        assert_eq!(spool_runs(&[0, 1, 2], &small), [&[0, 1, 2][..]]);
    }

    /// The five fields read back from the one allocation, empty or not, whatever their script.
    #[test]
    fn article_meta_fields_read_back() {
        let cases = [
            [
                "a-1",
                "Kim Yong-chol in Seoul",
                "2024-05-01",
                "https://x.test/a",
                "x.test",
            ],
            ["", "", "", "", ""],
            ["é", "", "Mai 2024 — ≈", "", "Le Monde"],
            ["", "title only", "", "", ""],
        ];
        for [id, title, date, url, source] in cases {
            let article = Article {
                id: id.into(),
                title: title.into(),
                text: "some text".into(),
                date: date.into(),
                url: url.into(),
                source: source.into(),
                origin: input::RecordOrigin {
                    file: "f.jsonl".into(),
                    line: 3,
                    span: None,
                },
                format: Format::Jsonl,
                raw: None,
            };
            let meta = ArticleMeta::from_article(article);
            assert_eq!(
                [
                    meta.id(),
                    meta.title(),
                    meta.date(),
                    meta.url(),
                    meta.source()
                ],
                [id, title, date, url, source]
            );
            assert_eq!(meta.text_len, 9);
        }
    }

    #[test]
    fn a_group_takes_its_body_from_its_longest_member_ties_to_the_canonical_order() {
        let meta = |id: &str, text_len: usize| {
            ArticleMeta::from_article(Article {
                id: id.into(),
                title: String::new(),
                text: "x".repeat(text_len),
                date: String::new(),
                url: String::new(),
                source: String::new(),
                origin: input::RecordOrigin {
                    file: "f.jsonl".into(),
                    line: 1,
                    span: None,
                },
                format: Format::Jsonl,
                raw: None,
            })
        };
        let lengths = [10, 30, 30, 5, 7, 9];
        let metas: Vec<ArticleMeta> = lengths
            .iter()
            .enumerate()
            .map(|(i, &len)| meta(&i.to_string(), len))
            .collect();
        let group = |members: &[u32]| DupGroup {
            members: members.to_vec(),
        };
        // Members in canonical order: 2 before 1 (equal lengths: the canonical first).
        let groups = [group(&[0, 2, 1]), group(&[4]), group(&[3, 5])];
        assert_eq!(term_sources(&groups, &metas), vec![2, 4, 5]);
    }

    /// Whatever the first pass guessed, every final signature is the article's signature
    /// without the final boilerplate lines, re-signed from the spool, from the kept articles or
    /// from the input read again (the records alone by their spans, or the whole of a gzipped
    /// copy, which has no spans).
    #[test]
    fn final_signatures_skip_the_final_boilerplate_whatever_was_guessed() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("docs.jsonl");
        let file = std::fs::File::create(&path).expect("a corpus file");
        let gen = crate::gen::GenOptions { n: 1500, seed: 9 };
        crate::gen::write_corpus(&gen, std::io::BufWriter::new(file), std::io::sink())
            .expect("the corpus is written");
        let gzipped = dir.path().join("docs.jsonl.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&gzipped).expect("a gzip file"),
            flate2::Compression::fast(),
        );
        std::io::copy(
            &mut std::fs::File::open(&path).expect("the corpus"),
            &mut gz,
        )
        .expect("the corpus is compressed");
        gz.finish().expect("the gzip file is written");
        let inputs = std::slice::from_ref(&path);
        let opts = Options {
            stories: None,
            ..Options::default()
        };
        let hasher = MinHasher::new(opts.num_perm, opts.shingle.seed, opts.algorithm);
        let corpus = input::read_corpus(inputs, &opts.read, &|_| {}).expect("the corpus reads");
        assert!(corpus.rejects.is_empty());
        // Every way of signing again: from the spool, from the input read again (by spans, or
        // all of a gzipped copy), from the kept articles.
        let ways = [
            (inputs, false, true),
            (inputs, false, false),
            (std::slice::from_ref(&gzipped), false, false),
            (inputs, true, false),
        ];
        for (inputs, in_memory, spool_tokens) in ways {
            let opts = Options {
                spool_tokens,
                ..opts.clone()
            };
            let mut signer = Signer::new(&opts, &hasher, &NoProgress, in_memory);
            // Batches of 40: too few articles to see every site's boilerplate three times,
            // so that the guess is wrong for some articles.
            signer.batch_articles = 40;
            input::stream_records(inputs, &opts.read, &|_| {}, &mut signer).expect("a pass");
            let mut first = signer.finish().expect("the first pass");
            let replay = (!in_memory).then_some(inputs);
            let settled = settle_boilerplate(&mut first, replay, &hasher, &opts, &NoProgress)
                .expect("the second pass");
            let stats = &settled.stats;
            assert!(
                stats.articles_with_boilerplate > 100,
                "the corpus has boilerplate"
            );
            assert!(
                stats.resigned_articles > 0
                    && stats.resigned_articles < stats.articles_with_boilerplate,
                "some guesses are wrong, most are right: {} re-signed",
                stats.resigned_articles
            );
            let mut worker = Worker::default();
            let mut expected = vec![0u32; hasher.num_perm()];
            for (doc, article) in corpus.articles.iter().enumerate() {
                let skip = Some(&settled.boilerplate);
                worker.sign_or_whole(&article.text, &opts.shingle, &hasher, skip, &mut expected);
                assert_eq!(settled.signatures.get(doc), &expected[..], "article {doc}");
            }
        }
    }

    #[test]
    fn trimmed_terms_are_the_article_terms_trimmed() {
        let corpus = input::read_corpus(
            &[PathBuf::from("data/demo/articles.jsonl")],
            &ReadOptions::default(),
            &|_| {},
        )
        .expect("the demo reads");
        let opts = Options::default();
        let mut scratch = Scratch::default();
        // One worker for all articles: its buffers carry over from article to article.
        let mut worker = Worker::default();
        let mut doc = text::TokenizedDoc::default();
        // Every third line of the first articles counts as boilerplate.
        let mut lines = Vec::new();
        for article in corpus.articles.iter().take(20) {
            text::tokenize(&article.text, &opts.shingle, None, &mut scratch, &mut doc);
            lines.extend(doc.line_hashes.iter().step_by(3).copied());
        }
        let boilerplate = BoilerplateLines::new(lines);
        let mut compared = 0;
        for article in &corpus.articles {
            text::tokenize(&article.text, &opts.shingle, None, &mut scratch, &mut doc);
            let skipped = SkippedLines::new(std::iter::once(&doc.line_hashes[..]), &boilerplate);
            let mut expected = article_terms(article, &boilerplate, &opts, &mut scratch);
            story::trim_terms(&mut expected);
            let found =
                trimmed_article_terms(article, skipped.of(0), &opts, &mut worker).into_doc_terms();
            assert_eq!(found, expected, "{}", article.id);
            compared += usize::from(!skipped.of(0).is_empty());
        }
        assert!(compared >= 20, "{compared}");
    }
}
