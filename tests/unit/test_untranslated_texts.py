"""No user-facing text escapes translation. Extraction only sees what is wrapped (`_()`,
`{% trans %}`), so this looks for what is not: words left bare in the Jinja templates
(text and visible attributes), and string literals handed straight to the places that
show text to people (flash(), the domain errors behind problem+json). The scans are
heuristics made to be precise: codes (DTP1, SMS, openapi.json), text inside <code>, and
markup produced by macros do not count; the table below shows what does."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import cowin_kit

PACKAGE = Path(cowin_kit.__file__).resolve().parent
# Jinja constructs, replaced by blanks (newlines kept for line numbers). A trans block
# goes whole: its text is extracted.
JINJA = re.compile(r"\{%-?\s*trans\b.*?%\}.*?\{%-?\s*endtrans\s*-?%\}"
                   r"|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
VISIBLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "label"}
SHOWN_VALUE_TYPES = {"submit", "button", "reset"}  # <input type=submit value="Shown">
NOT_PROSE = {"script", "style", "code", "kbd", "samp", "pre"}
# A macro that prints attributes (aria-describedby="x-hint") outside a tag.
ATTRIBUTE_MARKUP = re.compile(r"""^\s*(?:[\w:-]+=(?:"[^"]*"|'[^']*')\s*)+$""")
CODE_WORD = re.compile(r"^(?:[^\w]*[A-Z0-9][A-Z0-9_+-]*[^\w]*|[\w-]+(?:[./:][\w-]+)+)$")
LETTER = re.compile(r"[^\W\d_]")


def prose_words(text: str) -> list[str]:
    """The words of ``text`` that are language, not codes: 'Doses given' -> both,
    'DTP1 MCV2' / 'openapi.json' / '· 12' -> none."""
    return [word for word in text.split()
            if LETTER.search(word) and not CODE_WORD.match(word)]


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside: list[str] = []
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in NOT_PROSE:
            self.inside.append(tag)
        values = dict(attrs)
        for name, value in attrs:
            shown = name in VISIBLE_ATTRIBUTES or (
                name == "value" and tag == "input" and values.get("type") in SHOWN_VALUE_TYPES)
            if shown and value and prose_words(value):
                self.found.append((self.getpos()[0], f'{name}="{value}"'))

    def handle_endtag(self, tag):
        if tag in NOT_PROSE and tag in self.inside:
            self.inside.remove(tag)

    def handle_data(self, data):
        if self.inside or ATTRIBUTE_MARKUP.match(data):
            return
        if prose_words(data):
            self.found.append((self.getpos()[0], " ".join(data.split())))


def bare_template_texts(source: str) -> list[tuple[int, str]]:
    """(line, text) of the words a template shows without translating them."""
    masked = JINJA.sub(lambda match: re.sub(r"[^\n]", " ", match.group(0)), source)
    scanner = _Scanner()
    scanner.feed(masked)
    scanner.close()
    return scanner.found


# Calls whose first argument is shown to people (flash messages; the domain errors whose
# message becomes a problem's detail in the request's language).
TEXT_SINKS = {"flash", "DomainError", "InvalidInput", "NotFound", "Conflict",
              "RuleViolation", "Forbidden", "Unauthorized"}


def bare_code_texts(source: str) -> list[tuple[int, str]]:
    """(line, call) where a string literal (or an f-string, or a sum of them) goes straight
    into one of TEXT_SINKS instead of through `_()`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in TEXT_SINKS:
            continue
        literal = [n for n in ast.walk(node.args[0])
                   if isinstance(n, (ast.Constant, ast.JoinedStr))
                   and not (isinstance(n, ast.Constant) and not isinstance(n.value, str))]
        calls = [n for n in ast.walk(node.args[0]) if isinstance(n, ast.Call)]
        if literal and not calls and any(
                prose_words(n.value if isinstance(n, ast.Constant) else ast.unparse(n))
                for n in literal):
            found.append((node.lineno, ast.unparse(node)[:100]))
    return found


@pytest.mark.parametrize("template,bare", [
    ("<p>{{ _('Doses given') }}</p>", []),
    ("<p>{% trans %}Book a session{% endtrans %}</p>", []),
    ("<p>{% trans n=3 %}{{ n }} left{% endtrans %}</p>", []),
    ("<dt>doses</dt>", ["doses"]),
    ("<p>Problem</p>", ["Problem"]),
    ("<th>DTP1</th><th>MCV2</th><td>SMS</td><td>{{ x }} · {{ y }}</td>", []),
    ("<p>{{ _('errors as') }} <code>Problem</code>.</p>", []),
    ("<a href='/x'>openapi.json</a>", []),
    ('<input placeholder="dose.record">', []),
    ('<input placeholder="Search by name">', ['placeholder="Search by name"']),
    ('<img alt="{{ _(\'Logo\') }}">', []),
    ('<button title="Close">×</button>', ['title="Close"']),
    ('<button type="submit" name="decision" value="accept">{{ _("Accept") }}</button>', []),
    ('<input type="submit" value="Send">', ['value="Send"']),
    ("<script>const label = 'not shown as text';</script>", []),
    ('{%- if hint %} aria-describedby="{{ name }}-hint"{% endif %}', []),
    ("{# a comment with words #}<p>{{ text }}</p>", []),
])
def test_the_template_scan_finds_bare_words_and_only_them(template, bare):
    assert [text for _line, text in bare_template_texts(template)] == bare


@pytest.mark.parametrize("code,bare", [
    ('raise NotFound(_("No such dose."), code="dose_not_found")', False),
    ('raise NotFound("no such dose", code="dose_not_found")', True),
    ('raise Conflict(f"{n} seats left")', True),
    ('raise Conflict("no pack" + (f" with code {c}" if c else ""))', True),
    ('flash(_("Role granted."), "success")', False),
    ('flash(message, "success")', False),
    ('raise InvalidInput(errors)', False),
    ('raise InvalidInput("UUID")', False),
])
def test_the_code_scan_finds_literal_texts_given_to_users(code, bare):
    assert bool(bare_code_texts(code)) is bare


def test_no_template_shows_an_untranslated_word():
    found = []
    for path in sorted(PACKAGE.rglob("templates/**/*.html")):
        for line, text in bare_template_texts(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text}")
    assert not found, "wrap these in _() or {% trans %}:\n" + "\n".join(found)


def test_no_code_gives_people_an_untranslated_message():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for line, call in bare_code_texts(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {call}")
    assert not found, "wrap these messages in _():\n" + "\n".join(found)
