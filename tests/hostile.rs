//! Hostile inputs with their exact expected behaviour: what is rejected with which reason, what
//! goes through, and the exit code.

mod common;

use std::io::Write;
use std::path::Path;

use common::{cluster, read_rows, stderr};

const TEXT: &str = "The harbour authority said on Monday that the new pier would open in June after two years of delays.";

fn run_feed(name: &str, bytes: &[u8], extra: &[&str]) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, bytes).unwrap();
    let output = cluster(&[&input], &dir.path().join("out"), extra);
    (dir, output)
}

fn out_rows(
    dir: &tempfile::TempDir,
    file: &str,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let path = dir.path().join("out").join(file);
    if !path.exists() {
        return Vec::new();
    }
    read_rows(&path)
}

#[test]
fn byte_order_mark_and_crlf_line_ends_are_handled() {
    let feed = format!("\u{FEFF}{{\"id\":\"a\",\"text\":\"{TEXT}\"}}\r\n{{\"id\":\"b\",\"text\":\"Other {TEXT}\"}}\r\n");
    let (dir, output) = run_feed("bom.jsonl", feed.as_bytes(), &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let ids: Vec<String> = out_rows(&dir, "clusters.csv")
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(out_rows(&dir, "rejects.csv").is_empty());
}

#[test]
fn nul_bytes_reject_a_json_line_but_not_a_text_field() {
    let mut feed = Vec::new();
    feed.extend_from_slice(
        format!("{{\"id\":\"escaped\",\"text\":\"NUL \\u0000 inside: {TEXT}\"}}\n").as_bytes(),
    );
    feed.extend_from_slice(b"{\"id\":\"raw\",\"text\":\"raw \x00 byte\"}\n");
    let (dir, output) = run_feed("nul.jsonl", &feed, &["--quiet"]);
    assert_eq!(output.status.code(), Some(0));
    let ids: Vec<String> = out_rows(&dir, "clusters.csv")
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, ["escaped"]);
    let rejects = out_rows(&dir, "rejects.csv");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["line"], "2");
    assert!(
        rejects[0]["reason"].starts_with("invalid JSON: control character"),
        "{rejects:?}"
    );
}

