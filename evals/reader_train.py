"""Fine-tuning the reader (rag.reader) on labelled candidate sentences.

Each question contributes its right sentences (label 1) and the wrong ones the cheap features
rank highest among the reader's ``top`` (label 0); an unanswerable question contributes only
wrong ones, which is what teaches the reader that a sentence on the right topic may still not
answer. Pointwise binary cross-entropy (or a softmax over each question's pairs and a "none"
option: ReaderConfig.loss), AdamW with linear warm-up and decay,
batches of similar length (padding costs most on CPU), fixed seeds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.candidates import reader_pick
from rag.reader import build_net, clip_question, measuring_tokenizer, pair_text


@dataclass(frozen=True)
class ReaderConfig:
    top: int = 8             # candidates the reader scores per question
    negatives: int = 3       # wrong sentences per question in training, from those top
    epochs: float = 1.0
    batch: int = 32
    lr: float = 5e-5
    head_lr: float = 1e-3
    max_length: int = 64     # tokens of question + sentence + the sentence before
    layers: int | None = None  # the base model's first N transformer layers (None: all six)
    seed: int = 0
    # share of answerable training questions that also give a near-miss copy (evals.perturb):
    # the question with a name or number swapped, or negated, paired with the sentences that
    # answered it as wrong pairs (None: none)
    perturb: float | None = None
    # held-out picks are scored the way answering scores them (rag.reader.Reader: the float16
    # weights on ONNX Runtime, one batch per question), in this precision, so the scorer
    # learns from the logits it will be given
    precision: str = "fp32"
    # "listwise": each question's pairs are one softmax with a "none of these" option of logit
    # 0 (a question with no right sentence, or a near-miss copy, should pick it); "both": that
    # plus the pointwise loss; None: pointwise binary cross-entropy, pair by pair
    loss: str | None = None
    # the training passes' arithmetic: None (fp32) or "bf16" (autocast; the weights and the
    # optimiser stay fp32). Left out of the cache key when None, so fp32 keys stay as they were
    train_precision: str | None = None
    # readers trained from the same start on other orders of the same pairs (and other
    # dropout), their weights averaged into one ("model soup"; None: one reader)
    soup: int | None = None
    # weight of an auxiliary loss (None: none): a head over the token states, used only in
    # training, points at where the gold answer starts and ends in a right sentence, and at
    # [CLS] for a wrong one (SQuAD 2.0's span objective), so the body learns where an answer
    # lies and not only that the sentence is on topic. Answering is unchanged
    span: float | None = None


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    before: str
    label: int
    answer: str = ""  # a right sentence's gold answer as written in it (span loss); "" unknown


def locate(sentence: str, answers: Sequence[str]) -> str:
    """The first gold answer found in ``sentence`` (ignoring case), as the sentence writes it;
    "" when none is there verbatim."""
    low = sentence.strip().lower()
    for a in answers:
        a = a.strip()
        at = low.find(a.lower()) if a else -1
        if at >= 0:
            return sentence.strip()[at:at + len(a)]
    return ""


def pairs_for(question: str, texts: Sequence[tuple[str, str]], labels: np.ndarray,
              picked: np.ndarray, negatives: int, rng: random.Random,
              answers: Sequence[str] = ()) -> list[Pair]:
    """All right sentences among the candidates (with the gold answer each holds, of
    ``answers``), and ``negatives`` wrong ones among the picked (the highest-ranked first, one
    drawn at random from the rest of them)."""
    out = [Pair(question, *texts[i], 1, locate(texts[i][0], answers)) for i in np.flatnonzero(labels)]
    wrong = [int(i) for i in picked if not labels[i]]
    chosen = wrong[: max(0, negatives - 1)]
    rest = wrong[len(chosen):]
    if rest:
        chosen.append(rng.choice(rest))
    out += [Pair(question, *texts[i], 0) for i in chosen]
    return out


def span_targets(enc: Any, pairs: Sequence[Pair]) -> tuple[list[int], list[int]]:
    """Token positions of each pair's answer in its tokenised pair (``enc``: a fast
    tokenizer's batch encoding with offsets): the first and last word pieces of the answer in a
    right sentence; 0 ([CLS]) for a wrong one; -100 (ignored) where a right sentence's answer
    is unknown or cut off by the window."""
    starts: list[int] = []
    ends: list[int] = []
    for i, p in enumerate(pairs):
        if not p.label:
            starts.append(0)
            ends.append(0)
            continue
        at = pair_text(p.sentence, p.before).find(p.answer) if p.answer else -1
        seq = enc.sequence_ids(i)
        spans = [(k, o) for k, (o, sid) in enumerate(zip(enc["offset_mapping"][i], seq, strict=True))
                 if sid == 1]
        first = next((k for k, (_, e) in spans if e > at), None) if at >= 0 else None
        last = max((k for k, (b, _) in spans if b < at + len(p.answer)), default=None)
        if first is None or last is None or last < first or spans[-1][1][1] < at + len(p.answer):
            starts.append(-100)
            ends.append(-100)
        else:
            starts.append(first)
            ends.append(last)
    return starts, ends


def span_loss(states: Any, head: Any, types: Any, mask: Any, starts: Any, ends: Any) -> Any:
    """Cross-entropy of the answer's first and last word pieces over [CLS] and the second
    segment's tokens, averaged over pairs with a known target (0 when none has one)."""
    import torch

    if not bool((starts >= 0).any()):
        return states.new_zeros(())
    allowed = (types == 1) & (mask == 1)
    allowed[:, 0] = True
    logits = head(states).float().masked_fill(~allowed.unsqueeze(-1), -1e4)
    ce = torch.nn.functional.cross_entropy
    return (ce(logits[..., 0], starts, ignore_index=-100) + ce(logits[..., 1], ends, ignore_index=-100)) / 2


