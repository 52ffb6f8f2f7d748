"""The answer scorer's models against sklearn, its files against their manifest, and the
answer built from scored candidates on made-up passages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals.answerer_train import SMALL_TREES, TreeParams, export_trees, fit_model
from index.types import Passage
from rag.candidates import QUESTION_FEATURES, READER_FEATURES, SENTENCE_FEATURES, Candidate
from rag.extractive import ABSTAIN_TEXT, ExtractiveAnswerer
from rag.scorer import FORMAT, AnswerScorer, Model, ScorerError, save_scorer
from rag.types import Hit


def toy(n: int = 400, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return x, y


def test_exported_trees_predict_what_sklearn_predicts() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = toy()
    x[::17, 3] = np.nan  # missing values take the learned side
    clf = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(x, y)
    ours = Model(export_trees(clf)).proba(x)
    assert np.allclose(ours, clf.predict_proba(x)[:, 1], atol=1e-5)


def plain_walk(spec: dict, x: np.ndarray) -> np.ndarray:
    """Each tree walked node by node, as it was fitted (the reference for Model.raw)."""
    out = np.full(len(x), float(spec["baseline"]))
    for i, row in enumerate(x):
        for t in range(len(spec["feature"])):
            n = 0
            while not spec["leaf"][t][n]:
                v = row[spec["feature"][t][n]]
                left = spec["missing_left"][t][n] if np.isnan(v) else v <= spec["threshold"][t][n]
                n = spec["left"][t][n] if left else spec["right"][t][n]
            out[i] += spec["value"][t][n]
    return out


def test_the_bundled_trees_score_what_a_plain_walk_scores() -> None:
    from rag.scorer import BUNDLED

    spec = json.loads(BUNDLED.read_text())
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, len(SENTENCE_FEATURES))) * 2
    x[rng.random(x.shape) < 0.2] = np.nan  # the reader's features are missing where it did not read
    x[0, :] = np.nan
    x[1, :], x[2, :] = np.inf, -np.inf
    x[3, :] = 0.0
    for m in (spec["sentence_model"], spec["fast"]["sentence_model"]):
        np.testing.assert_allclose(Model(m).raw(x), plain_walk(m, x), rtol=0, atol=1e-9)
    q = x[:, :len(QUESTION_FEATURES)]
    np.testing.assert_allclose(Model(spec["answer_model"]).raw(q), plain_walk(spec["answer_model"], q),
                               rtol=0, atol=1e-9)


def test_logistic_spec_predicts_what_sklearn_predicts() -> None:
    x, y = toy(seed=1)
    spec = fit_model(x, y, "logistic", seed=0)
    p = Model(spec).proba(x)
    assert ((p > 0.5) == y).mean() > 0.8
    assert np.all((p > 0) & (p < 1))


def spec_for(sentence_weights: dict[str, float], answer_bias: float, threshold: float) -> dict:
    """A hand-made logistic scorer: probability rises with the named features."""
    coef = [sentence_weights.get(n, 0.0) for n in SENTENCE_FEATURES]
    qcoef = [1.0 if n == "p1" else 0.0 for n in QUESTION_FEATURES]
    ones = [1.0] * len(SENTENCE_FEATURES)
    return {"format": FORMAT, "sentence_features": SENTENCE_FEATURES, "question_features": QUESTION_FEATURES,
            "sentence_model": {"type": "logistic", "mean": [0.0] * len(ones), "scale": ones,
                               "coef": coef, "intercept": -2.0},
            "answer_model": {"type": "logistic", "mean": [0.0] * len(qcoef), "scale": [1.0] * len(qcoef),
                             "coef": qcoef, "intercept": answer_bias},
            "threshold": threshold, "policy": {"second_ratio": 1.01}}


def test_save_and_load_check_the_manifest(tmp_path: Path) -> None:
    path = tmp_path / "answerer.json"
    save_scorer(spec_for({"lex": 4.0}, 0.0, 0.5), {"data": {"documents": ["a.txt"]}}, path)
    scorer = AnswerScorer.load(path)
    assert scorer.threshold == 0.5 and scorer.manifest["data"]["documents"] == ["a.txt"]
    spec = json.loads(path.read_text())
    spec["threshold"] = 0.1
    path.write_text(json.dumps(spec))
    with pytest.raises(ScorerError, match="does not match its manifest"):
        AnswerScorer.load(path)
    with pytest.raises(ScorerError, match="No answer scorer"):
        AnswerScorer.load(tmp_path / "missing.json")


def test_other_features_need_retraining() -> None:
    spec = spec_for({}, 0.0, 0.5)
    spec["sentence_features"] = ["cos"]
    with pytest.raises(ScorerError, match="rag train-answerer"):
        AnswerScorer.from_spec(spec)


TEXT = ("The lighthouse was built in 1871 by the harbour board. It guided ships past the reef. "
        "Keepers lived there until 1965. The light now runs by itself.")


def candidates(lex: list[float]) -> tuple[list[Candidate], list[Hit]]:
    starts = [0, TEXT.index("It guided"), TEXT.index("Keepers"), TEXT.index("The light now")]
    ends = [TEXT.index(" It guided"), TEXT.index(" Keepers"), TEXT.index(" The light now"), len(TEXT)]
    p = Passage("p1", "light.txt", TEXT, 0, len(TEXT), "Lighthouse", "", tuple(zip(starts, ends, strict=True)))
    hit = Hit(p, 1.0, 1)
    col = SENTENCE_FEATURES.index("lex")
    out = []
    for (s, e), v in zip(zip(starts, ends, strict=True), lex, strict=True):
        f = np.zeros(len(SENTENCE_FEATURES), dtype=np.float32)
        f[col] = v
        out.append(Candidate(hit, s, e, TEXT[s:e], f))
    return out, [hit]


def test_the_answer_leads_with_the_likeliest_sentence_and_cites_it() -> None:
    scorer = AnswerScorer.from_spec(spec_for({"lex": 6.0}, 0.0, 0.3))
    cands, hits = candidates([0.1, 0.2, 0.9, 0.1])
    answer = ExtractiveAnswerer(scorer).answer("Until when did keepers live there?", cands, hits)
    assert not answer.abstained
    assert answer.text == "Keepers lived there until 1965. [1]"
    c = answer.citations[0]
    assert TEXT[c.sentence_start:c.sentence_end] == "Keepers lived there until 1965."
    assert answer.confidence is not None and answer.confidence >= 0.3


def test_low_answer_probability_abstains_with_the_hits_as_reading() -> None:
    scorer = AnswerScorer.from_spec(spec_for({"lex": 6.0}, -5.0, 0.5))
    cands, hits = candidates([0.1, 0.2, 0.3, 0.1])
    answer = ExtractiveAnswerer(scorer).answer("Who painted the light?", cands, hits)
    assert answer.abstained and answer.text == ABSTAIN_TEXT and answer.hits == tuple(hits)


def test_a_back_reference_brings_the_sentence_it_leans_on() -> None:
    scorer = AnswerScorer.from_spec(spec_for({"lex": 6.0}, 0.0, 0.1))
    cands, hits = candidates([0.2, 0.9, 0.1, 0.1])
    answer = ExtractiveAnswerer(scorer).answer("What guided ships past the reef?", cands, hits)
    assert answer.text.startswith("The lighthouse was built in 1871")
    assert "It guided ships past the reef." in answer.text
    assert len(answer.citations) == 2


def test_a_close_second_sentence_joins_only_under_the_ratio() -> None:
    cands, hits = candidates([0.1, 0.2, 0.9, 0.85])
    spec = spec_for({"lex": 6.0}, 0.0, 0.1)
    one = ExtractiveAnswerer(AnswerScorer.from_spec(spec)).answer("Keepers?", cands, hits)
    assert len(one.citations) == 1
    spec["policy"]["second_ratio"] = 0.8
    two = ExtractiveAnswerer(AnswerScorer.from_spec(spec)).answer("Keepers?", cands, hits)
    assert len(two.citations) == 2 and two.text.index("Keepers") < two.text.index("The light now")


def test_a_follow_up_does_not_repeat_what_was_already_said() -> None:
    scorer = AnswerScorer.from_spec(spec_for({"lex": 6.0}, 0.0, 0.3))
    cands, hits = candidates([0.1, 0.2, 0.9, 0.7])
    said = SENTENCE_FEATURES.index("said")
    cands[2].features[said] = 1.0  # "Keepers lived there until 1965." was the last answer
    answer = ExtractiveAnswerer(scorer).answer("And now?", cands, hits)
    assert answer.text.startswith("The light now runs by itself.")
    # but when nothing new is likely enough, the said sentence stands
    cands, hits = candidates([0.0, 0.1, 0.9, 0.1])
    cands[2].features[said] = 1.0
    answer = ExtractiveAnswerer(scorer).answer("And now?", cands, hits)
    assert answer.text.startswith("Keepers lived there until 1965.")


def test_too_few_questions_to_train_on_is_a_clear_error() -> None:
    from evals.answerer_train import Example, TrainConfig, fit_answerer

    cands, _ = candidates([0.1, 0.2, 0.9, 0.1])
    data = [Example({"answerable": i % 2 == 0}, f"doc{i % 2}", cands, np.array([0, 0, 1, 0]))
            for i in range(20)]
    with pytest.raises(ScorerError, match="Too few questions.*20"):
        fit_answerer(data, TrainConfig())


def test_the_reader_reads_the_top_candidates_by_cosine_and_word_ranks() -> None:
    from rag.candidates import before_text, question_features, reader_key, reader_pick, set_reader

    cands, _ = candidates([0.9, 0.0, 0.5, 0.1])
    cos = SENTENCE_FEATURES.index("cos")
    for c, v in zip(cands, [0.1, 0.8, 0.6, 0.2], strict=True):
        c.features[cos] = v
    for c in cands:  # unread, as CandidateBuilder.build leaves them
        c.features[[SENTENCE_FEATURES.index(name) for name in READER_FEATURES]] = np.nan
    key = reader_key(np.stack([c.features for c in cands]))
    # ranks by cosine (1, 2, 3, 0 best first) and by words (0, 2, 3, 1): sentence 2 is best overall
    picked = reader_pick(key, 2)
    assert picked[0] == 2 and len(picked) == 2
    set_reader(cands, picked, np.array([1.5, -0.5]))
    col, gap = SENTENCE_FEATURES.index("reader"), SENTENCE_FEATURES.index("reader_to_max")
    assert cands[2].features[col] == 1.5 and cands[2].features[gap] == 0.0
    assert cands[int(picked[1])].features[gap] == -2.0
    assert sum(np.isfinite(c.features[col]) for c in cands) == 2
    q = dict(zip(QUESTION_FEATURES, question_features(cands, np.array([0.1, 0.2, 0.9, 0.3])), strict=True))
    assert q["reader_max"] == 1.5 and q["reader_gap"] == 2.0
    # a softmax over the two read and "none" at logit 0: the three log-probabilities sum to 1
    logp = SENTENCE_FEATURES.index("reader_logp")
    read_logp = [cands[int(i)].features[logp] for i in picked]
    assert np.exp(read_logp).sum() + np.exp(q["reader_none"]) == pytest.approx(1.0, abs=1e-6)
    assert read_logp[0] > q["reader_none"] > read_logp[1]
    # the scorer's best (sentence 2, probability 0.9) is the reader's best
    assert q["reader_best_logp"] == pytest.approx(read_logp[0], abs=1e-6)
    unread = next(i for i in range(len(cands)) if i not in picked)
    best_unread = question_features(cands, np.where(np.arange(len(cands)) == unread, 0.95, 0.1))
    assert dict(zip(QUESTION_FEATURES, best_unread, strict=True))["reader_best_logp"] == -10.0
    assert before_text(cands[0]) == "" and before_text(cands[2]) == cands[1].text


def test_a_scorer_with_a_reader_needs_its_folder(tmp_path: Path) -> None:
    spec = {**spec_for({"lex": 6.0}, 0.0, 0.3), "reader": {"file": "reader.safetensors", "top": 8}}
    with pytest.raises(ScorerError, match="folder"):
        AnswerScorer.from_spec(spec)
    scorer = AnswerScorer.from_spec(spec, folder=tmp_path)
    assert scorer.reader_file == tmp_path / "reader.safetensors" and scorer.reader_top == 8
    # the precision its logits were held out in; older scorers (none named) were PyTorch fp32
    assert scorer.reader_precision == "fp32"
    int8 = {**spec, "reader": {**spec["reader"], "precision": "int8"}}
    assert AnswerScorer.from_spec(int8, folder=tmp_path).reader_precision == "int8"
    assert AnswerScorer.from_spec(spec_for({"lex": 6.0}, 0.0, 0.3)).reader_file is None


@pytest.mark.parametrize("kind", ["trees", "logistic"])
def test_missing_features_train_and_predict(kind: str) -> None:
    """The reader's features are missing for sentences it did not read, and everywhere when
    training without a reader: both model families fit and predict through that."""
    x, y = toy()
    x[:, 3] = np.nan
    x[:100, 4] = np.nan
    m = Model(fit_model(x, y, kind, 0))
    p = m.proba(x)
    assert not np.isnan(p).any() and ((p > 0.5) == y).mean() > 0.8


def test_tree_settings_reach_the_exported_model() -> None:
    """TrainConfig's tree settings (evals.scorer_sweep compares them): the exported model has
    as many trees as asked, no deeper than asked; the defaults are the sentence model's 300 and
    the answer model's 150."""
    x, y = toy()
    few = fit_model(x, y, "trees", 0, params=TreeParams(trees=7, depth=2, leaves=3, min_leaf=5))
    assert len(few["feature"]) == 7 and few["depth"] <= 3  # depth 2 below the root
    assert ((Model(few).proba(x) > 0.5) == y).mean() > 0.8
    assert len(fit_model(x, y, "trees", 0)["feature"]) == TreeParams().trees == 300
    assert len(fit_model(x, y, "trees", 0, small=True)["feature"]) == SMALL_TREES.trees == 150


