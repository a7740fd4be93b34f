//! Reading a batch for the index: each article's metadata, MinHash signature and key terms,
//! computed in parallel while the files are read, in one pass, without keeping any text.
//!
//! The index signs the full text (boilerplate lines are not removed: which lines are boilerplate
//! is a property of the whole corpus, and an index must never re-sign what it already holds).
//! This module does not touch the database.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::error::Result;
use crate::input::{self, Article, ReadStats, RecordSink, Reject, RejectReason};
use crate::keyterms::DocTerms;
use crate::minhash::MinHasher;
use crate::pipeline::{self, ArticleMeta, Options, Worker};

/// One article of a batch, ready to be matched against the index.
#[derive(Debug, Clone)]
pub struct PreparedArticle {
    pub meta: ArticleMeta,
    pub signature: Vec<u32>,
    /// Key terms (empty when the index has stories off).
    pub terms: DocTerms,
}

/// A batch after reading: its articles in input order and what could not be read.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    pub articles: Vec<PreparedArticle>,
    pub rejects: Vec<Reject>,
    pub read_stats: ReadStats,
}

/// Articles are prepared in parallel chunks of about this many.
const CHUNK_ARTICLES: usize = 4096;
const CHUNK_BYTES: usize = 16 << 20;

/// Reads `inputs` and prepares every article. Ids repeated inside the batch are rejected (the
/// first stays), as `cluster` does.
pub fn prepare(
    inputs: &[PathBuf],
    opts: &Options,
    hasher: &MinHasher,
    progress: &dyn pipeline::Progress,
) -> Result<PreparedBatch> {
    let mut sink = Preparer {
        opts,
        hasher,
        progress,
        chunk: Vec::new(),
        chunk_bytes: 0,
        batch: PreparedBatch::default(),
    };
    input::stream_records(inputs, &opts.read, &|n| progress.bytes(n), &mut sink)?;
    sink.flush();
    let mut batch = sink.batch;
    reject_repeated_ids(&mut batch);
    batch
        .rejects
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(batch)
}

/// Prepares articles already in memory (the `query` command's few articles).
pub fn prepare_articles(
    articles: Vec<Article>,
    opts: &Options,
    hasher: &MinHasher,
) -> (Vec<PreparedArticle>, Vec<Reject>) {
    let mut sink = Preparer {
        opts,
        hasher,
        progress: &pipeline::NoProgress,
        chunk: articles,
        chunk_bytes: 0,
        batch: PreparedBatch::default(),
    };
    sink.flush();
    (sink.batch.articles, sink.batch.rejects)
}

struct Preparer<'a> {
    opts: &'a Options,
    hasher: &'a MinHasher,
    progress: &'a dyn pipeline::Progress,
    chunk: Vec<Article>,
    chunk_bytes: usize,
    batch: PreparedBatch,
}

impl Preparer<'_> {
    fn flush(&mut self) {
        let chunk = std::mem::take(&mut self.chunk);
        self.chunk_bytes = 0;
        let (opts, hasher, progress) = (self.opts, self.hasher, self.progress);
        let prepared: Vec<std::result::Result<PreparedArticle, Reject>> = chunk
            .into_par_iter()
            .map(|article| {
                progress.articles(1);
                Worker::with_thread_worker(|worker| prepare_article(article, opts, hasher, worker))
            })
            .collect();
        for result in prepared {
            match result {
                Ok(article) => self.batch.articles.push(article),
                Err(reject) => self.batch.rejects.push(reject),
            }
        }
    }
}

/// Signs one article and, with stories on, extracts its key terms.
fn prepare_article(
    article: Article,
    opts: &Options,
    hasher: &MinHasher,
    worker: &mut Worker,
) -> std::result::Result<PreparedArticle, Reject> {
    let mut signature = vec![0u32; hasher.num_perm()];
    let tokens = worker.sign(&article.text, &opts.shingle, hasher, None, &mut signature);
    if tokens == 0 {
        return Err(Reject {
            file: article.origin.file.to_string(),
            line: article.origin.line,
            id: article.id,
            reason: RejectReason::NoWords,
        });
    }
    let mut terms = DocTerms::default();
    if opts.stories.is_some() {
        terms = pipeline::trimmed_article_terms(&article, &[], opts, worker).into_doc_terms();
    }
    Ok(PreparedArticle {
        meta: ArticleMeta::from_article(article),
        signature,
        terms,
    })
}

impl RecordSink for Preparer<'_> {
    fn record(&mut self, record: std::result::Result<Article, Reject>, lossy: bool) {
        if lossy {
            self.batch.read_stats.invalid_utf8 += 1;
        }
        match record {
            Err(reject) => self.batch.rejects.push(reject),
            Ok(article) => {
                self.chunk_bytes += article.text.len().min(self.opts.shingle.max_doc_bytes);
                self.chunk.push(article);
                if self.chunk_bytes >= CHUNK_BYTES || self.chunk.len() >= CHUNK_ARTICLES {
                    self.flush();
                }
            }
        }
    }

    fn csv_header(&mut self, _header: Vec<String>) -> usize {
        0
    }

    fn file_started(&mut self) {
        self.batch.read_stats.files += 1;
    }
}

/// Rejects the second and later articles with an id already seen in this batch.
fn reject_repeated_ids(batch: &mut PreparedBatch) {
    let articles = std::mem::take(&mut batch.articles);
    let repeated = crate::input::repeated_ids(articles.len(), |i| articles[i].meta.id());
    let mut is_repeated = vec![false; articles.len()];
    for &(later, first) in &repeated {
        is_repeated[later] = true;
        let (meta, first) = (&articles[later].meta, &articles[first].meta.origin);
        batch
            .rejects
            .push(Reject::repeated_id(&meta.origin, meta.id(), first));
    }
    batch.articles = articles
        .into_iter()
        .zip(is_repeated)
        .filter_map(|(article, repeated)| (!repeated).then_some(article))
        .collect();
}
