"""Forms from the command line as marketing runs them, on each database: create (with the
rule book: --as a rep is refused), list, show, and the consent export; clear one-line errors
and nothing written by a refused command."""

from __future__ import annotations

import json

from tests.e2e.conftest import Install


def test_forms_commands_end_to_end(install: Install) -> None:
    install.run("init")
    made = install.run(
        "forms", "create", "--name", "Request a demo", "--slug", "demo",
        "--field", "first_name:First name::required", "--field", "message:Message:textarea",
        "--hand-raise", "--consent-text", "Acme may contact me.",
        "--origin", "https://www.example.com", "-f", "json",
    )  # fmt: skip
    form = json.loads(made.stdout)
    assert [f["name"] for f in form["fields"]] == ["email", "first_name", "message"]
    assert form["hand_raise"] is True
    assert form["allowed_origins"] == ["https://www.example.com"]
    assert len(form["consent_version"]) == 64
    listed = json.loads(install.run("forms", "list", "-f", "json").stdout)
    assert [(f["slug"], f["submissions"]) for f in listed] == [("demo", 0)]
    shown = install.run("forms", "show", "demo").stdout
    assert "first_name (text, required)" in shown
    exported = install.run("forms", "consent", "export", "demo")
    assert exported.stdout.splitlines()[0].startswith("submission_id,form,email,")

    for args, code, message in [
        (("--slug", "Bad Slug"), 1, "error: slug:"),
        (("--slug", "demo"), 1, "error: slug: a form 'demo' exists already"),
        (("--slug", "x", "--origin", "www.example.com"), 1, "error: allowed_origins:"),
    ]:
        refused = install.run("forms", "create", "--name", "X", *args, check=False)
        assert refused.returncode == code, (args, refused.stderr)
        assert refused.stderr.strip().startswith(message), refused.stderr
        assert "Traceback" not in refused.stderr
    install.run("reps", "set", "sam", "--create")  # a sales rep: forms are marketing's
    denied = install.run("forms", "create", "--name", "Y", "--slug", "y", "--as", "sam",
                         check=False)  # fmt: skip
    assert denied.returncode == 3
    assert "may not edit marketing's records" in denied.stderr
    assert install.query("SELECT COUNT(*) FROM onefunnel_form") == [(1,)]
    missing = install.run("forms", "consent", "export", "nope", check=False)
    assert missing.returncode == 4
    assert missing.stderr.strip() == "error: form: no form 'nope'"
