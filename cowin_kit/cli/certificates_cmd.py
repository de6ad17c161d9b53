"""`cowin-kit keys ...`, `cowin-kit worker` and `cowin-kit cert ...`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from cowin_kit.cli import app_context, fail, handle_errors


@click.group()
def keys() -> None:
    """Certificate signing keys (files, never in the database)."""


@keys.command("generate")
@handle_errors
def keys_generate() -> None:
    """Create a new key generation (the first, or a rotation: the new keys sign from now
    on; the older public keys stay published so earlier certificates keep verifying)."""
    from cowin_kit.certificates.signing import keystore as keystore_module
    from cowin_kit.certificates.services import keystore
    from cowin_kit.config.runtime import active_pack

    with app_context():
        pack = active_pack()
        issuer = pack.document["certificates"]["issuer"]
        name = issuer.get(pack.default_locale) or next(iter(issuer.values()))
        generation = keystore_module.generate(keystore().keys_dir, pack.code, name)
        click.echo(f"generated key generation {generation.key_id} in {generation.folder}")


@keys.command("list")
@handle_errors
def keys_list() -> None:
    """Key generations, newest (the one that signs) last."""
    from cowin_kit.certificates.services import keystore

    with app_context():
        generations = keystore().generations()
        for index, generation in enumerate(generations):
            mark = "  (signing)" if index == len(generations) - 1 else ""
            kid = generation.dcc_signer.kid.hex()
            click.echo(f"{generation.key_id}  dcc kid {kid}{mark}")
        if not generations:
            click.echo("no keys: run `cowin-kit keys generate`")


@keys.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def keys_export(output: Path | None) -> None:
    """The public verification material as JSON: SHC JWKS, DCC trust list, VC keys."""
    from cowin_kit.certificates.services import keystore

    with app_context():
        store = keystore()
        text = json.dumps({"shc_jwks": store.shc_jwks(), "dcc_trust_list": store.dcc_trust_list(),
                           "vc_keys": store.vc_public_keys()}, indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")


@click.command()
@click.option("--once", is_flag=True, help="Run every job once (slot alerts included), then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
@handle_errors
def worker(once: bool, interval: float) -> None:
    """Background jobs: send the message outbox, issue due certificates (the outbox
    written with each dose, retried on failure), tell slot-alert subscribers of free seats
    and remind families of routine doses due or overdue (hourly). Run one or more
    replicas."""
    from cowin_kit.core import metrics
    from cowin_kit.worker import Worker, describe

    def report(done) -> None:
        line = describe(done)
        if line:
            click.echo(line)

    with app_context() as app:
        runner = Worker(app)
        if once:
            report(runner.run_round(force_alerts=True))
            return
        metrics.start_worker_observability(app)  # JSON logs, /metrics on WORKER_METRICS_PORT
        # A long-lived process like a gunicorn worker: start-up's objects out of the
        # collector's reach, fewer collections (cowin_kit/serving.py)
        from cowin_kit.serving import settle

        settle(app)
        runner.run_forever(interval, report=report)


@click.group()
def cert() -> None:
    """Certificates: export a beneficiary's latest, verify any."""


