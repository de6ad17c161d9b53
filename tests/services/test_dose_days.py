"""Dose intervals count the programme's calendar days, whatever the hour a dose was given:
a dose given at 02:00 in India (20:30 UTC the day before) is that Indian day's dose, when
a later dose is recorded and when one is booked."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from cowin_kit.audit.services import acting_as, cli_actor
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.core.errors import RuleViolation
from cowin_kit.geography.models import Facility
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.scheduling import booking as bookings
from cowin_kit.testing import IST, add_members, publish, sign_in, staff_token, today
from cowin_kit.vaccination import services as vaccination

COVISHIELD_INTERVAL = 84  # examples/countries/in/vaccines.yaml: dose 2 from day 84


def _record(app, ref, moment):
    with app.app_context(), acting_as(cli_actor()), get_database(app).session() as session:
        vaccinator = session.scalars(select(StaffUser)
                                     .where(StaffUser.username == "vax.days")).one()
        facility = session.scalars(select(Facility).where(Facility.code == "F-TVM-1")).one()
        return vaccination.record_dose(session, active_pack(), vaccinator, facility=facility,
                                       reference_id=ref, product_code="COVISHIELD",
                                       lot="4121Z005", administered_at=moment)


def _local(day, hour):
    return datetime.combine(day, time(hour), IST)


@pytest.mark.parametrize("days_after, accepted", [
    (COVISHIELD_INTERVAL - 1, False),
    (COVISHIELD_INTERVAL, True),
])
def test_recording_counts_days_in_the_programme_zone(reg_app, days_after, accepted):
    publish(reg_app, code="F-TVM-1")
    client = reg_app.test_client()
    staff_token(reg_app, client, "vax.days", "vaccinator", facility_code="F-TVM-1")
    (ref,) = add_members(reg_app, client, sign_in(reg_app, client), 1)
    first_day = today() - timedelta(days=120)
    _record(reg_app, ref, _local(first_day, 2))  # 20:30 UTC the day before
    second = _local(first_day + timedelta(days=days_after), 12)
    if accepted:
        assert _record(reg_app, ref, second).dose.dose_number == 2
    else:
        with pytest.raises(RuleViolation) as refused:
            _record(reg_app, ref, second)
        assert refused.value.code == "too_early"


@pytest.mark.parametrize("days_before_session, accepted", [
    (COVISHIELD_INTERVAL - 1, False),
    (COVISHIELD_INTERVAL, True),
])
def test_booking_counts_days_in_the_programme_zone(reg_app, days_before_session, accepted):
    session_id = publish(reg_app, code="F-TVM-1", days_ahead=3)
    client = reg_app.test_client()
    staff_token(reg_app, client, "vax.days", "vaccinator", facility_code="F-TVM-1")
    (ref,) = add_members(reg_app, client, sign_in(reg_app, client), 1)
    session_day = today() + timedelta(days=3)
    _record(reg_app, ref, _local(session_day - timedelta(days=days_before_session), 2))
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()

        def book():
            return bookings.book(session, active_pack(), account, session_id=session_id,
                                 slot="09:00-11:00", reference_ids=[ref])
        if accepted:
            assert [a.dose_number for a in book()] == [2]
        else:
            with pytest.raises(RuleViolation) as refused:
                book()
            assert refused.value.code == "too_early"
