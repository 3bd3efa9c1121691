"""Bad report input gives one clear error naming the option, on the CLI's and the API's paths."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from onefunnel.analytics.engines import DjangoEngine, SparkEngine, compile_sql
from onefunnel.analytics.period import Period, period_of
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.services.errors import InputError
from onefunnel.services.keys import create_key, list_keys, revoke_key
from tests.analytics.conftest import Journey, Move, Touch, Written

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))


@pytest.mark.parametrize(
    ("name", "by", "model", "message"),
    [
        ("nope", None, None, "name: unknown report 'nope'"),
        ("funnel", "colour", None, "by: funnel can be grouped by channel, campaign"),
        ("scorecard", "owner", None, "by: scorecard can be grouped by rep"),
        ("spend", "segment", None, "by: spend can be grouped by campaign, channel"),
        ("spend", None, "linear,markov", "model: the spend report uses one"),
        ("attribution", None, "magic", "model: unknown attribution model 'magic'"),
    ],
)
def test_bad_options_name_the_option(
    db: None, name: str, by: str | None, model: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        run_report(name, DjangoEngine(), Q1, by=by, options=ReportOptions(model=model))


def test_periods_are_whole_days_and_checked() -> None:
    period = period_of("2026-01-01", "2026-01-31", today=date(2030, 1, 1))
    assert (period.start.isoformat(), period.end.isoformat()) == (
        "2026-01-01T00:00:00+00:00",
        "2026-02-01T00:00:00+00:00",
    )
    assert period_of(None, None, today=date(2026, 12, 31)).first == date(2026, 1, 1)
    with pytest.raises(InputError, match="to: 2026-01-01 is before from: 2026-02-01"):
        period_of("2026-02-01", "2026-01-01", today=date(2030, 1, 1))
    with pytest.raises(InputError, match="from: '2026-02-30' is not a date"):
        period_of("2026-02-30", None, today=date(2030, 1, 1))


def test_user_input_is_bound_never_spliced_into_the_sql(db: None) -> None:
    # A hostile value can only ever be a parameter: the text of the query does not change.
    sql = compile_sql("SELECT COUNT(*) AS n FROM onefunnel_contact WHERE email = :email", "sqlite")
    assert ":email" in sql
    table = DjangoEngine().run(
        "SELECT COUNT(*) AS n FROM onefunnel_contact WHERE email = :email",
        {"email": "x' OR '1'='1"},
    )
    assert table.rows == ((0,),)


def test_macros_are_spelled_per_engine() -> None:
    source = "SELECT EPOCH_SECONDS(t.at) AS s, MONTH_OF(t.at) AS m FROM t WHERE t.x = :x"
    assert "STRFTIME('%s'" in compile_sql(source, "sqlite")
    assert "UNIX_SECONDS" in compile_sql(source, "spark").upper()
    postgres = compile_sql(source, "postgres")
    assert "EXTRACT(EPOCH FROM" in postgres
    assert "%(x)s" in postgres
    assert "%%" not in postgres


def test_spark_engine_refuses_an_incomplete_export(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"parquet: .* is not a complete export"):
        SparkEngine(tmp_path)


def test_an_empty_database_gives_empty_reports(db: None) -> None:
    engine = DjangoEngine()
    for name in ("funnel", "scorecard", "spend", "attribution"):
        assert len(run_report(name, engine, Q1)) == 0, name


@pytest.fixture
def signed_in(django_user_model: Any) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create(username="ana", is_staff=True))
    return client


@pytest.fixture
def one_journey(journeys_for: Callable[..., Written]) -> Written:
    """Eve at Epsilon: one direct touch, aware on 2026-01-02."""
    return journeys_for(
        {
            "eve": Journey(
                "Epsilon", [Touch("2026-01-02", "direct"), Move("2026-01-02", "awareness")]
            )
        }
    )


def test_api_serves_reports_to_signed_in_users(signed_in: Client, one_journey: Written) -> None:
    assert Client().get("/api/reports/funnel").status_code == 401
    response = signed_in.get("/api/reports/funnel?from=2026-01-01&to=2026-03-31&by=channel")
    assert response.status_code == 200
    body = response.json()
    assert body["columns"][:3] == ["channel", "stage", "entries"]
    assert body["rows"][0][:3] == ["direct", "awareness", 1]


def test_api_serves_reports_to_keys_with_the_reports_scope(one_journey: Written) -> None:
    reports = create_key("reports:read", "analyst").secret
    crm = create_key("crm:read").secret
    url = "/api/reports/funnel?from=2026-01-01&to=2026-03-31&by=channel"

    def status(secret: str) -> int:
        return Client().get(url, headers={"Authorization": f"Bearer {secret}"}).status_code

    response = Client().get(url, headers={"Authorization": f"Bearer {reports}"})
    assert response.status_code == 200
    assert response.json()["rows"][0][:3] == ["direct", "awareness", 1]
    assert [status(crm), status("of_not_a_key"), status(reports + "x")] == [401, 401, 401]
    # A reports key opens reports only, not the CRM records.
    assert (
        Client().get("/api/contacts", headers={"Authorization": f"Bearer {reports}"}).status_code
        == 401
    )
    revoke_key(next(k.id for k in list_keys() if k.scope == "reports:read"))
    assert status(reports) == 401


def test_api_reports_bad_input_as_errors(signed_in: Client) -> None:
    response = signed_in.get("/api/reports/funnel?by=colour")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "by"]
    response = signed_in.get("/api/reports/funnel?from=yesterday")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "from"]
    assert signed_in.get("/api/reports/velocity").status_code == 404
