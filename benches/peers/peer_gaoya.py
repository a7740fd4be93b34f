"""gaoya: MinHashStringIndex with num_hashes=128 (gaoya picks bands x band width for threshold
0.8; it rounds to 21 x 6 = 126 hashes). Batches are inserted (par_bulk_insert_docs) and then
queried (par_bulk_query, which returns only ids whose estimated Jaccard is >= 0.8), so each pair
is found when its later document is queried.

Default: the common Python shingles, given as documents through an identity analyzer (so they are
computed once). With --native: gaoya's own Rust analyzer (analyzer="word", lowercase=True,
ngram_range=(5, 5)), which splits on whitespace, so its shingles differ a little."""
import re
import sys

from gaoya.minhash import MinHashStringIndex

from common import NUM_PERM, SHINGLE, THRESHOLD, UnionFind, chunks, read_docs, shingles, write_groups

native = "--native" in sys.argv
docs_path, out_path = [a for a in sys.argv[1:] if a != "--native"]
if native:
    analyzer = dict(analyzer="word", lowercase=True, ngram_range=(SHINGLE, SHINGLE))
    prepare = lambda text: text  # noqa: E731
else:
    analyzer = dict(analyzer=lambda tokens: tokens)
    prepare = lambda text: list(shingles(text))  # noqa: E731
index = MinHashStringIndex(hash_size=32, jaccard_threshold=THRESHOLD, num_bands=None,
                           band_size=None, num_hashes=NUM_PERM, id_container="vec", **analyzer)
bands, rows = re.search(r"bands = (\d+), rows_per_band = (\d+)", str(index)).groups()
print(f"lsh: MinHashIndex b={bands} r={rows}", file=sys.stderr)

ids, pairs = [], []
for batch in chunks(read_docs(docs_path)):
    start = len(ids)
    ids.extend(doc_id for doc_id, _ in batch)
    docs = [prepare(text) for _, text in batch]
    index.par_bulk_insert_docs(list(range(start, len(ids))), docs)
    for i, found in enumerate(index.par_bulk_query(docs), start):
        pairs.extend((i, j) for j in found if j < i)

uf = UnionFind(len(ids))
for i, j in pairs:
    uf.union(i, j)
write_groups(out_path, ids, uf)
