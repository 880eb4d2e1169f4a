#!/usr/bin/env python3
"""Draws the latency figures of bench/results.json as an SVG bar chart (no dependencies).

    python3 scripts/chart.py [bench/results.json] [bench/latency.svg]

results.json: {"title", "machine", "date", "panels": [{"title", "unit", "bars": [{"label",
"value", "note"?}]}]}. Each panel gets its own linear scale; bars are labelled with their value.
"""
import json
import sys
from html import escape

src = sys.argv[1] if len(sys.argv) > 1 else "bench/results.json"
dst = sys.argv[2] if len(sys.argv) > 2 else "bench/latency.svg"
data = json.load(open(src))

WIDTH, LABEL_W, BAR_H, GAP, PANEL_GAP, MARGIN = 980, 430, 20, 8, 46, 20
PLOT_W = WIDTH - LABEL_W - MARGIN - 90
COLORS = {"ours": "#2f6db5", "cached": "#3a9d5d", "floor": "#8a8a8a", "peer": "#c8553d"}

parts, y = [], MARGIN + 24
parts.append(
    f'<text x="{MARGIN}" y="{y}" font-size="17" font-weight="bold">{escape(data["title"])}</text>'
)
y += 20
parts.append(
    f'<text x="{MARGIN}" y="{y}" font-size="12" fill="#555">'
    f'{escape(data["machine"])}, {escape(data["date"])}</text>'
)
y += 18
for panel in data["panels"]:
    y += PANEL_GAP - 18
    parts.append(
        f'<text x="{MARGIN}" y="{y}" font-size="14" font-weight="bold">'
        f'{escape(panel["title"])} ({escape(panel["unit"])})</text>'
    )
    y += 12
    top = max(b["value"] for b in panel["bars"]) or 1
    for bar in panel["bars"]:
        w = max(1.0, PLOT_W * bar["value"] / top)
        color = COLORS.get(bar.get("kind", "ours"), COLORS["ours"])
        label = bar["label"] + (f' ({bar["note"]})' if bar.get("note") else "")
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + BAR_H - 6}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        parts.append(
            f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{color}"/>'
        )
        value = f'{bar["value"]:,.3g}' if bar["value"] < 100 else f'{bar["value"]:,.0f}'
        parts.append(
            f'<text x="{LABEL_W + w + 6:.1f}" y="{y + BAR_H - 6}" font-size="12">'
            f'{value} {escape(panel["unit"])}</text>'
        )
        y += BAR_H + GAP
legend_x = MARGIN
y += 14
for kind, name in [("floor", "floor"), ("ours", "cognito-session"), ("cached", "cognito-session, cache hit"), ("peer", "other design / peer")]:
    parts.append(f'<rect x="{legend_x}" y="{y - 11}" width="12" height="12" fill="{COLORS[kind]}"/>')
    parts.append(f'<text x="{legend_x + 17}" y="{y}" font-size="12">{name}</text>')
    legend_x += 40 + 7 * len(name)
height = y + MARGIN
svg = (
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
    f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">\n'
    f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n"
)
open(dst, "w").write(svg)
print(f"wrote {dst}")