@cert.command("export")
@click.argument("reference_id")
@click.option("--format", "fmt", type=click.Choice(["vc", "dcc", "shc", "pdf"]), required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--locale", help="Language of the PDF (default: the account's).")
@handle_errors
def cert_export(reference_id: str, fmt: str, output: Path | None, locale: str | None) -> None:
    """Print (or write) the QR content of REFERENCE_ID's latest certificate; --format pdf
    writes the PDF certificate (needs --output)."""
    from sqlalchemy import select

    from cowin_kit.certificates import services
    from cowin_kit.certificates.formats import shc
    from cowin_kit.core.db import get_database
    from cowin_kit.registration.models import Beneficiary

    with app_context():
        with get_database().session() as session:
            beneficiary = session.scalars(select(Beneficiary).where(
                Beneficiary.reference_id == reference_id)).first()
            if beneficiary is None:
                fail(f"no beneficiary {reference_id}")
            certificate = services.current_certificate(session, beneficiary)
            if fmt == "pdf":
                _write_pdf(session, beneficiary, certificate, output, locale)
                return
            text = {"dcc": certificate.dcc, "vc": certificate.vc,
                    "shc": shc.qr_text(certificate.shc) if certificate.shc else None}[fmt]
    if text is None:
        fail(f"format {fmt} is not enabled in this country's pack")
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


def _write_pdf(session, beneficiary, certificate, output: Path | None,
               locale: str | None) -> None:
    from flask import current_app

    from cowin_kit.certificates.pdf import render_certificate_pdf
    from cowin_kit.config.runtime import active_pack

    if output is None:
        fail("--format pdf needs --output FILE")
    pack = active_pack()
    if not locale:
        account_locale = beneficiary.account.locale if beneficiary.account else None
        locale = account_locale if account_locale in pack.locales else pack.default_locale
    with current_app.test_request_context():  # Babel's force_locale needs a request
        data = render_certificate_pdf(session, pack, certificate, locale)
    output.write_bytes(data)
    click.echo(f"wrote {output}")


@cert.command("verify")
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="X.509 certificate (DER/PEM), JWKS, PEM public key or DCC trust list JSON.")
@click.option("--revocations", type=click.Path(exists=True, path_type=Path),
              help="JSON list of revoked ids (or {\"revoked\": [...]}), or a SMART Health "
                   "Cards revocation list ({\"kid\", \"method\", \"ctr\", \"rids\"}, or a "
                   "list of them).")
@click.option("--at", "at", help="Validation time, ISO 8601 (default now).")
@click.option("--json", "as_json", is_flag=True)
@click.argument("input_")
def cert_verify(trust, revocations, at, as_json, input_) -> None:
    """Verify INPUT (QR text, a file holding it, a .smart-health-card file or a QR image).
    Exit 0 valid, 1 readable but not valid, 2 unreadable."""
    from cowin_kit.certificates.signing.trust import TrustStore
    from cowin_kit.certificates.verify import input_from_file, verify

    data: str | bytes = input_
    raw = _file_content(input_)
    if raw is not None:
        data = input_from_file(raw)
    revoked, shc_lists = _revocations(revocations) if revocations else (set(), [])
    moment = datetime.fromisoformat(at) if at else None
    if trust:
        store = TrustStore()
        for source in trust:
            _add_trust(store, source)
        result = verify(data, trust=store, revoked=revoked, at=moment,
                        shc_revocations=shc_lists)
    else:  # the instance's own keys and revocation list
        from cowin_kit.certificates import services
        from cowin_kit.core.db import get_database

        with app_context():
            store = services.instance_trust_store()
            with get_database().session() as session:
                revoked |= set(services.revoked_ids(session))
        result = verify(data, trust=store, revoked=revoked, at=moment,
                        shc_revocations=shc_lists)
    from cowin_kit.certificates.schemas import verification_json

    if as_json:
        click.echo(json.dumps(verification_json(result), ensure_ascii=False, indent=2))
    else:
        state = "VALID" if result.valid else "NOT VALID"
        click.echo(f"{state} {result.format} issuer={result.issuer} errors={','.join(result.errors) or '-'}")
    unreadable = result.format == "unknown" or any(
        e in ("unprefix_failed", "base45_invalid", "zlib_invalid", "cose_invalid", "qr_unreadable",
              "jws_invalid", "bad_header", "odd_digits", "digit_out_of_range", "not_deflated",
              "deflate_invalid", "trailing_characters", "image_too_large", "encoding_invalid",
              "json_too_deep")
        for e in result.errors)
    sys.exit(0 if result.valid else 2 if unreadable else 1)


def _revocations(source: Path) -> tuple[set[str], list]:
    """Revoked ids and SMART Health Cards revocation lists from the --revocations file;
    exit 2 when it is neither form."""
    from cowin_kit.certificates.formats.shc import RevocationList, ShcError
    from cowin_kit.core import jsonio

    try:
        listed = jsonio.loads(source.read_bytes())
        if isinstance(listed, dict) and "revoked" in listed:
            listed = listed["revoked"]
        if isinstance(listed, dict):
            listed = [listed]
        if isinstance(listed, list) and all(isinstance(item, str) for item in listed):
            return set(listed), []
        if isinstance(listed, list) and all(isinstance(item, dict) for item in listed):
            return set(), [RevocationList.parse(item) for item in listed]
        raise ShcError("crl_invalid", "neither a list of ids nor a revocation list")
    except (ValueError, UnicodeDecodeError) as exc:
        click.echo(f"{source}: not a revocation list: {exc}", err=True)
        sys.exit(2)


def _file_content(argument: str) -> bytes | None:
    """The content of the file ARGUMENT names, or None when it is no file's name (QR text
    given on the command line can be longer than a file name may be)."""
    try:
        path = Path(argument)
        return path.read_bytes() if path.is_file() else None
    except (OSError, ValueError):
        return None


def _add_trust(store, source: Path) -> None:
    raw = source.read_bytes()
    text = raw.decode("utf-8", errors="ignore").strip()
    if text.startswith("{") and '"keys"' in text:
        store.add_jwks(text)
    elif text.startswith("["):
        store.add_trust_list(text)
    elif "PUBLIC KEY" in text:
        store.add_public_key(raw)
    else:
        store.add_certificate(raw)
