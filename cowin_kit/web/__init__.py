"""Server-rendered pages (Jinja + Babel) for citizens, vaccinators, administrators and
verifiers. Pages call the same service functions as the JSON API; routes stay thin.

How to build a page module on this foundation (for every ``cowin_kit.web.*`` module)
---------------------------------------------------------------------------------------

* **Registration.** A page module exposes ``bp``, made with
  ``cowin_kit.web.ui.make_blueprint(name, __name__, url_prefix=...)`` (never a bare
  ``Blueprint``: the factory attaches CSRF checking, the security headers and the error
  pages). Add the module's dotted name to ``PAGE_MODULES`` below; ``init_app`` imports
  each one and a missing module fails app creation loudly (no silent skip).

* **Templates** live under ``cowin_kit/web/templates/web/<area>/`` and extend
  ``web/base.html`` (blocks ``title``, ``content``, ``scripts``; ``scripts`` may only hold
  ``<script src="...">`` tags of files in ``web/static``: the CSP forbids inline scripts
  *and* inline ``style=""`` attributes). ``lang`` and ``dir`` are set by the base layout
  from the request locale (``page_lang``/``page_dir`` in every template). Form macros are
  in ``web/_forms.html``: ``{% import "web/_forms.html" as f %}`` then
  ``{{ f.csrf() }}``, ``{{ f.input("name", _("Name"), errors, form) }}``,
  ``{{ f.select("id_type", _("ID document"), options, errors, form) }}``,
  ``{{ f.errors_for("field", errors) }}``. Static files: ``url_for("web.static",
  filename=...)``.

* **CSRF.** Every POST/PUT/PATCH/DELETE to a page blueprint must carry the form field
  ``csrf_token`` whose value is ``csrf_token()`` (a Jinja global; ``f.csrf()`` writes the
  hidden input). The token is random per browser session, kept in the signed Flask
  session and compared in constant time; a missing or wrong token gives a 400 page and
  changes nothing.

* **Sign-in.** ``cowin_kit.web.auth``: ``@citizen_required`` (citizen signed in with
  mobile + OTP; ``current_citizen()`` gives the CitizenAccount) and
  ``@staff_required("dose.record")`` (staff signed in with user name + password at
  ``/staff/sign-in``; the argument is an action of ``cowin_kit.identity.access.ACTIONS``,
  held by at least one of the user's grants — checking the *target's* scope stays the
  service's or page's job with ``access.check_access``); ``current_staff()`` gives the
  StaffUser. Both sign-ins live in the signed Flask session (as the same signed tokens
  the API issues, so they expire the same way and end on a password or mobile change).
  ``cowin_kit.web.core.register_staff_link(action, endpoint, label)`` adds a link to the
  staff start page ``/staff`` for users holding ``action``.

* **Errors.** Services raise the domain error tree (cowin_kit/core/errors.py). In a route::

      form = ui.FormState()
      if request.method == "POST":
          try:
              data = ui.load_form(schemas.SomeIn(), ["field", ...])
              services.do_something(get_session(), ...)
          except DomainError as exc:
              form.fail(exc)      # flashes the message, keeps field errors for the macros
          else:
              ui.done(_("Saved."))
              return redirect(...)
      return ui.render("web/area/page.html", form=form), form.status

  ``form.errors`` maps field names to messages shown next to the fields
  (``form.fail(exc, field="otp")`` puts an error that names no field next to that one);
  ``form.value(name)`` gives back what was typed; a domain error
  not caught in a route renders ``web/error.html`` with its plain-words message and
  status (a 404/405/429 too). Signed-out visitors never reach a protected route: the
  decorators redirect them to the right sign-in first.
  ``ui.load_form`` reads ``request.form``, keeps only the listed fields, drops empty
  values and loads them with the marshmallow schema (raising InvalidInput with field
  errors, exactly as the API does).

* **Language.** ``POST /lang`` (form field ``lang``, optional ``next``) sets the cookie
  ``lang`` and, for a signed-in citizen, the account's language (CitizenAccount.locale);
  staff accounts have no language column, so staff keep theirs in the cookie. A language
  chosen before signing in wins over the account's stored one and is saved to it. The
  locale of a page request is: ``?lang=`` if offered, else the citizen account's, else
  the cookie, else Accept-Language, else the pack's default. The switcher in the base
  layout lists every locale of the active pack. ``pack_label(mapping)`` (Jinja global)
  picks a pack word (ID types, level names, vaccine names, place names) in the page's
  language. Dates, numbers and fees use the page's language in the pack's country
  (``ui.formats_locale()``: ``en`` in India is ``en_IN``) through the Jinja filters
  ``date``, ``short_date`` (no year, CLDR order), ``datetime``, ``number`` and ``money``
  (with the pack's ``currency``); in Python, ``ui.format_day`` and friends.

* **Frame.** The base layout draws the official header (the pack's mark, ministry and
  country) and footer (helpline, the pack's help/FAQ/privacy/accessibility pages, the
  language picker): docs/design.md. A staff page with wide tables or charts sets
  ``{% set page_width = "wide" %}``; a table wider than a phone goes in a
  ``<div class="table-scroll" role="region" tabindex="0" aria-labelledby="<caption id>">``.

* **No JavaScript needed** for any core flow: every action is a plain form or link.

* **Tests.** Browser tests reuse tests/browser/conftest.py (live server on a demo-like
  instance, Chromium, ``check_accessibility``); page weights are listed in
  bench/page_weight.py (``PAGES``).
"""

from __future__ import annotations

import importlib

from flask import Flask

# Page modules, each exposing ``bp``. Append new ones here (the order is the order of
# registration); an import error is an error of app creation, on purpose.
PAGE_MODULES: list[str] = [
    "cowin_kit.web.core",
    "cowin_kit.web.citizen",
    "cowin_kit.web.vaccinator",
    "cowin_kit.web.admin",
    "cowin_kit.web.verify",
    "cowin_kit.web.due",
    "cowin_kit.web.records",
    "cowin_kit.web.supervision",
    "cowin_kit.web.field",
    "cowin_kit.web.stock",
    "cowin_kit.web.safety",
    "cowin_kit.web.public_stats",
    "cowin_kit.web.corrections",
]


def init_app(app: Flask) -> None:
    from cowin_kit.web import auth, ui

    ui.init_app(app)
    app.jinja_env.globals.update(signed_in_citizen=auth.current_citizen,
                                 signed_in_staff=auth.current_staff)
    for dotted in PAGE_MODULES:
        module = importlib.import_module(dotted)
        blueprint = getattr(module, "bp", None)
        if blueprint is None:
            raise RuntimeError(f"page module {dotted} has no blueprint named bp")
        if blueprint.name not in ui.PAGE_BLUEPRINTS:
            raise RuntimeError(f"page module {dotted}: make its blueprint with "
                               "cowin_kit.web.ui.make_blueprint")
        app.register_blueprint(blueprint)
