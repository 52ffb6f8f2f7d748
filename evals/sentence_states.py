"""Would sentence vectors taken from the passage's own token states do as well as sentences
embedded alone? For a seeded sample of answerable SQuAD questions, the passage that holds the
evidence is found in an index of the SQuAD articles, its sentences are ranked by cosine to the
question both ways, and the share whose top sentence holds the evidence is printed.

    python -m evals.sentence_states --docs ../shared/evals/squad2_dev/docs \
        --dataset ../shared/evals/squad2_dev/qa.jsonl --index-dir .rag/eval/squad --sample 800

The index is built first when the folder holds none (a few minutes for the 20 articles).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from index.embed import Embedder
from index.onnx_encoder import padded
from index.search import SearchIndex
from index.settings import IndexSettings
from index.types import Passage


def state_vectors(encoder: Any, p: Passage) -> np.ndarray:
    """One vector per sentence of ``p``: the mean of its word pieces' last-layer states in one
    pass over the whole passage (normalised)."""
    enc = encoder.tokenizer.encode(p.text)
    hidden = encoder.session.run(None, padded([enc]))[0][0]
    out = []
    for start, end in p.sentences:
        a, z = start - p.start, end - p.start
        toks = [t for t, (x, y) in enumerate(enc.offsets) if y > x and x >= a and y <= z]
        v = hidden[toks].mean(0) if toks else hidden[1:-1].mean(0)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def compare(index: SearchIndex, embedder: Embedder, items: list[dict[str, Any]]) -> dict[str, Any]:
    encoder = embedder._onnx_encoder()  # noqa: SLF001 - the ONNX session gives the token states
    if encoder is None:
        raise SystemExit("needs ONNX Runtime (the token states come from the exported model)")
    rows = index.sentence_row_map()
    by_doc: dict[str, list[int]] = {}
    for i, p in enumerate(index.passages):
        by_doc.setdefault(p.doc_id, []).append(i)
    hits = {"alone": 0, "states": 0, "n": 0}
    for d in items:
        ev = d["evidence"][0]
        found = [i for i in by_doc.get(d["docs"][0], []) if ev[:60] in index.passages[i].text]
        if not found:
            continue
        p = index.passages[found[0]]
        if len(p.sentences) < 2:
            continue
        texts = [p.text[a - p.start : z - p.start] for a, z in p.sentences]
        gold = [j for j, t in enumerate(texts) if t.strip()[:40] in ev or ev[:40] in t]
        if not gold:
            continue
        q = embedder.encode_query(d["question"])
        alone = np.array([index.sentence_vectors[rows[(p.doc_id, a, z)]] for a, z in p.sentences])
        hits["n"] += 1
        hits["alone"] += int(np.argmax(alone @ q) in gold)
        hits["states"] += int(np.argmax(state_vectors(encoder, p) @ q) in gold)
    n = max(hits["n"], 1)
    return {**hits, "alone_share": round(hits["alone"] / n, 3), "states_share": round(hits["states"] / n, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--docs", type=Path, required=True, help="the articles' folder")
    ap.add_argument("--dataset", type=Path, required=True, help="QA file (the shared SQuAD format)")
    ap.add_argument("--index-dir", type=Path, required=True, help="index of --docs (built if missing)")
    ap.add_argument("--sample", type=int, default=800, help="answerable questions to sample")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    settings = IndexSettings(docs_dir=args.docs, index_dir=args.index_dir, precision="fp32")
    embedder = Embedder.from_settings(settings)
    if not any(args.index_dir.glob("v-*")):
        from index.build import build_index

        build_index(settings, embedder=embedder, progress=True)
    index = SearchIndex.load(settings, verify=False)
    if index.sentence_vectors is None:
        raise SystemExit("the index has no sentence vectors (built with --no-embed-sentences)")
    with open(args.dataset, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    items = [d for d in items if d.get("answerable") and d.get("evidence") and d.get("docs")]
    pick = np.random.default_rng(args.seed).choice(len(items), min(args.sample, len(items)), replace=False)
    print(json.dumps(compare(index, embedder, [items[i] for i in pick])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
