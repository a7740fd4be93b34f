//! The persistent index: incremental equals batch for dup groups (and for stories in one
//! batch), ids stay stable, a crash in
//! the middle of a batch leaves the index as it was, re-added ids are skipped, other settings
//! are refused, and adds and queries from several processes at once work.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, cluster, partition, read_rows, repo, run, seed_articles, stderr};
use storyhash::eval;
use storyhash::gen::{generate_corpus, GenOptions};

/// A generated corpus split into `parts` consecutive JSONL files; returns (whole, parts).
fn generated_parts(dir: &Path, n: usize, seed: u64, parts: usize) -> (PathBuf, Vec<PathBuf>) {
    let corpus = dir.join("gen");
    generate_corpus(&GenOptions { n, seed }, &corpus).expect("the generator writes its files");
    let whole = corpus.join("docs.jsonl");
    (whole.clone(), split_lines(&whole, parts, dir))
}

fn split_lines(file: &Path, parts: usize, dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(file).expect("a readable corpus");
    let lines: Vec<&str> = text.lines().collect();
    let size = lines.len().div_ceil(parts);
    lines
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.join(format!("part{i:02}.jsonl"));
            std::fs::write(&path, chunk.join("\n") + "\n").expect("a writable temp folder");
            path
        })
        .collect()
}