def test_a_fast_stage_is_sure_only_from_its_bound() -> None:
    spec = spec_for({"lex": -6.0}, 0.0, 0.3)  # the full stage would never be sure
    fast = spec_for({"lex": 6.0}, 0.0, 0.3)
    spec["reader"] = {"file": "reader.safetensors", "top": 8, "sha256": ""}
    spec["fast"] = {k: fast[k] for k in ("sentence_model", "answer_model", "threshold", "policy")}
    spec["fast"]["min_p1"] = 0.9
    scorer = AnswerScorer.from_spec(spec, folder=Path("."))
    assert scorer.fast is not None and scorer.fast_min_p1 == 0.9
    low, _ = candidates([0.1, 0.2, 0.4, 0.1])   # best sigmoid(6 * 0.4 - 2) = 0.60
    high, _ = candidates([0.1, 0.2, 0.9, 0.1])  # best sigmoid(6 * 0.9 - 2) = 0.97
    assert not scorer.sure_without_reader(np.stack([c.features for c in low]))
    assert scorer.sure_without_reader(np.stack([c.features for c in high]))
    without = AnswerScorer.from_spec(spec_for({"lex": 6.0}, 0.0, 0.3))
    assert without.fast is None and not without.sure_without_reader(np.stack([c.features for c in high]))
    del spec["fast"]["min_p1"]
    with pytest.raises(ScorerError, match="incomplete"):
        AnswerScorer.from_spec(spec, folder=Path("."))


