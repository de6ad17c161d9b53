"""`cowin-kit users ...` and `cowin-kit partners ...`: staff accounts, their roles, and
partner API keys, for operators at the server (no web session needed)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import click
from sqlalchemy.orm import Session

from cowin_kit.cli import app_context, fail, handle_errors
from cowin_kit.identity.models import RoleGrant


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the instance's database; the command commits what it wants kept."""
    from cowin_kit.core.db import get_database

    with app_context(), get_database().session() as session:
        yield session


def _grant_label(grant: RoleGrant) -> str:
    if grant.facility is not None:
        return f"{grant.role} (facility {grant.facility.code})"
    if grant.location is not None:
        return f"{grant.role} (location {grant.location.code})"
    return f"{grant.role} (whole country)"


def _scope_label(location: str | None, facility: str | None) -> str:
    if facility:
        return f"facility {facility}"
    if location:
        return f"location {location}"
    return "the whole country"


def _time(moment: datetime) -> str:
    if moment.tzinfo is not None:  # PostgreSQL answers in its session time zone
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M") + " UTC"


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        click.echo("  ".join(cells).rstrip())


# --- users --------------------------------------------------------------------------------

@click.group()
def users() -> None:
    """Staff accounts and their roles."""


def _region(mobile: str | None) -> str | None:
    """The installed pack's phone region, in which a staff mobile number is read."""
    if not mobile:
        return None
    from cowin_kit.config.runtime import active_pack

    return active_pack().document["phone_region"]


