"""Email sequences in a real browser, as the demo marketer (hannah.lee): the demo's forms; the
sequences list with the demo's nurture sequence, its numbers equal to the database's; the
sequence's page, a count clicked through to as many records, a step previewed for an enrolled
contact; a new sequence created with a step, after an unknown template variable was refused
with its field named and nothing saved. Screenshots in tests/artifacts/; any console error or
failed request fails the test (except the one refusal the test provokes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page

pytestmark = pytest.mark.slow
MARKETER = "hannah.lee"
NURTURE = "Nurture: not now / no budget"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("sequences")) as running:
        yield running


def _one(server: Server, sql: str) -> int:
    ((value,),) = server.install.query(sql)
    return int(value)


def test_the_marketer_reads_the_nurture_and_creates_a_sequence(server: Server) -> None:
    sent = _one(server, "SELECT COUNT(*) FROM onefunnel_emailsend WHERE sent_at IS NOT NULL")
    first_step = _one(
        server,
        "SELECT COUNT(*) FROM onefunnel_emailsend s JOIN onefunnel_sequencestep st"
        " ON st.id = s.step_id WHERE s.sent_at IS NOT NULL AND st.position = 0",
    )
    ((enrolled_email,),) = server.install.query(
        "SELECT c.email FROM onefunnel_enrollment e JOIN onefunnel_contact c"
        " ON c.id = e.contact_id ORDER BY e.id LIMIT 1"
    )
    with watched_page(server.base, "sequences") as w:
        page = w.page
        page.goto(server.base + "/login")
        page.fill("#id_username", MARKETER)
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/marketing")
        for slug in ("funnel-channel", "funnel-campaign", "funnel-cohort", "attribution"):
            # Let marketing's home finish loading its sections before leaving it.
            page.wait_for_selector(
                f"#section-{slug} table, #section-{slug} [data-testid=empty]",
                timeout=60_000,
                state="attached",
            )

        page.click("nav >> text=Forms")
        page.wait_for_selector("table.forms")
        forms = page.text_content("table.forms") or ""
        assert "Request a demo" in forms
        assert "Newsletter" in forms
        w.shot("forms")

        page.click("nav >> text=Sequences")
        page.wait_for_selector("[data-testid=sequences-table]")
        row = page.locator("[data-testid=sequence-row]", has_text=NURTURE)
        assert int(row.locator("[data-testid=sent]").text_content() or "0") == sent > 0
        assert "not now, no budget" in (row.text_content() or "")
        w.shot("list")

        row.locator(f"text={NURTURE}").click()
        page.wait_for_selector("[data-testid=steps-table]")
        assert page.locator("[data-testid=step-row]").count() == 3
        assert page.locator("[data-testid=enrollments-table] tbody tr").count() > 0
        w.shot("sequence")

        page.fill("#preview-0", enrolled_email)
        page.locator("[data-testid=step-row]").first.locator("button", has_text="Preview").click()
        page.wait_for_selector("[data-testid=preview-subject]")
        assert "{{" not in (page.text_content("[data-testid=preview-subject]") or "{{")
        w.shot("preview")
        page.go_back()

        page.wait_for_selector("[data-testid=steps-table]")
        page.locator("[data-testid=step-sent] >> nth=0").click()
        page.wait_for_selector("[data-testid=records-table]")
        assert page.locator("[data-testid=records-table] tbody tr").count() == first_step
        assert f"{first_step} record" in (page.text_content("[data-testid=records-count]") or "")
        w.shot("records")

        page.click("nav >> text=Sequences")
        page.click("[data-testid=new-sequence]")
        page.wait_for_selector("[data-testid=sequence-form]")
        page.fill("#f-name", "Webinar follow-up")
        page.fill("#f-from", "events@onefunnel-demo.example")
        page.check("input[name=entry_reasons][value=not_now]")
        page.fill("#s0-wait", "2")
        page.fill("#s0-subject", "Thanks for coming, {{ contact.first_name }}")
        page.fill("#s0-html", "<p>Hi {{ contact.nickname }}</p>")
        page.fill("#s0-text", "Hi {{ contact.first_name }}")
        page.click("[data-testid=save-sequence]")
        refusal = page.wait_for_selector("[data-testid=error-steps-0-html]")
        assert "unknown variable contact.nickname" in (refusal.text_content() or "")
        assert page.input_value("#f-name") == "Webinar follow-up"  # the form keeps its values
        named = "SELECT COUNT(*) FROM onefunnel_sequence WHERE name = 'Webinar follow-up'"
        assert _one(server, named) == 0
        w.shot("refused")
        # The refusal's 422 (and Chromium's report of it) is the point here; nothing else.
        expected = [p for p in w.problems if "422" in p]
        assert expected
        w.problems[:] = [p for p in w.problems if p not in expected]

        page.fill("#s0-html", "<p>Hi {{ contact.first_name }} from {{ account.name }}</p>")
        page.click("[data-testid=save-sequence]")
        page.wait_for_selector("[data-testid=steps-table]")
        assert (page.text_content("[data-testid=sequence-name]") or "").strip() == (
            "Webinar follow-up"
        )
        assert page.locator("[data-testid=step-row]").count() == 1
        assert _one(server, named) == 1
        w.shot("created")