def test_a_fast_stage_without_a_reader_is_refused() -> None:
    spec = spec_for({}, 0.0, 0.5)
    spec["fast"] = {**{k: spec[k] for k in ("sentence_model", "answer_model", "threshold", "policy")},
                    "min_p1": 0.5}
    with pytest.raises(ScorerError, match="fast stage"):
        AnswerScorer.from_spec(spec)


def test_the_last_answer_is_placed_among_the_candidates() -> None:
    from rag.candidates import last_answer_place

    rows = [("a.txt", 0, "The cat slept in the barn."), ("a.txt", 150, "It was white."),
            ("b.txt", 0, "Another barn stood there."), ("a.txt", 400, "Then it ran off.")]
    here, dist = last_answer_place(rows, "in the barn")  # a short answer inside a sentence
    assert here.tolist() == [1, 0, 0, 0]
    assert dist[0] == 0 and dist[1] == 1.5 and np.isnan(dist[2]) and dist[3] == 4.0
    here, dist = last_answer_place(rows, "The cat slept in the barn. It was white. [1]")
    assert here.tolist() == [1, 1, 0, 0] and dist[3] == 2.5  # the assistant's own sentences
    here, dist = last_answer_place(rows, "")
    assert not here.any() and np.isnan(dist).all()


@pytest.mark.parametrize(("question", "lex", "policy"), [
    ("What guided ships past the reef?", [0.2, 0.9, 0.1, 0.1], {"second_ratio": 1.01}),
    ("Why did keepers live there?", [0.1, 0.2, 0.9, 0.3], {"second_ratio": 1.01}),
    ("Keepers?", [0.1, 0.2, 0.9, 0.85], {"second_ratio": 0.8}),
    ("What guided ships past the reef?", [0.2, 0.9, 0.1, 0.1], {"second_ratio": 1.01, "lean": False}),
    ("Why did keepers live there?", [0.1, 0.2, 0.9, 0.3], {"second_ratio": 1.01, "explain": False}),
    ("Keepers?", [0.1, 0.2, 0.9, 0.85], {"per_word": 0.001, "lean": False}),
    ("Keepers?", [0.1, 0.2, 0.9, 0.85], {"per_word": 0.5, "lean": False}),
])
def test_training_simulates_the_answer_users_get(question: str, lex: list[float], policy: dict) -> None:
    """The held-out figures of rag train-answerer come from answer_words; they describe the
    served answer only if both build the same sentences (back-reference, why/how, second)."""
    from evals.answerer_train import Example, answer_words
    from rag.extractive import Shape
    from rag.text import without_markers

    spec = spec_for({"lex": 6.0}, 0.0, 0.1)
    spec["policy"] = policy
    scorer = AnswerScorer.from_spec(spec)
    cands, hits = candidates(lex)
    served = ExtractiveAnswerer(scorer).answer(question, cands, hits)
    probs = np.array([c.prob for c in cands])
    example = Example({"question": question, "answerable": True, "answers": ["x"]}, "d", cands,
                      np.zeros(len(cands), dtype=bool), question, question)
    text, n = answer_words(example, probs, scorer.threshold, policy, Shape())
    assert sorted(text.split()) == sorted(without_markers(served.text).split())
    assert n == len(without_markers(served.text).split())


