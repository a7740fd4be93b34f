//! The `cluster` command end to end: grouping on data with known answers, determinism, and
//! the CSV contract.

mod common;

use std::io::Write;
use std::path::Path;

use common::{cluster, partition, read_rows, repo, stderr};

#[test]
fn demo_dup_groups_come_out_exactly_as_labelled() {
    let out = common::cluster_demo(&[]);
    let predicted = read_rows(&out.path().join("clusters.csv"));
    let labels = read_rows(&repo("data/demo/labels.csv"));
    assert_eq!(predicted.len(), labels.len(), "one row per article");
    assert_eq!(partition(&predicted, "dup"), partition(&labels, "dup"));
}

#[test]
fn demo_seed_style_pair_is_two_dup_groups() {
    let out = common::cluster_demo(&[]);
    let rows = read_rows(&out.path().join("clusters.csv"));
    let kim: Vec<_> = rows
        .iter()
        .filter(|r| r["title"].contains("Kim Yong"))
        .collect();
    assert!(kim.len() >= 2, "the demo holds the Kim Yong-chol articles");
    let dup_of = |year: &str| {
        kim.iter()
            .find(|r| r["date"].starts_with(year))
            .map(|r| r["dup"].clone())
            .unwrap_or_else(|| panic!("a {year} Kim Yong-chol article"))
    };
    assert_ne!(dup_of("2018"), dup_of("2019"));
}

fn outputs(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join("clusters.csv")).unwrap(),
        std::fs::read(dir.join("stories.csv")).unwrap(),
    )
}

#[test]
fn outputs_are_identical_for_any_thread_count_and_run() {
    let input = repo("data/demo/articles.jsonl");
    let runs: Vec<_> = ["1", "2", "2", "3"]
        .iter()
        .map(|threads| {
            let out = tempfile::tempdir().unwrap();
            let output = cluster(&[&input], out.path(), &["--quiet", "--threads", threads]);
            assert!(output.status.success(), "{}", stderr(&output));
            outputs(out.path())
        })
        .collect();
    for run in &runs[1..] {
        assert!(
            run == &runs[0],
            "outputs differ between runs or thread counts"
        );
    }
}

#[test]
fn clusters_csv_has_the_contract_columns_and_order() {
    let out = common::cluster_demo(&[]);
    let text = std::fs::read_to_string(out.path().join("clusters.csv")).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "id,story,dup,canonical,similarity,dup_size,story_size,date,source,url,title"
    );
    let stories = std::fs::read_to_string(out.path().join("stories.csv")).unwrap();
    assert_eq!(
        stories.lines().next().unwrap(),
        "story,size,unique,first_date,last_date,sources,headline,keywords"
    );
    let rows = read_rows(&out.path().join("clusters.csv"));
    let key = |r: &std::collections::BTreeMap<String, String>| {
        (
            r["story"].parse::<u32>().unwrap(),
            r["dup"].parse::<u32>().unwrap(),
            r["date"].clone(),
            r["id"].clone(),
        )
    };
    assert!(
        rows.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
        "rows sorted by story, dup, date, id"
    );
    // One canonical per group, the earliest article, with similarity 1.
    for group in partition(&rows, "dup") {
        let members: Vec<_> = rows.iter().filter(|r| group.contains(&r["id"])).collect();
        let canonical: Vec<_> = members
            .iter()
            .filter(|r| r["canonical"] == "true")
            .collect();
        assert_eq!(canonical.len(), 1);
        assert_eq!(canonical[0]["similarity"], "1.0000");
        assert!(members.iter().all(|r| r["date"] >= canonical[0]["date"]));
        assert!(members
            .iter()
            .all(|r| r["dup_size"] == members.len().to_string()));
    }
}

#[test]
fn titles_survive_a_csv_round_trip_and_formulas_are_neutralized() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tricky.jsonl");
    let titles = [
        "Council votes, then adjourns",
        "He said \"no\" twice",
        "Line one\nline two",
        "=HYPERLINK(\"http://evil.example\")",
        "+1 for the home team",
        "Пожар в Москве: 北京 نيوز",
    ];
    let mut file = std::fs::File::create(&input).unwrap();
    for (i, title) in titles.iter().enumerate() {
        let record = serde_json::json!({
            "id": format!("t{i}"),
            "title": title,
            "text": format!("Article number {i} tells its own separate story about topic {i} in several words."),
        });
        writeln!(file, "{record}").unwrap();
    }
    drop(file);
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_rows(&out.join("clusters.csv"));
    for (i, title) in titles.iter().enumerate() {
        let row = rows.iter().find(|r| r["id"] == format!("t{i}")).unwrap();
        let expected = if title.starts_with(['=', '+']) {
            format!("'{title}")
        } else {
            title.to_string()
        };
        assert_eq!(row["title"], expected);
    }
}

