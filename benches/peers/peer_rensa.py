"""rensa: RMinHash.from_token_sets (batch, in Rust) -> RMinHashLSH with 8 bands, the band count
rensa's own RMinHashDeduplicator picks for threshold 0.8 (and its README benchmark uses);
insert_many + query_all, candidates kept when RMinHash.jaccard >= 0.8."""
import sys

from rensa import RMinHash, RMinHashLSH

from common import NUM_PERM, THRESHOLD, UnionFind, args, chunks, read_docs, shingles, write_groups

NUM_BANDS = 8  # rensa's default for threshold >= 0.8 (RMinHashDeduplicator(num_bands=None))

docs_path, out_path = args()
ids, minhashes = [], []
for batch in chunks(read_docs(docs_path)):
    ids.extend(doc_id for doc_id, _ in batch)
    minhashes.extend(RMinHash.from_token_sets(
        [shingles(text) for _, text in batch], num_perm=NUM_PERM, seed=42))

lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=NUM_BANDS)
print(f"lsh: RMinHashLSH b={NUM_BANDS} r={NUM_PERM // NUM_BANDS}", file=sys.stderr)
lsh.insert_many(minhashes)

uf = UnionFind(len(ids))
for i, candidates in enumerate(lsh.query_all(minhashes)):
    m = minhashes[i]
    for j in candidates:
        if j > i and m.jaccard(minhashes[j]) >= THRESHOLD:
            uf.union(i, j)
write_groups(out_path, ids, uf)
