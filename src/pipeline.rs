//! Pipeline: runs the stages in order (input → text → minhash → lsh → cluster) and returns a
//! [`Clustering`] for `report` to write.
//!
//! Boilerplate is found in two passes. Pass A signs every article's full text and groups them
//! loosely (Jaccard ≥ [`LOOSE_THRESHOLD`]), which puts wire copies of one story together even
//! when each carries another site's header and footer. A line that recurs in at least
//! `boilerplate_min_groups` *different* loose groups is boilerplate ("Subscribe to our
//! newsletter"); a story's own paragraphs, repeated only by that story's copies, are not.
//! Pass B re-signs only the articles that contain boilerplate, without it.
//!
//! This module owns no algorithm of its own beyond that orchestration; it does not write files.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use crate::cluster::{self, DupGroup, Edge, RankKey, Story};
use crate::error::{Error, Result};
use crate::input::{
    self, Article, Corpus, DateKey, Format, RawRecord, ReadOptions, ReadStats, Reject, RejectReason,
};
use crate::keyterms::{self, DocTerms, TermWeights};
use crate::lsh::{self, LshParams};
use crate::minhash::{Algorithm, MinHasher, Signatures};
use crate::story::{self, GroupInfo, StoryOptions};
use crate::text::{self, BoilerplateLines, Scratch, ShingleOptions, TokenizedDoc};

/// The Jaccard at which pass A groups articles to tell boilerplate from a story's own text.
/// Low on purpose: a wire copy must join its original here even with heavy boilerplate.
pub const LOOSE_THRESHOLD: f64 = 0.3;

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
            stories: Some(StoryOptions::default()),
            term_weights: TermWeights::default(),
        }
    }
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
#[derive(Debug, Clone)]
pub struct ArticleMeta {
    pub id: String,
    pub title: String,
    pub date: String,
    pub date_key: Option<DateKey>,
    pub url: String,
    pub source: String,
    /// Length of the text in bytes (the canonical choice prefers longer texts).
    pub text_len: usize,
    pub origin: input::RecordOrigin,
    pub format: Format,
    pub raw: Option<RawRecord>,
}

impl ArticleMeta {
    fn from_article(article: Article) -> ArticleMeta {
        ArticleMeta {
            date_key: DateKey::parse(&article.date),
            text_len: article.text.len(),
            id: article.id,
            title: article.title,
            date: article.date,
            url: article.url,
            source: article.source,
            origin: article.origin,
            format: article.format,
            raw: article.raw,
        }
    }

