"""Slot alerts: a citizen subscribes to a wish (place or postal code, vaccine, age, dose),
and the worker tells subscribers when seats matching it are free."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import InvalidInput, NotFound
from cowin_kit.geography.models import Location
from cowin_kit.core.i18n import gettext as _
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.scheduling.availability import find_availability
from cowin_kit.scheduling.booking import local_now
from cowin_kit.scheduling.models import SlotAlertSubscription
from cowin_kit.scheduling.sessions import Notice, send_notices


def subscribe_slot_alert(session: Session, account: CitizenAccount, *, age: int,
                         dose: int = 1, location_code: str | None = None,
                         postal_code: str | None = None,
                         product_code: str | None = None) -> SlotAlertSubscription:
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
    subscription = SlotAlertSubscription(account_id=account.id, location_id=location_id,
                                         postal_code=postal_code, product_code=product_code,
                                         dose_number=dose, age=age)
    session.add(subscription)
    session.flush()
    audit.record(session, "slot_alert.subscribe", "slot_alert_subscription", subscription.id)
    session.commit()
    return subscription


def unsubscribe_slot_alert(session: Session, account: CitizenAccount, subscription_id: int) -> None:
    subscription = session.get(SlotAlertSubscription, subscription_id) \
        if 0 < subscription_id < 2**31 else None
    if subscription is None or subscription.account_id != account.id:
        raise NotFound(_("No such alert."), code="alert_not_found")
    subscription.active = False
    audit.record(session, "slot_alert.unsubscribe", "slot_alert_subscription", subscription.id)
    session.commit()


def dispatch_slot_alerts(session: Session, pack: ActivePack, *, now: datetime | None = None,
                         period_seconds: int | None = None, limit: int = 1000) -> int:
    """Tell subscribers whose wish matches seats that are free now. Oldest subscription
    first, each at most once per period; returns how many were told.

    Run by the worker. Subscriptions are claimed with SKIP LOCKED on PostgreSQL so that
    several workers never tell the same person twice, and subscribers with the same wish
    share one availability search."""
    now = now or datetime.now(timezone.utc)
    if period_seconds is None:
        period_seconds = current_app.config["COWIN_KIT"]["SLOT_ALERT_PERIOD_SECONDS"]
    period = timedelta(seconds=period_seconds)
    today = local_now(pack, now).date()
    days = [today + timedelta(days=n) for n in range(7)]
    due = list(session.scalars(select(SlotAlertSubscription).where(
        SlotAlertSubscription.active,
        (SlotAlertSubscription.last_notified_at.is_(None))
        | (SlotAlertSubscription.last_notified_at <= now - period))
        .order_by(SlotAlertSubscription.created_at, SlotAlertSubscription.id).limit(limit)
        .with_for_update(skip_locked=True)))
    found: dict[tuple, tuple[int, str] | None] = {}
    notices = []
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
        if found[wish] is None:
            continue
        seats, facility_name = found[wish]
        account = session.get(CitizenAccount, subscription.account_id)
        notices.append(Notice(account.mobile, account.locale or pack.default_locale,
                              "slot_alert", {"seats": seats, "facility": facility_name,
                                             "dose": subscription.dose_number}))
        subscription.last_notified_at = now
        audit.record(session, "slot_alert.notify", "slot_alert_subscription", subscription.id,
                     seats=seats)
    session.commit()
    send_notices(notices)
    return len(notices)
