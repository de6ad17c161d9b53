"""`cowin-kit i18n`: the translation workflow on Babel's own Python API.

    extract  code and templates -> cowin_kit/locales/messages.pot
    init     messages.pot -> a new <lang>/LC_MESSAGES/messages.po
    update   messages.pot -> every messages.po (new messages added, vanished ones dropped)
    compile  every messages.po -> messages.mo next to it (what the running app reads)

The functions below do the work; the click commands only print what they did, and the
test suite calls ``compile_catalogs`` directly so a fresh checkout's ``pytest`` has its
catalogs compiled.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click
from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

import cowin_kit
from cowin_kit.cli import fail
from cowin_kit.core.i18n import LOCALES_DIR

PACKAGE_DIR = Path(cowin_kit.__file__).resolve().parent
DOMAIN = "messages"
SOURCE_LOCALE = "en"  # msgids are English; its catalog mirrors them (msgstr == msgid)

# The same keywords, map and options as [tool.babel.extract_messages] in pyproject.toml and
# babel.cfg, so `pybabel extract` writes the same template (tests/http/test_i18n.py).
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "lazy_pgettext": ((1, "c"), 2),
}
# Jinja templates, if there are any; a pattern that matches nothing is harmless.
METHOD_MAP = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2.ext:babel_extract"),  # also cowin_kit/web/templates
]
OPTIONS_MAP = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n,jinja2.ext.do",
                                        "silent": "false"}}
COMMENT_TAGS = ("TRANSLATORS:",)


WIDTH = 79

# Who checked a catalog, in a comment line of its header (a header field would not survive
# Babel's or Weblate's rewrites): "source" (en), "reviewed" (by a native speaker) or
# "needs-review". docs/translating.md lists the same per language (a test compares).
STATUS_KEY = "Translation-Status"
STATUSES = ("source", "reviewed", "needs-review")
_STATUS_LINE = re.compile(rf"^#\s*{STATUS_KEY}:\s*(\S+)\s*$", re.MULTILINE)


class CatalogError(Exception):
    """A catalog operation cannot be done (one line for the user)."""


@dataclass
class CatalogStats:
    locale: str
    path: Path
    total: int = 0
    untranslated: int = 0
    fuzzy: int = 0
    changed: bool = False
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.locale}: {self.total} messages, {self.untranslated} untranslated, "
                f"{self.fuzzy} fuzzy")


def pot_path(locales_dir: Path) -> Path:
    return Path(locales_dir) / f"{DOMAIN}.pot"


def po_path(locales_dir: Path, locale: str) -> Path:
    return Path(locales_dir) / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalog_locales(locales_dir: Path) -> list[str]:
    """The locales that have a messages.po under ``locales_dir``, sorted."""
    folder = Path(locales_dir)
    if not folder.is_dir():
        return []
    return sorted(p.parent.parent.name for p in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


# --- files ---------------------------------------------------------------------------------

def _render_po(catalog: Catalog, **options) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=WIDTH, include_lineno=False, ignore_obsolete=True,
             **options)
    return buffer.getvalue()


def _without_dates(content: bytes) -> bytes:
    lines = content.splitlines(keepends=True)
    return b"".join(line for line in lines
                    if not line.startswith((b'"POT-Creation-Date:', b'"PO-Revision-Date:')))


def _write_if_changed(path: Path, content: bytes, *, ignore_dates: bool = False) -> bool:
    """Write atomically, and only when the content differs (dates aside if asked), so
    that repeated runs leave files and their timestamps alone."""
    if path.is_file():
        old = path.read_bytes()
        if old == content or (ignore_dates and _without_dates(old) == _without_dates(content)):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.is_file() else 0o644  # mkstemp makes 0600
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _read_po(path: Path, locale: str | None = None) -> Catalog:
    try:
        with path.open("rb") as stream:
            return read_po(stream, locale=locale, domain=DOMAIN, abort_invalid=True)
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
    except Exception as exc:  # babel's PoFileError and friends
        raise CatalogError(f"{path}: not a valid gettext catalog: {exc}") from None


def _read_template(locales_dir: Path, locale: str | None = None) -> Catalog:
    path = pot_path(locales_dir)
    if not path.is_file():
        raise CatalogError(f"{path} does not exist; run `cowin-kit i18n extract` first")
    return _read_po(path, locale)


def _parse_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        raise CatalogError(f"{locale!r} is not a locale Babel knows") from None


def _adjust(catalog: Catalog, locale: str) -> None:
    """Plural forms by CLDR (Babel's data: French and Spanish have a third form for exact
    millions, "1 000 000 de doses"), and the source locale's msgstr == msgid."""
    rule = get_plural(locale)
    catalog.mime_headers = [("Plural-Forms",
                             f"nplurals={rule.num_plurals}; plural={rule.plural_expr};")]
    if locale != SOURCE_LOCALE:
        return
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy or not _is_translated(message):
            message.string = tuple(message.id) if message.pluralizable else message.id
            message.flags.discard("fuzzy")


