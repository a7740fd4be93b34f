"""datasketch: MinHash.generator (bulk, reuses the permutations) -> LeanMinHash, MinHashLSH with
its own (b, r) for threshold 0.8, filled in an insertion_session; every document is queried and
candidates are kept when MinHash.jaccard >= 0.8."""
import sys

from datasketch import LeanMinHash, MinHash, MinHashLSH

from common import NUM_PERM, THRESHOLD, UnionFind, args, read_docs, shingles, write_groups

docs_path, out_path = args()
ids = []


def token_sets():
    for doc_id, text in read_docs(docs_path):
        ids.append(doc_id)
        yield [s.encode("utf-8") for s in shingles(text)]


minhashes = [LeanMinHash(m) for m in MinHash.generator(token_sets(), num_perm=NUM_PERM)]

lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
print(f"lsh: MinHashLSH b={lsh.b} r={lsh.r}", file=sys.stderr)
with lsh.insertion_session() as session:
    for i, m in enumerate(minhashes):
        session.insert(i, m)

uf = UnionFind(len(ids))
for i, m in enumerate(minhashes):
    for j in lsh.query(m):
        if j > i and m.jaccard(minhashes[j]) >= THRESHOLD:
            uf.union(i, j)
write_groups(out_path, ids, uf)
