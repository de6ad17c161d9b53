"""Pure rules of the phone channels: how long a screen may be, how a long screen is cut
into pages, what a typed answer means. No database, no Flask, no clock.

Screen length. USSD carries at most 160 bytes of text a screen: 182 characters of the
GSM 03.38 default alphabet (7 bits each; a character of its extension table, such as
``{`` ``€`` ``^``, takes two), or, for any text outside that alphabet (Devanagari,
Arabic, Cyrillic, most accented letters beyond French's é è à ù), UCS-2 at two bytes a
character: 80. A gateway adapter states both limits (``ChannelGateway.gsm_limit``,
``ucs2_limit``); every screen the kit sends fits the one its text needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

# GSM 03.38 default alphabet (basic table) and the characters of its extension table.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

ELLIPSIS = "…"


def is_gsm(text: str) -> bool:
    """Whether ``text`` can be sent in the GSM 7-bit alphabet."""
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def gsm_length(text: str) -> int:
    """Septets ``text`` takes in the GSM 7-bit alphabet (extension characters count 2)."""
    return sum(2 if ch in GSM_EXTENSION else 1 for ch in text)


def ucs2_length(text: str) -> int:
    """UTF-16 code units (characters outside the BMP take two)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Limits:
    gsm: int = 182
    ucs2: int = 80

    def size(self, text: str) -> tuple[int, int]:
        """(length, limit) of ``text`` in the encoding it needs."""
        if is_gsm(text):
            return gsm_length(text), self.gsm
        return ucs2_length(text), self.ucs2

    def fits(self, text: str) -> bool:
        length, limit = self.size(text)
        return length <= limit


def shorten(text: str, limits: Limits, room: str = "") -> str:
    """``text`` cut (with an ellipsis) so that ``text + room`` fits."""
    if limits.fits(text + room):
        return text
    while text and not limits.fits(text + ELLIPSIS + room):
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def _split_words(text: str, limits: Limits, footer: str) -> list[str]:
    """``text`` in pieces that each fit with ``footer`` after them, cut between words
    (inside a word only when a single word is too long)."""
    pieces: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if limits.fits(candidate + footer):
                current = candidate
                continue
            if current:
                pieces.append(current)
            while not limits.fits(word + footer):
                cut = len(word) - 1
                while cut > 1 and not limits.fits(word[:cut] + footer):
                    cut -= 1
                pieces.append(word[:cut])
                word = word[cut:]
            current = word
        if current:
            pieces.append(current)
    return pieces


MORE = "0"          # the answer that shows a screen's next page
MAIN_MENU = "00"    # the answer that goes back to the main menu from anywhere


def paginate(message: str, options: Sequence[str], limits: Limits, more_label: str,
             ) -> list[str]:
    """The pages of a screen: ``message`` then the numbered ``options`` (``1 ...`` up to
    ``n ...``: numbers are the same on every page), each page ending with
    ``0 <more_label>`` when another follows. Every page fits ``limits``; an option too
    long for a page alone is shortened with an ellipsis."""
    footer = f"\n{MORE} {more_label}"
    lines = _split_words(message, limits, footer) if message else []
    for number, label in enumerate(options, start=1):
        lines.append(shorten(f"{number} {label}", limits, footer))
    pages: list[str] = []
    current: list[str] = []
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        candidate = "\n".join([*current, line])
        # the page must keep room for the "more" line unless this is the very last line
        if limits.fits(candidate if last else candidate + footer) or not current:
            current.append(line)
            continue
        pages.append("\n".join(current) + footer)
        current = [line]
    if current or not pages:
        pages.append("\n".join(current))
    return pages


def choice(answer: str, count: int) -> int | None:
    """The option (0-based) that ``answer`` names among ``count``, or None."""
    text = answer.strip()
    if not text.isdigit() or len(text) > 3:
        return None
    number = int(text)
    return number - 1 if 1 <= number <= count else None


def parse_day(answer: str) -> date | None:
    """A date typed as DDMMYYYY (digits only: feature-phone keypads), or None."""
    text = answer.strip().replace(" ", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[4:]), int(text[2:4]), int(text[:2]))
    except ValueError:
        return None


def parse_year(answer: str) -> int | None:
    text = answer.strip()
    return int(text) if len(text) == 4 and text.isdigit() else None


PIN_LENGTH = 4


def is_pin(answer: str) -> bool:
    text = answer.strip()
    return len(text) == PIN_LENGTH and text.isdigit()


def weak_pin(pin: str) -> bool:
    """A PIN anyone would guess: one digit repeated or a run (1234, 9876)."""
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    return len(set(pin)) == 1 or steps in ({1}, {-1})


def keyword_of(text: str, keywords: dict[str, Sequence[str]]) -> tuple[str | None, str]:
    """(command, argument) of an SMS: its first word matched, without regard to case,
    against each command's keywords; (None, text) if none matches."""
    words = text.strip().split(None, 1)
    if not words:
        return None, ""
    first = words[0].casefold()
    for command, spellings in keywords.items():
        if any(first == spelling.casefold() for spelling in spellings):
            return command, words[1].strip() if len(words) > 1 else ""
    return None, text.strip()