def translation_status(catalog: Catalog) -> str | None:
    """The catalog's Translation-Status (see STATUSES), None if its header has none."""
    found = _STATUS_LINE.search(catalog.header_comment or "")
    return found.group(1) if found else None


def ui_languages(locales: list[str], locales_dir: Path = LOCALES_DIR) -> str:
    """One line for a ministry: which of a pack's languages the kit's pages speak, and how
    far each catalog is checked ("es (needs review); qu: no catalog, pages in English")."""
    have = set(catalog_locales(locales_dir))
    parts = []
    for locale in locales:
        if locale in have:
            status = translation_status(_read_po(po_path(locales_dir, locale), locale))
            parts.append(f"{locale} ({(status or 'needs-review').replace('-', ' ')})")
        else:
            parts.append(f"{locale}: no catalog, pages in English "
                         f"(`cowin-kit i18n init {locale}`)")
    return "; ".join(parts)


def _with_status(header_comment: str, status: str) -> str:
    lines = [line for line in header_comment.splitlines()
             if not line.startswith("# FIRST AUTHOR") and not _STATUS_LINE.match(line)]
    while lines and lines[-1].strip() == "#":
        lines.pop()
    return "\n".join(lines + ["#", f"# {STATUS_KEY}: {status}",
                              '# Set it to "reviewed" once a native speaker has checked every',
                              "# entry, here and in docs/translating.md."])


def _is_translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return all(strings)


def _stats(catalog: Catalog, locale: str, path: Path) -> CatalogStats:
    stats = CatalogStats(locale, path)
    for message in catalog:
        if not message.id:
            continue
        stats.total += 1
        if message.fuzzy:
            stats.fuzzy += 1
        elif not _is_translated(message):
            stats.untranslated += 1
    return stats


# --- the four operations ---------------------------------------------------------------------

def extract_messages(locales_dir: Path = LOCALES_DIR, source_dir: Path = PACKAGE_DIR,
                     *, pot_file: Path | None = None) -> tuple[Path, int, bool]:
    """Extract every translatable string of ``source_dir`` (Python files, Jinja templates)
    into the template ``messages.pot``. Returns (path, message count, written?)."""
    source_dir = Path(source_dir).resolve()
    if not source_dir.is_dir():
        raise CatalogError(f"{source_dir} is not a folder")
    target = Path(pot_file) if pot_file else pot_path(locales_dir)
    # A template's header is fuzzy, as xgettext and pybabel write it; `init` clears it.
    catalog = Catalog(project="cowin-kit", version=cowin_kit.__version__,
                      copyright_holder="cowin-kit contributors", charset="utf-8",
                      domain=DOMAIN)
    prefix = source_dir.name
    for filename, lineno, message, comments, context in extract_from_dir(
            str(source_dir), METHOD_MAP, OPTIONS_MAP, keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS, strip_comment_tags=True):
        location = f"{prefix}/{filename}".replace(os.sep, "/")
        catalog.add(message, None, [(location, lineno)], auto_comments=comments,
                    context=context)
    written = _write_if_changed(target, _render_po(catalog), ignore_dates=True)
    return target, len(catalog), written


def init_catalog(locale: str, locales_dir: Path = LOCALES_DIR, *,
                 force: bool = False) -> CatalogStats:
    """Start ``<locale>/LC_MESSAGES/messages.po`` from the template."""
    parsed = _parse_locale(locale)
    path = po_path(locales_dir, locale)
    if path.exists() and not force:
        raise CatalogError(f"{path} already exists; use `cowin-kit i18n update`")
    # Read with the template's own plural count (two forms): a language with one form
    # (vi, ja) would otherwise find the template's msgstr[1] invalid.
    catalog = _read_template(locales_dir)
    catalog.locale = parsed
    catalog.revision_date = datetime.now(timezone.utc)
    catalog.fuzzy = False
    if locale != SOURCE_LOCALE:
        catalog.header_comment = _with_status(catalog.header_comment, "needs-review")
    _adjust(catalog, locale)
    _write_if_changed(path, _render_po(catalog))
    stats = _stats(catalog, locale, path)
    stats.changed = True
    return stats


