"""What the PDF certificate shows (certificates.pdf.build_view, one read of the dose, its
person and its facility): the person and the dose as recorded, the centre with its
address, a birth date in the locale's long form, and no centre row for a dose recorded
without a facility."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from sqlalchemy import select

from cowin_kit.certificates.models import Certificate
from cowin_kit.certificates.pdf import build_view
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.geography.models import Facility

from cowin_kit.testing import run_worker


def test_the_view_of_a_dose_with_and_without_its_facility(reg_app, vaccinated):
    _client, _citizen, ref = vaccinated
    run_worker(reg_app)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        person = session.scalars(select(Beneficiary)
                                 .where(Beneficiary.reference_id == ref)).one()
        certificate = session.scalars(select(Certificate)
                                      .where(Certificate.beneficiary_id == person.id)).one()
        dose = session.get(Dose, certificate.dose_id)
        facility = session.get(Facility, dose.facility_id)
        facility.address = "Medical College Road"
        session.flush()

        view = build_view(session, active_pack(), certificate, "en")
        labels = view.labels
        assert view.person == [(labels["name"], person.name),
                               (labels["birth_year"], str(person.birth_year)),
                               ("Aadhaar Card", "XXXXXXXX" + person.id_number_last4),
                               (labels["reference_id"], ref)]
        rows = dict(view.vaccination)
        assert rows[labels["lot"]] == "4121Z005" and rows[labels["dose"]] == "1 of 2"
        assert rows[labels["centre"]] == f"{facility.name}, Medical College Road"
        assert rows[labels["certificate_id"]] == certificate.id
        # each code says where to show it, then what it is
        assert [caption for caption, _image in view.codes] == [
            f"{labels[kind + '_use']}\n{labels[kind]}" for kind in ("dcc", "shc", "vc")
            if getattr(certificate, kind)]

        dose.facility_id = None
        person.birth_date = date(1980, 3, 2)
        session.flush()
        for locale in ("en", "hi"):
            view = build_view(session, active_pack(), certificate, locale)
            labels = view.labels
            # dates in the pack's country's form of the language (en_IN, hi_IN)
            assert view.person[1] == (labels["birth_date"], format_date(
                date(1980, 3, 2), "long", locale=str(active_pack().format_locale(locale))))
            assert labels["centre"] not in dict(view.vaccination)
            assert dict(view.vaccination)[labels["lot"]] == "4121Z005"