def test_context_off_answers_with_the_best_sentence_alone() -> None:
    spec = spec_for({"lex": 6.0}, 0.0, 0.1)
    spec["policy"] = {"second_ratio": 1.01, "lean": False}
    cands, hits = candidates([0.2, 0.9, 0.1, 0.1])
    answer = ExtractiveAnswerer(AnswerScorer.from_spec(spec)).answer("What guided ships past the reef?",
                                                                     cands, hits)
    assert answer.text == "It guided ships past the reef. [1]"


def test_fp32_logits_are_served_in_bf16_only_where_the_cpu_has_amx() -> None:
    from rag.reader import serving_precision

    assert serving_precision("fp32", {"avx512f", "amx_bf16", "amx_tile"}) == "bf16"
    # AVX-512 BF16 without AMX tiles measured no faster than fp32
    assert serving_precision("fp32", {"avx512f", "avx512_bf16"}) == "fp32"
    assert serving_precision("fp32", set()) == "fp32"
    # a scorer trained on int8 logits keeps them
    assert serving_precision("int8", {"amx_bf16"}) == "int8"


def test_bf16_batches_have_a_fixed_shape() -> None:
    from rag.reader import fixed_shape

    batch = {"input_ids": np.array([[101, 7, 102], [101, 8, 0]]),
             "attention_mask": np.array([[1, 1, 1], [1, 1, 0]]),
             "token_type_ids": np.zeros((2, 3), dtype=np.int64)}
    out = fixed_shape(batch, 64, 8)
    assert {k: v.shape for k, v in out.items()} == {k: (8, 64) for k in batch}
    assert (out["input_ids"][:2, :3] == batch["input_ids"]).all() and not out["input_ids"][2:].any()
    assert (out["attention_mask"][2:].sum(axis=1) == 1).all()  # padded rows: never all masked
    assert fixed_shape(batch, 64, 8)["input_ids"].dtype == batch["input_ids"].dtype
    assert fixed_shape({k: np.tile(v, (5, 1)) for k, v in batch.items()}, 2, 8)["input_ids"].shape == (16, 3)


