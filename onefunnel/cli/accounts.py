"""Account management from the command line: contracts, renewals, health, churn risk and
expansion. Every command parses its options, calls one service and prints."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, console, emit_object, emit_rows, fail

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]
AsOption = Annotated[
    str | None, typer.Option("--as", help="Act as this user (username); default: the operator")
]
contracts_app = typer.Typer(help="Contracts (subscription terms): add, list, end.")
renewals_app = typer.Typer(help="Renewals: run the renewal check, list coming renewals.")
app.add_typer(contracts_app, name="contracts")
app.add_typer(renewals_app, name="renewals")

CONTRACT_COLUMNS = (
    "id", "account_id", "account", "product", "amount", "currency", "billing_period", "start", "end",
    "renewal_date", "auto_renew", "status", "payment_status", "mrr", "renewal_deal_id",
)  # fmt: skip
HEALTH_COLUMNS = (
    "account_id", "account", "owner", "stage", "score", "risk", "annual_value", "value_at_risk",
    "currency",
)  # fmt: skip


def _ready() -> None:
    setup_django()
    migrate()


def _actor(username: str | None) -> Any:
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM


def _day(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    from onefunnel.analytics.period import parse_day

    return parse_day(text, field)


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    return [item.as_dict() if hasattr(item, "as_dict") else asdict(item) for item in items]


def _account_id(text: str) -> int:
    from onefunnel.models import Account

    if text.isdigit():
        return int(text)
    found = Account.objects.filter(domain=text).values_list("id", flat=True).first()
    if found is None:
        fail(f"account: no account with id or domain {text!r}")
    return found


@contracts_app.command("add")
@translate_errors
def contracts_add(
    account: Annotated[str, typer.Option(help="Account id or domain")],
    product: Annotated[str, typer.Option(help="Product name")],
    amount: Annotated[str, typer.Option(help="Amount per billing period")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD")],
    period: Annotated[str, typer.Option(help="monthly or yearly")] = "yearly",
    renewal_date: Annotated[str | None, typer.Option(help="Default: the day after --end")] = None,
    auto_renew: Annotated[bool, typer.Option(help="Renews itself at its end")] = False,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code")] = None,
    plan_usage: Annotated[int | None, typer.Option(help="Usage events a month included")] = None,
    deal: Annotated[int | None, typer.Option(help="The won deal it comes from")] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Add a contract term; refused (nothing written) if it ends before it starts or overlaps
    another term of the same product."""
    _ready()
    from onefunnel.services.accounts.contracts import add_contract

    view = add_contract(
        _actor(actor),
        account_id=_account_id(account),
        product=product,
        amount=amount,
        start=_day(start, "start") or date.min,
        end=_day(end, "end") or date.min,
        billing_period=period,
        renewal_date=_day(renewal_date, "renewal_date"),
        auto_renew=auto_renew,
        currency=currency,
        plan_usage=plan_usage,
        source_deal_id=deal,
    )
    emit_object(view.as_dict(), fmt, title=f"contract #{view.id}")


