//! Eval: scores a predicted clustering against gold labels.
//!
//! B-cubed precision/recall/F1 (Bagga & Baldwin 1998, averaged over articles), pairwise
//! precision/recall/F1 over same-cluster pairs, and the Adjusted Rand Index (Hubert & Arabie
//! 1985), all from one contingency table; then the worst merges (predicted clusters mixing the
//! most gold clusters) and worst splits (gold clusters scattered over the most predicted ones).
//! Only ids present in both files are scored; the others are counted. This module does not
//! cluster anything.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// Which grouping of clusters.csv is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    Dup,
    Story,
}

impl Column {
    pub fn name(self) -> &'static str {
        match self {
            Column::Dup => "dup",
            Column::Story => "story",
        }
    }
}

/// Precision, recall and their harmonic mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn new(precision: f64, recall: f64) -> Prf {
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Prf {
            precision,
            recall,
            f1,
        }
    }
}

/// The scores of one labelling against another over the same items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub items: usize,
    pub gold_clusters: usize,
    pub pred_clusters: usize,
    pub bcubed: Prf,
    pub pairwise: Prf,
    pub ari: f64,
}

fn pairs(n: u64) -> f64 {
    (n * n.saturating_sub(1) / 2) as f64
}

/// Scores `pred` against `gold`; both give one label per item, in the same item order.
pub fn score<G: Ord, P: Ord>(gold: &[G], pred: &[P]) -> Scores {
    assert_eq!(
        gold.len(),
        pred.len(),
        "one gold and one predicted label per item"
    );
    let n = gold.len();
    let mut cells: BTreeMap<(&P, &G), u64> = BTreeMap::new();
    let mut gold_sizes: BTreeMap<&G, u64> = BTreeMap::new();
    let mut pred_sizes: BTreeMap<&P, u64> = BTreeMap::new();
    for (g, p) in gold.iter().zip(pred) {
        *cells.entry((p, g)).or_default() += 1;
        *gold_sizes.entry(g).or_default() += 1;
        *pred_sizes.entry(p).or_default() += 1;
    }
    let (mut b_precision, mut b_recall, mut together) = (0.0, 0.0, 0.0);
    for (&(p, g), &count) in &cells {
        let count_f = count as f64;
        b_precision += count_f * count_f / pred_sizes[p] as f64;
        b_recall += count_f * count_f / gold_sizes[g] as f64;
        together += pairs(count);
    }
    let gold_pairs: f64 = gold_sizes.values().map(|&s| pairs(s)).sum();
    let pred_pairs: f64 = pred_sizes.values().map(|&s| pairs(s)).sum();
    let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 1.0 };
    let bcubed = if n == 0 {
        Prf::new(1.0, 1.0)
    } else {
        Prf::new(b_precision / n as f64, b_recall / n as f64)
    };
    Scores {
        items: n,
        gold_clusters: gold_sizes.len(),
        pred_clusters: pred_sizes.len(),
        bcubed,
        pairwise: Prf::new(ratio(together, pred_pairs), ratio(together, gold_pairs)),
        ari: adjusted_rand(
            together,
            gold_pairs,
            pred_pairs,
            pairs(n as u64),
            cells.len() == gold_sizes.len() && cells.len() == pred_sizes.len(),
        ),
    }
}

/// ARI from pair counts. When both partitions are trivial in the same way the index is
/// undefined (0/0); it is 1 when the partitions are identical, else 0.
fn adjusted_rand(
    together: f64,
    gold_pairs: f64,
    pred_pairs: f64,
    all_pairs: f64,
    identical: bool,
) -> f64 {
    if all_pairs == 0.0 {
        return 1.0;
    }
    let expected = gold_pairs * pred_pairs / all_pairs;
    let maximum = 0.5 * (gold_pairs + pred_pairs);
    if (maximum - expected).abs() < 1e-12 {
        return if identical { 1.0 } else { 0.0 };
    }
    (together - expected) / (maximum - expected)
}

/// A cluster listed among the worst merges or splits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offender {
    /// The cluster's label (predicted for a merge, gold for a split).
    pub label: String,
    pub size: usize,
    /// How many clusters of the other side it touches.
    pub spread: usize,
    /// Up to five members per touched cluster of the other side: (other label, id, title).
    pub members: Vec<(String, String, String)>,
}

