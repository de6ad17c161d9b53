"""Certificates: the citizen's download, the published verification material, and the
verifier, /api/v1 and /.well-known."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.core.validation import load
from cowin_kit.core.apidoc import doc
from cowin_kit.certificates import services
from cowin_kit.certificates.formats import shc, vc
from cowin_kit.certificates.schemas import (
    CertificateOut, VerifyIn, VerifyOut, verification_json,
)
from cowin_kit.certificates.verify import verify
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.certificates.pdf import render_certificate_pdf
from cowin_kit.scheduling.slip import slip_locale

bp = Blueprint("api_certificates", __name__)


def _own_certificate(reference_id: str):
    session = get_session()
    beneficiary = next((b for b in citizen().beneficiaries if b.reference_id == reference_id), None)
    if beneficiary is None:
        raise NotFound(_("No such person in this account."), code="beneficiary_not_found")
    return services.current_certificate(session, beneficiary)


@bp.get("/api/v1/beneficiaries/<reference_id>/certificate")
@doc("My member's current certificate: the QR texts of every enabled format",
     response=CertificateOut, auth="citizen", tag="certificates")
def certificate(reference_id: str):
    return jsonify(CertificateOut().dump(services.describe(_own_certificate(reference_id))))


def certificate_pdf_response(reference_id: str) -> Response:
    """The PDF of the signed-in citizen's member ``reference_id`` (404 for anyone else),
    in the account's language (else the request's)."""
    found = _own_certificate(reference_id)
    active = pack()
    locale = slip_locale(citizen(), active, request_locale())
    data = render_certificate_pdf(get_session(), active, found, locale)
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="certificate-{reference_id}.pdf"')
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


@bp.get("/api/v1/beneficiaries/<reference_id>/certificate.pdf")
@doc("My member's current certificate as PDF (in my account's language), with the QR "
     "codes of every enabled format", auth="citizen", tag="certificates",
     content_type="application/pdf")
def certificate_pdf(reference_id: str):
    return certificate_pdf_response(reference_id)


@bp.get("/api/v1/beneficiaries/<reference_id>/certificate.smart-health-card")
@doc("The SMART Health Card file", auth="citizen", tag="certificates",
     content_type="application/smart-health-card")
def smart_health_card(reference_id: str):
    found = _own_certificate(reference_id)
    if not found.shc:
        raise NotFound(_("This country does not issue SMART Health Cards."),
                       code="format_not_enabled")
    response = Response(shc.card_file([found.shc]), mimetype="application/smart-health-card")
    response.headers["Content-Disposition"] = f'attachment; filename="{reference_id}.smart-health-card"'
    return response


@bp.get("/.well-known/jwks.json")
def jwks():
    """SMART Health Card issuer keys (every key generation, so old cards keep verifying)."""
    return jsonify(services.keystore().shc_jwks())


@bp.get("/api/v1/trust/dcc")
@doc("The DCC trust list of this instance: document-signer certificates with their kid",
     tag="certificates")
def dcc_trust_list():
    return jsonify(services.keystore().dcc_trust_list())


@bp.get("/api/v1/trust/vc")
@doc("The keys of this instance's W3C verifiable credentials: `keys` (JWK) and "
     "`controller`, the issuer's controller document (Multikey verification methods) "
     "that Data Integrity verifiers resolve a credential's `verificationMethod` with",
     tag="certificates")
def vc_keys():
    store = services.keystore()
    issuer = services.issuer_url()
    return jsonify(keys=store.vc_public_keys(),
                   controller=vc.controller_document(
                       issuer, [g.vc_key for g in store.generations()]))


@bp.get(vc.CONTEXT_PATH)
def vc_context():
    """The JSON-LD context of the W3C credentials' own terms (`vc.CONTEXT`)."""
    response = Response(json.dumps(vc.CONTEXT, indent=2), mimetype="application/ld+json")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.get("/api/v1/trust/revocations")
@doc("Revoked certificate ids (certificate ids, SHC rids and DCC UVCIs)", tag="certificates")
def revocations():
    return jsonify(revoked=services.revoked_ids(get_session()))


def verify_text(text: str):
    return verify(text, trust=services.instance_trust_store(),
                  revoked=set(services.revoked_ids(get_session())))


@bp.post("/api/v1/certificates/verify")
@doc("Verify a certificate's QR text with this instance's keys and revocation list",
     body=VerifyIn, response=VerifyOut, tag="certificates")
def verify_certificate():
    data = load(VerifyIn())
    return jsonify(verification_json(verify_text(data["text"])))
