"""Server-side SVG charts for the dashboards: no JavaScript, no CDN, nothing but text.

Each chart is one ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that screen
readers announce, text labels on the bars (a chart must be readable without colour), and
numbers formatted by Babel for the page's locale. In right-to-left locales the horizontal
direction is mirrored: bars grow from the right and time runs from right to left. The
SVG then says ``direction="rtl"``, which makes ``text-anchor`` logical: "start" is the
right edge of a text, so each label is anchored on the side away from its swatch or bar
(and never runs out of the picture). Count axes get whole-number ticks only.

The functions are pure: figures in, ``Markup`` out."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from babel import Locale
from babel.numbers import format_decimal, format_percent
from markupsafe import Markup, escape

# Distinguishable for the common colour-vision deficiencies (Okabe-Ito), dark enough
# for 3:1 against white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
TEXT = "#1a1a1a"
GRID = "#d0d0d0"
FONT = 14   # in viewBox units: charts are 480 wide, so on a 360 px phone about 10 px
WIDTH = 480


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def is_rtl(locale: str) -> bool:
    try:
        return Locale.parse(locale).character_order == "right-to-left"
    except (ValueError, TypeError):
        return False


def number(value: float, locale: str) -> str:
    return format_decimal(value, locale=locale)


def percent(value: float, locale: str) -> str:
    """``value`` in per cent (12.5 -> '12.5%'), as the locale writes it."""
    exact = Decimal(str(round(value, 1))) / 100  # no float noise such as 12.300000000000001
    return format_percent(exact, locale=locale, decimal_quantization=False)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _ticks(top: float, whole: bool = False) -> list[float]:
    """Grid values from 0 to ``top``: 4 steps, or for counts (``whole``) 4, 5 or 2 steps
    whichever gives whole numbers (a top of 10 -> 0, 2, 4, 6, 8, 10; never 2.5)."""
    steps = 4
    if whole:
        steps = next((n for n in (4, 5, 2) if float(top / n).is_integer()), 1)
    return [top * i / steps for i in range(steps + 1)]


def _scale_top(values: Sequence[float]) -> float:
    """The axis top: a round number; at least 4 for counts, so ticks stay whole."""
    top = nice_ceiling(max(values, default=0))
    if all(float(v).is_integer() for v in values) and top < 4:
        return 4.0
    return top


def _fit(label: str, width: float, size: int = FONT) -> str:
    """``label`` shortened with an ellipsis to about ``width`` pixels (the full text stays
    in the bar's tooltip and in the table next to the chart)."""
    room = max(int(width / (size * 0.55)), 4)
    return label if len(label) <= room else label[:room - 1].rstrip() + "…"


def _open(title: str, desc: str, width: int, height: int, rtl: bool) -> tuple[str, list[str]]:
    # Derived from the content, so the same figures give the same SVG (and no two charts
    # of one page share an id unless they are the same chart).
    uid = "chart-" + hashlib.sha1(f"{title}\x00{desc}".encode()).hexdigest()[:10]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" '
            f'aria-labelledby="{uid}-title {uid}-desc" font-family="sans-serif" '
            f'font-size="{FONT}" fill="{TEXT}"'
            + (' direction="rtl"' if rtl else '') + '>'
            f'<title id="{uid}-title">{escape(title)}</title>'
            f'<desc id="{uid}-desc">{escape(desc)}</desc>')
    return uid, [head]


def _text(x: float, y: float, content: str, anchor: str = "start", **extra: str) -> str:
    attrs = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in extra.items())
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{attrs}>'
            f'{escape(content)}</text>')


def _legend(parts: list[str], series_names: Sequence[str], y: float, width: int,
            rtl: bool) -> None:
    x = width - 10 if rtl else 10
    for index, name in enumerate(series_names):
        colour = PALETTE[index % len(PALETTE)]
        box_x = x - 12 if rtl else x
        parts.append(f'<rect x="{box_x:.1f}" y="{y - 10:.1f}" width="12" height="12" '
                     f'fill="{colour}"/>')
        label_x = x - 16 if rtl else x + 16
        # "start": the label's leading edge is beside its swatch in either direction
        parts.append(_text(label_x, y, name, "start"))
        step = 16 + int(FONT * 0.6 * len(name)) + 24
        x = x - step if rtl else x + step


def _empty_note(parts: list[str], width: int, height: int, note: str) -> None:
    parts.append(_text(width / 2, height / 2, note, "middle"))


def _value_axis(parts: list[str], series: Sequence[Series], top: float, locale: str,
                width: int, height: int, rtl: bool, *, upper: int,
                lower: int) -> tuple[int, int, int, int]:
    """The legend, the horizontal grid lines and the value labels of a column chart (on
    the right for right-to-left); returns the plot's margins (left, right, upper, lower)."""
    left, right = (12, 56) if rtl else (56, 12)
    plot_h = height - upper - lower
    _legend(parts, [s.name for s in series], 16, width, rtl)
    axis_x = width - right + 6 if rtl else left - 6
    whole = all(float(v).is_integer() for s in series for v in s.values)
    for tick in _ticks(top, whole):
        y = upper + plot_h - plot_h * tick / top
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        # "end": the number ends at the axis (its left side in RTL, where it is drawn)
        parts.append(_text(axis_x, y + 4, number(tick, locale), "end"))
    return left, right, upper, lower