/// The full evaluation of a clusters.csv.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub column: Column,
    pub scores: Scores,
    /// Ids in the gold labels but not in the predictions, and the reverse.
    pub missing_from_pred: usize,
    pub missing_from_gold: usize,
    pub worst_merges: Vec<Offender>,
    pub worst_splits: Vec<Offender>,
}

impl Report {
    pub fn to_text(&self) -> String {
        let s = &self.scores;
        let mut out = format!(
            "{} clusters: {} articles, {} gold, {} predicted\n\
             B-cubed   P {:.3}  R {:.3}  F1 {:.3}\n\
             pairwise  P {:.3}  R {:.3}  F1 {:.3}\n\
             ARI       {:.3}\n",
            self.column.name(),
            s.items,
            s.gold_clusters,
            s.pred_clusters,
            s.bcubed.precision,
            s.bcubed.recall,
            s.bcubed.f1,
            s.pairwise.precision,
            s.pairwise.recall,
            s.pairwise.f1,
            s.ari
        );
        if self.missing_from_pred + self.missing_from_gold > 0 {
            out += &format!(
                "not scored: {} gold ids missing from the predictions, {} predicted ids without a label\n",
                self.missing_from_pred, self.missing_from_gold
            );
        }
        let mut section = |title: &str, list: &[Offender], other: &str| {
            if list.is_empty() {
                return;
            }
            out += &format!("\n{title}\n");
            for offender in list {
                out += &format!(
                    "  {} (size {}) spans {} {other} clusters\n",
                    offender.label, offender.size, offender.spread
                );
                for (label, id, title) in &offender.members {
                    out += &format!("    [{other} {label}] {id}  {title}\n");
                }
            }
        };
        section(
            "worst merges (predicted clusters mixing gold clusters):",
            &self.worst_merges,
            "gold",
        );
        section(
            "worst splits (gold clusters split over predicted clusters):",
            &self.worst_splits,
            "pred",
        );
        out
    }
}

/// One labelled row of a CSV file.
struct LabelRow {
    id: String,
    label: String,
    title: String,
}

fn read_labels(path: &Path, column: Column) -> Result<Vec<LabelRow>> {
    let bad = |message: String| Error::BadTable {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| bad(e.to_string()))?;
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{FEFF}') == name)
    };
    let id_col = find("id").ok_or_else(|| bad("no `id` column".into()))?;
    let label_col =
        find(column.name()).ok_or_else(|| bad(format!("no `{}` column", column.name())))?;
    let title_col = find("title");
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let cell = |i: usize| record.get(i).unwrap_or("").to_string();
        rows.push(LabelRow {
            id: unescape_cell(&cell(id_col)),
            label: cell(label_col),
            title: title_col.map(cell).unwrap_or_default(),
        });
    }
    Ok(rows)
}

/// Undoes the spreadsheet-safety prefix of clusters.csv so ids match the labels file.
fn unescape_cell(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

/// Evaluates a clusters.csv (`pred`) against a labels file (`truth`).
pub fn evaluate_files(truth: &Path, pred: &Path, column: Column, worst: usize) -> Result<Report> {
    let gold_rows = read_labels(truth, column)?;
    let pred_rows = read_labels(pred, column)?;
    let gold: BTreeMap<&str, &str> = gold_rows
        .iter()
        .map(|r| (r.id.as_str(), r.label.as_str()))
        .collect();
    let predicted: BTreeMap<&str, &LabelRow> =
        pred_rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut items: Vec<(&str, &str, &LabelRow)> = Vec::new();
    for (&id, &gold_label) in &gold {
        if let Some(row) = predicted.get(id) {
            items.push((id, gold_label, row));
        }
    }
    let gold_labels: Vec<&str> = items.iter().map(|i| i.1).collect();
    let pred_labels: Vec<&str> = items.iter().map(|i| i.2.label.as_str()).collect();
    Ok(Report {
        column,
        scores: score(&gold_labels, &pred_labels),
        missing_from_pred: gold.len() - items.len(),
        missing_from_gold: predicted.len() - items.len(),
        worst_merges: offenders(&items, worst, |i| i.2.label.as_str(), |i| i.1),
        worst_splits: offenders(&items, worst, |i| i.1, |i| i.2.label.as_str()),
    })
}

type Item<'a> = (&'a str, &'a str, &'a LabelRow);

