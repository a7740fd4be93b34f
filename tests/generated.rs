//! Near-duplicate quality and determinism on a generated corpus with known duplicates.

mod common;

use std::path::Path;

use common::{cluster, read_rows, stderr};
use storyhash::eval;
use storyhash::gen::{generate_corpus, GenOptions};

fn generated(dir: &Path, n: usize, seed: u64) -> std::path::PathBuf {
    let corpus = dir.join("gen");
    generate_corpus(&GenOptions { n, seed }, &corpus).expect("the generator writes its files");
    corpus
}

#[test]
fn defaults_find_generated_duplicates_with_high_precision_and_recall() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = generated(dir.path(), 4000, 11);
    let out = dir.path().join("out");
    let output = cluster(&[&corpus.join("docs.jsonl")], &out, &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = eval::evaluate_files(
        &corpus.join("labels.csv"),
        &out.join("clusters.csv"),
        eval::Column::Dup,
        3,
    )
    .expect("both files are readable");
    let pairwise = report.scores.pairwise;
    assert_eq!(report.scores.items, 4000);
    assert!(pairwise.precision >= 0.99, "{:?}", report.scores);
    assert!(pairwise.recall >= 0.90, "{:?}", report.scores);
}

#[test]
fn generated_outputs_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = generated(dir.path(), 3000, 5);
    let docs = corpus.join("docs.jsonl");
    let mut previous: Option<(Vec<u8>, Vec<u8>)> = None;
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("out{threads}"));
        let output = cluster(&[&docs], &out, &["--quiet", "--threads", threads]);
        assert!(output.status.success(), "{}", stderr(&output));
        let files = (
            std::fs::read(out.join("clusters.csv")).unwrap(),
            std::fs::read(out.join("stories.csv")).unwrap(),
        );
        if let Some(previous) = &previous {
            assert!(
                previous == &files,
                "outputs differ between --threads 1 and 2"
            );
        }
        previous = Some(files);
    }
}

#[test]
fn exact_verification_agrees_with_estimates_on_generated_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = generated(dir.path(), 2000, 3);
    let docs = corpus.join("docs.jsonl");
    let estimate_out = dir.path().join("estimate");
    let exact_out = dir.path().join("exact");
    assert!(cluster(&[&docs], &estimate_out, &["--quiet"])
        .status
        .success());
    assert!(
        cluster(&[&docs], &exact_out, &["--quiet", "--verify", "exact"])
            .status
            .success()
    );
    let score = |out: &Path| {
        eval::evaluate_files(
            &corpus.join("labels.csv"),
            &out.join("clusters.csv"),
            eval::Column::Dup,
            0,
        )
        .unwrap()
        .scores
        .pairwise
    };
    let (estimate, exact) = (score(&estimate_out), score(&exact_out));
    assert!(exact.precision >= 0.99 && exact.recall >= 0.85, "{exact:?}");
    assert!(
        (estimate.f1 - exact.f1).abs() < 0.05,
        "estimate {estimate:?} vs exact {exact:?}"
    );
    assert_eq!(read_rows(&exact_out.join("clusters.csv")).len(), 2000);
}