def _batches(lengths: list[int], batch: int, rng: random.Random) -> list[list[int]]:
    """Shuffled, then sorted by length inside chunks of 50 batches, then batch order shuffled."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    out = []
    chunk = batch * 50
    for s in range(0, len(idx), chunk):
        part = sorted(idx[s:s + chunk], key=lambda i: lengths[i])
        out += [part[j:j + batch] for j in range(0, len(part), batch)]
    rng.shuffle(out)
    return out


def question_groups(pairs: Sequence[Pair]) -> list[list[int]]:
    """Runs of consecutive pairs with the same question (ReaderData.pairs keeps each
    question's pairs together)."""
    out: list[list[int]] = []
    for i, p in enumerate(pairs):
        if out and pairs[out[-1][0]].question == p.question:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def listwise_loss(logits: Any, labels: Any, groups: Sequence[Sequence[int]]) -> Any:
    """Mean over questions of -log P(a right sentence) in a softmax over the question's pairs
    and a "none" option of logit 0; a question without a right pair is right to pick "none".
    ``groups`` index into ``logits`` (a 1-D tensor); one pair alone is binary cross-entropy."""
    import torch

    total = logits.new_zeros(())
    for g in groups:
        z = logits[list(g)]
        every = torch.logsumexp(torch.cat([z, z.new_zeros(1)]), 0)
        right = z[labels[list(g)] > 0.5]
        total = total + every - (torch.logsumexp(right, 0) if len(right) else 0.0)
    return total / max(1, len(groups))


def _plan(pairs: list[Pair], lengths: list[int], cfg: ReaderConfig,
          rng: random.Random) -> list[list[int]]:
    """Batches of pair indices for ``cfg.epochs`` passes: pointwise, about ``cfg.batch`` pairs
    of similar length; listwise, whole questions, about as many pairs in all."""
    if cfg.loss in ("listwise", "both"):
        groups = question_groups(pairs)
        per = max(1, round(cfg.batch * len(groups) / len(pairs)))
        glen = [max(lengths[i] for i in g) for g in groups]

        def draw() -> list[list[int]]:
            return [[i for gi in b for i in groups[gi]] for b in _batches(glen, per, rng)]
    else:
        def draw() -> list[list[int]]:
            return _batches(lengths, cfg.batch, rng)
    plan: list[list[int]] = []
    whole = int(cfg.epochs)
    for _ in range(max(1, whole)):
        plan += draw()
    if cfg.epochs != whole:
        extra = draw()
        plan = (plan if whole else []) + extra[: int(len(extra) * (cfg.epochs - whole))]
    return plan


def train_reader(pairs: list[Pair], base_path: str, cfg: ReaderConfig,
                 log: Callable[[str], None] = print) -> Any:
    """The fine-tuned network (rag.reader.build_net), in eval mode."""
    import torch
    from transformers import AutoTokenizer

    if not pairs or len({p.label for p in pairs}) < 2:
        raise ValueError("the reader needs both right and wrong sentences to learn from")
    if cfg.train_precision not in (None, "bf16"):
        raise ValueError(f"unknown reader training precision {cfg.train_precision!r}")
    if cfg.loss not in (None, "pointwise", "listwise", "both"):
        raise ValueError(f"unknown reader loss {cfg.loss!r}")
    if cfg.soup is not None and cfg.soup < 1:
        raise ValueError("a reader soup needs at least one reader")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    tok = AutoTokenizer.from_pretrained(base_path)
    measure = measuring_tokenizer(base_path)
    # the question clipped as the Reader clips it when answering
    clipped = {q: clip_question(measure, q, cfg.max_length) for q in {p.question for p in pairs}}
    if cfg.span is not None and cfg.span <= 0:
        raise ValueError("the answer-span loss needs a positive weight")
    enc = tok([clipped[p.question] for p in pairs], [pair_text(p.sentence, p.before) for p in pairs],
              truncation="only_second", max_length=cfg.max_length,
              return_offsets_mapping=cfg.span is not None)
    ids = enc["input_ids"]
    types = enc["token_type_ids"]
    labels = torch.tensor([p.label for p in pairs], dtype=torch.float32)
    spans = None
    if cfg.span is not None:
        starts, ends = span_targets(enc, pairs)
        spans = (torch.tensor(starts), torch.tensor(ends))
        known = sum(s >= 0 for s, p in zip(starts, pairs, strict=True) if p.label)
        log(f"  answer spans: {known} of {int(labels.sum())} right sentences")
    net = build_net(base_path, layers=cfg.layers)
    net.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    # a prior that matches the share of right sentences, so early steps do not swing the body
    pos = float(labels.mean())
    with torch.no_grad():
        net.head.bias.fill_(float(np.log(pos / (1 - pos))))
    members = cfg.soup or 1
    start = {k: v.detach().clone() for k, v in net.state_dict().items()} if members > 1 else {}
    summed: dict[str, Any] = {}
    for k in range(members):
        if k:
            net.load_state_dict(start)
            torch.manual_seed(cfg.seed + k)  # other dropout; the order comes from rng, drawn on
            log(f"  reader {k + 1} of a soup of {members}")
        _fit(net, ids, types, labels, pairs, _plan(pairs, [len(x) for x in ids], cfg, rng), cfg, log,
             spans)
        if members > 1:
            for name, v in net.state_dict().items():
                if v.is_floating_point():
                    summed[name] = summed[name] + v.detach() if name in summed else v.detach().clone()
    if members > 1:
        net.load_state_dict({**net.state_dict(), **{n: v / members for n, v in summed.items()}})
    return net.eval()


def _fit(net: Any, ids: list[list[int]], types: list[list[int]], labels: Any, pairs: list[Pair],
         plan: list[list[int]], cfg: ReaderConfig, log: Callable[[str], None],
         spans: tuple[Any, Any] | None = None) -> None:
    """One training run of ``net`` over the batches of ``plan``, in place; with ``spans``
    (each pair's answer start and end, span_targets), a span head of its own learns them
    beside it (span_loss, weighted by ``cfg.span``), and is dropped after."""
    import torch

    body = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("head.")]
    span_head = torch.nn.Linear(net.bert.config.hidden_size, 2) if spans is not None else None
    heads = [*net.head.parameters(), *(span_head.parameters() if span_head is not None else [])]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr},
                             {"params": heads, "lr": cfg.head_lr}], weight_decay=0.01)
    steps = len(plan)
    warm = max(1, steps // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    net.train()
    started = time.perf_counter()
    running = 0.0
    for step, b in enumerate(plan):
        width = max(len(ids[i]) for i in b)
        x = torch.zeros((len(b), width), dtype=torch.long)
        t = torch.zeros_like(x)
        m = torch.zeros_like(x)
        for r, i in enumerate(b):
            n = len(ids[i])
            x[r, :n] = torch.tensor(ids[i])
            t[r, :n] = torch.tensor(types[i])
            m[r, :n] = 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.train_precision == "bf16"):
            states = net.states(x, m, t)
            out = net.readout(states, m)
            extra = (span_loss(states, span_head, t, m, spans[0][b], spans[1][b])
                     if span_head is not None and spans is not None else None)
        out = out.float()
        loss = out.new_zeros(()) if extra is None else cfg.span * extra.float()
        if cfg.loss in ("listwise", "both"):
            loss = loss + listwise_loss(out, labels[b], question_groups([pairs[i] for i in b]))
        if cfg.loss != "listwise":
            loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(out, labels[b])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step else value
        if (step + 1) % 50 == 0 or step + 1 == steps:
            spent = time.perf_counter() - started
            log(f"  reader step {step + 1}/{steps}, loss {running:.3f}, {spent:.0f} s, "
                f"about {spent / (step + 1) * (steps - step - 1):.0f} s left")


