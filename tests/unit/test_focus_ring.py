"""The keyboard focus ring is visible: ≥ 3:1 contrast (WCAG 1.4.11) on cards and on the page."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static" / "css"
APP_CSS = (STATIC / "app.css").read_text()


def _custom_properties(css: str) -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", css, re.S).group(1)
    return dict(re.findall(r"--([\w-]+):\s*([^;]+);", root))


def _luminance(hex_colour: str) -> float:
    h = hex_colour.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = []
    for i in (0, 2, 4):
        c = int(h[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_matches_known_pairs():
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert round(contrast("#9bb5f5", "#fff"), 1) == 2.0  # the old ring, which the issue measured


def test_the_focus_ring_has_at_least_3_to_1_on_cards_and_the_page_background():
    props = _custom_properties(APP_CSS)
    ring = props["focus"]
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", ring), ring
    for surface in ("card", "bg"):
        assert contrast(ring, props[surface]) >= 3, (surface, props[surface])


def test_every_focus_outline_uses_the_one_custom_property():
    for sheet in STATIC.glob("*.css"):
        css = sheet.read_text()
        for rule in re.findall(r"[^{}]*:focus(?:-visible)?[^{}]*{[^}]*outline:\s*3px[^}]*}", css):
            assert "var(--focus)" in rule, (sheet.name, rule)