fn index_add(db: &Path, input: &Path, out: Option<&Path>, extra: &[&str]) -> Output {
    let mut command = bin();
    command.args(["index", "add"]).arg(db).arg(input);
    if let Some(out) = out {
        command.arg("--out").arg(out);
    }
    command
        .args(["--quiet"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("the storyhash binary runs")
}

fn add_ok(db: &Path, input: &Path, out: Option<&Path>, extra: &[&str]) {
    let output = index_add(db, input, out, extra);
    assert!(output.status.success(), "{}", stderr(&output));
}

fn export(db: &Path, out: &Path) -> Vec<BTreeMap<String, String>> {
    let output = run(&[
        "index",
        "export",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    read_rows(&out.join("clusters.csv"))
}

#[test]
fn ten_batches_give_the_dup_groups_of_one_batch_run() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = generated_parts(dir.path(), 3000, 21, 10);
    let batch_out = dir.path().join("batch");
    let output = cluster(&[&whole], &batch_out, &["--quiet", "--no-boilerplate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let db = dir.path().join("feed.db");
    for part in &parts {
        add_ok(&db, part, None, &[]);
    }
    let exported = export(&db, &dir.path().join("all"));
    let batch = read_rows(&batch_out.join("clusters.csv"));
    assert_eq!(exported.len(), 3000);
    let dups = partition(&exported, "dup");
    assert_eq!(dups, partition(&batch, "dup"));
    assert!(dups.iter().any(|g| g.len() >= 3), "the corpus has copies");
    // Every dup group sits inside one story.
    let mut story_of_dup: BTreeMap<&str, &str> = BTreeMap::new();
    for row in &exported {
        let story = story_of_dup.entry(&row["dup"]).or_insert(&row["story"]);
        assert_eq!(
            *story,
            row["story"].as_str(),
            "dup group {} spans stories",
            row["dup"]
        );
    }
    // Stories are online and may differ at the margin; they must still agree broadly.
    let scores = eval::evaluate_files(
        &batch_out.join("clusters.csv"),
        &dir.path().join("all/clusters.csv"),
        eval::Column::Story,
        0,
    )
    .expect("readable files")
    .scores;
    assert!(scores.ari > 0.6, "story agreement with batch: {scores:?}");
}

#[test]
fn one_batch_gives_the_stories_of_a_cluster_run() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, _) = generated_parts(dir.path(), 3000, 21, 1);
    let labels = whole.with_file_name("labels.csv");
    let batch_out = dir.path().join("batch");
    let output = cluster(&[&whole], &batch_out, &["--quiet", "--no-boilerplate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let db = dir.path().join("feed.db");
    add_ok(&db, &whole, None, &[]);
    let all = dir.path().join("all");
    export(&db, &all);
    let score = |truth: &Path, pred: &Path| {
        eval::evaluate_files(truth, &pred.join("clusters.csv"), eval::Column::Story, 0)
            .expect("readable files")
            .scores
    };
    // The batch's groups are clustered among themselves as `cluster` clusters them: the same
    // stories but for the index's shorter stored vectors (group by group placement gave 0.978).
    let agreement = score(&batch_out.join("clusters.csv"), &all);
    assert!(
        agreement.ari >= 0.99,
        "story agreement with batch: {agreement:?}"
    );
    let index = score(&labels, &all);
    let batch = score(&labels, &batch_out);
    assert!(
        index.bcubed.f1 >= batch.bcubed.f1 - 0.01,
        "index {index:?} against batch {batch:?}"
    );
}

#[test]
fn ids_stay_stable_and_merges_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = generated_parts(dir.path(), 2000, 8, 5);
    let db = dir.path().join("feed.db");
    let first = dir.path().join("new0");
    add_ok(&db, &parts[0], Some(&first), &[]);
    let issued = read_rows(&first.join("clusters.csv"));
    for (i, part) in parts.iter().enumerate().skip(1) {
        add_ok(&db, part, Some(&dir.path().join(format!("new{i}"))), &[]);
    }
    let all = dir.path().join("all");
    let exported = export(&db, &all);
    let merges = read_rows(&all.join("merges.csv"));
    let follow = |kind: &str, mut id: String| {
        while let Some(m) = merges.iter().find(|m| m["kind"] == kind && m["old"] == id) {
            id = m["new"].clone();
        }
        id
    };
    let now: BTreeMap<&str, &BTreeMap<String, String>> =
        exported.iter().map(|r| (r["id"].as_str(), r)).collect();
    for row in &issued {
        let later = now[row["id"].as_str()];
        assert_eq!(later["dup"], follow("dup", row["dup"].clone()), "{row:?}");
        assert_eq!(
            later["story"],
            follow("story", row["story"].clone()),
            "{row:?}"
        );
    }
    // The batch outputs agree with the export (the last batch's rows are final).
    let last = read_rows(&dir.path().join("new4/clusters.csv"));
    for row in &last {
        let later = now[row["id"].as_str()];
        assert_eq!(
            (&later["dup"], &later["story"]),
            (&row["dup"], &row["story"])
        );
    }
    // Ids are issued in increasing order: the first batch's ids are the smallest.
    let first_dups: BTreeSet<i64> = issued.iter().map(|r| r["dup"].parse().unwrap()).collect();
    assert_eq!(first_dups.iter().next(), Some(&1));
}

#[test]
fn added_rows_say_what_each_article_matched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("feed.db");
    let (_, parts) = generated_parts(dir.path(), 1500, 3, 3);
    add_ok(&db, &parts[0], None, &[]);
    let out = dir.path().join("new");
    add_ok(&db, &parts[1], Some(&out), &[]);
    let rows = read_rows(&out.join("clusters.csv"));
    let columns: Vec<String> = rows[0].keys().cloned().collect();
    for column in [
        "matched_id",
        "matched_similarity",
        "matched_kind",
        "dup",
        "story",
    ] {
        assert!(columns.contains(&column.to_string()), "{columns:?}");
    }
    let duplicates: Vec<_> = rows
        .iter()
        .filter(|r| r["matched_kind"] == "duplicate")
        .collect();
    assert!(!duplicates.is_empty());
    for row in duplicates {
        let similarity: f64 = row["matched_similarity"].parse().unwrap();
        assert!(similarity >= 0.6, "{row:?}");
        assert_ne!(row["matched_id"], row["id"]);
    }
    for row in rows.iter().filter(|r| r["matched_kind"].is_empty()) {
        assert!(row["matched_id"].is_empty() && row["matched_similarity"].is_empty());
    }
    // A story continuation names an article of the story the row joined.
    let stories: Vec<_> = rows
        .iter()
        .filter(|r| r["matched_kind"] == "story")
        .collect();
    assert!(!stories.is_empty(), "the second part continues stories");
    let exported = export(&db, &dir.path().join("all"));
    let story_of: BTreeMap<&str, &str> = exported
        .iter()
        .map(|r| (r["id"].as_str(), r["story"].as_str()))
        .collect();
    for row in stories {
        assert_eq!(
            story_of[row["matched_id"].as_str()],
            row["story"],
            "{row:?}"
        );
        let cosine: f64 = row["matched_similarity"].parse().unwrap();
        assert!((0.0..=1.0 + 1e-9).contains(&cosine), "{row:?}");
    }
}

#[test]
fn re_adding_ids_is_a_reported_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("feed.db");
    let demo = repo("data/demo/articles.jsonl");
    add_ok(&db, &demo, None, &[]);
    let before = export(&db, &dir.path().join("before"));
    let out = dir.path().join("again");
    let output = index_add(&db, &demo, Some(&out), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let skipped = read_rows(&out.join("skipped.csv"));
    assert_eq!(skipped.len(), before.len());
    assert!(skipped.iter().all(|r| r["first_batch"] == "1"));
    assert!(read_rows(&out.join("clusters.csv")).is_empty());
    assert_eq!(export(&db, &dir.path().join("after")), before);
    // Without --quiet the summary says so.
    let output = run(&["index", "add", db.to_str().unwrap(), demo.to_str().unwrap()]);
    assert!(stderr(&output).contains("93 skipped (id already in the index)"));
}

#[test]
fn other_settings_are_refused_with_the_option_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("feed.db");
    let demo = repo("data/demo/articles.jsonl");
    let (_, parts) = generated_parts(dir.path(), 200, 4, 2);
    add_ok(&db, &parts[0], None, &["--threshold", "0.8"]);
    for (option, value) in [
        ("--threshold", "0.6"),
        ("--num-perm", "64"),
        ("--shingle", "3"),
        ("--seed", "7"),
    ] {
        let output = index_add(&db, &demo, None, &[option, value]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{option}: {}",
            stderr(&output)
        );
        assert!(stderr(&output).contains(option), "{}", stderr(&output));
    }
    // Leaving the option out uses the index's settings; repeating them is fine too.
    add_ok(&db, &parts[1], None, &["--threshold", "0.8"]);
    add_ok(&db, &demo, None, &[]);
    let stats = run(&["index", "stats", db.to_str().unwrap(), "--json"]);
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(text.contains("\"articles\": 293"), "{text}");
}

#[test]
fn files_that_are_not_an_index_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database at all, just text ...").unwrap();
    for args in [
        vec!["index", "stats", junk.to_str().unwrap()],
        vec!["index", "export", junk.to_str().unwrap(), "--out", "/tmp/x"],
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
        assert!(stderr(&output).contains("junk.db"), "{}", stderr(&output));
    }
    let missing = dir.path().join("missing.db");
    let output = run(&["index", "stats", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no such index"),
        "{}",
        stderr(&output)
    );
    assert!(!missing.exists(), "stats must not create an index");
}

#[test]
fn bad_records_are_rejected_and_the_rest_is_added() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("feed.db");
    let batch = dir.path().join("batch.jsonl");
    std::fs::write(
        &batch,
        "{\"id\":\"a\",\"text\":\"The council approved the harbour budget on Monday night.\"}\n\
         {\"id\":\"b\",\"text\": broken\n\
         {\"id\":\"c\"}\n\
         {\"id\":\"a\",\"text\":\"Repeated id in one batch.\"}\n\
         {\"id\":\"d\",\"text\":\"Flood waters reached the old mill district before dawn.\"}\n",
    )
    .unwrap();
    let out = dir.path().join("new");
    add_ok(&db, &batch, Some(&out), &[]);
    let rejects = read_rows(&out.join("rejects.csv"));
    let lines: Vec<&str> = rejects.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, ["2", "3", "4"]);
    let added: Vec<String> = read_rows(&out.join("clusters.csv"))
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(added, ["a", "d"]);
}