def column_chart(*, title: str, desc: str, labels: Sequence[str], series: Sequence[Series],
                 locale: str, width: int = WIDTH, height: int = 260, max_labels: int = 6,
                 empty_note: str = "") -> Markup:
    """Stacked columns, one per label (e.g. a day), one colour per series (e.g. dose)."""
    rtl = is_rtl(locale)
    _uid, parts = _open(title, desc, width, height, rtl)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _scale_top(totals)
    left, right, upper, lower = _value_axis(parts, series, top, locale, width, height, rtl,
                                            upper=28, lower=40)
    plot_w, plot_h = width - left - right, height - upper - lower
    n = max(len(labels), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1.0)
    every = max(1, math.ceil(len(labels) / max_labels))
    for i, label in enumerate(labels):
        position = (n - 1 - i) if rtl else i
        x = left + slot * position + (slot - bar_w) / 2
        base = upper + plot_h
        pieces = []
        for index, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            pieces.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                          f'height="{h:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                          f'<title>{escape(label)}: {escape(s.name)} '
                          f'{escape(number(value, locale))}</title></rect>')
        parts.append('<g class="column">' + "".join(pieces) + '</g>')
        if (len(labels) - 1 - i) % every == 0:  # always label the latest column
            # centred under its column, but kept inside the picture (the latest column
            # sits at the left edge in right-to-left charts)
            half = len(label) * FONT * 0.3
            centre = min(max(x + bar_w / 2, half + 2), width - half - 2)
            parts.append(_text(centre, height - lower + 16, label, "middle"))
    if not any(totals):
        _empty_note(parts, width, height, empty_note)
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(*, title: str, desc: str, labels: Sequence[str], values: Sequence[float],
                    value_texts: Sequence[str], locale: str, maximum: float | None = None,
                    width: int = WIDTH, bar_height: int = 24, label_width: int = 150,
                    empty_note: str = "") -> Markup:
    """One bar per label (e.g. a region's coverage in per cent), the value written beside
    it. ``maximum`` fixes the scale (100 for percentages)."""
    rtl = is_rtl(locale)
    gap = 8
    height = 20 + len(labels) * (bar_height + gap) + 10
    _uid, parts = _open(title, desc, width, max(height, 60), rtl)
    top = maximum if maximum else nice_ceiling(max(values, default=0))
    text_room = 80
    plot_w = width - label_width - text_room - 20
    for i, (label, value, value_text) in enumerate(zip(labels, values, value_texts)):
        y = 20 + i * (bar_height + gap)
        w = max(plot_w * min(value, top) / top, 0) if top else 0
        if rtl:
            bar_x = width - label_width - 10 - w
            # direction="rtl": "start" is the right edge of each text
            parts.append(_text(width - 10, y + bar_height * 0.7, _fit(label, label_width),
                               "start"))
            parts.append(_text(bar_x - 6, y + bar_height * 0.7, value_text, "start"))
        else:
            bar_x = label_width + 10
            parts.append(_text(10, y + bar_height * 0.7, _fit(label, label_width), "start"))
            parts.append(_text(bar_x + w + 6, y + bar_height * 0.7, value_text, "start"))
        parts.append(f'<rect class="bar" x="{bar_x:.1f}" y="{y}" width="{w:.1f}" '
                     f'height="{bar_height}" fill="{PALETTE[0]}"><title>{escape(label)}: '
                     f'{escape(value_text)}</title></rect>')
    if not labels:
        _empty_note(parts, width, 60, empty_note)
    parts.append("</svg>")
    return Markup("".join(parts))


def grouped_bars(*, title: str, desc: str, groups: Sequence[str], series: Sequence[Series],
                 locale: str, width: int = WIDTH, height: int = 280,
                 empty_note: str = "") -> Markup:
    """Columns side by side within each group (e.g. sexes within age bands), each with
    its number written above."""
    rtl = is_rtl(locale)
    _uid, parts = _open(title, desc, width, height, rtl)
    everything = [v for s in series for v in s.values]
    top = _scale_top(everything)
    left, right, upper, lower = _value_axis(parts, series, top, locale, width, height, rtl,
                                            upper=40, lower=36)
    plot_w, plot_h = width - left - right, height - upper - lower
    n = max(len(groups), 1)
    slot = plot_w / n
    inner = slot * 0.8
    bar_w = inner / max(len(series), 1)
    for g, group in enumerate(groups):
        position = (n - 1 - g) if rtl else g
        x0 = left + slot * position + (slot - inner) / 2
        for index, s in enumerate(series):
            value = s.values[g]
            order = (len(series) - 1 - index) if rtl else index
            x = x0 + order * bar_w
            h = plot_h * value / top
            y = upper + plot_h - h
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                         f'<title>{escape(group)}, {escape(s.name)}: '
                         f'{escape(number(value, locale))}</title></rect>')
            parts.append(_text(x + (bar_w - 2) / 2, y - 4, number(value, locale), "middle",
                               font_size="12"))
        parts.append(_text(x0 + inner / 2, height - lower + 18, group, "middle"))
    if not any(everything):
        _empty_note(parts, width, height, empty_note)
    parts.append("</svg>")
    return Markup("".join(parts))
