"""Slot alerts: a citizen subscribes to a wish (place or postal code, vaccine, age, dose),
and the worker tells subscribers when seats matching it are free."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, aliased

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.db import MAX_ID
from cowin_kit.core.errors import InvalidInput, NotFound, RuleViolation
from cowin_kit.geography.models import Location
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.scheduling.availability import find_availability
from cowin_kit.scheduling.booking import local_now
from cowin_kit.scheduling.models import SlotAlertSubscription
from cowin_kit.scheduling.sessions import Notice, send_notices


class Subscribed(NamedTuple):
    subscription: SlotAlertSubscription
    created: bool  # False: the account already had this very alert, which is returned


def subscribe_slot_alert(session: Session, account: CitizenAccount, *, age: int,
                         dose: int = 1, location_code: str | None = None,
                         postal_code: str | None = None,
                         product_code: str | None = None) -> Subscribed:
    """Subscribe the account to a wish. An identical active subscription is returned rather
    than made twice; beyond SLOT_ALERTS_PER_ACCOUNT active ones, ``slot_alert_limit``."""
    if (location_code is None) == (postal_code is None):
        raise InvalidInput(_("Choose a place or a postal code."), code="invalid_alert")
    location_id = None
    if location_code is not None:
        location_id = session.scalar(select(Location.id).where(Location.code == location_code))
        if location_id is None:
            raise NotFound(_("No location with code %(code)s.", code=location_code),
                           code="location_not_found")
    if product_code is not None and session.scalar(
            select(VaccineProduct.id).where(VaccineProduct.code == product_code)) is None:
        raise NotFound(_("No vaccine with code %(code)s.", code=product_code),
                       code="vaccine_not_found")
    # one subscriber at a time per account (PostgreSQL), so the cap and the check for an
    # identical alert hold under parallel requests
    session.execute(select(CitizenAccount.id).where(CitizenAccount.id == account.id)
                    .with_for_update(key_share=True))
    mine = SlotAlertSubscription.account_id == account.id
    existing = session.scalar(select(SlotAlertSubscription).where(
        mine, SlotAlertSubscription.active, SlotAlertSubscription.location_id == location_id,
        SlotAlertSubscription.postal_code == postal_code,
        SlotAlertSubscription.product_code == product_code,
        SlotAlertSubscription.dose_number == dose, SlotAlertSubscription.age == age)
        .order_by(SlotAlertSubscription.id).limit(1))
    if existing is not None:
        session.commit()
        return Subscribed(existing, False)
    cap = current_app.config["COWIN_KIT"]["SLOT_ALERTS_PER_ACCOUNT"]
    held = session.scalar(select(func.count()).select_from(SlotAlertSubscription)
                          .where(mine, SlotAlertSubscription.active))
    if held >= cap:
        session.rollback()
        raise RuleViolation(ngettext("An account can hold at most %(num)d slot alert. Stop one "
                                     "to ask for another.",
                                     "An account can hold at most %(num)d slot alerts. Stop "
                                     "one to ask for another.", cap),
                            code="slot_alert_limit")
    subscription = SlotAlertSubscription(account_id=account.id, location_id=location_id,
                                         postal_code=postal_code, product_code=product_code,
                                         dose_number=dose, age=age)
    session.add(subscription)
    session.flush()
    audit.record(session, "slot_alert.subscribe", "slot_alert_subscription", subscription.id, place=audit.NATIONAL)
    session.commit()
    return Subscribed(subscription, True)


def unsubscribe_slot_alert(session: Session, account: CitizenAccount, subscription_id: int) -> None:
    subscription = session.get(SlotAlertSubscription, subscription_id) \
        if 0 < subscription_id <= MAX_ID else None
    if subscription is None or subscription.account_id != account.id:
        raise NotFound(_("No such alert."), code="alert_not_found")
    subscription.active = False
    audit.record(session, "slot_alert.unsubscribe", "slot_alert_subscription", subscription.id, place=audit.NATIONAL)
    session.commit()


def _due_in_turn(now: datetime, period: timedelta, limit: int) -> Select:
    """Subscriptions of accounts not told within the period, in turns: every account's
    longest unlooked-at subscription first, then their second..., and within a turn one
    area after another, the longest unlooked-at first."""
    alert = SlotAlertSubscription
    other = aliased(SlotAlertSubscription)
    told_lately = select(other.id).where(other.account_id == alert.account_id,
                                         other.last_notified_at > now - period).exists()
    looked = (alert.last_checked_at.nulls_first(), alert.id)
    turns = select(
        alert.id,
        func.row_number().over(partition_by=alert.account_id, order_by=looked)
        .label("account_turn"),
        func.row_number().over(partition_by=(alert.location_id, alert.postal_code),
                               order_by=looked).label("area_turn"),
    ).where(alert.active, ~told_lately).subquery()
    return (select(alert).join(turns, turns.c.id == alert.id)
            .order_by(turns.c.account_turn, turns.c.area_turn, *looked).limit(limit)
            .with_for_update(skip_locked=True, of=alert))


def dispatch_slot_alerts(session: Session, pack: ActivePack, *, now: datetime | None = None,
                         period_seconds: int | None = None, limit: int = 1000) -> int:
    """Tell subscribers whose wish matches seats that are free now; returns how many were
    told. An account is told at most once per period, however many subscriptions it
    holds. Up to ``limit`` subscriptions are looked at, taken in turns by account and by
    area, the longest unlooked-at first; every one looked at goes to the back of the line,
    matched or not, so subscriptions that match nothing never hold back others.

    Run by the worker. Subscriptions (and, at the end, the accounts told) are claimed with
    SKIP LOCKED on PostgreSQL so that several workers never tell the same person twice,
    and subscribers with the same wish share one availability search."""
    now = now or datetime.now(timezone.utc)
    if period_seconds is None:
        period_seconds = current_app.config["COWIN_KIT"]["SLOT_ALERT_PERIOD_SECONDS"]
    period = timedelta(seconds=period_seconds)
    today = local_now(pack, now).date()
    days = [today + timedelta(days=n) for n in range(7)]
    due = list(session.scalars(_due_in_turn(now, period, limit)))
    if not due:
        session.rollback()
        return 0
    found: dict[tuple, tuple[int, str] | None] = {}
    matched: dict[int, tuple[SlotAlertSubscription, int, str]] = {}  # account -> its first
    for subscription in due:
        wish = (subscription.location_id, subscription.postal_code, subscription.product_code,
                subscription.age, subscription.dose_number)
        if wish not in found:
            centres = find_availability(session, days=days, location_id=subscription.location_id,
                                        postal_code=subscription.postal_code,
                                        product_code=subscription.product_code,
                                        age=subscription.age, dose=subscription.dose_number)
            seats = sum(item.available.get(subscription.dose_number, 0)
                        for centre in centres for item in centre.sessions)
            first_with_seats = next(
                (centre.facility.name for centre in centres
                 if any(item.available.get(subscription.dose_number, 0) > 0
                        for item in centre.sessions)), None)
            found[wish] = (seats, first_with_seats) if seats > 0 and first_with_seats else None
        if found[wish] is not None and subscription.account_id not in matched:
            matched[subscription.account_id] = (subscription, *found[wish])
    session.execute(update(SlotAlertSubscription)
                    .where(SlotAlertSubscription.id.in_([s.id for s in due]))
                    .values(last_checked_at=now).execution_options(synchronize_session=False))
    notices = []
    tellable = _accounts_to_tell(session, list(matched), now - period)
    for account_id, (subscription, seats, facility_name) in matched.items():
        account = tellable.get(account_id)
        if account is None:
            continue
        notices.append(Notice(account.mobile, account.locale or pack.default_locale,
                              "slot_alert", {"seats": seats, "facility": facility_name,
                                             "dose": subscription.dose_number}))
        subscription.last_notified_at = now
        audit.record(session, "slot_alert.notify", "slot_alert_subscription", subscription.id, place=audit.NATIONAL,
                     seats=seats)
    session.commit()
    send_notices(notices)
    return len(notices)


def _accounts_to_tell(session: Session, account_ids: list[int],
                      told_after: datetime) -> dict[int, CitizenAccount]:
    """The accounts among these that no other worker is telling now (their rows locked,
    briefly, until the commit) and that were not told since ``told_after`` (read again
    after the lock: another worker may have told them since this dispatch began)."""
    if not account_ids:
        return {}
    locked = list(session.scalars(
        select(CitizenAccount).where(CitizenAccount.id.in_(account_ids))
        .order_by(CitizenAccount.id).with_for_update(skip_locked=True, key_share=True)))
    told = set(session.scalars(select(SlotAlertSubscription.account_id).where(
        SlotAlertSubscription.account_id.in_([account.id for account in locked]),
        SlotAlertSubscription.last_notified_at > told_after)))
    return {account.id: account for account in locked if account.id not in told}
