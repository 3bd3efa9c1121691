"""The rule book of roles: who may decide, work, move, edit and configure."""

from __future__ import annotations

import pytest

from onefunnel.domain.access import (
    AccessDeniedError,
    Action,
    Actor,
    Role,
    Work,
    check,
    may,
    roles_from_groups,
)

REP = Actor(1, "rita", frozenset({Role.SALES_REP}), team="sales")
OTHER_REP = Actor(2, "sam", frozenset({Role.SALES_REP}), team="sales")
LEAD = Actor(3, "lena", frozenset({Role.TEAM_LEAD, Role.SALES_REP}), team="sales")
OTHER_LEAD = Actor(4, "otto", frozenset({Role.TEAM_LEAD, Role.SALES_REP}), team="enterprise")
AM = Actor(5, "ann", frozenset({Role.ACCOUNT_MANAGER}))
MARKETER = Actor(6, "mo", frozenset({Role.MARKETING}))
BOSS = Actor(7, "liz", frozenset({Role.LEADERSHIP}))
ADMIN = Actor(8, "root", frozenset({Role.ADMIN}))
NOBODY = Actor(None, "anonymous", frozenset())

RITAS_HANDOFF = Work("handoff", 10, owner_id=1, team="sales", owner_team="sales")
QUEUED = Work("handoff", 11, owner_id=None, team="sales")
RITAS_DEAL = Work("deal", 20, owner_id=1, owner_team="sales")
CUSTOMER_DEAL = Work("deal", 21, owner_id=None, account_owner_id=5)


def test_groups_grant_roles_and_a_team_lead_is_a_rep() -> None:
    assert roles_from_groups(["sales"]) == {Role.SALES_REP}
    assert roles_from_groups(["team_lead"]) == {Role.TEAM_LEAD, Role.SALES_REP}
    assert roles_from_groups(["account_management", "leadership"]) == {
        Role.ACCOUNT_MANAGER,
        Role.LEADERSHIP,
    }
    assert roles_from_groups(["unrelated"]) == frozenset()
    assert roles_from_groups([], is_superuser=True) == {Role.ADMIN}


def test_a_rep_decides_own_and_queued_handoffs_only() -> None:
    assert may(REP, Action.DECIDE_HANDOFF, RITAS_HANDOFF)
    assert may(REP, Action.DECIDE_HANDOFF, QUEUED)
    with pytest.raises(AccessDeniedError, match=r"^owner: handoff #10 belongs to someone else"):
        check(OTHER_REP, Action.DECIDE_HANDOFF, RITAS_HANDOFF)
    assert not may(OTHER_REP, Action.READ, RITAS_HANDOFF)


def test_a_rep_cannot_reassign_even_to_themselves() -> None:
    assert not may(REP, Action.REASSIGN_HANDOFF, RITAS_HANDOFF)
    assert not may(OTHER_REP, Action.REASSIGN_HANDOFF, RITAS_HANDOFF)


def test_a_team_lead_acts_within_their_team_only() -> None:
    assert may(LEAD, Action.REASSIGN_HANDOFF, RITAS_HANDOFF)
    assert may(LEAD, Action.DECIDE_HANDOFF, RITAS_HANDOFF)
    assert may(LEAD, Action.WORK_DEAL, RITAS_DEAL)
    assert not may(OTHER_LEAD, Action.REASSIGN_HANDOFF, RITAS_HANDOFF)
    assert not may(OTHER_LEAD, Action.WORK_DEAL, RITAS_DEAL)


def test_marketing_reads_everything_and_never_decides() -> None:
    assert may(MARKETER, Action.READ, RITAS_HANDOFF)
    assert may(MARKETER, Action.EDIT_MARKETING)
    assert may(MARKETER, Action.MOVE_CONTACT, Work("contact", 1, owner_id=1))
    with pytest.raises(AccessDeniedError, match=r"^role: mo \(marketing\) may not decide handoff"):
        check(MARKETER, Action.DECIDE_HANDOFF, QUEUED)
    assert not may(MARKETER, Action.WORK_DEAL, RITAS_DEAL)


def test_account_managers_work_their_accounts() -> None:
    assert may(AM, Action.WORK_DEAL, CUSTOMER_DEAL)
    assert may(AM, Action.WORK_ACCOUNT, Work("account", 3, owner_id=5))
    assert not may(AM, Action.WORK_DEAL, RITAS_DEAL)
    assert not may(REP, Action.WORK_DEAL, CUSTOMER_DEAL)


def test_leadership_reads_all_and_changes_nothing() -> None:
    assert may(BOSS, Action.READ, RITAS_DEAL)
    for action in Action:
        if action not in (Action.READ, Action.READ_AUDIT):
            assert not may(BOSS, action, RITAS_DEAL), action


def test_only_leadership_and_admins_read_the_audit_log() -> None:
    assert may(BOSS, Action.READ_AUDIT)
    assert may(ADMIN, Action.READ_AUDIT)
    for actor in (REP, LEAD, AM, MARKETER, NOBODY):
        assert not may(actor, Action.READ_AUDIT), actor.username
    with pytest.raises(AccessDeniedError, match="leadership and admins"):
        check(MARKETER, Action.READ_AUDIT)


def test_admin_may_do_anything_and_anonymous_nothing_but_read_the_record() -> None:
    for action in Action:
        assert may(ADMIN, action, RITAS_HANDOFF)
    assert not may(NOBODY, Action.READ, RITAS_HANDOFF)
    assert not may(NOBODY, Action.LOG_ACTIVITY)
    assert not may(NOBODY, Action.CONFIGURE)


def test_reps_move_only_their_own_or_unowned_contacts() -> None:
    assert may(REP, Action.MOVE_CONTACT, Work("contact", 1, owner_id=1))
    assert may(REP, Action.MOVE_CONTACT, Work("contact", 2, owner_id=None))
    assert not may(REP, Action.MOVE_CONTACT, Work("contact", 3, owner_id=2))
    assert not may(BOSS, Action.MOVE_CONTACT, Work("contact", 2))


def test_targets_are_set_by_admins_and_team_leads_for_their_team() -> None:
    sales_team = Work("target", team="sales")
    ritas = Work("target", owner_id=1, owner_team="sales")
    company = Work("target")
    assert may(LEAD, Action.SET_TARGETS, sales_team)
    assert may(LEAD, Action.SET_TARGETS, ritas)
    assert not may(OTHER_LEAD, Action.SET_TARGETS, sales_team)
    assert not may(OTHER_LEAD, Action.SET_TARGETS, ritas)
    assert not may(LEAD, Action.SET_TARGETS, company)
    assert may(ADMIN, Action.SET_TARGETS, company)
    for actor in (REP, MARKETER, BOSS, AM, NOBODY):
        assert not may(actor, Action.SET_TARGETS, sales_team)
    with pytest.raises(AccessDeniedError, match="team leads for their team"):
        check(BOSS, Action.SET_TARGETS, company)


def test_the_working_roles_edit_the_shared_record_and_leadership_does_not() -> None:
    for actor in (REP, LEAD, AM, MARKETER, ADMIN):
        assert may(actor, Action.EDIT_RECORD, Work("contact")), actor.username
    for actor in (BOSS, NOBODY):
        with pytest.raises(AccessDeniedError, match="may not edit contacts and accounts"):
            check(actor, Action.EDIT_RECORD, Work("contact"))
