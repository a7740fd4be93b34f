//! Diagnostics for story clustering on a labelled set: how many same-story pairs the candidate
//! LSH finds, and how well the key-term vectors separate stories with all pairs available.
//!
//! `cargo run --release --example story_diagnostics -- DOCS.jsonl LABELS.csv`
//! (each article is its own group here: the labelled sets have almost no duplicates).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use storyhash::eval;
use storyhash::input::{self, DateKey, ReadOptions};
use storyhash::keyterms::{self, TermWeights};
use storyhash::story::{self, GroupInfo, StoryOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() == 2,
        "usage: story_diagnostics DOCS.jsonl LABELS.csv"
    );
    let corpus = input::read_corpus(&[PathBuf::from(&args[0])], &ReadOptions::default(), &|_| {})?;
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for record in csv::Reader::from_path(&args[1])?.records() {
        let record = record?;
        labels.insert(record[0].to_string(), record[1].to_string());
    }
    let opts = StoryOptions::default();
    let env = |name: &str, default: f32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let defaults = TermWeights::default();
    let weights = TermWeights {
        word: env("WORD_W", defaults.word),
        name: env("NAME_W", defaults.name),
        number: env("NUMBER_W", defaults.number),
        title: env("TITLE_W", defaults.title),
    };
    let infos: Vec<GroupInfo> = corpus
        .articles
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let first = a.text.lines().next().unwrap_or_default();
            let headline = keyterms::headline(&a.title, first);
            GroupInfo {
                terms: keyterms::extract(headline, a.text.lines(), weights, opts.seed),
                day: DateKey::parse(&a.date).map(DateKey::days),
                order: i as u32,
            }
        })
        .collect();
    let gold: Vec<&str> = corpus
        .articles
        .iter()
        .map(|a| labels[&a.id].as_str())
        .collect();
    let vectors = story::tfidf_vectors(&infos);
    let pairs = story::candidate_pairs(&vectors, &infos, &opts);
    let same: BTreeSet<(u32, u32)> = (0..gold.len() as u32)
        .flat_map(|a| (a + 1..gold.len() as u32).map(move |b| (a, b)))
        .filter(|&(a, b)| gold[a as usize] == gold[b as usize])
        .collect();
    let found = pairs.iter().filter(|p| same.contains(p)).count();
    println!(
        "candidates {} for {} articles; same-story pairs {}; found {} (recall {:.3})",
        pairs.len(),
        gold.len(),
        same.len(),
        found,
        found as f64 / same.len().max(1) as f64
    );
    if std::env::var("TOPICS").is_ok() {
        print_topic_similarities(&gold, &vectors);
        let names: Vec<story::TermVector> = vectors
            .iter()
            .map(|v| {
                let mut n: story::TermVector = v
                    .iter()
                    .copied()
                    .filter(|&(h, _)| keyterms::term_kind(h) == keyterms::TermKind::Name)
                    .collect();
                let norm: f32 = n.iter().map(|&(_, w)| w * w).sum::<f32>().sqrt();
                n.iter_mut().for_each(|(_, w)| *w /= norm.max(1e-9));
                n
            })
            .collect();
        println!("names only:");
        print_topic_similarities(&gold, &names);
    }
    let edges = story::score_edges(&pairs, &vectors, &infos, &opts);
    let t2: Option<f64> = std::env::var("T2")
        .ok()
        .and_then(|v| v.parse().ok())
        .or(opts.refine_threshold);
    for threshold in [
        0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3,
    ] {
        let mut labels = story::average_linkage(&vectors, &edges, threshold);
        if let Some(t2) = t2 {
            labels = story::refine(
                &vectors,
                &edges,
                &labels,
                t2,
                opts.min_part,
                opts.split_floor,
            );
        }
        let s = eval::score(&gold, &labels);
        println!(
            "t={threshold:.2} B3 {:.3} ARI {:.3} clusters {}",
            s.bcubed.f1, s.ari, s.pred_clusters
        );
    }
    Ok(())
}

/// For gold labels `TOPIC_EVENT`: mean cosine within each event and between the two events.
fn print_topic_similarities(gold: &[&str], vectors: &[story::TermVector]) {
    let mut events: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, label) in gold.iter().enumerate() {
        events.entry(label).or_default().push(i);
    }
    let mean = |a: &[usize], b: &[usize]| {
        let mut sum = 0.0;
        let mut count = 0;
        for &i in a {
            for &j in b {
                if i != j {
                    sum += story::cosine(&vectors[i], &vectors[j]);
                    count += 1;
                }
            }
        }
        sum / count.max(1) as f32
    };
    let labels: Vec<&str> = events.keys().copied().collect();
    for (k, x) in labels.iter().enumerate() {
        for y in &labels[k + 1..] {
            if x.split('_').next() == y.split('_').next() {
                println!(
                    "{x} within {:.3} | {y} within {:.3} | between {:.3}",
                    mean(&events[x], &events[x]),
                    mean(&events[y], &events[y]),
                    mean(&events[x], &events[y])
                );
            }
        }
    }
}
