"""FitEvaluator (each rule evaluated once per distinct attribute value) equals fit_lines."""

from __future__ import annotations

import random
from typing import Any

from onefunnel.domain.scoring import (
    FitEvaluator,
    default_scoring_model,
    fit_lines,
    parse_scoring_model,
)

VALUES: dict[str, list[Any]] = {
    "industry": ["Software", "software ", "education", "retail", None, "", 7],
    "employees": [5, 50, 999, 1000, 20000, None, "120", "n/a", True],
    "country": ["US", "de", "BR", None],
    "seniority": ["vp", "manager", "intern", None],
    "job_title": ["CTO", "Student assistant", "Sales intern", None],
    "email_domain": ["gmail.com", "acme.com", None],
    "flag": [True, 1, 1.0, "true", "1", False, 0, None],
}


def test_the_evaluator_gives_the_lines_of_fit_lines_on_many_profiles() -> None:
    model = default_scoring_model()
    evaluator = FitEvaluator(model)
    rng = random.Random(7)
    for _ in range(2000):
        profile = {name: rng.choice(options) for name, options in VALUES.items()}
        assert evaluator.lines(profile) == fit_lines(profile, model)


def test_true_and_one_are_different_values() -> None:
    # True == 1 and hash(True) == hash(1): a cache keyed on the value alone would give the
    # answer for 1 to True. A number rule does not match a boolean.
    model = parse_scoring_model({
        "half_life_days": 14, "mql_threshold": 50,
        "fit_rules": [{"attribute": "flag", "operator": "eq", "value": 1, "points": 5}],
    })  # fmt: skip
    evaluator = FitEvaluator(model)
    assert len(evaluator.lines({"flag": 1})) == 1
    assert evaluator.lines({"flag": True}) == fit_lines({"flag": True}, model) == ()
    assert len(evaluator.lines({"flag": 1.0})) == 1