#[test]
fn deeply_nested_json_is_rejected_without_a_crash() {
    let depth = 100_000;
    let nested = format!(
        "{{\"id\":\"deep\",\"text\":{}1{}}}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    // A deep member that no field names is skipped: that record is fine.
    let unused = format!(
        "{{\"id\":\"unused\",\"extra\":{}1{},\"text\":\"{TEXT} again\"}}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let feed = format!("{nested}{{\"id\":\"ok\",\"text\":\"{TEXT}\"}}\n{unused}");
    let (dir, output) = run_feed("deep.jsonl", feed.as_bytes(), &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rejects = out_rows(&dir, "rejects.csv");
    assert_eq!(rejects.len(), 1);
    // Nesting is skipped iteratively (never recursed into), so the record is rejected for
    // what it is: its text is not a string.
    assert!(
        rejects[0]["reason"].contains("is not a string"),
        "{rejects:?}"
    );
    assert_eq!(out_rows(&dir, "clusters.csv").len(), 2);
}

#[test]
fn latin1_bytes_are_decoded_lossily_and_counted() {
    let mut feed = b"{\"id\":\"latin\",\"text\":\"Caf\xe9 in Z\xfcrich: ".to_vec();
    feed.extend_from_slice(TEXT.as_bytes());
    feed.extend_from_slice(b"\"}\n");
    let (dir, output) = run_feed("latin1.jsonl", &feed, &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("1 records with invalid UTF-8 decoded lossily"),
        "{}",
        stderr(&output)
    );
    assert_eq!(out_rows(&dir, "clusters.csv").len(), 1);
}

#[test]
fn html_in_a_text_field_is_reduced_to_its_text() {
    let page =
        format!("<html><head><script>var x = 1;</script></head><body><p>{TEXT}</p></body></html>");
    let feed = format!(
        "{}\n{}\n",
        serde_json::json!({"id": "page", "text": page}),
        serde_json::json!({"id": "plain", "text": TEXT})
    );
    let (dir, output) = run_feed("html.jsonl", feed.as_bytes(), &["--quiet"]);
    assert_eq!(output.status.code(), Some(0));
    let rows = out_rows(&dir, "clusters.csv");
    assert_eq!(
        rows[0]["dup"], rows[1]["dup"],
        "the page and its text are duplicates"
    );
    assert_eq!(rows[0]["similarity"], "1.0000");
}

#[test]
fn a_100_mb_single_line_is_clustered_capped_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("huge.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    write!(file, "{{\"id\":\"huge\",\"text\":\"").unwrap();
    let chunk = "lorem ipsum dolor sit amet ".repeat(1000);
    let mut written = 0;
    while written < 100 << 20 {
        file.write_all(chunk.as_bytes()).unwrap();
        written += chunk.len();
    }
    writeln!(file, "\"}}").unwrap();
    writeln!(file, "{{\"id\":\"small\",\"text\":\"{TEXT}\"}}").unwrap();
    drop(file);
    let output = cluster(&[&input], &dir.path().join("out"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("1 articles longer than --max-doc-bytes hashed in part"));
    assert_eq!(read_rows(&dir.path().join("out/clusters.csv")).len(), 2);
}

#[test]
fn a_million_tiny_records_are_all_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tiny.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    let n = 1_000_000;
    for i in 0..n {
        if i % 1000 == 999 {
            writeln!(file, "{{\"id\":{i}").unwrap(); // broken
        } else {
            writeln!(file, "{{\"id\":{i},\"text\":\"note {} w{}\"}}", i % 97, i).unwrap();
        }
    }
    drop(file);
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet", "--no-stories"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = count_rows(&out.join("clusters.csv"));
    let rejects = count_rows(&out.join("rejects.csv"));
    assert_eq!(rejects, n / 1000);
    assert_eq!(rows + rejects, n);
}

fn count_rows(path: &Path) -> usize {
    csv::Reader::from_path(path).unwrap().records().count()
}

#[test]
fn numeric_and_missing_ids() {
    let feed = format!(
        "{{\"id\":7,\"text\":\"{TEXT}\"}}\n{{\"id\":7.5,\"text\":\"Two {TEXT}\"}}\n{{\"text\":\"Three {TEXT}\"}}\n{{\"id\":null,\"text\":\"Four {TEXT}\"}}\n"
    );
    let (dir, output) = run_feed("ids.jsonl", feed.as_bytes(), &["--quiet"]);
    assert_eq!(output.status.code(), Some(0));
    let mut ids: Vec<String> = out_rows(&dir, "clusters.csv")
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    ids.sort();
    let file = dir.path().join("ids.jsonl").display().to_string();
    let mut expected = vec![
        "7".to_string(),
        "7.5".to_string(),
        format!("{file}:3"),
        format!("{file}:4"),
    ];
    expected.sort();
    assert_eq!(ids, expected);
}

/// One page republished under a different title each time (a scraper that keeps the body and
/// rewrites headlines): one dup group and one story, whatever the titles, with keywords from the
/// body. Past 16 copies the group's terms are added up as the copies come, not all held.
#[test]
fn one_page_under_thousands_of_titles_is_one_group_and_one_story() {
    let body = "Harbourmaster Ilse Brandt said the Nordkai pier in Kiel would reopen in June \
                after two years of repairs, and that ferries to Oslo would move back to it.";
    let copies = 3_000;
    let mut feed = String::new();
    for i in 0..copies {
        let title = format!(
            "Update {i}: Story number {} of the day {}",
            i * 7919 % 10007,
            i % 31
        );
        feed.push_str(&format!(
            "{{\"id\":\"c{i}\",\"title\":\"{title}\",\"text\":\"{body}\",\"date\":\"2024-03-{:02}\"}}\n",
            1 + i % 28
        ));
    }
    let (dir, output) = run_feed("copies.jsonl", feed.as_bytes(), &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = out_rows(&dir, "clusters.csv");
    assert_eq!(rows.len(), copies);
    assert!(rows
        .iter()
        .all(|r| r["dup"] == "1" && r["story"] == rows[0]["story"]));
    let stories = out_rows(&dir, "stories.csv");
    assert_eq!(stories.len(), 1);
    let keywords = stories[0]["keywords"].to_lowercase();
    assert!(
        keywords.contains("nordkai") || keywords.contains("brandt"),
        "{keywords}"
    );
}
