"""Scores on the shared record: O(1) updates agree with full rescoring, configurations are data
validated on save, and predictive models train on the contacts or on an analyst's file."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from onefunnel.domain.predictive import Algorithm
from onefunnel.domain.scoring import Touch, default_scoring_model, score_contact
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, ContactScore, Handoff, ScoringConfig
from onefunnel.services.config_versions import InvalidConfigError
from onefunnel.services.errors import InputError
from onefunnel.services.scoring import (
    active_model,
    contact_profile_attributes,
    explain_score,
    rescore_all,
    save_scoring_config,
)
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db

KINDS = [TouchKind.PAGE_VIEW, TouchKind.EMAIL_CLICK, TouchKind.WEBINAR, TouchKind.CONTENT_DOWNLOAD]


def _touches(contact: Contact, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        record_touch(
            TouchInput(
                message_id=f"t-{contact.pk}-{i}",
                kind=KINDS[i % len(KINDS)],
                occurred_at=T0 + timedelta(days=i),
                contact_id=contact.pk,
            )
        )


def _full(contact: Contact, at: object) -> Decimal:
    touches = [Touch(k, t) for k, t in contact.touchpoints.values_list("kind", "occurred_at")]
    profile = contact_profile_attributes(contact)
    return score_contact(profile, touches, active_model(), at).total  # type: ignore[arg-type]


def test_incremental_scores_equal_a_full_rescore(make_contact: Callable[..., Contact]) -> None:
    people = [
        make_contact(title="VP Marketing", country="US", properties={"seniority": "vp"}),
        make_contact(title="Intern", country="BR"),
        make_contact(),
    ]
    for i, person in enumerate(people):
        _touches(person, 5 + 3 * i)
    for person in people:
        person.refresh_from_db()
        row = ContactScore.objects.get(contact=person)
        assert Decimal(str(person.score)) == row.total
        assert row.total == _full(person, row.as_of)
    at = T0 + timedelta(days=40)
    summary = rescore_all(now=at)
    assert summary.contacts == 3
    assert summary.touches == 5 + 8 + 11
    for person in people:
        person.refresh_from_db()
        assert Decimal(str(person.score)) == _full(person, at)
        assert ContactScore.objects.get(contact=person).as_of == at
    vp = ContactScore.objects.get(contact=people[0])
    assert {"points": 15.0, "reason": "Decision maker"} in vp.explanation


def test_a_new_model_version_rescores_a_contact_on_its_next_touch(
    make_contact: Callable[..., Contact],
) -> None:
    person = make_contact()
    _touches(person, 4)
    assert ContactScore.objects.get(contact=person).model_version == 1
    config = default_scoring_model().to_dict()
    config["engagement_points"]["page_view"] = 5
    assert save_scoring_config(config, note="page views count more").version == 2
    _touches(person, 1, start=4)
    row = ContactScore.objects.get(contact=person)
    assert row.model_version == 2
    assert row.total == _full(person, row.as_of)


def test_a_malformed_rule_is_refused_with_the_field_named(db: None) -> None:
    config = default_scoring_model().to_dict()
    config["fit_rules"][2]["operator"] = "between"
    config["fit_rules"][2]["value"] = [999, 50]
    config["half_life_days"] = 0
    with pytest.raises(InvalidConfigError) as caught:
        save_scoring_config(config)
    locs = [loc for loc, _ in caught.value.errors]
    assert locs == ["half_life_days", "fit_rules[2].value"]
    assert ScoringConfig.objects.count() == 0
    row = ScoringConfig(version=5, config=config, created_at=T0)
    with pytest.raises(ValidationError) as invalid:
        row.full_clean()
    assert "fit_rules[2].value: low 999 is greater than high 50" in str(invalid.value)


def test_the_admin_adds_versions_through_the_service_and_shows_bad_fields(db: None) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "", "pw-123456789"))
    bad = client.post(
        "/admin/onefunnel/scoringconfig/add/",
        {"config": '{"half_life_days": 14, "mql_threshold": 60, "fit_rules": [{"attribute": '
         '"industry", "operator": "gtx", "value": 1, "points": 5}]}', "note": "typo"},
    )  # fmt: skip
    assert bad.status_code == 200
    assert "fit_rules[0].operator: unknown operator" in bad.content.decode()
    assert ScoringConfig.objects.count() == 0
    good = client.post(
        "/admin/onefunnel/scoringconfig/add/",
        {"config": '{"half_life_days": 7, "mql_threshold": 50}', "note": "fast decay"},
    )
    assert good.status_code == 302
    stored = ScoringConfig.objects.get()
    assert (stored.version, stored.note) == (2, "fast decay")
    assert active_model().mql_threshold == 50


def test_rescore_can_promote_contacts_over_a_lowered_threshold(
    make_contact: Callable[..., Contact],
) -> None:
    person = make_contact()
    _touches(person, 3)
    person.refresh_from_db()
    assert person.stage == "consideration"
    config = default_scoring_model().to_dict()
    config["mql_threshold"] = 5
    save_scoring_config(config)
    at = T0 + timedelta(days=3)
    assert rescore_all(now=at).promoted == 0
    person.refresh_from_db()
    assert person.stage == "consideration"
    summary = rescore_all(now=at, promote=True)
    assert summary.promoted == 1
    person.refresh_from_db()
    assert person.stage == "intent"
    assert Handoff.objects.get(contact=person).trigger == "mql_threshold"


def test_explain_names_the_contact_and_sums_exactly(make_contact: Callable[..., Contact]) -> None:
    person = make_contact(country="DE")
    _touches(person, 6)
    explained = explain_score(email=person.email, now=T0 + timedelta(days=10))
    assert sum((line.points for line in explained.lines), Decimal(0)) == explained.total
    assert explained.probability is None
    with pytest.raises(LookupError, match="email: no contact"):
        explain_score(email="nobody@nowhere.example")


def _write_table(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    industries = ["software", "retail", "education"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lead_id", "industry", "visits", "employees", "converted"])
        for i in range(rows):
            industry = industries[int(rng.integers(0, 3))]
            visits = int(rng.poisson(4))
            logit = -2.0 + 0.5 * visits + (1.0 if industry == "software" else -0.5)
            converted = int(rng.random() < 1 / (1 + np.exp(-logit)))
            employees = "" if rng.random() < 0.1 else str(int(rng.integers(5, 5000)))
            writer.writerow([f"L{i}", industry, visits, employees, converted])


def test_train_and_predict_on_an_analysts_csv(db: None, tmp_path: Path) -> None:
    from onefunnel.services.predictive_scoring import predict_csv, train_csv

    table = tmp_path / "leads.csv"
    _write_table(table, 400, seed=3)
    report = train_csv(table, "converted", drop=["lead_id"], folds=5)
    assert sorted(c["algorithm"] for c in report.candidates) == [
        "gradient_boosting", "logistic_regression"]  # fmt: skip
    assert report.candidates[0]["algorithm"] == report.model
    assert report.candidates[0]["calibrated"]
    assert not report.candidates[1]["calibrated"]
    assert report.auc_mean == max(c["cv_auc_mean"] for c in report.candidates)
    assert all(0 < c["cv_brier"] < 0.25 for c in report.candidates)
    named = train_csv(table, "converted", drop=["lead_id"], algorithm=Algorithm.GRADIENT_BOOSTING)
    assert [c["algorithm"] for c in named.candidates] == ["gradient_boosting"]
    assert report.rows == 400
    assert 0 < report.positives < 400
    assert report.folds == 5
    assert 0.7 < report.auc_mean <= 1.0
    assert report.auc_std >= 0
    new = tmp_path / "new.csv"
    _write_table(new, 20, seed=4)
    columns, scored = predict_csv(new)
    assert columns[-1] == "probability"
    assert len(scored) == 20
    assert all(0 <= row["probability"] <= 1 for row in scored)


def test_bad_csv_input_names_the_row_or_column(db: None, tmp_path: Path) -> None:
    from onefunnel.services.predictive_scoring import train_csv

    table = tmp_path / "leads.csv"
    table.write_text("industry,converted\nsoftware,1\nretail,maybe\n")
    with pytest.raises(InputError, match="row 3: converted: expected 0/1, got 'maybe'"):
        train_csv(table, "converted")
    with pytest.raises(InputError, match="target: no column 'won'"):
        train_csv(table, "won")
    with pytest.raises(InputError, match="csv: no such file"):
        train_csv(tmp_path / "missing.csv", "converted")


@pytest.mark.django_db(transaction=True)
def test_train_on_contacts_fits_both_models_and_keeps_the_better() -> None:
    from onefunnel.models import PredictiveModelRun
    from onefunnel.services.demo import DemoSize, generate_demo
    from onefunnel.services.predictive_scoring import train_from_database

    generate_demo(seed=5, size=DemoSize.SMALL)
    report = train_from_database(folds=3)
    algorithms = [c["algorithm"] for c in report.candidates]
    assert sorted(algorithms) == ["gradient_boosting", "logistic_regression"]
    assert report.algorithm == algorithms[0]
    assert report.cv_auc_mean == max(c["cv_auc_mean"] for c in report.candidates)
    assert all(0 <= c["brier_score"] <= 1 for c in report.candidates)
    stored = PredictiveModelRun.objects.get(pk=report.run_id)
    assert stored.metrics["candidates"] == [dict(c) for c in report.candidates]
    named = train_from_database(folds=3, algorithm=Algorithm.LOGISTIC_REGRESSION)
    assert [c["algorithm"] for c in named.candidates] == ["logistic_regression"]