    pub fn rank_key(&self) -> RankKey<'_> {
        RankKey {
            date: self.date_key,
            text_len: self.text_len,
            id: &self.id,
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
pub fn run(inputs: &[PathBuf], opts: &Options, progress: &dyn Progress) -> Result<Clustering> {
    let start = Instant::now();
    opts.validate()?;
    progress.stage("reading");
    let corpus = input::read_corpus(inputs, &opts.read, &|n| progress.bytes(n))?;
    let mut clustering = cluster_corpus(corpus, opts, progress)?;
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
    let Corpus {
        mut articles,
        mut rejects,
        stats: read_stats,
        csv_headers,
    } = corpus;
    let hasher = MinHasher::new(opts.num_perm, opts.shingle.seed, opts.algorithm);

    progress.stage("signatures");
    let (mut signatures, line_hashes) = sign_all(&articles, &opts.shingle, &hasher, None, progress);
    let line_hashes = drop_wordless(&mut articles, &mut signatures, line_hashes, &mut rejects);
    let capped_articles = articles
        .iter()
        .filter(|a| a.text.len() > opts.shingle.max_doc_bytes)
        .count();

    let mut stats = RunStats::default();
    let boilerplate = if opts.boilerplate {
        progress.stage("boilerplate");
        find_boilerplate(&signatures, &line_hashes, opts)
    } else {
        BoilerplateLines::default()
    };
    stats.boilerplate_lines = boilerplate.len();
    stats.articles_with_boilerplate = resign_without(
        &articles,
        &line_hashes,
        &boilerplate,
        &hasher,
        opts,
        &mut signatures,
    );
    drop(line_hashes);

    progress.stage("near-duplicates");
    let (edges, candidate_pairs) =
        near_duplicate_edges(&articles, &signatures, &boilerplate, params, opts);
    let date_keys: Vec<Option<DateKey>> =
        articles.iter().map(|a| DateKey::parse(&a.date)).collect();
    let rank_key = |doc: u32| RankKey {
        date: date_keys[doc as usize],
        text_len: articles[doc as usize].text.len(),
        id: &articles[doc as usize].id,
    };
    let dup_groups = cluster::dup_groups(articles.len(), &edges, rank_key);
    let (stories, story_keywords) = match &opts.stories {
        Some(story_opts) => {
            progress.stage("stories");
            let mut infos = group_infos(&articles, &dup_groups, &boilerplate, &date_keys, opts);
            detect_stories(&mut infos, &dup_groups, story_opts)
        }
        None => (cluster::one_story_per_group(&dup_groups), Vec::new()),
    };
    drop(boilerplate);
    let articles: Vec<ArticleMeta> = articles
        .into_iter()
        .map(ArticleMeta::from_article)
        .collect();

    let (dup_of, story_of, similarity) =
        assignments(articles.len(), &dup_groups, &stories, &signatures);
    rejects.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    stats = RunStats {
        articles: articles.len(),
        rejected: rejects.len(),
        read: read_stats,
        lsh: Some(params),
        capped_articles,
        candidate_pairs,
        edges: edges.len(),
        dup_groups: dup_groups.len(),
        largest_group: dup_groups.first().map_or(0, |g| g.members.len()),
        stories: stories.len(),
        seconds: start.elapsed().as_secs_f64(),
        ..stats
    };
    Ok(Clustering {
        articles,
        rejects,
        dup_groups,
        stories,
        dup_of,
        story_of,
        similarity,
        story_keywords,
        csv_headers,
        stats,
    })
}

/// Signs every article in parallel; returns the signatures and each article's line hashes.
fn sign_all(
    articles: &[Article],
    shingle: &ShingleOptions,
    hasher: &MinHasher,
    skip: Option<&BoilerplateLines>,
    progress: &dyn Progress,
) -> (Signatures, Vec<Vec<u64>>) {
    let k = hasher.num_perm();
    let mut values = vec![0u32; articles.len() * k];
    let line_hashes: Vec<Vec<u64>> = values
        .par_chunks_mut(k)
        .zip(articles.par_iter())
        .map_init(Worker::default, |worker, (signature, article)| {
            worker.sign(&article.text, shingle, hasher, skip, signature);
            progress.articles(1);
            if worker.doc.tokens.is_empty() {
                return Vec::new(); // no words: rejected by the caller
            }
            worker.doc.line_hashes.clone()
        })
        .collect();
    (Signatures::new(k, values), line_hashes)
}

/// Per-thread buffers, reused from one article to the next.
#[derive(Default)]
struct Worker {
    scratch: Scratch,
    doc: TokenizedDoc,
    shingles: Vec<u64>,
}

impl Worker {
    fn sign(
        &mut self,
        text: &str,
        shingle: &ShingleOptions,
        hasher: &MinHasher,
        skip: Option<&BoilerplateLines>,
        signature: &mut [u32],
    ) {
        text::tokenize(text, shingle, skip, &mut self.scratch, &mut self.doc);
        text::shingles(
            &self.doc.tokens,
            shingle.size,
            shingle.seed,
            &mut self.shingles,
        );
        hasher.sign(&self.shingles, signature);
    }
}

/// Moves articles without a single word (only punctuation or symbols) to the rejects, and
/// returns the line hashes of the articles that stay.
fn drop_wordless(
    articles: &mut Vec<Article>,
    signatures: &mut Signatures,
    line_hashes: Vec<Vec<u64>>,
    rejects: &mut Vec<Reject>,
) -> Vec<Vec<u64>> {
    let wordless: Vec<bool> = line_hashes.iter().map(Vec::is_empty).collect();
    if !wordless.contains(&true) {
        return line_hashes;
    }
    let k = signatures.num_perm();
    let mut kept_values = Vec::with_capacity(signatures.len() * k);
    let mut kept_lines = Vec::with_capacity(line_hashes.len());
    let mut kept_articles = Vec::with_capacity(articles.len());
    for (doc, (article, lines)) in articles.drain(..).zip(line_hashes).enumerate() {
        if wordless[doc] {
            rejects.push(Reject {
                file: article.origin.file.to_string(),
                line: article.origin.line,
                id: article.id,
                reason: RejectReason::NoWords,
            });
            continue;
        }
        kept_values.extend_from_slice(signatures.get(doc));
        kept_lines.push(lines);
        kept_articles.push(article);
    }
    *articles = kept_articles;
    *signatures = Signatures::new(k, kept_values);
    kept_lines
}

/// Lines that recur in at least `boilerplate_min_groups` different loose groups.
fn find_boilerplate(
    signatures: &Signatures,
    line_hashes: &[Vec<u64>],
    opts: &Options,
) -> BoilerplateLines {
    let n = line_hashes.len();
    if n < opts.boilerplate_min_groups.max(2) {
        return BoilerplateLines::default();
    }
    let docs: Vec<u32> = (0..n as u32).collect();
    let params = lsh::optimal_params(LOOSE_THRESHOLD, signatures.num_perm(), 0.5, 0.5);
    let edges: Vec<Edge> = lsh::candidate_pairs(signatures, &docs, params)
        .into_par_iter()
        .filter_map(|(a, b)| verified_edge(signatures, a, b, LOOSE_THRESHOLD))
        .collect();
    let mut sets = cluster::UnionFind::new(n);
    for edge in &edges {
        sets.union(edge.a, edge.b);
    }
    let mut line_groups: Vec<(u64, u32)> = Vec::new();
    for (doc, lines) in line_hashes.iter().enumerate() {
        let group = sets.find(doc as u32);
        line_groups.extend(lines.iter().map(|&line| (line, group)));
    }
    line_groups.par_sort_unstable();
    line_groups.dedup();
    let boilerplate = line_groups
        .chunk_by(|x, y| x.0 == y.0)
        .filter(|run| run.len() >= opts.boilerplate_min_groups)
        .map(|run| run[0].0);
    BoilerplateLines::new(boilerplate)
}

/// Re-signs the articles that contain boilerplate, without it. An article that is nothing but
/// boilerplate keeps its full-text signature. Returns how many articles had boilerplate.
fn resign_without(
    articles: &[Article],
    line_hashes: &[Vec<u64>],
    boilerplate: &BoilerplateLines,
    hasher: &MinHasher,
    opts: &Options,
    signatures: &mut Signatures,
) -> usize {
    if boilerplate.is_empty() {
        return 0;
    }
    let k = hasher.num_perm();
    signatures
        .values_mut()
        .par_chunks_mut(k)
        .zip(articles.par_iter().zip(line_hashes.par_iter()))
        .map_init(Worker::default, |worker, (signature, (article, lines))| {
            if !lines.iter().any(|&line| boilerplate.contains(line)) {
                return 0;
            }
            let mut fresh = vec![0u32; k];
            worker.sign(
                &article.text,
                &opts.shingle,
                hasher,
                Some(boilerplate),
                &mut fresh,
            );
            if !worker.doc.tokens.is_empty() {
                signature.copy_from_slice(&fresh);
            }
            1
        })
        .sum()
}

fn verified_edge(signatures: &Signatures, a: u32, b: u32, threshold: f64) -> Option<Edge> {
    let similarity = signatures.similarity(a as usize, b as usize);
    (similarity >= threshold).then_some(Edge {
        a,
        b,
        similarity: similarity as f32,
    })
}

/// Verified near-duplicate edges, and the number of candidate pairs that were checked.
///
/// Articles with identical signatures are joined directly (one of them enters the LSH), so that
/// a thousand copies of one page cost one bucket entry instead of a hot bucket.
fn near_duplicate_edges(
    articles: &[Article],
    signatures: &Signatures,
    boilerplate: &BoilerplateLines,
    params: LshParams,
    opts: &Options,
) -> (Vec<Edge>, usize) {
    let mut by_signature: Vec<u32> = (0..signatures.len() as u32).collect();
    by_signature.par_sort_unstable_by(|&a, &b| {
        signatures
            .get(a as usize)
            .cmp(signatures.get(b as usize))
            .then(a.cmp(&b))
    });
    let mut edges = Vec::new();
    let mut representatives = Vec::new();
    for run in
        by_signature.chunk_by(|&a, &b| signatures.get(a as usize) == signatures.get(b as usize))
    {
        representatives.push(run[0]);
        edges.extend(run[1..].iter().map(|&doc| Edge {
            a: run[0],
            b: doc,
            similarity: 1.0,
        }));
    }
    representatives.sort_unstable();
    let candidates = lsh::candidate_pairs(signatures, &representatives, params);
    let candidate_count = candidates.len();
    let verified: Vec<Edge> = match opts.verify {
        Verify::Estimate => candidates
            .into_par_iter()
            .filter_map(|(a, b)| verified_edge(signatures, a, b, opts.threshold))
            .collect(),
        Verify::Exact => exact_edges(articles, &candidates, boilerplate, opts),
    };
    edges.extend(verified);
    (edges, candidate_count)
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

/// Key terms of every dup group (articles' lines without boilerplate), in parallel.
fn group_infos(
    articles: &[Article],
    groups: &[DupGroup],
    boilerplate: &BoilerplateLines,
    date_keys: &[Option<DateKey>],
    opts: &Options,
) -> Vec<GroupInfo> {
    // Date order of the groups' canonical articles (undated last, then group number).
    let canonical_date = |g: u32| date_keys[groups[g as usize].canonical() as usize];
    let mut order: Vec<u32> = (0..groups.len() as u32).collect();
    order.sort_by_key(|&g| (canonical_date(g).is_none(), canonical_date(g), g));
    let mut rank = vec![0u32; groups.len()];
    for (position, &g) in order.iter().enumerate() {
        rank[g as usize] = position as u32;
    }
    groups
        .par_iter()
        .enumerate()
        .map_init(Scratch::default, |scratch, (g, group)| {
            let members: Vec<DocTerms> = group
                .members
                .iter()
                .map(|&doc| article_terms(&articles[doc as usize], boilerplate, opts, scratch))
                .collect();
            GroupInfo {
                terms: story::merge_terms(&members),
                day: canonical_date(g as u32).map(DateKey::days),
                order: rank[g],
            }
        })
        .collect()
}

/// The key terms of one article, from its headline and its non-boilerplate lines.
fn article_terms(
    article: &Article,
    boilerplate: &BoilerplateLines,
    opts: &Options,
    scratch: &mut Scratch,
) -> DocTerms {
    let text = text::capped(&article.text, opts.shingle.max_doc_bytes);
    let lines: Vec<&str> = text
        .lines()
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

/// Stories over dup groups, and each story's keywords.
fn detect_stories(
    infos: &mut [GroupInfo],
    groups: &[DupGroup],
    opts: &StoryOptions,
) -> (Vec<Story>, Vec<String>) {
    let (labels, vectors) = story::detect_stories(infos, opts);
    let infos = &*infos;
    let sizes: Vec<usize> = groups.iter().map(|g| g.members.len()).collect();
    let stories = story::stories_from_labels(&labels, &sizes);
    let keywords = stories
        .iter()
        .map(|s| {
            let members: Vec<&GroupInfo> =
                s.dup_groups.iter().map(|&g| &infos[g as usize]).collect();
            let member_vectors: Vec<&story::TermVector> =
                s.dup_groups.iter().map(|&g| &vectors[g as usize]).collect();
            story::keywords(&members, &member_vectors, 8)
        })
        .collect();
    (stories, keywords)
}

/// Per-article dup group, story and similarity with the canonical article.
fn assignments(
    n: usize,
    groups: &[DupGroup],
    stories: &[Story],
    signatures: &Signatures,
) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
    let mut dup_of = vec![0u32; n];
    let mut similarity = vec![1.0f32; n];
    for (g, group) in groups.iter().enumerate() {
        let canonical = group.canonical() as usize;
        for &doc in &group.members {
            dup_of[doc as usize] = g as u32;
            similarity[doc as usize] = signatures.similarity(doc as usize, canonical) as f32;
        }
    }
    let mut story_of_group = vec![0u32; groups.len()];
    for (s, story) in stories.iter().enumerate() {
        for &g in &story.dup_groups {
            story_of_group[g as usize] = s as u32;
        }
    }
    let story_of = dup_of.iter().map(|&g| story_of_group[g as usize]).collect();
    (dup_of, story_of, similarity)
}
