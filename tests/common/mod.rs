//! Helpers shared by the command-line tests: run the binary, read its CSV outputs.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_storyhash"))
}

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The seed articles' folder (`../shared/seeds/articles`), or `None` (said on stderr: the
/// test is skipped) when this checkout has none.
pub fn seed_articles() -> Option<PathBuf> {
    let seeds = repo("../shared/seeds/articles");
    if seeds.is_dir() {
        return Some(seeds);
    }
    eprintln!("skipped: {} does not exist", seeds.display());
    None
}

/// Runs `storyhash` with arguments, returning its output (never panics on a non-zero exit).
pub fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the storyhash binary runs")
}

/// Runs `storyhash cluster INPUTS... --out DIR EXTRA...` and returns the output.
pub fn cluster(inputs: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let mut command = bin();
    command
        .arg("cluster")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(extra);
    command
        .stdin(Stdio::null())
        .output()
        .expect("the storyhash binary runs")
}

/// Clusters the demo corpus (`--quiet` plus `extra`) into a new temporary folder, which it
/// returns after checking that the run succeeded.
pub fn cluster_demo(extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("a temporary folder");
    let mut args = vec!["--quiet"];
    args.extend_from_slice(extra);
    let output = cluster(&[&repo("data/demo/articles.jsonl")], out.path(), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    out
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Rows of a CSV file as maps from column name to value.
pub fn read_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().expect("a header row").clone();
    reader
        .records()
        .map(|record| {
            let record = record.expect("a valid CSV record");
            headers
                .iter()
                .map(str::to_string)
                .zip(record.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// A partition as a sorted list of sorted id lists, for comparing groupings.
pub fn partition(rows: &[BTreeMap<String, String>], column: &str) -> Vec<Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        groups
            .entry(row[column].clone())
            .or_default()
            .push(row["id"].clone());
    }
    let mut groups: Vec<Vec<String>> = groups
        .into_values()
        .map(|mut ids| {
            ids.sort();
            ids
        })
        .collect();
    groups.sort();
    groups
}
