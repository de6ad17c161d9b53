"""The supervisor's page of field conflicts, /admin/field-reviews: the records the field
app could not apply on its own, to accept (recorded through the normal services, the
supervisor as actor) or reject, with a note the device receives at its next sync. It
calls the same services as /api/v1/field/reviews."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_babel import lazy_gettext

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError, InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.fieldsync import reviews as field_reviews, schemas
from cowin_kit.web import core, ui
from cowin_kit.web.auth import current_staff, staff_required

bp = ui.make_blueprint("supervision", __name__, url_prefix="/admin/field-reviews")
core.register_staff_link("field.review", "supervision.reviews",
                         lazy_gettext("Field conflicts"))

KIND_LABELS = {
    "register_person": lazy_gettext("Registration"),
    "record_visit": lazy_gettext("Routine visit"),
    "record_dose": lazy_gettext("Dose"),
    "check_in": lazy_gettext("Check-in"),
    "report_aefi": lazy_gettext("AEFI report"),
}
STATUS_LABELS = {
    "open": lazy_gettext("Waiting"),
    "accepted": lazy_gettext("Accepted"),
    "rejected": lazy_gettext("Rejected"),
}
# The payload's fields shown on a card, in this order (never an ID number: only masked).
SHOWN = ("name", "birth_date", "gender", "guardian_name", "location", "person", "product",
         "lot", "dose", "administered_at", "facility", "id_type", "id_number_masked")


@bp.route("", methods=["GET", "POST"])
@staff_required("field.review")
def reviews():
    user = current_staff()
    assert user is not None
    status = request.args.get("status", "open")
    if status not in STATUS_LABELS:
        status = "open"
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(schemas.FieldDecideIn(), ["decision", "note"])
            review_id = request.form.get("review_id", "")
            if not review_id.isdigit():
                raise InvalidInput(_("No such review."), code="review_not_found")
            field_reviews.decide(get_session(), active_pack(), user, int(review_id),
                           decision=data["decision"], note=data["note"])
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("Accepted: the record is applied.") if data["decision"] == "accept"
                    else _("Rejected: the device will be told."))
            return redirect(url_for("supervision.reviews", status=status))
    views = field_reviews.list_reviews(get_session(), user, status)
    return ui.render("web/admin/field_reviews.html", views=views, status=status,
                     statuses=STATUS_LABELS, kinds=KIND_LABELS, shown=SHOWN,
                     form=form), form.status

