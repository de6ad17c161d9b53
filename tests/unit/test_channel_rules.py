"""The phone channels' pure rules: alphabets and screen limits, pages, answers."""

from datetime import date

import pytest

from cowin_kit.channels import rules
from cowin_kit.channels.rules import Limits

LIMITS = Limits(182, 80)


@pytest.mark.parametrize("text, gsm, length", [
    ("Hello", True, 5), ("é è à ù", True, 7), ("{x}", True, 5), ("€", True, 2),
    ("ê", False, 1), ("नमस्ते", False, 6), ("مرحبا", False, 5), ("Привіт", False, 6),
    ("😀", False, 2),
])
def test_alphabet_and_length(text, gsm, length):
    assert rules.is_gsm(text) is gsm
    assert LIMITS.size(text)[0] == length
    assert LIMITS.size(text)[1] == (182 if gsm else 80)


@pytest.mark.parametrize("message, options", [
    ("", ["Register", "Find"]),
    ("word " * 100, ["A", "B"]),
    ("नमस्ते " * 40, ["पंजीकरण", "सत्र खोजें"] * 8),
    ("", ["x" * 300]),
    ("مرحبا", ["خيار طويل جدًا " * 10, "نعم"]),
    ("a" * 500, []),
])
def test_every_page_fits_and_keeps_every_option_number(message, options):
    pages = rules.paginate(message, options, LIMITS, "More")
    for page in pages:
        assert LIMITS.fits(page), page
    for page in pages[:-1]:
        assert page.endswith("\n0 More")
    assert not pages[-1].endswith("\n0 More")
    shown = [line.split(" ", 1)[0] for page in pages for line in page.split("\n")]
    for number in range(1, len(options) + 1):
        assert str(number) in shown
    if message.strip():
        words = " ".join(p.replace("\n0 More", "") for p in pages).split()
        assert words[0] == message.split()[0][:len(words[0])]


@pytest.mark.parametrize("answer, count, index", [
    ("1", 3, 0), ("3", 3, 2), ("4", 3, None), ("0", 3, None), ("a", 3, None),
    (" 2 ", 3, 1), ("", 3, None), ("1234", 9999, None),
])
def test_choice(answer, count, index):
    assert rules.choice(answer, count) == index


@pytest.mark.parametrize("answer, day", [
    ("25012020", date(2020, 1, 25)), ("31022020", None), ("2501202", None),
    ("ab012020", None), ("01 01 2000", date(2000, 1, 1)),
])
def test_parse_day(answer, day):
    assert rules.parse_day(answer) == day


@pytest.mark.parametrize("pin, weak", [
    ("1111", True), ("1234", True), ("9876", True), ("4826", False), ("1212", False),
])
def test_weak_pins(pin, weak):
    assert rules.weak_pin(pin) is weak


@pytest.mark.parametrize("text, command, argument", [
    ("STATUS 12345", "status", "12345"), ("status  123 ", "status", "123"),
    ("Stop", "stop", ""), ("hello there", None, "hello there"), ("", None, ""),
    ("बंद", "stop", ""),
])
def test_keyword_of(text, command, argument):
    keywords = {"status": ["STATUS"], "stop": ["STOP", "बंद"]}
    assert rules.keyword_of(text, keywords) == (command, argument)
