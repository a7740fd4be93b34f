//! Stories end to end: follow-ups join their story, bridges and same-kind events do not merge
//! stories, and `eval` scores what came out.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use common::{cluster, read_rows, repo, run, seed_articles, stderr};

type Row = BTreeMap<String, String>;

fn cluster_jsonl(articles: &[serde_json::Value]) -> (tempfile::TempDir, Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feed.jsonl");
    let mut file = std::fs::File::create(&input).unwrap();
    for article in articles {
        writeln!(file, "{article}").unwrap();
    }
    drop(file);
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_rows(&out.join("clusters.csv"));
    (dir, rows)
}

/// The demo's gold story of each article id.
fn demo_stories(labels: &[Row]) -> BTreeMap<&str, &str> {
    labels
        .iter()
        .map(|l| (l["id"].as_str(), l["story"].as_str()))
        .collect()
}

fn row<'a>(rows: &'a [Row], id: &str) -> &'a Row {
    rows.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row for {id}"))
}

#[test]
fn demo_kim_yong_chol_articles_are_one_story_in_two_dup_groups() {
    let out = common::cluster_demo(&[]);
    let rows = read_rows(&out.path().join("clusters.csv"));
    let labels = read_rows(&repo("data/demo/labels.csv"));
    // The labelled Kim Yong-chol story: every article of it, predicted.
    let kim = rows
        .iter()
        .find(|r| r["title"].contains("Kim Yong-chol"))
        .unwrap();
    let gold_story = &labels.iter().find(|l| l["id"] == kim["id"]).unwrap()["story"];
    let members: Vec<&Row> = labels
        .iter()
        .filter(|l| &l["story"] == gold_story)
        .map(|l| row(&rows, &l["id"]))
        .collect();
    assert!(members.len() >= 2);
    assert!(
        members.iter().all(|r| r["story"] == kim["story"]),
        "one story"
    );
    let years: std::collections::BTreeSet<&str> = members.iter().map(|r| &r["date"][..4]).collect();
    assert_eq!(years.len(), 2, "2018 and 2019 articles");
    let dups: std::collections::BTreeSet<&str> =
        members.iter().map(|r| r["dup"].as_str()).collect();
    assert_eq!(dups.len(), 2, "two near-duplicate groups");
}

