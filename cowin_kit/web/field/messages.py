"""The field app's words. They are marked here with ``_`` and ``ngettext`` so that
``cowin-kit i18n extract`` collects them into the kit's catalogs (translators use the usual
.po files); ``/field/i18n/<locale>.json`` serves them translated, keyed as below. The app
fills ``%(name)s`` placeholders itself; a tuple is a message with plural forms (its count
is ``%(num)d``)."""

from __future__ import annotations

from flask_babel import get_translations


def _(text: str) -> str:
    """Marks a word for extraction; translated when served."""
    return text


def ngettext(singular: str, plural: str, num: int = 0) -> tuple[str, str]:
    """Marks a message with plural forms for extraction; translated when served."""
    return (singular, plural)


N = 0
MESSAGES: dict[str, str | tuple[str, str]] = {
    "app_name": _("Field app"),
    "loading": _("Loading…"),
    "online": _("Online"),
    "offline": _("Offline"),
    "language": _("Language"),
    "back": _("Back"),
    "save": _("Save"),
    "field_needed": _("This field is needed."),
    "network_needed": _("This needs a connection to the server. Try again when you are "
                        "online."),
    "error": _("Something went wrong: %(detail)s"),
    # sign-in, PIN, wipe
    "sign_in": _("Sign in"),
    "username": _("User name"),
    "password": _("Password"),
    "pin_set_title": _("Choose a PIN for this phone"),
    "pin_help": _("The PIN unlocks the app's data on this phone, which is kept encrypted. "
                  "Use at least 6 digits. It is never sent anywhere: if you forget it, the "
                  "data on this phone is lost."),
    "pin": _("PIN"),
    "pin_again": _("PIN again"),
    "pin_too_short": _("The PIN needs at least 6 digits."),
    "pin_mismatch": _("The two PINs differ."),
    "unlock": _("Unlock"),
    "pin_wrong": ngettext("Wrong PIN. %(num)d attempt left.", "Wrong PIN. %(num)d attempts "
                          "left.", N),
    "wiped_attempts": _("Too many wrong PINs: the data on this phone has been wiped."),
    "wiped_old": ngettext("The data on this phone was wiped: it had not been synced for "
                          "more than %(num)d day.", "The data on this phone was wiped: it "
                          "had not been synced for more than %(num)d days.", N),
    "sign_out": _("Sign out and wipe this phone"),
    "sign_out_confirm": ngettext("%(num)d record is not synced yet and will be lost. Sign "
                                 "out and wipe anyway?", "%(num)d records are not synced "
                                 "yet and will be lost. Sign out and wipe anyway?", N),
    "signed_out": _("Signed out. The data on this phone has been wiped."),
    "other_user": _("Another user's data is on this phone. Sign out on it first."),
    # home
    "signed_in_as": _("Signed in as %(name)s"),
    "prepared_at": _("Prepared: %(when)s"),
    "not_prepared": _("Not prepared yet: prepare for the field while online."),
    "last_sync": _("Last sync: %(when)s"),
    "never": _("never"),
    "waiting": ngettext("%(num)d record waiting for sync", "%(num)d records waiting for "
                        "sync", N),
    "prepare": _("Prepare for the field"),
    "days_ahead": _("Days ahead"),
    "prepare_done": ngettext("Ready: %(num)d person on the lists.", "Ready: %(num)d people "
                             "on the lists.", N),
    "working": _("Working…"),
    # find and person
    "find": _("Find a person"),
    "find_hint": _("Name, reference ID, mobile number or guardian"),
    "search": _("Search"),
    "found": ngettext("%(num)d person found", "%(num)d people found", N),
    "pending": _("pending"),
    "reference_id": _("Reference ID"),
    "guardian": _("Guardian: %(name)s"),
    "born": _("Born %(date)s"),
    "doses_given": _("Doses given"),
    "due_doses": _("Due doses"),
    "nothing_due": _("No dose is due."),
    "st_due": _("due"),
    "st_overdue": _("overdue"),
    "st_upcoming": _("upcoming"),
    "dose_n": _("%(schedule)s, dose %(number)s"),
    # register
    "register": _("Register a person"),
    "reg_newborn": _("Newborn"),
    "reg_pregnant": _("Pregnant woman"),
    "reg_walk_in": _("Walk-in"),
    "who": _("Who"),
    "name": _("Name"),
    "birth_date": _("Date of birth"),
    "gender": _("Gender"),
    "mobile": _("Mobile number"),
    "guardian_name": _("Guardian's name"),
    "guardian_relation": _("Guardian's relation"),
    "rel_mother": _("Mother"),
    "rel_father": _("Father"),
    "rel_other": _("Other"),
    "place": _("Place"),
    "id_type": _("ID document"),
    "id_number": _("ID number"),
    "none": _("None"),
    "lmp": _("First day of the last period"),
    "edd": _("Expected delivery date"),
    "registered": _("Registered. The person is pending until the next sync."),
    # doses
    "record_doses": _("Record doses"),
    "vaccine": _("Vaccine"),
    "lot": _("Lot"),
    "another": _("Another vaccine"),
    "doses_saved": ngettext("%(num)d dose recorded.", "%(num)d doses recorded.", N),
    "choose_dose": _("Choose at least one dose."),
    "lot_needed": _("Enter the lot of each dose."),
    "secret_code": _("Secret code (4 digits, for a booked dose)"),
    "check_in": _("Check in"),
    "checked_in": _("Checked in."),
    "appointment": _("Appointment: %(slot)s"),
    # AEFI
    "aefi": _("Report an adverse event (AEFI)"),
    "which_dose": _("Which dose"),
    "onset": _("Onset"),
    "seriousness": _("Seriousness"),
    "non_serious": _("Not serious"),
    "serious": _("Serious"),
    "death": _("Death"),
    "outcome": _("Outcome"),
    "recovering": _("Recovering"),
    "recovered": _("Recovered"),
    "not_recovered": _("Not recovered"),
    "unknown": _("Unknown"),
    "description": _("What happened"),
    "aefi_saved": _("The report is saved; it is sent at the next sync."),
    # tally
    "tally": _("Today's tally"),
    "tally_people": ngettext("%(num)d person registered", "%(num)d people registered", N),
    "tally_doses": ngettext("%(num)d dose given", "%(num)d doses given", N),
    "tally_checkins": ngettext("%(num)d check-in", "%(num)d check-ins", N),
    "tally_aefi": ngettext("%(num)d adverse event reported", "%(num)d adverse events "
                           "reported", N),
    # verify
    "verify": _("Verify a certificate"),
    "verify_hint": _("Paste or type the text of the QR code (it begins with HC1:, shc:/ "
                     "or VC1:). It is checked on this phone against the trust list of the "
                     "last preparation."),
    "qr_text": _("QR text"),
    "check": _("Check"),
    "scan": _("Scan with the camera"),
    "verdict_valid": _("Valid"),
    "verdict_invalid": _("Not valid"),
    "verdict_unreadable": _("Unreadable"),
    "valid": _("Signed by a trusted issuer; not expired or revoked."),
    "bad_signature": _("The signature does not match: the certificate was changed or not "
                       "issued by a trusted issuer."),
    "unknown_key": _("It was signed with a key that is not on the trust list."),
    "unknown_format": _("This is not a certificate the app knows."),
    "damaged": _("The certificate's text is damaged or incomplete."),
    "expired": _("The certificate has expired."),
    "not_yet_valid": _("The certificate is not valid yet."),
    "revoked": _("The certificate has been revoked."),
    "not_allowed": _("The signer was not allowed to sign this certificate at that time."),
    "issuer_mismatch": _("The issuer named in the certificate is not the owner of its key."),
    "fmt_dcc": _("EU Digital COVID Certificate"),
    "fmt_shc": _("SMART Health Card"),
    "fmt_vc": _("W3C verifiable credential"),
    "holder": _("Holder: %(name)s"),
    "dose_of": _("dose %(dose)s of %(total)s"),
    "dose_only": _("dose %(dose)s"),
    "issuer": _("Issuer: %(name)s"),
    # sync
    "sync": _("Sync"),
    "sync_now": _("Sync now"),
    "sync_done": _("Synced."),
    "sync_cut": _("The sync stopped: the connection was lost. Nothing is lost; sync again "
                  "when you are online."),
    "sign_in_again": _("Your session on the server has ended: sign in again to sync."),
    "r_pending": _("waiting"),
    "r_accepted": _("accepted"),
    "r_duplicate": _("already received"),
    "r_conflict": _("sent for review"),
    "r_refused": _("refused"),
    "review_accepted": _("review: accepted"),
    "review_rejected": _("review: rejected"),
    "k_register_person": _("Registration"),
    "k_record_visit": _("Doses"),
    "k_record_dose": _("Dose"),
    "k_check_in": _("Check-in"),
    "k_report_aefi": _("AEFI report"),
}


def translated(key: str) -> str:
    """One word of the app in the current locale (for the manifest)."""
    message = MESSAGES[key]
    assert isinstance(message, str)
    return get_translations().gettext(message)
