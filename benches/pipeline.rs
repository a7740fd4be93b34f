//! Criterion benchmarks, one per stage, on a generated corpus (`storyhash::gen`, fixed seed).
//!
//! Run with `cargo bench` (all) or `cargo bench -- signatures` (one group). Throughput is
//! reported in articles/s (elements) or MB/s (bytes) per group. The corpus size can be set with
//! `STORYHASH_BENCH_N` (default 5,000 articles).

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use storyhash::cluster::{self, Edge};
use storyhash::gen::{write_corpus, GenOptions};
use storyhash::input::{self, Article, Corpus, ReadOptions};
use storyhash::keyterms::{self, TermWeights};
use storyhash::lsh;
use storyhash::minhash::{Algorithm, MinHasher, Signatures};
use storyhash::pipeline::{self, NoProgress, Options};
use storyhash::story::{self, GroupInfo, StoryOptions};
use storyhash::text::{self, Scratch, ShingleOptions, TokenizedDoc};

fn corpus_size() -> usize {
    std::env::var("STORYHASH_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000)
}

/// The generated corpus as a JSONL file (kept for the benchmark's lifetime) and its articles.
struct BenchCorpus {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    bytes: u64,
    articles: Vec<Article>,
}

fn bench_corpus() -> BenchCorpus {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("docs.jsonl");
    let mut docs = std::fs::File::create(&path).expect("a corpus file");
    let opts = GenOptions {
        n: corpus_size(),
        seed: 42,
    };
    let summary = write_corpus(&opts, &mut docs, std::io::sink()).expect("the corpus is generated");
    docs.flush().expect("the corpus is written");
    let corpus = input::read_corpus(
        std::slice::from_ref(&path),
        &ReadOptions::default(),
        &|_| {},
    )
    .expect("the corpus reads");
    BenchCorpus {
        _dir: dir,
        path,
        bytes: summary.bytes,
        articles: corpus.articles,
    }
}

fn shingle_all(articles: &[Article], opts: &ShingleOptions) -> Vec<Vec<u64>> {
    let mut scratch = Scratch::default();
    let mut doc = TokenizedDoc::default();
    articles
        .iter()
        .map(|article| {
            let mut shingles = Vec::new();
            text::tokenize(&article.text, opts, None, &mut scratch, &mut doc);
            text::shingles(&doc.tokens, opts.size, &mut shingles);
            shingles
        })
        .collect()
}

fn sign_all(shingles: &[Vec<u64>], hasher: &MinHasher) -> Signatures {
    let k = hasher.num_perm();
    let mut values = vec![0u32; shingles.len() * k];
    for (set, out) in shingles.iter().zip(values.chunks_mut(k)) {
        hasher.sign(set, out);
    }
    Signatures::new(k, values)
}

fn benches(c: &mut Criterion) {
    let corpus = bench_corpus();
    let n = corpus.articles.len() as u64;
    let shingle_opts = ShingleOptions::default();

    let mut group = c.benchmark_group("read");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(corpus.bytes));
    group.bench_function("jsonl", |b| {
        b.iter(|| {
            input::read_corpus(
                std::slice::from_ref(&corpus.path),
                &ReadOptions::default(),
                &|_| {},
            )
            .unwrap()
        })
    });
    group.finish();

    let text_bytes: u64 = corpus.articles.iter().map(|a| a.text.len() as u64).sum();
    let mut group = c.benchmark_group("tokenize+shingle");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(text_bytes));
    group.bench_function("one thread", |b| {
        b.iter(|| shingle_all(black_box(&corpus.articles), &shingle_opts))
    });
    // What the pipeline does: shingles streamed straight into the MinHash bins.
    let hasher = MinHasher::new(128, shingle_opts.seed, Algorithm::Oph);
    group.bench_function("+ signatures, streamed, one thread", |b| {
        b.iter(|| {
            let mut scratch = Scratch::default();
            let mut lines = Vec::new();
            let mut signature = vec![0u32; 128];
            for article in black_box(&corpus.articles) {
                hasher.start(&mut signature);
                text::shingle_text(
                    &article.text,
                    &shingle_opts,
                    None,
                    &mut scratch,
                    &mut lines,
                    |shingle| hasher.add(shingle, &mut signature),
                );
                hasher.finish(&mut signature);
                black_box(&signature);
            }
        })
    });
    group.finish();

    let shingles = shingle_all(&corpus.articles, &shingle_opts);
    let mut group = c.benchmark_group("signatures");
    group.sample_size(10).throughput(Throughput::Elements(n));
    for algorithm in [Algorithm::Oph, Algorithm::Classic] {
        let hasher = MinHasher::new(128, 1, algorithm);
        group.bench_function(format!("{algorithm:?} k=128, one thread"), |b| {
            b.iter(|| sign_all(black_box(&shingles), &hasher))
        });
    }
    group.finish();

    let signatures = sign_all(&shingles, &MinHasher::new(128, 1, Algorithm::Oph));
    let docs: Vec<u32> = (0..n as u32).collect();
    let params = lsh::optimal_params(storyhash::DEFAULT_THRESHOLD, 128, 0.5, 0.5);
    let mut group = c.benchmark_group("lsh");
    group.sample_size(10).throughput(Throughput::Elements(n));
    group.bench_function("candidate pairs", |b| {
        b.iter(|| lsh::candidate_pairs(&signatures, &docs, params))
    });
    group.finish();

    let edges: Vec<Edge> = lsh::candidate_pairs(&signatures, &docs, params)
        .into_iter()
        .filter(|&(a, b)| {
            signatures.similarity(a as usize, b as usize) >= storyhash::DEFAULT_THRESHOLD
        })
        .map(|(a, b)| Edge {
            a,
            b,
            similarity: 1.0,
        })
        .collect();
    let mut group = c.benchmark_group("cluster");
    group.sample_size(10).throughput(Throughput::Elements(n));
    group.bench_function("dup groups", |b| {
        b.iter(|| {
            cluster::dup_groups(corpus.articles.len(), &edges, |doc| cluster::RankKey {
                date: None,
                text_len: corpus.articles[doc as usize].text.len(),
                id: &corpus.articles[doc as usize].id,
            })
        })
    });
    group.finish();

    let infos: Vec<GroupInfo> = corpus
        .articles
        .iter()
        .enumerate()
        .map(|(i, article)| {
            let first = article.text.lines().next().unwrap_or_default();
            let headline = keyterms::headline(&article.title, first);
            GroupInfo {
                terms: keyterms::extract(headline, article.text.lines(), TermWeights::default(), 1),
                day: None,
                order: i as u32,
            }
        })
        .collect();
    let mut group = c.benchmark_group("stories");
    group.sample_size(10).throughput(Throughput::Elements(n));
    group.bench_function("key terms, one thread", |b| {
        b.iter(|| {
            corpus
                .articles
                .iter()
                .map(|a| keyterms::extract(&a.title, a.text.lines(), TermWeights::default(), 1))
                .collect::<Vec<_>>()
        })
    });
    // As the pipeline extracts them: the heaviest terms, labels for the heaviest of those, and
    // one thread's buffers reused from article to article.
    let limits = keyterms::TermLimits {
        max_terms: story::MAX_ARTICLE_TERMS,
        max_labels: story::LABELLED_TERMS,
    };
    group.bench_function("key terms, top terms, reused buffers, one thread", |b| {
        let mut scratch = keyterms::TermScratch::default();
        b.iter(|| {
            corpus
                .articles
                .iter()
                .map(|a| {
                    let weights = TermWeights::default();
                    let lines = a.text.lines();
                    keyterms::extract_top_with(&a.title, lines, weights, 1, limits, &mut scratch)
                })
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("detect (each article its own group)", |b| {
        b.iter_batched(
            || infos.clone(),
            |mut groups| story::detect_stories(&mut groups, &StoryOptions::default()),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("end to end");
    group.sample_size(10).throughput(Throughput::Elements(n));
    let near_dups_only = Options {
        stories: None,
        ..Options::default()
    };
    group.bench_function(
        "run from the JSONL file, near-duplicates only (all threads)",
        |b| {
            b.iter(|| {
                pipeline::run(
                    std::slice::from_ref(&corpus.path),
                    &near_dups_only,
                    &NoProgress,
                )
                .unwrap()
            })
        },
    );
    group.bench_function("cluster_corpus, stories on (all threads)", |b| {
        b.iter_batched(
            || Corpus {
                articles: corpus.articles.clone(),
                ..Corpus::default()
            },
            |articles| {
                pipeline::cluster_corpus(articles, &Options::default(), &NoProgress).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(pipeline_benches, benches);
criterion_main!(pipeline_benches);
