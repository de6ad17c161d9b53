"""The public certificate verification page, /verify: paste the QR text (or a SMART Health
Card file's content) or upload a photo of the QR code. The one verifier of the kit
(cowin_kit.certificates.verify, as `cowin-kit cert verify` and the API use it) judges it
with this instance's keys and revocation list; the page explains the result in the
visitor's language. Scanning with the camera is a small first-party script
(static/verify-camera.js) on top; the page works without it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel import Locale
from flask import request
from flask_babel import lazy_gettext
from sqlalchemy import select

from cowin_kit.certificates import services as certificates
from cowin_kit.certificates.verify import VerificationResult, verify
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.core.ratelimit import limited
from cowin_kit.config.runtime import active_pack
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.web import core, ui

bp = ui.make_blueprint("verify", __name__)
core.register_staff_link("certificate.verify", "verify.verify_page",
                         lazy_gettext("Verify a certificate"))

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_TEXT = 64 * 1024

# Each stable error code of the verifier, in plain words (its own details are English).
ERROR_TEXT = {
    "format_unknown": lazy_gettext("This is not a certificate this page knows."),
    "encoding_invalid": lazy_gettext("The file could not be read."),
    "qr_unreadable": lazy_gettext("No QR code could be read in the picture. Try a sharper, "
                                  "closer photo."),
    "image_too_large": lazy_gettext("The picture has too many pixels. Send a smaller photo "
                                    "of the QR code."),
    "signature_invalid": lazy_gettext("The signature does not match: the certificate was "
                                      "changed or not issued by a trusted issuer."),
    "kid_unknown": lazy_gettext("It was signed with a key this service does not trust."),
    "kid_missing": lazy_gettext("It does not say which key signed it."),
    "alg_unsupported": lazy_gettext("It is signed in a way this service does not accept."),
    "expired": lazy_gettext("The certificate has expired."),
    "not_yet_valid": lazy_gettext("The certificate is not valid yet."),
    "revoked": lazy_gettext("The certificate has been revoked (withdrawn) by its issuer."),
    "issuer_mismatch": lazy_gettext("The issuer named in it does not own the signing key."),
    "signer_not_valid": lazy_gettext("It was issued when the certificate of its signing "
                                     "key was not valid."),
    "key_usage_invalid": lazy_gettext("The signing key may not sign vaccination "
                                      "certificates."),
    "schema_invalid": lazy_gettext("The certificate's content is not well formed."),
    "unprefix_failed": lazy_gettext("The text is incomplete: it should begin with HC1:."),
    "trailing_characters": lazy_gettext("There are extra characters around the "
                                        "certificate."),
}
DAMAGED = lazy_gettext("The certificate's text is damaged or incomplete.")
FORMAT_NAMES = {"dcc": lazy_gettext("EU Digital COVID Certificate"),
                "shc": lazy_gettext("SMART Health Card"),
                "vc": lazy_gettext("Verifiable credential")}


def _explain(result: VerificationResult) -> list[str]:
    return [str(ERROR_TEXT.get(code, DAMAGED)) for code in result.errors]


def _dcc_summary(payload: dict[str, Any]) -> dict[str, Any]:
    names = payload.get("nam") or {}
    doses = [{"dose": v.get("dn"), "total": v.get("sd"), "date": v.get("dt"),
              "vaccine": v.get("mp"), "country": v.get("co")} for v in payload.get("v") or []]
    return {"name": " ".join(p for p in (names.get("gn"), names.get("fn")) if p),
            "birth": payload.get("dob"), "doses": doses}


def _shc_summary(payload: dict[str, Any]) -> dict[str, Any]:
    bundle = ((payload.get("vc") or {}).get("credentialSubject") or {}).get("fhirBundle") or {}
    name, birth, doses = "", None, []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Patient":
            first = (resource.get("name") or [{}])[0]
            name = " ".join([*(first.get("given") or []), first.get("family") or ""]).strip()
            birth = resource.get("birthDate")
        elif resource.get("resourceType") == "Immunization":
            codes = (resource.get("vaccineCode") or {}).get("coding") or [{}]
            doses.append({"dose": len(doses) + 1, "total": None,
                          "date": resource.get("occurrenceDateTime"),
                          "vaccine": codes[0].get("display") or codes[0].get("code"),
                          "country": None})
    return {"name": name, "birth": birth, "doses": doses}


def _vc_summary(payload: dict[str, Any]) -> dict[str, Any]:
    subject = payload.get("credentialSubject") or {}
    doses = [{"dose": e.get("dose"), "total": e.get("totalDoses"), "date": e.get("date"),
              "vaccine": e.get("vaccine"), "country": None}
             for e in payload.get("evidence") or [] if isinstance(e, dict)]
    return {"name": subject.get("name") or "", "birth": subject.get("dob"), "doses": doses}


def _day(value: Any) -> date | str | None:
    """A certificate's date (ISO text, maybe with a time, maybe only a year or month) as a
    date to format in the visitor's locale; a partial date stays as written."""
    if not isinstance(value, str) or not value:
        return value or None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        if len(value) > 10:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    return value