#[test]
fn seed_articles_are_one_story_in_two_dup_groups() {
    let Some(seeds) = seed_articles() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let output = cluster(&[&seeds], out.path(), &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_rows(&out.path().join("clusters.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["story"], rows[1]["story"], "same story");
    assert_ne!(
        rows[0]["dup"], rows[1]["dup"],
        "different near-duplicate groups"
    );
}

#[test]
fn seed_articles_among_the_demo_join_its_story_of_the_same_events() {
    // The demo's story s01 tells the same events as the seed articles (in its own words): mixed
    // into the demo, the seeds join exactly that story, each in its own dup group.
    let Some(seeds) = seed_articles() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let demo = repo("data/demo/articles.jsonl");
    let output = cluster(&[&seeds, &demo], out.path(), &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_rows(&out.path().join("clusters.csv"));
    let labels = read_rows(&repo("data/demo/labels.csv"));
    let gold = demo_stories(&labels);
    let seed_rows: Vec<&Row> = rows
        .iter()
        .filter(|r| !gold.contains_key(r["id"].as_str()))
        .collect();
    assert_eq!(seed_rows.len(), 2);
    let story = &seed_rows[0]["story"];
    assert_eq!(&seed_rows[1]["story"], story, "the seeds are one story");
    assert_ne!(seed_rows[0]["dup"], seed_rows[1]["dup"]);
    for r in rows.iter().filter(|r| gold.contains_key(r["id"].as_str())) {
        let in_s01 = gold[r["id"].as_str()] == "s01";
        assert_eq!(&r["story"] == story, in_s01, "demo article {}", r["id"]);
    }
}

#[test]
fn demo_same_kind_events_stay_apart() {
    let out = common::cluster_demo(&[]);
    let rows = read_rows(&out.path().join("clusters.csv"));
    let labels = read_rows(&repo("data/demo/labels.csv"));
    // Two articles in different gold stories must never share a predicted story (the demo's
    // shootings and earthquakes are written in near-identical agency wording).
    let gold = demo_stories(&labels);
    let mut predicted: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for r in &rows {
        predicted
            .entry(r["story"].as_str())
            .or_default()
            .insert(gold[r["id"].as_str()]);
    }
    for (story, golds) in predicted {
        assert_eq!(
            golds.len(),
            1,
            "predicted story {story} mixes gold stories {golds:?}"
        );
    }
}

fn article(id: &str, date: &str, title: &str, text: &str) -> serde_json::Value {
    serde_json::json!({ "id": id, "date": date, "title": title, "text": text })
}

#[test]
fn a_bridge_article_does_not_merge_two_stories() {
    let dam = [
        ("dam1", "Dam failure floods Harlow Valley", "The Corran Dam above Harlow Valley gave way early on Tuesday, sending a wall of water through three villages. Engineer Mira Castell said cracks had been reported in March. Rescue teams from Dunmore evacuated 400 residents."),
        ("dam2", "Harlow Valley counts cost of Corran Dam collapse", "Residents of Harlow Valley returned to mud-filled homes after the Corran Dam collapse. Mira Castell, the engineer who inspected the dam, told investigators the spillway had been blocked for months."),
        ("dam3", "Inquiry opens into Corran Dam collapse", "A public inquiry into the Corran Dam failure opened in Dunmore. The valley's mayor asked why warnings from engineer Mira Castell about cracks in the spillway were ignored before the flood."),
    ];
    let vote = [
        ("vote1", "Pellworth elects Jonas Ruiz as mayor", "Voters in Pellworth elected Jonas Ruiz as mayor on Sunday, ending twelve years of rule by the Civic League. Ruiz promised cheaper buses and a new harbour tram. Turnout reached 61 percent."),
        ("vote2", "Ruiz sworn in as Pellworth mayor", "Jonas Ruiz took the oath as mayor of Pellworth at the harbour hall, pledging to build the tram line his Civic League rivals had shelved. He named Ada Fenwick as deputy mayor."),
        ("vote3", "New Pellworth mayor freezes bus fares", "In his first act as mayor, Jonas Ruiz froze Pellworth bus fares and asked deputy Ada Fenwick to draft the harbour tram budget, a central promise of his campaign against the Civic League."),
    ];
    let mut articles: Vec<serde_json::Value> = dam
        .iter()
        .chain(vote.iter())
        .map(|(id, title, text)| article(id, "2024-04-02", title, text))
        .collect();
    articles.push(article(
        "bridge",
        "2024-04-03",
        "Week in review: a flood and a new mayor",
        "This week the Corran Dam collapse flooded Harlow Valley and engineer Mira Castell faced questions, while in Pellworth Jonas Ruiz was elected mayor, promising a harbour tram against the Civic League.",
    ));
    let (_dir, rows) = cluster_jsonl(&articles);
    let story = |id: &str| row(&rows, id)["story"].clone();
    assert_eq!(story("dam1"), story("dam2"));
    assert_eq!(story("dam1"), story("dam3"));
    assert_eq!(story("vote1"), story("vote2"));
    assert_eq!(story("vote1"), story("vote3"));
    assert_ne!(
        story("dam1"),
        story("vote1"),
        "the bridge merged two stories"
    );
}

#[test]
fn two_shootings_in_blotter_wording_are_two_stories() {
    let template = |city: &str, street: &str, victim: &str, age: u32, hour: &str, county: &str| {
        format!(
            "Police in {city} are investigating a shooting that left {victim}, {age}, wounded early Sunday. \
             Officers were called to the 1200 block of {street} around {hour} after reports of shots fired. \
             {victim} was taken to {county} General Hospital. No arrests have been made. \
             Anyone with information is asked to call the {city} Police Department."
        )
    };
    let articles = vec![
        article(
            "a1",
            "2024-05-05",
            "Man shot in Kellford",
            &template(
                "Kellford",
                "Birch Avenue",
                "Dario Mendes",
                27,
                "2:10 a.m.",
                "Ostrow",
            ),
        ),
        article(
            "a2",
            "2024-05-05",
            "Kellford shooting victim in hospital",
            &format!(
                "{} Detectives said Dario Mendes knew his attacker.",
                template(
                    "Kellford",
                    "Birch Avenue",
                    "Dario Mendes",
                    27,
                    "2:10 a.m.",
                    "Ostrow"
                )
            ),
        ),
        article(
            "b1",
            "2024-05-05",
            "Woman shot in Marlow Heights",
            &template(
                "Marlow Heights",
                "Quarry Road",
                "Tessa Lund",
                34,
                "11:45 p.m.",
                "Vance",
            ),
        ),
        article(
            "b2",
            "2024-05-06",
            "Marlow Heights shooting under investigation",
            &format!(
                "{} A neighbour said Tessa Lund had just come home from work.",
                template(
                    "Marlow Heights",
                    "Quarry Road",
                    "Tessa Lund",
                    34,
                    "11:45 p.m.",
                    "Vance"
                )
            ),
        ),
    ];
    let (_dir, rows) = cluster_jsonl(&articles);
    let story = |id: &str| row(&rows, id)["story"].clone();
    assert_eq!(story("a1"), story("a2"));
    assert_eq!(story("b1"), story("b2"));
    assert_ne!(story("a1"), story("b1"), "two shootings became one story");
}

#[test]
fn story_window_keeps_far_apart_articles_apart() {
    let text = "The Orvell Bridge reopened after repairs, said transport minister Lena Vosk, who thanked the Orvell engineers.";
    let articles = vec![
        article("x1", "2020-01-10", "Orvell Bridge reopens", text),
        article(
            "x2",
            "2021-06-10",
            "Orvell Bridge reopens again",
            &format!("{text} The Orvell Bridge had closed for a second time."),
        ),
    ];
    let (_dir, rows) = cluster_jsonl(&articles);
    assert_eq!(
        row(&rows, "x1")["story"],
        row(&rows, "x2")["story"],
        "without a window: one story"
    );
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feed.jsonl");
    std::fs::write(
        &input,
        articles
            .iter()
            .map(|a| format!("{a}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = cluster(&[&input], &out, &["--quiet", "--story-window", "30"]);
    assert!(output.status.success());
    let rows = read_rows(&out.join("clusters.csv"));
    assert_ne!(row(&rows, "x1")["story"], row(&rows, "x2")["story"]);
}

#[test]
fn stories_csv_is_filled() {
    let out = common::cluster_demo(&[]);
    let stories = read_rows(&out.path().join("stories.csv"));
    let clusters = read_rows(&out.path().join("clusters.csv"));
    let total: usize = stories
        .iter()
        .map(|s| s["size"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, clusters.len(), "sizes add up to the articles");
    for story in &stories {
        let members: Vec<&Row> = clusters
            .iter()
            .filter(|r| r["story"] == story["story"])
            .collect();
        assert_eq!(story["size"], members.len().to_string());
        let dups: std::collections::BTreeSet<&str> =
            members.iter().map(|r| r["dup"].as_str()).collect();
        assert_eq!(story["unique"], dups.len().to_string());
        let first = members.iter().map(|r| r["date"].as_str()).min().unwrap();
        let last = members.iter().map(|r| r["date"].as_str()).max().unwrap();
        assert_eq!(
            (story["first_date"].as_str(), story["last_date"].as_str()),
            (first, last)
        );
        assert!(!story["headline"].is_empty());
        assert!(
            !story["keywords"].is_empty(),
            "story {} has no keywords",
            story["story"]
        );
    }
    let kim = stories
        .iter()
        .find(|s| s["keywords"].contains("Kim Yong"))
        .expect("Kim Yong-chol is a keyword");
    assert_eq!(kim["unique"], "2");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn eval_scores_a_prediction_against_labels() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("labels.csv");
    let pred = dir.path().join("clusters.csv");
    // gold {a,b,c} {d,e}; predicted {a,b} {c,d,e}: the hand-computed case of eval's unit tests.
    write(
        &truth,
        "id,dup,story\na,1,s1\nb,2,s1\nc,3,s1\nd,4,s2\ne,5,s2\nz,6,s3\n",
    );
    write(
        &pred,
        "id,story,dup,title\na,1,1,A\nb,1,2,B\nc,2,3,C\nd,2,4,D\ne,2,5,E\n",
    );
    let output = run(&[
        "eval",
        "--truth",
        truth.to_str().unwrap(),
        "--pred",
        pred.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let scores = &report["scores"];
    assert_eq!(scores["items"], 5);
    assert_eq!(report["missing_from_pred"], 1);
    assert!((scores["pairwise"]["precision"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    assert!((scores["ari"].as_f64().unwrap() - 0.4 / 2.4).abs() < 1e-9);
    assert_eq!(report["worst_merges"][0]["label"], "2");
    assert_eq!(report["worst_splits"][0]["label"], "s1");
    let text = run(&[
        "eval",
        "--truth",
        truth.to_str().unwrap(),
        "--pred",
        pred.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("B-cubed") && text.contains("worst merges"),
        "{text}"
    );
}
