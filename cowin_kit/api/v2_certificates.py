"""CoWIN v2 certificate downloads: the PDF certificate of one of the signed-in
citizen's members (CoWIN required the citizen token on both paths, public and
protected). Another account's member is a 404, as on /api/v1."""

from __future__ import annotations

from flask import request

from cowin_kit.api.certificates import certificate_pdf_response
from cowin_kit.api.v2_blueprint import ERROR_CODES, bp
from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _

# CoWIN-style codes of the certificate errors (beneficiary_not_found is already mapped).
ERROR_CODES.setdefault("certificate_not_found", "CERTIF0001")


def _download():
    reference_id = request.args.get("beneficiary_reference_id", "").strip()
    if not reference_id:
        raise InvalidInput(_("Give the beneficiary_reference_id."), code="invalid_input")
    return certificate_pdf_response(reference_id)


@bp.get("/registration/certificate/public/download")
def cowin_public_certificate_download():
    """CoWIN: the certificate PDF of ``beneficiary_reference_id`` (citizen token)."""
    return _download()


@bp.get("/registration/certificate/download")
def cowin_certificate_download():
    """CoWIN: the certificate PDF of ``beneficiary_reference_id`` (citizen token)."""
    return _download()