def update_catalogs(locales_dir: Path = LOCALES_DIR,
                    locales: list[str] | None = None) -> list[CatalogStats]:
    """Bring every catalog (or those of ``locales``) in line with the template: new
    messages are added empty (or fuzzy when a similar old one exists), vanished ones are
    dropped. The source locale's new messages get msgstr == msgid."""
    _read_template(locales_dir)  # fails early when there is none
    results = []
    for locale in _chosen_locales(locales_dir, locales):
        path = po_path(locales_dir, locale)
        catalog = _read_po(path, locale)
        # A fresh template each time: Catalog.update shares its Message objects.
        catalog.update(_read_template(locales_dir), update_header_comment=False)
        _adjust(catalog, locale)
        stats = _stats(catalog, locale, path)
        stats.changed = _write_if_changed(path, _render_po(catalog), ignore_dates=True)
        results.append(stats)
    return results


def compile_catalogs(locales_dir: Path = LOCALES_DIR,
                     locales: list[str] | None = None) -> list[CatalogStats]:
    """Write ``messages.mo`` next to every ``messages.po`` (fuzzy entries left out, as
    gettext does). A .mo file is rewritten only when its content changes, so this is
    cheap to call often. Format errors of the entries that go into the .mo (placeholders
    that differ from the msgid) are reported in each result's ``errors``."""
    results = []
    for locale in _chosen_locales(locales_dir, locales):
        path = po_path(locales_dir, locale)
        catalog = _read_po(path, locale)
        stats = _stats(catalog, locale, path)
        for message, errors in catalog.check():
            if message.fuzzy:
                continue  # left out of the .mo anyway; `update` guessed it, harmlessly
            for error in errors:
                stats.errors.append(f"{path}: {message.id!r}: {error}")
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        stats.changed = _write_if_changed(path.with_suffix(".mo"), buffer.getvalue())
        results.append(stats)
    return results


def _chosen_locales(locales_dir: Path, locales: list[str] | None) -> list[str]:
    existing = catalog_locales(locales_dir)
    if not locales:
        return existing
    missing = [loc for loc in locales if loc not in existing]
    if missing:
        raise CatalogError(f"no catalog for {', '.join(missing)} in {locales_dir}; "
                           "start one with `cowin-kit i18n init LANG`")
    return list(locales)


# --- the click commands ----------------------------------------------------------------------

def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


locales_dir_option = click.option(
    "--locales-dir", type=click.Path(file_okay=False, path_type=Path), default=LOCALES_DIR,
    show_default=False, help="Catalog folder (default: the kit's cowin_kit/locales).")


def _run(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except CatalogError as exc:
        fail(str(exc))


@click.group("i18n")
def i18n() -> None:
    """Translations: extract messages, start and update catalogs, compile them.

    After changing user-facing strings: `extract`, `update`, translate the new entries,
    then `compile`. docs/translating.md has the details.
    """


@i18n.command("extract")
@locales_dir_option
@click.option("--source-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=PACKAGE_DIR, help="Package to extract from (default: cowin_kit).")
def extract_cmd(locales_dir: Path, source_dir: Path) -> None:
    """Collect the translatable strings of the code and templates into messages.pot."""
    path, count, written = _run(extract_messages, locales_dir, source_dir)
    state = "wrote" if written else "unchanged"
    click.echo(f"{state} {_shown(path)} ({count} messages)")


@i18n.command("init")
@click.argument("lang")
@locales_dir_option
@click.option("--force", is_flag=True, help="Replace an existing catalog.")
def init_cmd(lang: str, locales_dir: Path, force: bool) -> None:
    """Start the catalog of language LANG (a Babel locale: hi, fr, pt_BR) from messages.pot."""
    stats = _run(init_catalog, lang, locales_dir, force=force)
    click.echo(f"wrote {_shown(stats.path)}")
    click.echo(f"  {stats.summary()}")


@i18n.command("update")
@click.argument("langs", nargs=-1)
@locales_dir_option
def update_cmd(langs: tuple[str, ...], locales_dir: Path) -> None:
    """Merge messages.pot into the catalogs (all, or those of LANGS)."""
    results = _run(update_catalogs, locales_dir, list(langs))
    if not results:
        click.echo(f"no catalogs in {_shown(locales_dir)}; start one with `cowin-kit i18n init`")
    for stats in results:
        state = "updated" if stats.changed else "unchanged"
        click.echo(f"{state} {_shown(stats.path)}: {stats.summary()}")


@i18n.command("compile")
@click.argument("langs", nargs=-1)
@locales_dir_option
def compile_cmd(langs: tuple[str, ...], locales_dir: Path) -> None:
    """Compile the catalogs (all, or those of LANGS) to the .mo files the app reads."""
    results = _run(compile_catalogs, locales_dir, list(langs))
    failed = False
    for stats in results:
        click.echo(f"compiled {_shown(stats.path.with_suffix('.mo'))}: {stats.summary()}")
        for error in stats.errors:
            click.echo(f"error: {error}", err=True)
            failed = True
    if failed:
        fail("some translations do not use the placeholders of their message (listed above)")