def _product_names() -> dict[str, dict[str, str]]:
    """Each code a certificate may carry for a product of the pack (its own code, the EU
    product number, CVX, SNOMED, ICD-11) -> the product's names."""
    def load() -> dict[str, dict[str, str]]:
        names: dict[str, dict[str, str]] = {}
        for product in get_session().scalars(select(VaccineProduct)):
            for code in [product.code, *(product.codes or {}).values()]:
                if code:
                    names.setdefault(str(code), product.names)
        return names
    try:
        return active_pack().memo(("verify-product-names",), load) or {}
    except Exception:  # no pack installed
        return {}


def vaccine_name(code: Any) -> str:
    """A vaccine as the certificate names it, by its name in the visitor's language."""
    if not code:
        return ""
    names = _product_names().get(str(code))
    return ui.pack_label(names, str(code)) if names else str(code)


def issuer_name(issuer: str | None) -> str:
    """The issuer by name: this programme's own issuer (its country code or issuer URL)
    by the pack's wording; another country by its name; else as written."""
    if not issuer:
        return ""
    try:
        pack = active_pack()
        certificates_doc = pack.document.get("certificates") or {}
        own = {pack.code, certificates_doc.get("issuer_id"),
               (certificates_doc.get("issuer_id") or "").rstrip("/")}
        if issuer in own or issuer.rstrip("/") in own:
            return ui.pack_label(certificates_doc.get("issuer"), issuer)
    except Exception:  # no pack installed
        pass
    if len(issuer) == 2 and issuer.isalpha():
        return ui.page_locale().territories.get(issuer.upper()) \
            or Locale("en").territories.get(issuer.upper()) or issuer
    return issuer


def summary(result: VerificationResult) -> dict[str, Any] | None:
    """Who and what the certificate is about, for showing (only when its signature is
    good: an unsigned claim is not worth reading out)."""
    if not result.signature_valid or not isinstance(result.payload, dict):
        return None
    pick = {"dcc": _dcc_summary, "shc": _shc_summary, "vc": _vc_summary}.get(result.format)
    try:
        found = pick(result.payload) if pick else None
    except (AttributeError, TypeError, IndexError):
        return None
    if found is not None:
        found["birth"] = _day(found.get("birth"))
        for dose in found["doses"]:
            dose["date"] = _day(dose.get("date"))
            dose["vaccine"] = vaccine_name(dose.get("vaccine"))
    return found


def _input() -> str | bytes:
    upload = request.files.get("image")
    if upload is not None and upload.filename:
        data = upload.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            message = ngettext("The picture is larger than %(num)d MB.",
                               "The picture is larger than %(num)d MB.", MAX_IMAGE_BYTES >> 20)
            raise InvalidInput(message, code="file_too_large", fields={"image": [message]})
        return data
    text = request.form.get("text", "")
    if not text.strip():
        message = _("Paste the certificate's text or choose a picture of its QR code.")
        raise InvalidInput(message, code="input_missing", fields={"text": [message]})
    if len(text) > MAX_TEXT:
        message = _("The text is too long to be a certificate.")
        raise InvalidInput(message, code="input_too_long", fields={"text": [message]})
    # A QR text never has a line break at its end; a paste often does.
    return text.rstrip("\r\n")


@bp.route("/verify", methods=["GET", "POST"])
@limited("60/minute", scope="web-verify", methods=("POST",), headers=True)
def verify_page():
    form = ui.FormState()
    result = None
    if request.method == "POST":
        try:
            data = _input()
        except InvalidInput as exc:
            form.fail(exc)
        else:
            result = verify(data, trust=certificates.instance_trust_store(),
                            revoked=set(certificates.revoked_ids(get_session())))
    return ui.render("web/verify/verify.html", form=form, result=result,
                     problems=_explain(result) if result else [],
                     about=summary(result) if result else None,
                     format_name=FORMAT_NAMES.get(result.format) if result else None,
                     issuer=issuer_name(result.issuer) if result else ""), form.status
