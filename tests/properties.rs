//! Properties over generated inputs (proptest): nothing is lost, groups partition the articles,
//! dup groups stay inside stories, and results do not depend on threads or input order.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use proptest::prelude::*;

use storyhash::input::{self, ReadOptions};
use storyhash::minhash::{estimate, Algorithm, MinHasher};
use storyhash::pipeline::{cluster_corpus, Clustering, NoProgress, Options};
use storyhash::text::jaccard;

const VOCABULARY: &[&str] = &[
    "council",
    "harbour",
    "storm",
    "mayor",
    "Kellford",
    "police",
    "budget",
    "vote",
    "river",
    "bridge",
    "Ada",
    "Fenwick",
    "shooting",
    "flood",
    "court",
    "trial",
    "minister",
    "Pellworth",
    "school",
    "fire",
    "the",
    "a",
    "of",
    "and",
    "said",
    "on",
    "in",
    "after",
    "before",
    "with",
];

/// One line of a JSONL feed: a good article (from a base text, possibly edited), or a bad line.
#[derive(Debug, Clone)]
enum Line {
    Article {
        base: usize,
        edits: Vec<(usize, usize)>,
        id: Option<u16>,
    },
    Broken,
    NoText,
    Blank,
}

fn line_strategy() -> impl Strategy<Value = Line> {
    prop_oneof![
        8 => (0..4usize, prop::collection::vec((0..60usize, 0..VOCABULARY.len()), 0..4), prop::option::of(0..40u16))
            .prop_map(|(base, edits, id)| Line::Article { base, edits, id }),
        1 => Just(Line::Broken),
        1 => Just(Line::NoText),
        1 => Just(Line::Blank),
    ]
}

/// The base texts: 60 words each, from a seed.
fn bases(seed: u64) -> Vec<Vec<&'static str>> {
    let mut state = seed;
    (0..4)
        .map(|_| {
            (0..60)
                .map(|_| {
                    VOCABULARY[(storyhash::minhash::splitmix64(&mut state)
                        % VOCABULARY.len() as u64) as usize]
                })
                .collect()
        })
        .collect()
}

fn render(lines: &[Line], seed: u64) -> Vec<String> {
    let bases = bases(seed);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| match line {
            Line::Article { base, edits, id } => {
                let mut words = bases[*base].clone();
                for &(at, word) in edits {
                    words[at] = VOCABULARY[word];
                }
                let id = id.map_or(serde_json::Value::Null, |id| format!("id{id}").into());
                serde_json::json!({ "id": id, "title": format!("line {i}"), "date": format!("2024-01-{:02}", 1 + i % 28), "text": words.join(" ") })
                    .to_string()
            }
            Line::Broken => "{\"id\": \"broken\", \"text\": ".to_string(),
            Line::NoText => format!("{{\"id\": \"notext{i}\"}}"),
            Line::Blank => String::new(),
        })
        .collect()
}

/// Writes the feed to a file in `dir` (the same path each time, since ids of records without
/// one are `FILE:LINE`).
fn write_feed(dir: &tempfile::TempDir, lines: &[String]) -> PathBuf {
    let path: PathBuf = dir.path().join("feed.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    path
}

fn cluster_file(path: &PathBuf, threads: usize) -> Clustering {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let corpus =
            input::read_corpus(std::slice::from_ref(path), &ReadOptions::default(), &|_| {})
                .unwrap();
        cluster_corpus(corpus, &Options::default(), &NoProgress).unwrap()
    })
}

fn run_on(lines: &[String], threads: usize) -> (tempfile::TempDir, Clustering) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_feed(&dir, lines);
    let clustering = cluster_file(&path, threads);
    (dir, clustering)
}

