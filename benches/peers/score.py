"""Pairwise precision/recall/F1 of predicted groups against labels.csv (as `storyhash eval`):
over the ids present in both files, a pair of articles counts when both put it in one group.
usage: score.py LABELS.csv PRED.csv [COLUMN]   (COLUMN: dup (default) or story, read from both)
prints: precision recall f1 scored_ids"""
import csv
import sys
from collections import Counter


def column(path, name):
    with open(path, newline="", encoding="utf-8") as f:
        return {row["id"]: row[name] for row in csv.DictReader(f)}


def pairs(n):
    return n * (n - 1) // 2


labels_path, pred_path = sys.argv[1], sys.argv[2]
name = sys.argv[3] if len(sys.argv) > 3 else "dup"
gold, pred = column(labels_path, name), column(pred_path, name)
common = [i for i in gold if i in pred]
together = sum(pairs(c) for c in Counter((pred[i], gold[i]) for i in common).values())
gold_pairs = sum(pairs(c) for c in Counter(gold[i] for i in common).values())
pred_pairs = sum(pairs(c) for c in Counter(pred[i] for i in common).values())
p = together / pred_pairs if pred_pairs else 1.0
r = together / gold_pairs if gold_pairs else 1.0
f1 = 2 * p * r / (p + r) if p + r else 0.0
print(f"{p:.4f} {r:.4f} {f1:.4f} {len(common)}")