def test_more_sentences_join_while_their_likely_gain_is_worth_their_words() -> None:
    from rag.extractive import Shape, by_gain_per_word

    def cand(prob: float, words: int) -> Candidate:
        return Candidate(None, 0, 0, " ".join(["w"] * words), np.zeros(1), prob)  # type: ignore[arg-type]

    best, close, long, short = cand(0.5, 10), cand(0.4, 10), cand(0.4, 40), cand(0.3, 5)
    # 0.4 x (1 - 0.5) = 0.2 for 10 words: 0.02 a word
    assert by_gain_per_word([best], [best, close], 0.01) == [close]
    assert by_gain_per_word([best], [best, close], 0.03) == []
    # the same chance in 40 words is not worth it; a less likely short sentence is
    assert by_gain_per_word([best], [best, long, short], 0.01) == [short]
    # after a sure best sentence a close second adds little (the ratio rule would add it)
    sure, second = cand(0.97, 10), cand(0.9, 10)
    assert by_gain_per_word([sure], [sure, second], 0.005) == []
    # the answer's limits hold: sentences, and words (a sentence too long to fit is passed
    # over, and the next one that fits still counts as the second)
    assert by_gain_per_word([best], [best, close, short], 0.0001, Shape(max_sentences=2)) == [close]
    lead, too_long, fits = cand(0.6, 30), cand(0.5, 55), cand(0.05, 8)
    assert by_gain_per_word([lead], [lead, too_long, fits], 0.002, Shape(80, 3)) == [fits]


def test_trees_with_a_split_without_a_threshold_are_refused() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = toy()
    spec = export_trees(HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(x, y))
    inner = next((t, n) for t, row in enumerate(spec["leaf"]) for n, leaf in enumerate(row) if not leaf)
    spec["threshold"][inner[0]][inner[1]] = float("nan")
    with pytest.raises(ScorerError, match="without a threshold"):
        Model(spec)
