"""Quality floor on the dev set (real model and index): a regression gate on quality."""

from __future__ import annotations

from evals.metrics import contains_answer, covers


def test_dev_set_quality_floor(assistant, dev_items) -> None:  # noqa: ANN001
    answerable = [d for d in dev_items if d["answerable"]]
    unanswerable = [d for d in dev_items if not d["answerable"]]
    correct = hit5 = false_abstain = 0
    for item in answerable:
        answer = assistant.answer(item["question"], item["history"])
        correct += contains_answer(answer.text, item["answers"]) and not answer.abstained
        hit5 += any(covers(h.passage.text, item["evidence"]) for h in answer.hits[:5])
        false_abstain += answer.abstained
    abstained = sum(assistant.answer(d["question"], d["history"]).abstained for d in unanswerable)
    n = len(answerable)
    assert correct / n >= 0.80, correct / n
    assert hit5 / n >= 0.95, hit5 / n
    assert false_abstain / n <= 0.10
    assert abstained >= 3 * len(unanswerable) / 4