def score_net(net: Any, base_path: str, questions: list[str], pairs: list[list[tuple[str, str]]],
              max_length: int, batch: int = 64) -> list[np.ndarray]:
    """Logits of each question's (sentence, before) pairs with a network in memory."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_path)
    measure = measuring_tokenizer(base_path)
    clipped = [clip_question(measure, q, max_length) for q in questions]
    flat = [(qi, q, s, b) for qi, (q, ps) in enumerate(zip(clipped, pairs, strict=True)) for s, b in ps]
    order = sorted(range(len(flat)), key=lambda i: len(flat[i][1]) + len(flat[i][2]) + len(flat[i][3]))
    logits = np.zeros(len(flat), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, len(order), batch):
            part = order[s:s + batch]
            enc = tok([flat[i][1] for i in part], [pair_text(flat[i][2], flat[i][3]) for i in part],
                      truncation="only_second", max_length=max_length, padding=True,
                      return_tensors="pt")
            logits[part] = net(enc["input_ids"], enc["attention_mask"],
                               enc["token_type_ids"]).numpy()
    out: list[np.ndarray] = [np.zeros(0, dtype=np.float32) for _ in questions]
    start = 0
    for qi, ps in enumerate(pairs):
        out[qi] = logits[start:start + len(ps)]
        start += len(ps)
    return out


def score_serving(net: Any, base_path: str, cfg: ReaderConfig, questions: list[str],
                  pairs: list[list[tuple[str, str]]], log: Callable[[str], None] = print) -> list[np.ndarray]:
    """Logits of each question's (sentence, before) pairs as answering computes them: the
    network saved as a reader would be (rag.reader.save_reader) in a temporary folder, loaded
    by rag.reader.Reader in ``cfg.precision`` and run one question at a time."""
    import os
    import tempfile
    from pathlib import Path

    from index.embed import model_fingerprint
    from rag.reader import Reader, save_reader

    with tempfile.TemporaryDirectory(prefix="reader-fold-") as tmp:
        path = Path(tmp) / "reader.safetensors"
        save_reader(net, {"base_model": model_fingerprint(base_path), "max_length": cfg.max_length,
                          "top": cfg.top, "settings": cfg.__dict__}, path)
        reader = Reader(path, base_path, Path(tmp) / "cache", threads=os.cpu_count() or 1,
                        precision=cfg.precision)
        out = []
        for n, (q, ps) in enumerate(zip(questions, pairs, strict=True)):
            out.append(reader.score(q, ps))
            if (n + 1) % 1000 == 0:
                log(f"  scored {n + 1}/{len(questions)} questions ({reader.backend}, {cfg.precision})")
        return out


@dataclass(frozen=True)
class ReaderData:
    """What the reader sees of each question: the question as resolved, its candidates'
    (sentence, sentence before) texts, their labels, and the document group (for folds)."""

    queries: list[str]
    texts: list[list[tuple[str, str]]]
    labels: list[np.ndarray]
    keys: list[np.ndarray]
    groups: list[str]
    # the question part of each query (without the conversation's last exchange beside it),
    # where near-miss copies edit it; empty: the whole query
    asked: list[str] = field(default_factory=list)
    # each question's gold answers (for the answer-span loss); empty: none known
    answers: list[list[str]] = field(default_factory=list)

    def picks(self, top: int) -> list[np.ndarray]:
        return [reader_pick(k, top) for k in self.keys]

    def pairs(self, idx: Sequence[int], cfg: ReaderConfig, seed: int) -> list[Pair]:
        rng = random.Random(seed)
        picks = self.picks(cfg.top)
        out: list[Pair] = []
        for i in idx:
            out += pairs_for(self.queries[i], self.texts[i], self.labels[i], picks[i], cfg.negatives, rng,
                             self.answers[i] if i < len(self.answers) else ())
        if cfg.perturb:
            out += self.near_misses(idx, cfg.perturb, seed)
        return out

    def near_misses(self, idx: Sequence[int], share: float, seed: int) -> list[Pair]:
        """Wrong pairs from near-miss copies of a ``share`` of the answerable questions: the
        copy (evals.perturb) with each sentence that answered the original. Drawn from their
        own generator, so the other pairs are the same with and without them."""
        from evals.perturb import perturb

        rng = random.Random(seed + 1_000_003)
        out: list[Pair] = []
        for i in idx:
            labels = self.labels[i]
            if not labels.any() or rng.random() >= share:
                continue
            query = self.queries[i]
            asked = self.asked[i] if i < len(self.asked) and query.startswith(self.asked[i]) else query
            right = [self.texts[i][j] for j in np.flatnonzero(labels)]
            support = " ".join(f"{before} {text}" for text, before in right)
            changed = perturb(asked, support, [t for t, _ in self.texts[i]], rng)
            if changed is None:
                continue
            out += [Pair(changed + query[len(asked):], text, before, 0) for text, before in right]
        return out

    def digest(self, cfg: ReaderConfig, folds: np.ndarray) -> str:
        import hashlib
        import json

        # settings left at None are left out, so a new optional setting keeps earlier keys
        settings = {k: v for k, v in cfg.__dict__.items() if v is not None}
        h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
        for q, t, lab, k, f in zip(self.queries, self.texts, self.labels, self.keys, folds, strict=True):
            h.update(json.dumps([q, t, lab.tolist(), np.round(k, 5).tolist(), int(f)]).encode())
        return h.hexdigest()


def reader_oof(rd: ReaderData, base_path: str, cfg: ReaderConfig, folds: np.ndarray,
               cache: Any = None, log: Callable[[str], None] = print) -> list[np.ndarray]:
    """Out-of-fold reader logits of every question's candidates (NaN where not scored): for
    each fold, a reader trained on the other folds' documents scores this fold's picks. Kept
    in ``cache`` (a folder) under a hash of the data, settings and folds, so a rerun on the
    same data reuses them."""
    from pathlib import Path

    key = rd.digest(cfg, folds)
    file = Path(cache) / f"reader-oof-{key[:16]}.npz" if cache is not None else None
    if file is not None and file.is_file():
        saved = np.load(file, allow_pickle=False)
        log(f"reader: out-of-fold scores from {file}")
        return [saved[str(i)] for i in range(len(rd.queries))]
    picks = rd.picks(cfg.top)
    out = [np.full(len(t), np.nan, dtype=np.float32) for t in rd.texts]
    for f in range(int(folds.max()) + 1):
        train = np.flatnonzero(folds != f)
        pairs = rd.pairs(train, cfg, cfg.seed + f)
        log(f"reader fold {f + 1}/{int(folds.max()) + 1}: {len(pairs)} pairs "
            f"({sum(p.label for p in pairs)} right) from {len(train)} questions")
        net = train_reader(pairs, base_path, cfg, log)
        test = np.flatnonzero(folds == f)
        started = time.perf_counter()
        scores = score_serving(net, base_path, cfg, [rd.queries[i] for i in test],
                               [[rd.texts[i][j] for j in picks[i]] for i in test], log)
        for i, s in zip(test, scores, strict=True):
            out[i][picks[i]] = s
        log(f"reader fold {f + 1}: scored {len(test)} questions in {time.perf_counter() - started:.0f} s")
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.tmp.npz")
        np.savez(tmp, **{str(i): v for i, v in enumerate(out)})
        tmp.replace(file)
    return out


def reader_data(data: Sequence[Any]) -> ReaderData:
    """ReaderData of collected examples (evals.answerer_train.Example)."""
    from rag.candidates import before_text, reader_key

    return ReaderData([e.query for e in data],
                      [[(c.text, before_text(c)) for c in e.cands] for e in data],
                      [e.labels for e in data],
                      [reader_key(np.stack([c.features for c in e.cands])) if e.cands else np.zeros(0)
                       for e in data],
                      [e.group for e in data],
                      [e.asked for e in data],
                      [list(e.item.get("answers") or []) for e in data])


def reader_quality(rd: ReaderData, logits: list[np.ndarray], top: int) -> dict[str, float]:
    """How well the out-of-fold logits alone pick a right sentence (answerable questions whose
    picks hold one) and rank right above wrong (AUC over all read sentences)."""
    picks = rd.picks(top)
    hit = n = 0
    right, wrong = [], []
    for lab, lg, pk in zip(rd.labels, logits, picks, strict=True):
        if not len(pk):
            continue
        v = lg[pk]
        right += v[lab[pk]].tolist()
        wrong += v[~lab[pk]].tolist()
        if lab[pk].any():
            n += 1
            hit += bool(lab[pk][int(np.argmax(v))])
    r, w = np.asarray(right), np.sort(np.asarray(wrong))
    auc = float(np.searchsorted(w, r, side="left").sum() / (len(r) * len(w))) if len(r) and len(w) else 0.0
    return {"top1_of_read": hit / n if n else 0.0, "auc": auc, "read_per_question": float(top)}
