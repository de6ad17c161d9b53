"""The checks of pack.yaml's ``site:`` section (the official header and footer every page
shows: docs/design.md) and the warning about pack languages the kit cannot translate.

Warnings are not problems: a pack with a language the kit has no catalog for still
validates and installs, but its pages show English in that language until someone
translates the kit (docs/translating.md). ``pack validate`` prints them and the starter
pack wizard (``cowin-kit init``) says so when it picks such a language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError

from cowin_kit.core.i18n import LOCALES_DIR as KIT_LOCALES_DIR

Text = tuple[tuple[Any, ...], dict[str, str]]


def site_problems(doc: dict[str, Any]) -> tuple[list[tuple[tuple[Any, ...], str]], list[Text]]:
    """(problems as (path in pack.yaml, message), the section's texts that need every
    locale of the pack)."""
    site = doc.get("site") or {}
    problems: list[tuple[tuple[Any, ...], str]] = []
    texts: list[Text] = []
    if site.get("ministry"):
        texts.append((("site", "ministry"), site["ministry"]))
    if site.get("helpline_hours"):
        texts.append((("site", "helpline_hours"), site["helpline_hours"]))
    seen: dict[str, int] = {}
    for index, page in enumerate(site.get("pages") or []):
        path = ("site", "pages", index)
        if page["kind"] in seen:
            problems.append(((*path, "kind"), f"{page['kind']!r} is used twice (also "
                                              f"site.pages[{seen[page['kind']]}])"))
        seen.setdefault(page["kind"], index)
        if bool(page.get("body")) == bool(page.get("url")):
            problems.append((path, "give either body (the text) or url (the ministry's page)"))
        texts.append(((*path, "title"), page["title"]))
        if page.get("body"):
            texts.append(((*path, "body"), page["body"]))
    return problems, texts


def kit_catalogs() -> set[str]:
    """The languages the kit's own pages are translated into (cowin_kit/locales)."""
    return {path.parent.parent.name for path in KIT_LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")}


def has_kit_catalog(locale: str) -> bool:
    """Whether pages in ``locale`` are translated (``hi_IN`` uses ``hi``)."""
    catalogs = kit_catalogs()
    if locale in catalogs:
        return True
    try:
        parsed = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return False
    return parsed.language in catalogs or (
        parsed.script is not None and f"{parsed.language}_{parsed.script}" in catalogs)


def untranslated_locales(locales: list[str], pack_root: Path | None = None) -> list[str]:
    """The pack's languages that neither the kit nor the pack (``locales/<lang>.po``)
    translates: pages in them would be in English."""
    own = {p.stem for p in (pack_root / "locales").glob("*.po")} if pack_root else set()
    return [locale for locale in locales if locale not in own and not has_kit_catalog(locale)]


def untranslated_message(locale: str) -> str:
    return (f"the kit has no catalog for {locale!r}: its pages would show English in this "
            f"language (translate the kit: docs/translating.md, or add locales/{locale}.po "
            f"to the pack)")


__all__ = ["has_kit_catalog", "kit_catalogs", "site_problems", "untranslated_locales",
           "untranslated_message"]
