"""`cowin-kit privacy ...`: a person's data export on their request, the retention jobs
run now, and erasure by pseudonymization where the law allows it (docs/privacy.md); the
same services as the API and the worker, each use audited as the operator's."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cowin_kit.cli import app_context, handle_errors


@click.group("privacy")
def privacy() -> None:
    """Data protection: exports, retention, erasure (docs/privacy.md)."""


@privacy.command("export")
@click.argument("reference_id")
@click.option("--format", "fmt", type=click.Choice(["json", "pdf"]), default="json",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="File to write (the export holds personal data).")
@click.option("--locale", help="Language of the PDF (default: the pack's).")
@handle_errors
def export_person(reference_id: str, fmt: str, output: Path, locale: str | None) -> None:
    """Export everything held about the person REFERENCE_ID (JSON or PDF)."""
    from flask import current_app

    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.privacy import export
    from cowin_kit.privacy.export_pdf import export_pdf

    with app_context(), get_database().session() as session:
        pack = active_pack()
        found = export.person_export(session, pack, None, reference_id, fmt=fmt,
                                     locale=locale)
        if fmt == "pdf":
            with current_app.test_request_context():
                data = export_pdf(found)
        else:
            data = (json.dumps(found.document, ensure_ascii=False, indent=2) + "\n").encode()
    output.write_bytes(data)
    output.chmod(0o600)
    people = len(found.document["people"])
    click.echo(f"wrote {output} ({fmt}, {people} person, "
               f"{len(found.document['audit'])} audit events)")


@privacy.command("purge")
@handle_errors
def purge() -> None:
    """Run the retention jobs now (the worker runs them every hour)."""
    from flask import current_app

    from cowin_kit.core.db import get_database
    from cowin_kit.privacy import retention

    with app_context(), get_database().session() as session:
        periods = retention.Periods.from_settings(current_app.config["COWIN_KIT"])
        done = retention.purge(session, periods)
    click.echo(f"deleted {done.otps} OTP(s), {done.messages} message(s), "
               f"{done.accounts} abandoned account(s); cut the details of "
               f"{done.audit_details} audit event(s)")


@privacy.command("erase")
@click.argument("reference_id")
@click.option("--reason", required=True,
              help="The person's request and the legal ground (kept in the audit trail).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def erase(reference_id: str, reason: str, yes: bool) -> None:
    """Pseudonymize the person REFERENCE_ID (only with ERASURE_ALLOWED): identity removed,
    doses kept for the counts. Cannot be undone."""
    from flask import current_app

    from cowin_kit.core.db import get_database
    from cowin_kit.privacy import erasure

    if not yes:
        click.confirm(f"Erase the identity of {reference_id}? This cannot be undone",
                      abort=True)
    with app_context(), get_database().session() as session:
        done = erasure.erase_person(
            session, reference_id, reason=reason,
            allowed=current_app.config["COWIN_KIT"]["ERASURE_ALLOWED"])
    click.echo(f"erased {done.reference_id}: {done.doses_kept} dose(s) kept without identity, "
               f"{done.certificates_revoked} certificate(s) revoked"
               + (", account deleted" if done.account_deleted else ""))
