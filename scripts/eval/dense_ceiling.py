"""How far can the dense signal lift retrieval on a labelled set?

Reads two `ventana eval --json --top 12` outputs (sparse only and hybrid),
embeds the messages and the passages the index embeds (title, heading,
section, the article's questions) through an OpenAI-compatible embeddings
endpoint, and prints:

- dense alone: hit@1 / hit@3 when an article is scored by its best passage;
- oracles: hit@1 if a perfect judge picked, per message, whichever of the
  sparse (or hybrid) and the dense ranking is right; hit@3 if either
  ranking has the article in its top 3. No fusion that picks one of the two
  rankings per message can beat these;
- the Pareto bound: a fusion whose score grows with each signal's rank can
  put the expected article first only if no other article is at least as
  high in both rankings and higher in one (and in the top 3 only if fewer
  than three are). Articles past the sparse top 12 count as tied last;
- a listwise re-ranker (softmax over the hybrid top 12) on ventana's seven
  features plus the dense rank and gap, 8-fold cross-validated by message.

Usage (see EVAL.md):
  eval "$(scripts/models/start.sh embeddings)"
  ~/.cache/ventana/models-venv/bin/python scripts/eval/dense_ceiling.py \
      --knowledge ../shared/eval/aurora/knowledge \
      --cases ../shared/eval/aurora/cases.jsonl \
      --sparse sparse.json --hybrid hybrid.json
"""
import argparse
import glob
import json
import os
import re
import urllib.request

import numpy as np

FEATURES = ["rank", "fused", "coverage", "head_coverage", "margin",
            "question_coverage", "question_match"]
SPLIT_MIN_WORDS = 120  # as src/knowledge/chunk.rs


