"""Staff sign-in and administration (accounts, roles, partner keys), /api/v1."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from cowin_kit.api import bearer_token, pack
from cowin_kit.core.validation import load
from cowin_kit.core.apidoc import doc
from cowin_kit.audit.services import Actor, current_actor, set_actor
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import Unauthorized
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity import schemas, services
from cowin_kit.identity.models import RoleGrant, StaffUser
from cowin_kit.core.ratelimit import client_address, limited
from cowin_kit.identity import access

bp = Blueprint("api_staff", __name__, url_prefix="/api/v1")


def staff() -> StaffUser:
    """The signed-in staff member (Bearer staff token), or 401."""
    if "staff" not in g:
        user = services.staff_from_token(get_session(), bearer_token())
        if user is None:
            raise Unauthorized(_("Sign in as staff first: the token is missing, wrong or "
                                 "expired."), code="invalid_token")
        g.staff = user
        set_actor(Actor("staff", user.username, g.get("request_id"),
                        current_actor().source_ip))
    return g.staff


def _grant_json(grant: RoleGrant) -> dict:
    return {"role": grant.role,
            "location": grant.location.code if grant.location is not None else None,
            "facility": grant.facility.code if grant.facility is not None else None}


def _staff_json(user: StaffUser) -> dict:
    return {"username": user.username, "display_name": user.display_name,
            "active": user.active, "mobile": user.mobile, "email": user.email,
            "grants": [_grant_json(gr) for gr in sorted(user.grants, key=lambda x: x.id)]}


def _region(mobile: str | None) -> str | None:
    """The pack's phone region a staff mobile number is read in (asked only for one)."""
    return pack().document["phone_region"] if mobile else None


def _key_json(key) -> dict:
    return {"id": key.id, "name": key.name, "key_prefix": key.key_prefix,
            "rate_limit_per_minute": key.rate_limit_per_minute,
            "created_at": key.created_at, "revoked_at": key.revoked_at}


@bp.post("/staff/sign-in")
@limited("30/minute", scope="staff-sign-in", headers=True)
@doc("Sign in as staff", body=schemas.StaffSignInIn, response=schemas.StaffTokenOut,
     tag="staff")
def sign_in():
    data = load(schemas.StaffSignInIn())
    user = services.authenticate_staff(get_session(), data["username"], data["password"],
                                       source=client_address())
    ttl = current_app.config["COWIN_KIT"]["STAFF_TOKEN_TTL_SECONDS"]
    token = services.issue_staff_token(user)
    return jsonify(schemas.StaffTokenOut().dump(
        {"token": token, "expires_in": ttl, "username": user.username}))


@bp.post("/staff/sign-out")
@doc("Sign out: every token of my account stops working, on every device", status=204,
     auth="staff", tag="staff")
def sign_out():
    services.sign_out_staff(get_session(), staff())
    return "", 204


@bp.get("/admin/staff")
@doc("Staff accounts in my area", response=schemas.StaffListOut, auth="staff", tag="staff")
def list_staff():
    users = services.staff_visible_to(get_session(), staff())
    return jsonify(schemas.StaffListOut().dump({"staff": [_staff_json(u) for u in users]}))


@bp.post("/admin/staff")
@doc("Create a staff account", body=schemas.StaffIn, response=schemas.StaffCreatedOut,
     status=201, auth="staff", tag="staff")
def create_staff():
    data = load(schemas.StaffIn())
    user, generated = services.admin_create_staff(
        get_session(), staff(), data["username"], data.get("password"),
        data.get("display_name", ""), region=_region(data.get("mobile")),
        mobile=data.get("mobile"), email=data.get("email"))
    body = {**_staff_json(user), "generated_password": generated}
    return jsonify(schemas.StaffCreatedOut().dump(body)), 201


@bp.put("/admin/staff/<username>/contact")
@doc("Set a staff member's contact (stock and serious-AEFI alerts go to the mobile); "
     "null clears it", body=schemas.StaffContactIn, response=schemas.StaffOut,
     auth="staff", tag="staff")
def set_contact(username: str):
    data = load(schemas.StaffContactIn())
    user = services.admin_set_contact(get_session(), staff(), username,
                                      region=_region(data["mobile"]),
                                      mobile=data["mobile"], email=data.get("email"))
    return jsonify(schemas.StaffOut().dump(_staff_json(user)))


@bp.post("/admin/staff/<username>/grants")
@doc("Grant a role", body=schemas.GrantIn, response=schemas.StaffOut, status=201,
     auth="staff", tag="staff")
def grant(username: str):
    data = load(schemas.GrantIn())
    session = get_session()
    services.admin_grant_role(session, staff(), username, data["role"],
                              data.get("location"), data.get("facility"))
    return jsonify(_staff_json(services.get_staff_user(session, username))), 201


@bp.post("/admin/staff/<username>/grants/revoke")
@doc("Revoke a role (on exactly the scope it was granted on)", body=schemas.GrantIn,
     response=schemas.StaffOut, auth="staff", tag="staff")
def revoke(username: str):
    data = load(schemas.GrantIn())
    session = get_session()
    services.admin_revoke_role(session, staff(), username, data["role"],
                               data.get("location"), data.get("facility"))
    return jsonify(_staff_json(services.get_staff_user(session, username)))


@bp.get("/admin/partner-keys")
@doc("Partner API keys", response=schemas.PartnerKeyListOut, auth="staff", tag="partners")
def list_keys():
    _require_partner_admin()
    keys = services.list_partner_keys(get_session())
    return jsonify(schemas.PartnerKeyListOut().dump({"keys": [_key_json(k) for k in keys]}))


@bp.post("/admin/partner-keys")
@doc("Issue a partner API key (the key is in this answer only)", body=schemas.PartnerKeyIn,
     response=schemas.PartnerKeyCreatedOut, status=201, auth="staff", tag="partners")
def create_key():
    data = load(schemas.PartnerKeyIn())
    key, raw = services.create_partner_key(get_session(), staff(), data["name"],
                                           data["rate_limit_per_minute"])
    return jsonify(schemas.PartnerKeyCreatedOut().dump({**_key_json(key), "key": raw})), 201


@bp.post("/admin/partner-keys/<int:key_id>/revoke")
@doc("Revoke a partner API key", response=schemas.PartnerKeyOut, auth="staff", tag="partners")
def revoke_key(key_id: int):
    _require_partner_admin()
    key = services.revoke_partner_key(get_session(), key_id)
    return jsonify(schemas.PartnerKeyOut().dump(_key_json(key)))


def _require_partner_admin() -> None:
    access.check_access(staff(), "partner_key.manage", access.COUNTRY,
                        message=_("Only national administrators may manage partner API keys."))
