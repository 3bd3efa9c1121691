"""The point of intent from the command line, as a user runs it, on each database."""

from __future__ import annotations

import csv
import io
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.conftest import Install

pytestmark = pytest.mark.slow


def _consideration_emails(install: Install, n: int) -> list[str]:
    rows = install.query(
        "SELECT email FROM onefunnel_contact WHERE stage = 'consideration' AND email IS NOT NULL "
        f"ORDER BY id LIMIT {n}"
    )
    return [row[0] for row in rows]


def test_handoffs_open_list_accept_reject_and_rescore_on_the_demo(install: Install) -> None:
    install.run("demo", "--size", "small", "--seed", "5")
    install.run("reps", "set", "ana", "--team", "sales", "--create")
    first, second = _consideration_emails(install, 2)

    opened = json.loads(install.run("handoffs", "open", first, "--format", "json").stdout)
    owner = opened["owner"]
    reps = install.query(
        "SELECT u.username FROM auth_user u JOIN onefunnel_repprofile r ON r.user_id = u.id "
        "WHERE r.team = 'sales' AND r.available"
    )
    assert "ana" in {r[0] for r in reps}
    assert owner in {r[0] for r in reps}
    assert opened["trigger"] == "manual"
    assert opened["sla_due_at"] is not None
    queue = json.loads(
        install.run(
            "handoffs", "list", "--owner", owner, "--status", "pending", "-f", "json"
        ).stdout
    )
    # The owner's queue: this handoff, beside any of today's demo requests routed to them.
    assert opened["id"] in [h["id"] for h in queue]
    assert {(h["owner"], h["status"]) for h in queue} == {(owner, "pending")}

    accepted = install.run("handoffs", "accept", str(opened["id"]), "--as", owner, "-f", "json")
    body = json.loads(accepted.stdout)
    assert body["status"] == "accepted"
    assert body["deal_id"] is not None
    again = install.run("handoffs", "accept", str(opened["id"]), "--as", owner, check=False)
    assert again.returncode == 6  # the record's state refuses it (README: exit codes)
    assert "status: handoff is already accepted" in again.stderr
    assert "Traceback" not in again.stderr

    other = json.loads(install.run("handoffs", "open", second, "-f", "json").stdout)
    bad = install.run("handoffs", "reject", str(other["id"]), "--reason", "meh", check=False)
    assert bad.returncode == 1
    assert "reason: unknown rejection reason 'meh'" in bad.stderr
    install.run(
        "handoffs", "reject", str(other["id"]), "--reason", "not_now", "--as", other["owner"]
    )
    stage = install.query(f"SELECT stage FROM onefunnel_contact WHERE email = '{second}'")
    assert stage == [("nurture",)]
    status = install.query(f"SELECT status, reason FROM onefunnel_handoff WHERE id = {other['id']}")
    assert status == [("rejected", "not_now")]

    summary = json.loads(install.run("scoring", "rescore", "-f", "json").stdout)
    contacts = install.query("SELECT COUNT(*) FROM onefunnel_contact")[0][0]
    assert summary["contacts"] == contacts
    assert install.query("SELECT COUNT(*) FROM onefunnel_contactscore")[0][0] == contacts
    explained = json.loads(
        install.run("scoring", "explain", first, "-f", "json").stdout, parse_float=Decimal
    )
    # Points are JSON numbers written exactly: the lines add up to the total exactly.
    assert not isinstance(explained["total"], str)
    total = sum((Decimal(line["points"]) for line in explained["lines"]), Decimal(0))
    assert total == Decimal(explained["total"])
    assert install.run("worker", "--once").returncode == 0


def _table(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["industry", "visits", "converted"])
        for _ in range(rows):
            industry = rng.choice(["software", "retail", "education"])
            visits = rng.randint(0, 12)
            chance = 0.1 + 0.05 * visits + (0.2 if industry == "software" else 0.0)
            writer.writerow([industry, visits, int(rng.random() < min(chance, 0.95))])


def test_train_on_a_csv_and_predict_another(install: Install) -> None:
    train, score = install.home / "leads.csv", install.home / "new.csv"
    _table(train, 300, seed=1)
    _table(score, 10, seed=2)
    result = install.run(
        "scoring", "train", "--csv", str(train), "--target", "converted", "--format", "json"
    )
    report = json.loads(result.stdout)
    assert set(report) == {"auc_mean", "auc_std", "folds", "model", "rows", "positives",
                           "holdout_auc", "brier_score", "candidates"}  # fmt: skip
    # Both models on the same folds, the better k-fold AUC kept and listed first.
    assert next(c["algorithm"] for c in report["candidates"]) == report["model"]
    assert sorted(c["algorithm"] for c in report["candidates"]) == [
        "gradient_boosting", "logistic_regression"]  # fmt: skip
    assert report["auc_mean"] == max(c["cv_auc_mean"] for c in report["candidates"])
    assert 0 < report["brier_score"] < 0.25
    assert report["rows"] == 300
    assert report["folds"] == 5
    assert 0.5 < report["auc_mean"] <= 1.0
    predicted = install.run("scoring", "predict", "--csv", str(score)).stdout
    rows = list(csv.DictReader(io.StringIO(predicted)))
    assert len(rows) == 10
    assert all(0.0 <= float(row["probability"]) <= 1.0 for row in rows)
    missing = install.run("scoring", "train", "--csv", str(train), "--target", "won", check=False)
    assert missing.returncode == 1
    assert "target: no column 'won'" in missing.stderr


def test_as_follows_the_rule_book(install: Install) -> None:
    """`--as` acts with that user's roles: another rep is refused (exit 3, one line), a
    marketer never decides, a rep does not reassign; without `--as` the system may."""
    install.run("reps", "set", "ana", "--team", "sales", "--create")
    install.run("reps", "set", "ben", "--team", "sales", "--create", "--away")
    install.run("demo", "--size", "small", "--seed", "5")
    email = _consideration_emails(install, 1)[0]
    opened = json.loads(install.run("handoffs", "open", email, "-f", "json").stdout)
    handoff = str(opened["id"])
    install.run("handoffs", "reassign", handoff, "--owner", "ana")
    for who, args in (
        ("ben", ["accept", handoff]),
        ("ben", ["reassign", handoff, "--owner", "ben"]),
        ("hannah.lee", ["reject", handoff, "--reason", "not_now"]),
    ):
        refused = install.run("handoffs", *args, "--as", who, check=False)
        assert refused.returncode == 3, (who, args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1
        assert "Traceback" not in refused.stderr
    mine = json.loads(install.run("handoffs", "list", "--as", "ben", "-f", "json").stdout)
    assert int(handoff) not in {h["id"] for h in mine}
    done = install.run("handoffs", "accept", handoff, "--as", "ana", "-f", "json")
    assert json.loads(done.stdout)["status"] == "accepted"