@users.command("create")
@click.argument("username")
@click.option("--password", help="The password (visible to other users of this machine "
                                 "in the process list: prefer the prompt or --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@click.option("--name", "display_name", default="", help="Display name (default: USERNAME).")
@click.option("--mobile", help="Mobile number stock and serious-AEFI alerts are sent to.")
@click.option("--email", help="E-mail address.")
@handle_errors
def users_create(username: str, password: str | None, generate: bool,
                 display_name: str, mobile: str | None, email: str | None) -> None:
    """Create a staff account (without roles: see `users grant`)."""
    from cowin_kit.identity import rules
    from cowin_kit.identity import services as identity

    problem = rules.username_problem(username.strip())
    if problem:  # before asking for a password that would be thrown away
        fail(str(problem))
    if password is not None and generate:
        fail("give --password or --generate, not both")
    if generate:
        password = identity.generate_password()
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _session() as session:
        user = identity.add_staff_user(session, username, password, display_name,
                                       region=_region(mobile), mobile=mobile, email=email)
        click.echo(f"created staff user {user.username}")
    if generate:
        click.echo(f"  password (shown once): {password}")


@users.command("list")
@handle_errors
def users_list() -> None:
    """Every account: whether active or locked, and its roles with their places."""
    from cowin_kit.identity import services as identity

    with _session() as session:
        accounts = identity.list_staff(session)
        rows = [["USERNAME", "ACTIVE", "LOCKED", "MOBILE", "ROLES"]]
        for user in accounts:
            locked = f"until {_time(user.locked_until)}" \
                if identity.is_locked(user) and user.locked_until else "no"
            roles = ", ".join(_grant_label(g) for g in sorted(user.grants, key=lambda g: g.id))
            rows.append([user.username, "yes" if user.active else "no", locked,
                         user.mobile or "-", roles or "-"])
    _table(rows)


def _scope_options(verb: str):
    """--location/--facility, shared by grant and revoke."""
    def decorate(command):
        command = click.option("--facility", metavar="CODE",
                               help=f"Facility the role {verb} on.")(command)
        return click.option("--location", metavar="CODE",
                            help=f"Location the role {verb} on (with its subtree).")(command)
    return decorate


def _change_role(change: str, username: str, role: str, location: str | None,
                 facility: str | None) -> None:
    from cowin_kit.identity import services as identity

    with _session() as session:
        identity.change_role(session, username, role, grant=change == "grant",
                             location_code=location, facility_code=facility)
    preposition = "to" if change == "grant" else "from"
    click.echo(f"{change}ed {role} {preposition} {username} on {_scope_label(location, facility)}")


@users.command("grant")
@click.argument("username")
@click.argument("role")
@_scope_options("is granted")
@handle_errors
def users_grant(username: str, role: str, location: str | None, facility: str | None) -> None:
    """Grant ROLE to USERNAME on the whole country, a location or a facility."""
    _change_role("grant", username, role, location, facility)


@users.command("revoke")
@click.argument("username")
@click.argument("role")
@_scope_options("was granted")
@handle_errors
def users_revoke(username: str, role: str, location: str | None, facility: str | None) -> None:
    """Revoke ROLE from USERNAME on exactly the scope it was granted on."""
    _change_role("revoke", username, role, location, facility)


@users.command("contact")
@click.argument("username")
@click.option("--mobile", default="", help="Mobile number alerts are sent to (empty: none).")
@click.option("--email", default="", help="E-mail address (empty: none).")
@handle_errors
def users_contact(username: str, mobile: str, email: str) -> None:
    """Set USERNAME's contact: stock alerts (near expiry, stock-out, low stock, recalls)
    and serious AEFI alerts of the places their roles cover are sent to the mobile. An
    option left out clears that part."""
    from cowin_kit.identity import services as identity

    with _session() as session:
        user = identity.set_contact(session, username, region=_region(mobile),
                                    mobile=mobile, email=email)
        click.echo(f"contact of {user.username}: mobile {user.mobile or '-'}, "
                   f"e-mail {user.email or '-'}")


@users.command("deactivate")
@click.argument("username")
@handle_errors
def users_deactivate(username: str) -> None:
    """Stop USERNAME from signing in (the account and its history are kept)."""
    from cowin_kit.identity import services as identity

    with _session() as session:
        identity.deactivate_user(session, identity.get_staff_user(session, username))
    click.echo(f"deactivated {username}")


# --- partners -----------------------------------------------------------------------------

@click.group()
def partners() -> None:
    """API keys of partner applications (sent as X-Api-Key)."""


@partners.command("create")
@click.argument("name")
@click.option("--by", "by_username", required=True, metavar="USERNAME",
              help="The national administrator issuing the key (recorded as its creator).")
@click.option("--rate-limit", default=600, show_default=True, type=int,
              help="Calls a minute allowed with this key.")
@handle_errors
def partners_create(name: str, by_username: str, rate_limit: int) -> None:
    """Issue a key for the partner NAME; it is printed once and cannot be shown again."""
    from cowin_kit.identity import services as identity

    with _session() as session:
        creator = identity.get_staff_user(session, by_username)
        key, raw_key = identity.create_partner_key(session, creator, name,
                                                   rate_limit_per_minute=rate_limit)
        click.echo(f"created partner key {key.id} for {key.name} ({key.key_prefix}...)")
    click.echo(f"  key (shown once): {raw_key}")


@partners.command("list")
@handle_errors
def partners_list() -> None:
    """Every key: its prefix, creator, rate limit and whether it is revoked."""
    from cowin_kit.identity import services as identity

    with _session() as session:
        rows = [["ID", "NAME", "PREFIX", "CREATED BY", "CREATED", "LIMIT/MIN", "STATUS"]]
        for key in identity.list_partner_keys(session):
            status = "active" if key.revoked_at is None else f"revoked {_time(key.revoked_at)}"
            rows.append([str(key.id), key.name, key.key_prefix, key.creator.username,
                         _time(key.created_at), str(key.rate_limit_per_minute), status])
    _table(rows)


@partners.command("revoke")
@click.argument("key_id", metavar="ID", type=int)
@handle_errors
def partners_revoke(key_id: int) -> None:
    """Revoke key ID: calls with it are refused from now on."""
    from cowin_kit.identity import services as identity

    with _session() as session:
        key = identity.revoke_partner_key(session, key_id)
    click.echo(f"revoked partner key {key.id} ({key.name})")