#[test]
fn a_crash_before_commit_leaves_the_index_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = generated_parts(dir.path(), 1200, 6, 2);
    let db = dir.path().join("feed.db");
    add_ok(&db, &parts[0], None, &[]);
    let before = export(&db, &dir.path().join("before"));
    let output = bin()
        .args(["index", "add", "--quiet"])
        .arg(&db)
        .arg(&parts[1])
        .env("STORYHASH_FAILPOINT", "index-add-before-commit")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "the failpoint aborts the process");
    assert!(stderr(&output).contains("failpoint"), "{}", stderr(&output));
    assert_eq!(export(&db, &dir.path().join("after-crash")), before);
    // The same batch then goes in as if nothing had happened.
    add_ok(&db, &parts[1], None, &[]);
    let fresh = dir.path().join("fresh.db");
    add_ok(&fresh, &parts[0], None, &[]);
    add_ok(&fresh, &parts[1], None, &[]);
    assert_eq!(
        export(&db, &dir.path().join("a")),
        export(&fresh, &dir.path().join("b"))
    );
}

#[test]
fn a_kill_at_any_moment_leaves_a_consistent_index() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = generated_parts(dir.path(), 6000, 9, 2);
    let db = dir.path().join("feed.db");
    add_ok(&db, &parts[0], None, &[]);
    let before = export(&db, &dir.path().join("before"));
    let reference = dir.path().join("reference.db");
    std::fs::copy(&db, &reference).unwrap();
    add_ok(&reference, &parts[1], None, &[]);
    let after = export(&reference, &dir.path().join("after"));
    for (i, delay_ms) in [50u64, 300, 700, 1200].into_iter().enumerate() {
        let mut child = bin()
            .args(["index", "add", "--quiet"])
            .arg(&db)
            .arg(&parts[1])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = export(&db, &dir.path().join(format!("killed{i}")));
        assert!(
            now == before || now == after,
            "after a kill at {delay_ms} ms the index is neither the old nor the new state"
        );
        if now == after {
            return; // the batch finished before the kill; nothing more to try
        }
    }
}

