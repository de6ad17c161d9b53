"""Server-side SVG charts: well-formed, accessible, locale-formatted, mirrored for RTL."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cowin_kit.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def test_column_chart_is_accessible_and_stacks_the_series():
    root = parse(charts.column_chart(
        title="Doses per day", desc="Last 3 days", labels=["1 Nov", "2 Nov", "3 Nov"],
        series=[charts.Series("Dose 1", [1200, 0, 5]), charts.Series("Dose 2", [300, 0, 0])],
        locale="en"))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "Doses per day" and desc.text == "Last 3 days"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    found = bars(root)
    assert len(found) == 3  # empty values draw nothing
    assert "1 Nov: Dose 1 1,200" in [b.find(f"{SVG}title").text for b in found]
    # the axis top is a round number at or above the largest day (1,500)
    assert "2,000" in texts(root) and "1 Nov" in texts(root) and "Dose 2" in texts(root)
    heights = {b.find(f"{SVG}title").text: float(b.get("height")) for b in found}
    assert heights["1 Nov: Dose 1 1,200"] == 4 * heights["1 Nov: Dose 2 300"]


def test_numbers_follow_the_locale_and_rtl_mirrors():
    ltr = parse(charts.horizontal_bars(
        title="Coverage", desc="by region", labels=["A", "B"], values=[50.0, 12.5],
        value_texts=[charts.percent(50.0, "fr"), charts.percent(12.5, "fr")], locale="fr",
        maximum=100))
    assert "12,5\u00a0%" in texts(ltr) or "12,5 %" in texts(ltr) or "12,5\u202f%" in texts(ltr)
    rtl = parse(charts.horizontal_bars(
        title="Coverage", desc="by region", labels=["A", "B"], values=[50.0, 12.5],
        value_texts=["50", "12.5"], locale="ar", maximum=100))
    assert rtl.get("direction") == "rtl" and ltr.get("direction") is None
    (a_ltr, _), (a_rtl, _) = bars(ltr), bars(rtl)
    # the same bar, once growing from the left edge, once ending at the right one
    middle = float(ltr.get("viewBox").split()[2]) / 2
    assert float(a_ltr.get("x")) < middle < float(a_rtl.get("x")) + float(a_rtl.get("width"))
    assert float(a_ltr.get("width")) == float(a_rtl.get("width"))
    assert charts.number(1234567, "hi") == "12,34,567"
    assert charts.is_rtl("ar") and not charts.is_rtl("en") and not charts.is_rtl("xx-bad")


def test_grouped_bars_label_every_bar_and_escape_text():
    root = parse(charts.grouped_bars(
        title="By age <and> sex", desc="First doses", groups=["18-44", "60+"],
        series=[charts.Series("Male", [10, 3]), charts.Series("Female", [12, 0])],
        locale="en"))
    assert root.find(f"{SVG}title").text == "By age <and> sex"
    assert len(bars(root)) == 4
    assert {"10", "3", "12", "0", "18-44", "60+", "Male", "Female"} <= set(texts(root))


def test_empty_figures_say_so_and_the_same_input_gives_the_same_svg():
    kwargs = dict(title="Doses", desc="none", labels=["a"], series=[charts.Series("x", [0])],
                  locale="en", empty_note="No doses yet")
    assert "No doses yet" in texts(parse(charts.column_chart(**kwargs)))
    assert charts.column_chart(**kwargs) == charts.column_chart(**kwargs)
    assert charts.nice_ceiling(0) == 1 and charts.nice_ceiling(7) == 10
    assert charts.nice_ceiling(1500) == 2000 and charts.nice_ceiling(0.3) == 0.5


def test_counts_get_whole_ticks_and_long_labels_are_shortened():
    root = parse(charts.column_chart(title="t", desc="d", labels=["a"],
                                     series=[charts.Series("x", [1])], locale="en"))
    assert {"0", "1", "2", "3", "4"} <= set(texts(root)) and "0.25" not in texts(root)
    name = "Dadra and Nagar Haveli and Daman and Diu"
    bars_root = parse(charts.horizontal_bars(title="t", desc="d", labels=[name], values=[3],
                                             value_texts=["3"], locale="en"))
    shown = [t for t in texts(bars_root) if t.startswith("Dadra")]
    assert shown and shown[0].endswith("…") and len(shown[0]) < len(name)
    assert bars(bars_root)[0].find(f"{SVG}title").text == f"{name}: 3"


def test_count_axes_tick_on_whole_numbers():
    for top_value, wanted in ((7, {"0", "2", "4", "6", "8", "10"}),
                              (37, {"0", "10", "20", "30", "40", "50"}),
                              (180, {"0", "50", "100", "150", "200"})):
        root = parse(charts.column_chart(title="t", desc="d", labels=["a", "b"],
                                         series=[charts.Series("x", [top_value, 1])],
                                         locale="en"))
        shown = set(texts(root))
        assert wanted <= shown, (top_value, shown)
        assert not any("." in t for t in shown), shown


def test_rtl_legend_and_labels_are_anchored_away_from_their_swatches():
    """direction="rtl" makes text-anchor logical: "start" is a text's right edge. Each
    legend label starts at the side of its swatch (to its left in RTL) and the region
    labels of horizontal bars start at the right margin, so none runs out of the chart
    or over a swatch."""
    root = parse(charts.column_chart(title="t", desc="d", labels=["a"], locale="ar",
                                     series=[charts.Series("الجرعة الأولى", [3]),
                                             charts.Series("الجرعة الثانية", [2])]))
    assert root.get("direction") == "rtl"
    swatches = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is None]
    legend = [t for t in root.iter(f"{SVG}text") if t.text and t.text.startswith("الجرعة")]
    assert len(swatches) == 2 and len(legend) == 2
    for swatch, label in zip(swatches, legend):
        assert label.get("text-anchor") == "start"
        assert float(label.get("x")) < float(swatch.get("x"))  # text grows leftwards
    width = float(root.get("viewBox").split()[2])
    bars_root = parse(charts.horizontal_bars(title="t", desc="d", labels=["دبي"], values=[3],
                                             value_texts=["3"], locale="ar"))
    label = next(t for t in bars_root.iter(f"{SVG}text") if t.text == "دبي")
    assert label.get("text-anchor") == "start" and float(label.get("x")) <= width


def test_column_labels_stay_inside_the_picture():
    for locale in ("en", "ar"):
        root = parse(charts.column_chart(title="t", desc="d", locale=locale,
                                         labels=[f"{n} ديسمبر" for n in range(1, 31)],
                                         series=[charts.Series("x", [1] * 30)]))
        width = float(root.get("viewBox").split()[2])
        for label in (t for t in root.iter(f"{SVG}text") if "ديسمبر" in (t.text or "")):
            half = len(label.text) * charts.FONT * 0.3
            assert half <= float(label.get("x")) <= width - half, (locale, label.get("x"))