/// Clusters (by `own`) that touch the most clusters of the other side (by `other`).
fn offenders<'a>(
    items: &[Item<'a>],
    worst: usize,
    own: impl Fn(&Item<'a>) -> &'a str,
    other: impl Fn(&Item<'a>) -> &'a str,
) -> Vec<Offender> {
    let mut clusters: BTreeMap<&str, BTreeMap<&str, Vec<&Item<'a>>>> = BTreeMap::new();
    for item in items {
        clusters
            .entry(own(item))
            .or_default()
            .entry(other(item))
            .or_default()
            .push(item);
    }
    let mut list: Vec<(&str, &BTreeMap<&str, Vec<&Item<'a>>>)> = clusters
        .iter()
        .filter(|(_, parts)| parts.len() > 1)
        .map(|(l, p)| (*l, p))
        .collect();
    list.sort_by_key(|(label, parts)| {
        let size: usize = parts.values().map(Vec::len).sum();
        (
            std::cmp::Reverse(parts.len()),
            std::cmp::Reverse(size),
            *label,
        )
    });
    list.into_iter()
        .take(worst)
        .map(|(label, parts)| Offender {
            label: label.to_string(),
            size: parts.values().map(Vec::len).sum(),
            spread: parts.len(),
            members: parts
                .iter()
                .flat_map(|(other_label, members)| {
                    members
                        .iter()
                        .take(5)
                        .map(move |m| (other_label.to_string(), m.0.to_string(), m.2.title.clone()))
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn perfect_prediction() {
        let s = score(&[1, 1, 2, 3], &["a", "a", "b", "c"]);
        assert!(close(s.bcubed.f1, 1.0) && close(s.pairwise.f1, 1.0) && close(s.ari, 1.0));
    }

    #[test]
    fn all_singletons_against_two_pairs() {
        // gold {0,1} {2,3}; pred all singletons.
        let s = score(&[1, 1, 2, 2], &[1, 2, 3, 4]);
        assert!(close(s.bcubed.precision, 1.0));
        assert!(close(s.bcubed.recall, 0.5));
        assert!(close(s.pairwise.precision, 1.0)); // no predicted pairs: vacuous
        assert!(close(s.pairwise.recall, 0.0));
        assert!(close(s.ari, 0.0));
    }

    #[test]
    fn one_cluster_against_two_pairs() {
        let s = score(&[1, 1, 2, 2], &[0, 0, 0, 0]);
        assert!(close(s.bcubed.precision, 0.5));
        assert!(close(s.bcubed.recall, 1.0));
        assert!(close(s.pairwise.precision, 2.0 / 6.0));
        assert!(close(s.pairwise.recall, 1.0));
        assert!(close(s.ari, 0.0));
    }

    #[test]
    fn hand_computed_mixed_case() {
        // gold {0,1,2} {3,4}; pred {0,1} {2,3,4}.
        let s = score(&[1, 1, 1, 2, 2], &[7, 7, 8, 8, 8]);
        // B-cubed precision: items 0,1: 2/2; item 2: 1/3; items 3,4: 2/3 → (1+1+1/3+2/3+2/3)/5
        assert!(close(
            s.bcubed.precision,
            (1.0 + 1.0 + 1.0 / 3.0 + 2.0 / 3.0 + 2.0 / 3.0) / 5.0
        ));
        // recall: items 0,1: 2/3; item 2: 1/3; items 3,4: 2/2
        assert!(close(
            s.bcubed.recall,
            (2.0 / 3.0 + 2.0 / 3.0 + 1.0 / 3.0 + 1.0 + 1.0) / 5.0
        ));
        // pairs: together 1 + 1 = 2; pred 1 + 3 = 4; gold 3 + 1 = 4
        assert!(close(s.pairwise.precision, 0.5) && close(s.pairwise.recall, 0.5));
        // ARI: expected 4*4/10 = 1.6, max 4 → (2-1.6)/(4-1.6)
        assert!(close(s.ari, 0.4 / 2.4));
    }

    #[test]
    fn both_all_singletons_is_perfect() {
        let s = score(&[1, 2, 3], &[4, 5, 6]);
        assert!(close(s.ari, 1.0) && close(s.bcubed.f1, 1.0) && close(s.pairwise.f1, 1.0));
    }
}
