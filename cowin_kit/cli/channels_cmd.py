"""`cowin-kit channels ...`: the phone channels' messages that failed (to be sent or
delivered, as the gateway's delivery reports said), sent again or taken over by a health
worker; the same services as /api/v1/channels/messages."""

from __future__ import annotations

import click

from cowin_kit.cli import app_context, handle_errors


@click.group("channels")
def channels() -> None:
    """USSD/SMS channels: failed messages (docs/channels.md)."""


@channels.command("failed")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
@handle_errors
def failed(limit: int) -> None:
    """List messages that failed and are not handled yet, newest first (tab-separated:
    id, created, template, masked number, status, delivery status, reason, retry?)."""
    from cowin_kit.channels import services
    from cowin_kit.core.db import get_database

    with app_context(), get_database().session() as session:
        for row in services.failed_messages(session, None, limit=limit):
            click.echo("\t".join(str(v) for v in (
                row.id, row.created_at.isoformat(timespec="seconds"), row.template,
                row.recipient_masked, row.status, row.delivery_status or "-",
                row.reason or "-", "retry" if row.can_retry else "no-text")))


@channels.command("retry")
@click.argument("message_id", type=int)
@handle_errors
def retry(message_id: int) -> None:
    """Send failed message MESSAGE_ID again (a new message naming it)."""
    from cowin_kit.channels import services
    from cowin_kit.core.db import get_database

    with app_context(), get_database().session() as session:
        again = services.retry_message(session, None, message_id)
        click.echo(f"queued message {again.id} (a retry of {message_id})")


@channels.command("escalate")
@click.argument("message_id", type=int)
@handle_errors
def escalate(message_id: int) -> None:
    """Mark failed message MESSAGE_ID as taken over by a health worker."""
    from cowin_kit.channels import services
    from cowin_kit.core.db import get_database

    with app_context(), get_database().session() as session:
        services.escalate_message(session, None, message_id)
        click.echo(f"message {message_id} escalated")
