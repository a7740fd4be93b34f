"""What every peer script shares, so that all peers see the same shingles and write the same
output: read docs.jsonl, word 5-gram shingles of the lower-cased `text`, union-find, id,dup CSV."""
import csv
import json
import re
import sys

THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 5
WORD = re.compile(r"\w+")


def read_docs(path):
    """Yields (id, text) for each line of a JSONL file."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                doc = json.loads(line)
                yield doc["id"], doc.get("text") or ""


def shingles(text):
    """Word 5-grams of the lower-cased text, as a set of strings; a text of fewer than 5 words
    gives one shingle of all its words (as storyhash does)."""
    words = WORD.findall(text.lower())
    if len(words) < SHINGLE:
        return {" ".join(words)}
    return {" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def chunks(iterable, size=1_000):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class UnionFind:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, x):
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def write_groups(path, ids, uf):
    """id,dup CSV: dup is the group's root (the smallest index in the group)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "dup"])
        for i, doc_id in enumerate(ids):
            w.writerow([doc_id, uf.find(i)])


def args():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} DOCS.jsonl OUT.csv")
    return sys.argv[1], sys.argv[2]