def embed(url, model, texts, mode):
    out = []
    for i in range(0, len(texts), 32):
        body = {"input": texts[i:i + 32], "model": model, "input_type": mode}
        req = urllib.request.Request(url + "/embeddings", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        for item in json.load(urllib.request.urlopen(req))["data"]:
            v = np.array(item["embedding"], dtype=np.float32)
            out.append(v / np.linalg.norm(v))
    return np.stack(out)


def passages(path):
    """(article id, text) for each passage, cut and joined as the index does."""
    units = []
    for file in sorted(glob.glob(os.path.join(path, "*.md"))):
        article = os.path.basename(file)[:-3]
        _, front, body = open(file, encoding="utf-8").read().split("---", 2)
        title = re.search(r"title:\s*(.*)", front).group(1).strip()
        listed = front.split("questions:")[1].split("tags:")[0]
        questions = "\n".join(re.findall(r"^\s*-\s+(.*)$", listed, re.M))
        body = body.strip()
        sections = []
        if len(body.split()) < SPLIT_MIN_WORDS:
            sections = [("", body)]
        else:
            heading, lines = "", []
            for line in body.split("\n") + ["## "]:
                if line.startswith("## "):
                    if "\n".join(lines).strip():
                        sections.append((heading, "\n".join(lines).strip()))
                    heading, lines = line[3:].strip(), []
                else:
                    lines.append(line)
        units += [(article, f"{title}\n{h}\n{s}\n{questions}") for h, s in sections]
    return units


def fit(data, l2=0.01, iters=3000, lr=0.5):
    """Softmax over each message's candidates (conditional logit)."""
    w = np.zeros(data[0][0].shape[1])
    train = [(x, y) for x, y in data if y.any()]
    for _ in range(iters):
        grad = l2 * w
        for x, y in train:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad -= (x[y].mean(0) - p @ x) / len(train)
        w -= lr * grad
    return w


def hits(data, w):
    h1 = h3 = 0
    for x, y in data:
        order = np.argsort(-(x @ w))
        at = [i for i, j in enumerate(order) if y[j]]
        h1 += bool(at) and at[0] == 0
        h3 += bool(at) and at[0] < 3
    return h1, h3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--knowledge", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--sparse", required=True, help="ventana eval --json --top 12, sparse only")
    ap.add_argument("--hybrid", required=True, help="the same with embeddings configured")
    ap.add_argument("--url", default=os.environ.get("VENTANA_TEST_EMBEDDINGS_URL",
                                                    "http://127.0.0.1:8911/v1"))
    ap.add_argument("--model", default="multilingual-e5-small")
    a = ap.parse_args()

    cases = [json.loads(line) for line in open(a.cases, encoding="utf-8")]
    cases = [c for c in cases if c["expect"].get("article")]
    sparse = {r["id"]: r for r in json.load(open(a.sparse))["results"]}
    hybrid = {r["id"]: r for r in json.load(open(a.hybrid))["results"]}
    units = passages(a.knowledge)
    ids = sorted({u[0] for u in units})
    unit_article = np.array([ids.index(u[0]) for u in units])
    unit_vectors = embed(a.url, a.model, [u[1] for u in units], "passage")
    queries = embed(a.url, a.model, [c["text"] for c in cases], "query")

    n = len(cases)
    dense_rank, dense_orders, data = [], [], []
    for case, q in zip(cases, queries):
        best = np.full(len(ids), -9.0)
        np.maximum.at(best, unit_article, unit_vectors @ q)
        order = list(np.argsort(-best))
        dense_orders.append(order)
        dense_rank.append(order.index(ids.index(case["expect"]["article"])) + 1)
        x, y = [], []
        for t in hybrid[case["id"]]["top"][:12]:
            at = ids.index(t["article_id"])
            x.append([t["features"][k] for k in FEATURES]
                     + [1 / (1 + order.index(at)), best[at] - best.max()])
            y.append(t["article_id"] == case["expect"]["article"])
        data.append((np.array(x), np.array(y)))

    print(f"messages with an expected article: {n}")
    print(f"dense alone: hit@1 {sum(d == 1 for d in dense_rank) / n:.3f}"
          f"  hit@3 {sum(d <= 3 for d in dense_rank) / n:.3f}")
    for name, ranking in (("sparse", sparse), ("hybrid", hybrid)):
        r = [ranking[c["id"]]["rank"] or 99 for c in cases]
        alone1 = sum(x == 1 for x in r)
        alone3 = sum(x <= 3 for x in r)
        o1 = sum(x == 1 or d == 1 for x, d in zip(r, dense_rank))
        o3 = sum(x <= 3 or d <= 3 for x, d in zip(r, dense_rank))
        print(f"{name}: hit@1 {alone1 / n:.3f} hit@3 {alone3 / n:.3f};"
              f" oracle with dense: hit@1 {o1 / n:.3f} ({o1}/{n}), hit@3 {o3 / n:.3f} ({o3}/{n})")

    for name, ranking in (("sparse", sparse), ("hybrid", hybrid)):
        b1 = b3 = 0
        for case, dense_order in zip(cases, dense_orders):
            first = {t["article_id"]: i for i, t in enumerate(ranking[case["id"]]["top"])}
            last = len(first)
            s_rank = {a: first.get(a, last) for a in ids}
            d_rank = {ids[at]: i for i, at in enumerate(dense_order)}
            e = case["expect"]["article"]
            ahead = sum(1 for a in ids if a != e
                        and s_rank[a] <= s_rank[e] and d_rank[a] <= d_rank[e]
                        and (s_rank[a] < s_rank[e] or d_rank[a] < d_rank[e]))
            b1 += ahead == 0
            b3 += ahead < 3
        print(f"{name} + dense, Pareto bound for rank fusions: hit@1 {b1 / n:.3f} ({b1}/{n}),"
              f" hit@3 {b3 / n:.3f} ({b3}/{n})")

    folds = 8
    shuffled = np.random.default_rng(0).permutation(n)
    h1 = h3 = 0
    for f in range(folds):
        test = set(shuffled[f::folds].tolist())
        w = fit([d for i, d in enumerate(data) if i not in test])
        a1, a3 = hits([d for i, d in enumerate(data) if i in test], w)
        h1 += a1
        h3 += a3
    print(f"listwise re-ranker, 9 features, {folds}-fold CV: hit@1 {h1 / n:.3f} hit@3 {h3 / n:.3f}")


if __name__ == "__main__":
    main()