#[test]
fn folder_of_text_markdown_and_html_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir_all(root.join("2024/may")).unwrap();
    let body = "The harbour authority said on Monday that the new pier would open in June after two years of delays and cost overruns that angered local fishermen.";
    std::fs::write(
        root.join("2024/may/pier.txt"),
        format!("Pier to open in June\n\n{body}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("pier-copy.md"),
        format!("# Harbour pier finally ready\n\n{body}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("pier.html"),
        format!("<html><head><title>Pier news</title><script>var tracking = 1;</script></head><body><nav>Home | News</nav><p>{body}</p></body></html>"),
    )
    .unwrap();
    std::fs::write(root.join("notes.bin"), b"\x00\x01 not an article").unwrap();
    let out = dir.path().join("out");
    let output = cluster(&[&root], &out, &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_rows(&out.join("clusters.csv"));
    let mut ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["2024/may/pier.txt", "pier-copy.md", "pier.html"]);
    assert!(
        rows.iter().all(|r| r["dup"] == rows[0]["dup"]),
        "the three copies are one group"
    );
    let html = rows.iter().find(|r| r["id"] == "pier.html").unwrap();
    assert_eq!(html["title"], "Pier news");
}

#[test]
fn stdin_csv_with_joined_text_fields() {
    let body = "The storm brought down power lines across the northern coast overnight, officials said, \
        leaving thousands of homes without electricity as crews worked through heavy rain and strong \
        winds to clear fallen trees from roads, reopen the coastal highway and restore service to the \
        hospitals and schools before the morning.";
    let csv = format!(
        "key,headline,body\n\
        a1,Storm hits coast,\"{body}\"\n\
        a2,Storm batters coast,\"{body}\"\n\
        a3,Budget passes,\"Lawmakers passed the budget after a long debate about school funding and roads.\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = common::bin()
        .args([
            "cluster",
            "-",
            "--format",
            "csv",
            "--id-field",
            "key",
            "--title-field",
            "headline",
        ])
        .args(["--text-field", "headline,body", "--quiet", "--out"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(csv.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let rows = read_rows(&out.join("clusters.csv"));
    assert_eq!(rows.len(), 3);
    let dup = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap()["dup"].clone();
    assert_eq!(
        dup("a1"),
        dup("a2"),
        "same body, headlines differ in one word"
    );
    assert_ne!(dup("a1"), dup("a3"));
}

#[test]
fn gzip_input_is_read_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feed.jsonl.gz");
    let source = std::fs::read(repo("data/demo/articles.jsonl")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&input).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(&source).unwrap();
    encoder.finish().unwrap();
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_rows(&out.join("clusters.csv"));
    assert_eq!(
        partition(&rows, "dup"),
        partition(&read_rows(&repo("data/demo/labels.csv")), "dup")
    );
}

#[test]
fn summary_line_reports_counts() {
    let out = tempfile::tempdir().unwrap();
    let output = cluster(&[&repo("data/demo/articles.jsonl")], out.path(), &[]);
    assert!(output.status.success());
    let text = stderr(&output);
    assert!(text.contains("articles read"), "{text}");
    assert!(text.contains("dup groups (largest"), "{text}");
    assert!(text.contains("boilerplate lines dropped"), "{text}");
}

#[test]
fn streaming_files_and_in_memory_stdin_give_the_same_result() {
    // Files are read twice without keeping text; stdin is held in memory: same answer.
    let input = repo("data/demo/articles.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("file");
    assert!(cluster(&[&input], &from_file, &["--quiet"])
        .status
        .success());
    let from_stdin = dir.path().join("stdin");
    let output = common::bin()
        .args(["cluster", "-", "--quiet", "--out"])
        .arg(&from_stdin)
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // Ids and grouping are identical; only the file column of rejects could differ (none here).
    assert_eq!(outputs(&from_file), outputs(&from_stdin));
}

#[test]
fn verbose_run_reports_each_stage_with_its_processor_time() {
    let out = tempfile::tempdir().unwrap();
    let run = cluster(&[&repo("data/demo")], out.path(), &["-v"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report = stderr(&run);
    let stages = report
        .lines()
        .find_map(|line| line.strip_prefix("storyhash: stages: "))
        .unwrap_or_else(|| panic!("a stages line in {report}"));
    for stage in [
        "reading",
        "near-duplicates",
        "key terms",
        "story linkage",
        "writing",
    ] {
        // "<stage> 0.01 s (cpu 0.01 s, 7 MiB)": the figures are in the parentheses after it.
        let at = stages
            .find(&format!("{stage} "))
            .unwrap_or_else(|| panic!("{stage} in {stages}"));
        let rest = &stages[at + stage.len() + 1..];
        let figures = &rest[..rest.find(')').unwrap_or(rest.len())];
        assert!(figures.contains(" s ("), "{stage}: {figures}");
        if cfg!(unix) {
            assert!(figures.contains("(cpu "), "{stage}: {figures}");
        }
    }
}