/// Per article id: (dup number, story number).
fn assignment(clustering: &Clustering) -> BTreeMap<String, (u32, u32)> {
    clustering
        .articles
        .iter()
        .enumerate()
        .map(|(doc, a)| {
            (
                a.id().to_string(),
                (clustering.dup_of[doc], clustering.story_of[doc]),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_record_is_accounted_for_once(lines in prop::collection::vec(line_strategy(), 0..40), seed in 0..1000u64) {
        let rendered = render(&lines, seed);
        let (_dir, clustering) = run_on(&rendered, 2);
        let records: BTreeSet<u64> = rendered
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, _)| i as u64 + 1)
            .collect();
        let mut seen: Vec<u64> = clustering.articles.iter().map(|a| a.origin.line).collect();
        seen.extend(clustering.rejects.iter().map(|r| r.line));
        seen.sort_unstable();
        prop_assert_eq!(seen.clone(), records.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn dup_groups_partition_articles_and_nest_in_stories(lines in prop::collection::vec(line_strategy(), 1..40), seed in 0..1000u64) {
        let (_dir, c) = run_on(&render(&lines, seed), 2);
        let mut members: Vec<u32> = c.dup_groups.iter().flat_map(|g| g.members.iter().copied()).collect();
        members.sort_unstable();
        prop_assert_eq!(members, (0..c.articles.len() as u32).collect::<Vec<_>>());
        for (g, group) in c.dup_groups.iter().enumerate() {
            let story = c.story_of[group.members[0] as usize];
            for &doc in &group.members {
                prop_assert_eq!(c.dup_of[doc as usize] as usize, g);
                prop_assert_eq!(c.story_of[doc as usize], story, "a dup group spans two stories");
            }
        }
        let mut in_stories: Vec<u32> = c.stories.iter().flat_map(|s| s.dup_groups.iter().copied()).collect();
        in_stories.sort_unstable();
        prop_assert_eq!(in_stories, (0..c.dup_groups.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn threads_do_not_change_the_result(lines in prop::collection::vec(line_strategy(), 1..40), seed in 0..1000u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_feed(&dir, &render(&lines, seed));
        let one = cluster_file(&path, 1);
        let two = cluster_file(&path, 2);
        prop_assert_eq!(assignment(&one), assignment(&two));
        prop_assert_eq!(&one.similarity, &two.similarity);
    }

    /// Shuffling the input changes the order of articles in memory but not which article lands
    /// in which numbered dup group or story (ids are unique here: duplicates would keep the
    /// first one read).
    #[test]
    fn input_order_does_not_change_groups(lines in prop::collection::vec(line_strategy(), 1..30), seed in 0..1000u64, shuffle_seed in 0..1000u64) {
        let unique: Vec<Line> = lines
            .into_iter()
            .enumerate()
            .map(|(i, line)| match line {
                Line::Article { base, edits, .. } => Line::Article { base, edits, id: Some(i as u16) },
                other => other,
            })
            .collect();
        let rendered = render(&unique, seed);
        let mut shuffled = rendered.clone();
        let mut state = shuffle_seed;
        for i in (1..shuffled.len()).rev() {
            let j = (storyhash::minhash::splitmix64(&mut state) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let (_a, original) = run_on(&rendered, 2);
        let (_b, reordered) = run_on(&shuffled, 2);
        prop_assert_eq!(assignment(&original), assignment(&reordered));
    }

    #[test]
    fn jaccard_estimate_stays_within_its_error_bound(common in 0..300usize, only_a in 0..300usize, only_b in 0..300usize, seed in 0..10_000u64) {
        prop_assume!(common + only_a + only_b > 0);
        let mut state = seed;
        let mut draw = |n: usize| (0..n).map(|_| storyhash::minhash::splitmix64(&mut state)).collect::<Vec<u64>>();
        let shared = draw(common);
        let mut a = shared.clone();
        a.extend(draw(only_a));
        let mut b = shared;
        b.extend(draw(only_b));
        a.sort_unstable();
        b.sort_unstable();
        let hasher = MinHasher::new(128, seed, Algorithm::Oph);
        let (mut sa, mut sb) = (vec![0; 128], vec![0; 128]);
        hasher.sign(&a, &mut sa);
        hasher.sign(&b, &mut sb);
        // Standard error at k = 128 is at most 0.044; 5 standard errors never fails by chance.
        prop_assert!((estimate(&sa, &sb) - jaccard(&a, &b)).abs() <= 0.22);
    }
}
