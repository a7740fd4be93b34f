//! Bad input never crashes and never vanishes: each bad record is rejected with its reason and
//! line, everything else goes through, and the exit code is the documented one.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use common::{cluster, read_rows, repo, stderr};

const GOOD_TEXT: &str = "The city council met on Tuesday evening to discuss the new library, \
    which has been closed for repairs since the spring floods damaged its basement archive.";

fn ids(path: &Path) -> BTreeSet<String> {
    read_rows(path)
        .into_iter()
        .map(|r| r["id"].clone())
        .collect()
}

/// (line, reason prefix) of every row in rejects.csv.
fn rejects(path: &Path) -> Vec<(u64, String)> {
    read_rows(path)
        .into_iter()
        .map(|r| (r["line"].parse().unwrap(), r["reason"].clone()))
        .collect()
}

fn assert_rejected(rejects: &[(u64, String)], line: u64, reason: &str) {
    assert!(
        rejects
            .iter()
            .any(|(l, r)| *l == line && r.starts_with(reason)),
        "expected line {line} rejected with '{reason}', got {rejects:?}"
    );
}

#[test]
fn bad_jsonl_records_are_rejected_and_the_rest_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    let mut data: Vec<u8> = Vec::new();
    let mut line = |bytes: &[u8]| {
        data.extend_from_slice(bytes);
        data.push(b'\n');
    };
    line(format!(r#"{{"id":"a1","text":"{GOOD_TEXT}"}}"#).as_bytes()); // 1
    line(br#"{"id": "a2", "text": "#); // 2: broken JSON
    line(br#"{"id":"a3","title":"no text here"}"#); // 3: missing text
    line(br#"{"id":"a4","text":"   "}"#); // 4: empty text
    line(format!(r#"{{"id":"a1","text":"another {GOOD_TEXT}"}}"#).as_bytes()); // 5: duplicate id
    line(b"{\"id\":\"a6\",\"text\":\"caf\xff news about the harbour and the ferries today\"}"); // 6: bad UTF-8
    line(b"[1, 2, 3]"); // 7: not an object
    line(b"   "); // 8: blank, not a record
    let big = "word ".repeat(10 << 20); // 9: a 50 MB record
    line(format!(r#"{{"id":"big","text":"{big}"}}"#).as_bytes());
    line(br#"{"id":"a10","text":"!!! ??? ..."}"#); // 10: no words
    line(format!(r#"{{"id":42,"text":"numeric id. {GOOD_TEXT}"}}"#).as_bytes()); // 11
    line(format!(r#"{{"text":"no id at all, {GOOD_TEXT} and more"}}"#).as_bytes()); // 12
    line(br#"{"id":"a13","text":{"nested":"object"}}"#); // 13: text is not a string
    std::fs::write(&input, data).unwrap();

    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected: BTreeSet<String> = ["a1", "a6", "big", "42", &format!("{}:12", input.display())]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ids(&out.join("clusters.csv")), expected);

    let rejects = rejects(&out.join("rejects.csv"));
    assert_rejected(&rejects, 2, "invalid JSON");
    assert_rejected(&rejects, 3, "missing text field");
    assert_rejected(&rejects, 4, "empty text");
    assert_rejected(
        &rejects,
        5,
        &format!("duplicate id (first seen at {}:1)", input.display()),
    );
    assert_rejected(&rejects, 7, "JSON line is not an object");
    assert_rejected(&rejects, 10, "text has no words");
    assert_rejected(&rejects, 13, "text field 'text' is not a string");
    assert_eq!(rejects.len(), 7, "{rejects:?}");

    let summary = stderr(&output);
    assert!(summary.contains("7 rejected"), "{summary}");
    assert!(
        summary.contains("1 records with invalid UTF-8"),
        "{summary}"
    );
    assert!(
        summary.contains("1 articles longer than --max-doc-bytes"),
        "{summary}"
    );
    assert!(
        summary.contains("first:") && summary.contains(":2: invalid JSON"),
        "{summary}"
    );
}

#[test]
fn strict_mode_stops_at_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feed.jsonl");
    std::fs::write(
        &input,
        format!("{{\"id\":\"a\",\"text\":\"{GOOD_TEXT}\"}}\n{{broken\n"),
    )
    .unwrap();
    let output = cluster(&[&input], &dir.path().join("out"), &["--strict"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("{}:2: invalid JSON", input.display())),
        "{message}"
    );
    assert!(!dir.path().join("out/clusters.csv").exists());
}

#[test]
fn bad_csv_rows_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feed.csv");
    let csv = format!(
        "\u{FEFF}id,title,text\r\n\
         c1,Fine,\"{GOOD_TEXT}\"\r\n\
         c2,Ragged\r\n\
         c3,Too many,\"text\",extra\r\n\
         c4,\"Quoted, title\",\"Second good row: {GOOD_TEXT}\"\r\n\
         c5,Unterminated,\"this quote never ends\r\nc6,Lost,inside the quote\r\n"
    );
    std::fs::write(&input, csv).unwrap();
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The unterminated quote of c5 runs to the end of the file, so c6 becomes part of c5's text
    // (what any RFC 4180 reader does): nothing is dropped.
    let expected = ["c1", "c4", "c5"].iter().map(|s| s.to_string()).collect();
    assert_eq!(ids(&out.join("clusters.csv")), expected);
    let rejects = rejects(&out.join("rejects.csv"));
    assert_rejected(&rejects, 3, "row has 2 fields, header has 3");
    assert_rejected(&rejects, 4, "row has 4 fields, header has 3");
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    let rows = read_rows(&out.join("clusters.csv"));
    assert_eq!(
        rows.iter().find(|r| r["id"] == "c4").unwrap()["title"],
        "Quoted, title"
    );
}

#[test]
fn empty_file_gives_empty_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.jsonl");
    std::fs::write(&input, "").unwrap();
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read_rows(&out.join("clusters.csv")).len(), 0);
    assert!(!out.join("rejects.csv").exists());
}

#[test]
fn missing_input_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = cluster(
        &[&dir.path().join("nope.jsonl")],
        &dir.path().join("out"),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("nope.jsonl"), "{message}");
}

#[test]
fn unwritable_output_is_reported_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let output = cluster(
        &[&repo("data/demo/articles.jsonl")],
        &blocker.join("out"),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot write"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_arguments_exit_with_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo("data/demo/articles.jsonl");
    for extra in [
        &["--threshold", "1.5"][..],
        &["--bands", "4"],
        &["--bands", "64", "--rows", "4"],
        &["--shingle", "0"],
        &["--threads", "0"],
        &["--format", "xml"],
        &["--story-threshold", "0"],
        &["--story-threshold", "1.5"],
        &["--story-threshold", "NaN"],
        &["--story-refine", "2"],
        &["--story-split-floor", "-0.1"],
        &["--story-split-floor", "1.5"],
    ] {
        let output = cluster(&[&demo], &dir.path().join("out"), extra);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{extra:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn unreadable_file_in_a_folder_is_a_reject() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("feed");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("good.txt"),
        format!("Library news\n{GOOD_TEXT}"),
    )
    .unwrap();
    std::os::unix::fs::symlink(folder.join("gone.txt"), folder.join("dangling.txt")).unwrap();
    std::os::unix::fs::symlink(&folder, folder.join("loop")).unwrap();
    let out = dir.path().join("out");
    let output = cluster(&[&folder], &out, &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        ids(&out.join("clusters.csv")),
        ["good.txt".to_string()].into_iter().collect()
    );
    let rows = read_rows(&out.join("rejects.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0]["file"].ends_with("dangling.txt"));
    assert!(rows[0]["reason"].starts_with("unreadable"));
}

#[test]
fn truncated_gzip_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read(repo("data/demo/articles.jsonl")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&source).unwrap();
    let compressed = encoder.finish().unwrap();
    let input = dir.path().join("cut.jsonl.gz");
    std::fs::write(&input, &compressed[..compressed.len() / 2]).unwrap();
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let read = read_rows(&out.join("clusters.csv")).len();
    assert!(
        read > 10 && read < 93,
        "{read} articles read before the cut"
    );
    let rows = read_rows(&out.join("rejects.csv"));
    assert!(
        rows.iter()
            .any(|r| r["reason"].starts_with("unreadable: read error")),
        "{rows:?}"
    );
}
