"""Persistence never uses pickle: no module of the project imports it."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_no_pickle_in_the_codebase() -> None:
    pattern = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|joblib)\b", re.M)
    offenders = []
    for package in ("index", "rag", "ui", "evals", "tests"):
        for path in (ROOT / package).rglob("*.py"):
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders
    assert "allow_pickle=True" not in "".join(
        p.read_text(encoding="utf-8") for pkg in ("index", "rag") for p in (ROOT / pkg).rglob("*.py"))
