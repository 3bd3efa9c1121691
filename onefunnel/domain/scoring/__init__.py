"""Lead scoring: fit (who they are) plus engagement (what they did, fading with time).

The intuition. A contact's **fit** is the sum of the points of every fit rule their attributes
match ("industry in [software, fintech] → +15", "job title contains student → −25"). Their
**engagement** is the sum, over their touches, of the points of the touch's kind, each halved for
every ``half_life_days`` since it happened: a pricing-page visit today is worth 15, a fortnight ago
7.5 (with a 14-day half-life). The score is fit + engagement; crossing the MQL threshold makes a
lead ready for sales. Rules, points, half-life and threshold are data (a versioned ``ScoringModel``
built from a JSON-like dict), never code.

Three properties shape the implementation:

* **Explanations sum exactly to the score.** Points are ``Decimal`` with one decimal place. The
  engagement total is the raw decayed sum rounded to 0.1; its per-touch lines are apportioned by
  the largest-remainder method so that the rounded lines add up to exactly that total.
* **Incremental updates are O(1).** Decay is multiplicative, so the engagement sum at a later time
  is the sum at an earlier time times one decay factor: ``E(t2) = E(t1)·2^(−(t2−t1)/h)``. A
  ``ScoreState`` stores E at a reference time; ``add_touch`` decays it and adds the new touch.
* **Full rescore is vectorised.** ``score_many`` computes every contact's engagement with one
  numpy pass over all touches (``bincount`` of decayed points by contact).

Touches dated after ``now`` count at full points (no growth): a touch we have received has
happened, and a few seconds of client clock skew should not change its worth.

The package, one concept per module: ``rules`` (fit rules and how they are read), ``model``
(the versioned scoring model), ``contact`` (one contact's score and explanation),
``incremental`` (the O(1) state) and ``batch`` (the vectorised rescore).
"""

from onefunnel.domain.scoring.batch import ScoreBatch, TouchColumns, score_many
from onefunnel.domain.scoring.contact import (
    FitEvaluator,
    Score,
    ScoreLine,
    Touch,
    crosses_threshold,
    fit_lines,
    score_contact,
)
from onefunnel.domain.scoring.incremental import ScoreState, add_touch, score_state
from onefunnel.domain.scoring.model import (
    MAX_HALF_LIFE_DAYS,
    ScoringModel,
    default_scoring_model,
    parse_scoring_model,
)
from onefunnel.domain.scoring.rules import (
    MAX_RULE_POINTS,
    TENTH,
    FieldError,
    FitRule,
    Operator,
    Profile,
    RuleError,
    RuleValue,
    Scalar,
    ScoringError,
    StaleScoreError,
    parse_fit_rule,
)

__all__ = [
    "MAX_HALF_LIFE_DAYS",
    "MAX_RULE_POINTS",
    "TENTH",
    "FieldError",
    "FitEvaluator",
    "FitRule",
    "Operator",
    "Profile",
    "RuleError",
    "RuleValue",
    "Scalar",
    "Score",
    "ScoreBatch",
    "ScoreLine",
    "ScoreState",
    "ScoringError",
    "ScoringModel",
    "StaleScoreError",
    "Touch",
    "TouchColumns",
    "add_touch",
    "crosses_threshold",
    "default_scoring_model",
    "fit_lines",
    "parse_fit_rule",
    "parse_scoring_model",
    "score_contact",
    "score_many",
    "score_state",
]
