//! The `dedup` command: one canonical record per dup group, written back untouched.

mod common;

use std::collections::BTreeSet;

use common::{read_rows, repo, run, stderr};

#[test]
fn dedup_writes_each_canonical_jsonl_line_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let input = repo("data/demo/articles.jsonl");
    let unique = dir.path().join("unique.jsonl");
    let dups = dir.path().join("dups.csv");
    let output = run(&[
        "dedup",
        input.to_str().unwrap(),
        "-o",
        unique.to_str().unwrap(),
        "--dups",
        dups.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let original = std::fs::read_to_string(&input).unwrap();
    let original_lines: BTreeSet<&str> = original.lines().collect();
    let written = std::fs::read_to_string(&unique).unwrap();
    let labels = read_rows(&repo("data/demo/labels.csv"));
    let groups: BTreeSet<&str> = labels.iter().map(|r| r["dup"].as_str()).collect();
    assert_eq!(
        written.lines().count(),
        groups.len(),
        "one record per dup group"
    );
    for line in written.lines() {
        assert!(
            original_lines.contains(line),
            "a written line differs from its input line"
        );
    }
    // Kept records and dropped duplicates together are the whole input, each once.
    let kept: BTreeSet<String> = written
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let dropped: Vec<String> = read_rows(&dups)
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(kept.len() + dropped.len(), labels.len());
    assert!(dropped.iter().all(|id| !kept.contains(id)));
    // Every dropped article points at a kept one of its own labelled group.
    let group_of = |id: &str| labels.iter().find(|r| r["id"] == id).unwrap()["dup"].clone();
    for row in read_rows(&dups) {
        assert!(kept.contains(&row["duplicate_of"]));
        assert_eq!(group_of(&row["id"]), group_of(&row["duplicate_of"]));
    }
}

#[test]
fn dedup_keeps_csv_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let body =
        "Heavy snow closed the mountain pass for the third day running, and the roads agency \
        said ploughs would not reach the summit before the weekend because of avalanche risk.";
    let input = dir.path().join("feed.csv");
    std::fs::write(
        &input,
        format!(
            "id,title,text,extra\nx1,Pass closed,\"{body}\",keep me\nx2,Pass still shut,\"{body}\",\"a, b\"\nx3,Other,Something else entirely happened at the port today.,z\n"
        ),
    )
    .unwrap();
    let unique = dir.path().join("unique.csv");
    let output = run(&[
        "dedup",
        input.to_str().unwrap(),
        "-o",
        unique.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_rows(&unique);
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["x1", "x3"]);
    assert_eq!(rows[0]["extra"], "keep me");
}

#[test]
fn unwritable_dedup_output_fails_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = repo("data/demo/articles.jsonl");
    let missing = dir.path().join("no/such/folder/unique.jsonl");
    let output = run(&[
        "dedup",
        input.to_str().unwrap(),
        "-o",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("cannot write") && message.contains("unique.jsonl"),
        "{message}"
    );
    assert!(
        !message.contains("articles read"),
        "work started: {message}"
    );
}

#[test]
fn a_failed_write_to_stdout_exits_non_zero() {
    let input = repo("data/demo/articles.jsonl");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else {
        eprintln!("skipped: no /dev/full");
        return;
    };
    let output = common::bin()
        .args(["dedup", input.to_str().unwrap(), "-o", "-", "--quiet"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("No space left on device"),
        "{}",
        stderr(&output)
    );
}