#[test]
fn queries_run_while_a_batch_is_added_and_two_adds_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = generated_parts(dir.path(), 8000, 12, 4);
    let db = dir.path().join("feed.db");
    add_ok(&db, &parts[0], None, &[]);
    let probe = dir.path().join("probe.jsonl");
    let first_line = std::fs::read_to_string(&parts[0]).unwrap();
    std::fs::write(&probe, first_line.lines().next().unwrap()).unwrap();
    let probe_id = read_rows_of_jsonl_id(&probe);

    let spawn_add = |part: &Path| {
        bin()
            .args(["index", "add", "--quiet", "--wait", "120"])
            .arg(&db)
            .arg(part)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut writers = vec![spawn_add(&parts[1]), spawn_add(&parts[2])];
    let start = Instant::now();
    let mut queries = 0;
    while start.elapsed() < Duration::from_secs(60) {
        let output = run(&[
            "index",
            "query",
            db.to_str().unwrap(),
            probe.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            text.lines().nth(1).is_some_and(|l| l.contains(&probe_id)),
            "the probe finds itself: {text}"
        );
        queries += 1;
        if writers.iter_mut().all(|w| w.try_wait().unwrap().is_some()) {
            break;
        }
    }
    for writer in writers {
        let output = writer.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert!(queries >= 1);
    let rows = export(&db, &dir.path().join("all"));
    assert_eq!(
        rows.len(),
        6000,
        "both concurrent batches went in, once each"
    );

    // A writer that will not wait fails clearly while another holds the lock.
    let mut holder = bin()
        .args(["index", "add", "--quiet"])
        .arg(&db)
        .arg(&parts[3])
        .env("STORYHASH_TEST_HOLD_LOCK_MS", "3000")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let output = index_add(&db, &parts[3], None, &["--wait", "0"]);
    let _ = holder.wait();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("another process is adding a batch"),
        "{}",
        stderr(&output)
    );
}

fn read_rows_of_jsonl_id(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    value["id"].as_str().unwrap().to_string()
}

#[test]
fn query_finds_a_copy_and_the_story_it_continues() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("feed.db");
    add_ok(&db, &repo("data/demo/articles.jsonl"), None, &[]);
    // A lightly edited copy of a stored article.
    let demo = std::fs::read_to_string(repo("data/demo/articles.jsonl")).unwrap();
    let mut article: serde_json::Value =
        serde_json::from_str(demo.lines().next().unwrap()).unwrap();
    let original_id = article["id"].as_str().unwrap().to_string();
    article["id"] = "query-1".into();
    let text = article["text"].as_str().unwrap().replacen("the", "a", 1);
    article["text"] = text.into();
    let query = dir.path().join("q.json");
    std::fs::write(&query, article.to_string()).unwrap();
    let output = run(&[
        "index",
        "query",
        db.to_str().unwrap(),
        query.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let matches = dir.path().join("matches.csv");
    std::fs::write(&matches, &output.stdout).unwrap();
    let rows = read_rows(&matches);
    assert_eq!(rows[0]["query_id"], "query-1");
    assert_eq!(rows[0]["kind"], "duplicate");
    assert_eq!(rows[0]["id"], original_id);
    assert!(
        rows.iter().all(|r| r["id"] != "query-1"),
        "query does not add"
    );
    let stats = run(&["index", "stats", db.to_str().unwrap(), "--json"]);
    assert!(String::from_utf8_lossy(&stats.stdout).contains("\"articles\": 93"));
}

#[test]
fn exports_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = generated_parts(dir.path(), 1500, 14, 3);
    let mut exports = Vec::new();
    for threads in ["1", "2"] {
        let db = dir.path().join(format!("t{threads}.db"));
        for part in &parts {
            add_ok(&db, part, None, &["--threads", threads]);
        }
        let out = dir.path().join(format!("out{threads}"));
        export(&db, &out);
        exports.push([
            std::fs::read(out.join("clusters.csv")).unwrap(),
            std::fs::read(out.join("stories.csv")).unwrap(),
        ]);
    }
    assert!(exports[0] == exports[1], "byte-identical exports");
}

/// Consistency of the stored tables: no live group in a merged story, every merge recorded once,
/// group sizes and canonical articles right. (A grown group was once put back into a story an
/// earlier group of the same batch had merged away.)
#[test]
fn the_tables_stay_consistent_over_many_batches() {
    for (seed, parts) in [(3u64, 6usize), (2, 10)] {
        let dir = tempfile::tempdir().unwrap();
        let (_, parts) = generated_parts(dir.path(), 3000, seed, parts);
        let db = dir.path().join("feed.db");
        for part in &parts {
            add_ok(&db, part, None, &[]);
        }
        let conn = rusqlite::Connection::open(&db).unwrap();
        let checks = [
            (
                "live groups in merged stories",
                "SELECT count(*) FROM dup_groups g JOIN stories s ON s.story = g.story \
                 WHERE g.merged_into IS NULL AND s.merged_into IS NOT NULL",
            ),
            (
                "groups without a story row",
                "SELECT count(*) FROM dup_groups g LEFT JOIN stories s ON s.story = g.story \
                 WHERE s.story IS NULL",
            ),
            (
                "live stories without groups",
                "SELECT count(*) FROM stories s WHERE merged_into IS NULL AND NOT EXISTS \
                 (SELECT 1 FROM dup_groups g WHERE g.story = s.story AND g.merged_into IS NULL)",
            ),
            (
                "group sizes that are not their article counts",
                "SELECT count(*) FROM dup_groups g WHERE merged_into IS NULL AND size != \
                 (SELECT count(*) FROM articles a WHERE a.dup = g.dup)",
            ),
            (
                "articles in merged-away groups",
                "SELECT count(*) FROM articles a JOIN dup_groups g ON g.dup = a.dup \
                 WHERE g.merged_into IS NOT NULL",
            ),
            (
                "canonical articles outside their group",
                "SELECT count(*) FROM dup_groups g JOIN articles a ON a.seq = g.canonical_seq \
                 WHERE g.merged_into IS NULL AND a.dup != g.dup",
            ),
            (
                "merges without a merges row",
                "SELECT (SELECT count(*) FROM dup_groups g WHERE merged_into IS NOT NULL AND \
                 NOT EXISTS (SELECT 1 FROM merges m WHERE m.kind = 'dup' AND m.old = g.dup)) + \
                 (SELECT count(*) FROM stories s WHERE merged_into IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM merges m WHERE m.kind = 'story' AND m.old = s.story))",
            ),
            (
                "ids merged twice",
                "SELECT count(*) FROM (SELECT kind, old FROM merges GROUP BY kind, old \
                 HAVING count(*) > 1)",
            ),
            (
                "merged groups in another story than their survivor",
                "SELECT count(*) FROM dup_groups g JOIN dup_groups h ON h.dup = g.merged_into \
                 WHERE g.story != h.story",
            ),
        ];
        for (what, sql) in checks {
            let n: i64 = conn.query_row(sql, [], |row| row.get(0)).unwrap();
            assert_eq!(n, 0, "seed {seed}: {what}");
        }
        let merges: i64 = conn
            .query_row("SELECT count(*) FROM merges", [], |row| row.get(0))
            .unwrap();
        assert!(
            merges > 0,
            "seed {seed}: the case needs merges to mean something"
        );
        let live: i64 = conn
            .query_row(
                "SELECT count(*) FROM stories WHERE merged_into IS NULL",
                [],
                |row| row.get(0),
            )
            .unwrap();
        let exported = export(&db, &dir.path().join("all"));
        let stories: BTreeSet<&str> = exported.iter().map(|r| r["story"].as_str()).collect();
        assert_eq!(
            stories.len() as i64,
            live,
            "seed {seed}: stats and export agree"
        );
    }
}

/// The seed articles, sorted by name (`None`: the test is skipped).
fn seed_files() -> Option<Vec<PathBuf>> {
    let entries = std::fs::read_dir(seed_articles()?).expect("a readable seeds folder");
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    Some(files)
}

#[test]
fn a_follow_up_in_a_later_batch_joins_its_story() {
    let Some(seeds) = seed_files() else {
        return;
    };
    assert_eq!(seeds.len(), 2, "two seed articles");
    let dir = tempfile::tempdir().unwrap();
    let (first, later) = (dir.path().join("first"), dir.path().join("later"));
    for (folder, seed) in [(&first, &seeds[0]), (&later, &seeds[1])] {
        std::fs::create_dir(folder).unwrap();
        std::fs::copy(seed, folder.join(seed.file_name().unwrap())).unwrap();
    }
    // The first seed arrives with the demo (whose story s01 tells the same events); the
    // follow-up, months later, in a batch of its own.
    let db = dir.path().join("feed.db");
    let output = run(&[
        "index",
        "add",
        db.to_str().unwrap(),
        repo("data/demo/articles.jsonl").to_str().unwrap(),
        first.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = dir.path().join("new");
    add_ok(&db, &later, Some(&out), &[]);
    let added = read_rows(&out.join("clusters.csv"));
    assert_eq!(added.len(), 1);
    let first_id = seeds[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(added[0]["matched_kind"], "story", "{:?}", added[0]);
    let exported = export(&db, &dir.path().join("all"));
    let story_of: BTreeMap<&str, &str> = exported
        .iter()
        .map(|r| (r["id"].as_str(), r["story"].as_str()))
        .collect();
    let story = story_of[first_id];
    assert_eq!(
        added[0]["story"], story,
        "the follow-up joins the first seed's story"
    );
    assert_ne!(
        added[0]["dup"],
        exported.iter().find(|r| r["id"] == first_id).unwrap()["dup"]
    );
    // That story is the demo's s01 and the two seeds, nothing else.
    let labels = read_rows(&repo("data/demo/labels.csv"));
    for label in &labels {
        let in_s01 = label["story"] == "s01";
        assert_eq!(story_of[label["id"].as_str()] == story, in_s01, "{label:?}");
    }
}