@contracts_app.command("from-deal")
@translate_errors
def contracts_from_deal(
    deal: Annotated[int, typer.Argument(help="A won new-business deal's id")],
    product: Annotated[str, typer.Option(help="Product name")],
    period: Annotated[str, typer.Option(help="monthly or yearly")] = "yearly",
    months: Annotated[int, typer.Option(help="Term length")] = 12,
    auto_renew: Annotated[bool, typer.Option(help="Renews itself at its end")] = False,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create the contract a won new-business deal brings (the deal's amount for the term)."""
    _ready()
    from onefunnel.services.accounts.contracts import contract_from_deal

    view = contract_from_deal(
        _actor(actor), deal, product=product, billing_period=period, months=months,
        auto_renew=auto_renew,
    )  # fmt: skip
    emit_object(view.as_dict(), fmt, title=f"contract #{view.id}")


@contracts_app.command("list")
@translate_errors
def contracts_list(
    account: Annotated[str | None, typer.Option(help="Account id or domain")] = None,
    status: Annotated[str | None, typer.Option(help="active, renewed or ended")] = None,
    product: Annotated[str | None, typer.Option(help="Product name")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 500,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Contract terms, newest start first."""
    _ready()
    from onefunnel.services.accounts.contracts import list_contracts

    rows = list_contracts(
        account_id=_account_id(account) if account else None,
        status=status,
        product=product,
        limit=limit,
    )
    emit_rows(_rows(rows), fmt, title="contracts", columns=CONTRACT_COLUMNS)


@contracts_app.command("end")
@translate_errors
def contracts_end(
    contract: Annotated[int, typer.Argument(help="Contract id")],
    on: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (default today)")] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """End an active term early; the account churns if no other contract runs."""
    _ready()
    from onefunnel.services.accounts.contracts import end_contract

    ended = end_contract(_actor(actor), contract, on=_day(on, "on"))
    data = ended.contract.as_dict()
    data["stage_move"] = ended.stage_move.to_stage.value if ended.stage_move else None
    emit_object(data, fmt, title=f"contract #{contract}")


@renewals_app.command("check")
@translate_errors
def renewals_check(fmt: FormatOption = OutputFormat.table) -> None:
    """Open due renewal deals, renew won and auto-renewing terms, end lapsed ones (what the
    worker does every pass; safe to repeat)."""
    _ready()
    from onefunnel.services.accounts.renewals import run_renewal_check

    result = run_renewal_check()
    emit_object(
        {
            "renewal_deals_opened": len(result.opened),
            "contracts_renewed": len(result.renewed),
            "contracts_ended": len(result.ended),
            "accounts_churned": len(result.churned),
        },
        fmt,
        title="renewal check",
    )


@renewals_app.command("list")
@translate_errors
def renewals_list(
    within: Annotated[int, typer.Option(help="Renewing within this many days")] = 120,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Coming renewals with their renewal deals, soonest first (runs the check first)."""
    _ready()
    from onefunnel.services.accounts.renewals import list_renewals

    emit_rows(_rows(list_renewals(_actor(actor), within_days=within)), fmt, title="renewals")


@app.command("health")
@translate_errors
def health_command(
    account: Annotated[str | None, typer.Argument(help="Account id or domain")] = None,
    as_of: Annotated[str | None, typer.Option(help="Day, YYYY-MM-DD (default: now)")] = None,
    validate: Annotated[
        bool,
        typer.Option(
            help="Measure how well health ranks: AUC of renewed over churned terms, scored "
            "--days-before their end"
        ),
    ] = False,
    days_before: Annotated[int, typer.Option(help="With --validate")] = 60,
    set_config: Annotated[
        Path | None, typer.Option(help="Store this JSON file as the new health configuration")
    ] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """One account's health explained line by line; without ACCOUNT, every customer's score."""
    _ready()
    from onefunnel.services.accounts import health

    if set_config is not None:
        try:
            data = json.loads(set_config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"set_config: cannot read {set_config}: {exc}")
        stored = health.save_health_config(_actor(actor), data)
        emit_object(asdict(stored), fmt, title=f"health configuration v{stored.version}")
        return
    if validate:
        emit_object(asdict(health.validate_health(days_before=days_before)), fmt, title="health")
        return
    day = _day(as_of, "as_of")
    if account is None:
        rows = health.churn_risk(_actor(actor), limit=10_000, as_of=day)
        rows.sort(key=lambda r: (r.score, r.account_id))
        emit_rows(_rows(rows), fmt, title="health", columns=HEALTH_COLUMNS)
        return
    result = health.account_health(_actor(actor), _account_id(account), as_of=day)
    if fmt is OutputFormat.json:
        emit_object(asdict(result), fmt)
        return
    console.print(
        f"{result.account}: health {result.score} (risk {result.risk:.0%}, value at risk "
        f"{result.value_at_risk} {result.currency})",
        highlight=False,
    )
    emit_rows(list(result.lines), fmt, columns=("points", "reason", "signal"))


@app.command("churn-risk")
@translate_errors
def churn_risk_command(
    limit: Annotated[int, typer.Option(help="At most this many accounts")] = 50,
    as_of: Annotated[str | None, typer.Option(help="Day, YYYY-MM-DD (default: now)")] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Customer accounts by value at risk (annual contract value × churn risk)."""
    _ready()
    from onefunnel.services.accounts.health import churn_risk

    rows = churn_risk(_actor(actor), limit=limit, as_of=_day(as_of, "as_of"))
    emit_rows(_rows(rows), fmt, title="churn risk", columns=HEALTH_COLUMNS)


@app.command("expansion")
@translate_errors
def expansion_command(
    account: Annotated[str | None, typer.Option(help="Account id or domain")] = None,
    as_of: Annotated[str | None, typer.Option(help="Day, YYYY-MM-DD (default: now)")] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Upsell and cross-sell suggestions, each with its evidence."""
    _ready()
    from onefunnel.services.accounts.expansion import suggestions

    rows = suggestions(
        _actor(actor),
        account_id=_account_id(account) if account else None,
        as_of=_day(as_of, "as_of"),
    )
    emit_rows(_rows(rows), fmt, title="expansion")
