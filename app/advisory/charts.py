"""Server-side SVG charts for the report: no JavaScript, no external assets, print-safe.

Every chart is an inline `<svg role="img">` with a `<title>` and `<desc>` that say in words what
the chart shows, and every bar carries its number as text, so the page reads the same on paper,
in a screen reader and with colours lost in a grey-scale print.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from app.advisory.memory import METHOD_NAMES
from app.advisory.schemas import CaseCounts, PlanStep, TuningAdvice
from app.cases.schemas import KNOWLEDGE_SUBCATEGORIES, SUBCATEGORIES

WIDTH = 640
FONT = 13
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
CATEGORY_COLOURS = {"knowledge": "#2563eb", "behavior": "#ea580c"}
RUNG_COLOURS = {
    "prompting": "#059669",
    "rag": "#2563eb",
    "lora": "#7c3aed",
    "qlora": "#7c3aed",
    "full_sft": "#7c3aed",
    "dpo": "#db2777",
}
SUBCATEGORY_LABELS = {
    "missing_knowledge": "Missing knowledge",
    "stale_knowledge": "Stale knowledge",
    "retrieval_gap": "Retrieval gap",
    "format": "Format",
    "style": "Style",
    "procedure": "Procedure",
    "grounding": "Grounding",
    "preference": "Preference",
}


def _t(value: object) -> str:
    return escape(str(value), quote=True)


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: int = FONT,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
    halo: bool = False,
) -> str:
    outline = ' stroke="#fff" stroke-width="3" paint-order="stroke"' if halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}"{outline}>{_t(content)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, *, extra: str = "") -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
        f'fill="{fill}"{extra}/>'
    )


def _svg(chart_id: str, height: float, title: str, desc: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f"font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\">"
        f'<title id="{chart_id}-title">{_t(title)}</title>'
        f'<desc id="{chart_id}-desc">{_t(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "0%"


def breakdown_chart(counts: CaseCounts) -> Markup:
    """Knowledge vs behaviour as one split bar, then one bar per subcategory, grouped."""
    total = counts.total
    knowledge = counts.by_category["knowledge"]
    behavior = counts.by_category["behavior"]
    label_w, bar_x, bar_w = 150, 160, 380
    body: list[str] = []
    y = 8
    body.append(_text(0, y + 14, "All failures", weight="bold"))
    k_w = bar_w * knowledge / total if total else 0
    body.append(_rect(bar_x, y, k_w, 22, CATEGORY_COLOURS["knowledge"]))
    body.append(
        _rect(bar_x + k_w, y, bar_w - k_w if total else 0, 22, CATEGORY_COLOURS["behavior"])
    )
    if total == 0:
        body.append(_rect(bar_x, y, bar_w, 22, GRID))
    if knowledge and k_w > 40:
        body.append(_text(bar_x + 6, y + 15, _pct(knowledge, total), fill="#fff", weight="bold"))
    if behavior and bar_w - k_w > 40:
        body.append(
            _text(
                bar_x + bar_w - 6,
                y + 15,
                _pct(behavior, total),
                anchor="end",
                fill="#fff",
                weight="bold",
            )
        )
    y += 34
    legend = [("knowledge", f"Knowledge {knowledge}"), ("behavior", f"Behaviour {behavior}")]
    x = bar_x
    for category, label in legend:
        body.append(_rect(x, y - 10, 12, 12, CATEGORY_COLOURS[category]))
        body.append(_text(x + 18, y, label, size=12, fill=MUTED))
        x += 150
    y += 16
    scale = max(counts.by_subcategory.values(), default=1)
    groups = (
        ("Knowledge", [s for s in SUBCATEGORIES if s in KNOWLEDGE_SUBCATEGORIES], "knowledge"),
        ("Behaviour", [s for s in SUBCATEGORIES if s not in KNOWLEDGE_SUBCATEGORIES], "behavior"),
    )
    for heading, members, category in groups:
        present = sorted(
            (s for s in members if counts.by_subcategory.get(s)),
            key=lambda s: -counts.by_subcategory[s],
        )
        if not present:
            continue
        y += 14
        body.append(_text(0, y, heading.upper(), size=11, fill=MUTED, weight="bold"))
        y += 8
        for subcategory in present:
            n = counts.by_subcategory[subcategory]
            w = bar_w * n / scale
            body.append(_text(label_w, y + 14, SUBCATEGORY_LABELS[subcategory], anchor="end"))
            body.append(_rect(bar_x, y + 2, bar_w, 16, "#f3f4f6"))
            body.append(_rect(bar_x, y + 2, w, 16, CATEGORY_COLOURS[category]))
            body.append(_text(bar_x + w + 6, y + 15, f"{n}  ({_pct(n, total)})", size=12))
            y += 24
    parts = ", ".join(f"{SUBCATEGORY_LABELS[s]} {n}" for s, n in counts.by_subcategory.items())
    desc = (
        f"{total} failures: {knowledge} knowledge ({_pct(knowledge, total)}), "
        f"{behavior} behaviour ({_pct(behavior, total)}). By subcategory: {parts or 'none'}."
    )
    return _svg("chart-breakdown", y + 8, "Failures by category and subcategory", desc, body)


LADDER = (
    ("prompting", "Prompting", "+ validators"),
    ("rag", "Retrieval", "(RAG)"),
    ("sft", "Supervised", "tuning (SFT)"),
    ("dpo", "Preference", "tuning (DPO)"),
)


def ladder_chart(plan: Sequence[PlanStep], *, total: int) -> Markup:
    """The escalation ladder as a staircase; each tread shows the share of cases it fixes."""
    by_rung: dict[str, PlanStep] = {}
    for step in plan:
        key = "sft" if step.rung in ("lora", "qlora", "full_sft") else step.rung
        by_rung[key] = step
    tread_w, gap, base_h, rise, top = 150, 8, 62, 30, 44
    height = top + base_h + rise * (len(LADDER) - 1) + 44
    floor = height - 34
    body: list[str] = []
    desc_parts = []
    for i, (key, line1, line2) in enumerate(LADDER):
        step = by_rung.get(key)
        x = i * (tread_w + gap) + 4
        h = base_h + rise * i
        y = floor - h
        if step is not None and key == "sft":
            line1, line2 = METHOD_NAMES[step.rung], "tuning (SFT)"
        label = f"{line1} {line2}"
        colour = RUNG_COLOURS["lora" if key == "sft" else key] if step else "#e5e7eb"
        body.append(_rect(x, y, tread_w, h, colour, extra=' rx="3"'))
        fill = "#fff" if step else MUTED
        body.append(_text(x + 8, y + 17, line1, size=12, fill=fill, weight="bold"))
        body.append(_text(x + 8, y + 32, line2, size=12, fill=fill))
        if step is not None:
            share = f"{step.case_count} cases · {step.share:.0%}"
            body.append(_text(x + 8, y - 8, share, weight="bold"))
            body.append(
                _text(
                    x + tread_w - 8,
                    floor - 8,
                    f"step {step.order}",
                    size=11,
                    anchor="end",
                    fill="#fff",
                )
            )
            desc_parts.append(
                f"{label}: step {step.order}, {step.case_count} cases ({step.share:.0%})"
            )
        else:
            body.append(_text(x + 8, y - 8, "not needed", size=12, fill=MUTED))
            desc_parts.append(f"{label}: not needed")
    arrow_y = floor + 20
    end = len(LADDER) * (tread_w + gap) - gap + 4
    body.append(
        f'<line x1="4" y1="{arrow_y}" x2="{end - 8}" y2="{arrow_y}" stroke="{MUTED}" '
        f'stroke-width="1.5"/><path d="M{end - 8},{arrow_y - 5} L{end},{arrow_y} '
        f'L{end - 8},{arrow_y + 5} Z" fill="{MUTED}"/>'
    )
    body.append(_text(8, arrow_y - 5, "cheaper, faster, reversible", size=11, fill=MUTED))
    body.append(
        _text(
            end - 12, arrow_y - 5, "more data, GPU time and risk", size=11, anchor="end", fill=MUTED
        )
    )
    desc = f"Escalation ladder for {total} failures. " + "; ".join(desc_parts) + "."
    return _svg(
        "chart-ladder", height, "The escalation ladder and the share each rung fixes", desc, body
    )


def memory_chart(tuning: TuningAdvice) -> Markup | None:
    """GPU memory of full SFT, LoRA and QLoRA against the GPU's memory; None without estimates."""
    if not tuning.memory:
        return None
    gpu = tuning.gpu_memory_gb
    label_w, bar_x, bar_w, row = 150, 160, 360, 34
    peak = max([m.total_gb for m in tuning.memory] + ([gpu] if gpu else []))
    scale = bar_w / peak
    body: list[str] = []
    y = 26
    desc_parts = []
    for estimate in tuning.memory:
        name = METHOD_NAMES[estimate.method]
        chosen = estimate.method == tuning.method
        fits = estimate.fits
        colour = "#059669" if fits else ("#9ca3af" if fits is False else "#7c3aed")
        label = f"{name} (chosen)" if chosen else name
        body.append(
            _text(label_w, y + 16, label, anchor="end", weight="bold" if chosen else "normal")
        )
        body.append(
            _rect(
                bar_x,
                y + 3,
                estimate.total_gb * scale,
                20,
                colour,
                extra=' stroke="#111827" stroke-width="2"' if chosen else "",
            )
        )
        verdict = "" if fits is None else (" · fits" if fits else " · does not fit")
        value = f"{estimate.total_gb:,.1f} GB{verdict}"
        end = bar_x + estimate.total_gb * scale
        if end + 8 + 7 * len(value) > WIDTH:
            body.append(
                _text(end - 6, y + 17, value, size=12, anchor="end", fill="#fff", weight="bold")
            )
        else:
            body.append(_text(end + 6, y + 17, value, size=12, halo=True))
        desc_parts.append(f"{name} {estimate.total_gb:,.1f} GB{verdict}")
        y += row
    if gpu:
        x = bar_x + gpu * scale
        body.insert(  # under the bars and their labels, so the labels stay readable
            0,
            f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{y + 4}" stroke="#dc2626" '
            f'stroke-width="2" stroke-dasharray="6 4"/>',
        )
        body.append(
            _text(
                x, 11, f"GPU: {gpu:g} GB", size=12, anchor="middle", fill="#dc2626", weight="bold"
            )
        )
        desc_parts.append(f"the GPU has {gpu:g} GB")
    size = f"{tuning.params_b:g}B-parameter" if tuning.params_b else "the"
    desc = f"Estimated training memory for {size} model: " + "; ".join(desc_parts) + "."
    return _svg("chart-memory", y + 10, "Training memory: full SFT vs LoRA vs QLoRA", desc, body)


def cost_chart(plan: Sequence[PlanStep]) -> Markup:
    """Estimated dollars per plan step, engineering and compute stacked."""
    label_w, bar_x, bar_w, row = 150, 160, 240, 30
    peak = max((s.cost.total_usd for s in plan), default=0) or 1
    scale = bar_w / peak
    body: list[str] = []
    y = 6
    desc_parts = []
    for step in plan:
        cost = step.cost
        engineering = cost.total_usd - cost.compute_usd
        body.append(_text(label_w, y + 16, f"{step.order}. {_rung_label(step)}", anchor="end"))
        body.append(_rect(bar_x, y + 4, engineering * scale, 18, "#475569"))
        body.append(
            _rect(bar_x + engineering * scale, y + 4, cost.compute_usd * scale, 18, "#f59e0b")
        )
        text = f"${cost.total_usd:,.0f} · {cost.engineering_days:g} eng-days"
        if cost.gpu_hours:
            text += f" · {cost.gpu_hours:g} GPU-h"
        body.append(_text(bar_x + cost.total_usd * scale + 6, y + 17, text, size=12))
        desc_parts.append(f"step {step.order} {_rung_label(step)}: {text}")
        y += row
    y += 6
    body.append(_rect(bar_x, y, 12, 12, "#475569"))
    body.append(_text(bar_x + 18, y + 10, "engineering time", size=12, fill=MUTED))
    body.append(_rect(bar_x + 150, y, 12, 12, "#f59e0b"))
    body.append(_text(bar_x + 168, y + 10, "GPU compute", size=12, fill=MUTED))
    desc = "Estimated cost per step: " + ("; ".join(desc_parts) or "no steps") + "."
    return _svg("chart-cost", y + 20, "Estimated cost of each step", desc, body)


def _rung_label(step: PlanStep) -> str:
    return {
        "prompting": "Prompting",
        "rag": "Retrieval",
        "lora": "LoRA SFT",
        "qlora": "QLoRA SFT",
        "full_sft": "Full SFT",
        "dpo": "DPO",
    }[step.rung]


VERSION_COLOURS = ("#2563eb", "#ea580c", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d")


def model_version_chart(points: Sequence[Any]) -> Markup | None:
    """Failures reported per week, one bar per model version in each week (points carry
    ``model_version``, ``week`` and ``failures``); None without points."""
    if not points:
        return None
    versions = list(dict.fromkeys(p.model_version for p in points))
    weeks = sorted({p.week for p in points})
    counts = {(p.model_version, p.week): p.failures for p in points}
    peak = max(p.failures for p in points) or 1
    top, plot_h, label_h = 30, 150, 34
    group_w = min(120.0, (WIDTH - 60) / len(weeks))
    bar_w = max(4.0, (group_w - 10) / len(versions))
    body: list[str] = []
    x0 = 40.0
    body.append(_rect(x0, top + plot_h, WIDTH - x0 - 10, 1, GRID))
    desc_parts = []
    for i, week in enumerate(weeks):
        gx = x0 + i * group_w
        for j, version in enumerate(versions):
            n = counts.get((version, week), 0)
            if not n:
                continue
            h = plot_h * n / peak
            x = gx + 5 + j * bar_w
            body.append(
                _rect(x, top + plot_h - h, bar_w - 2, h, VERSION_COLOURS[j % len(VERSION_COLOURS)])
            )
            body.append(
                _text(x + (bar_w - 2) / 2, top + plot_h - h - 4, str(n), size=11, anchor="middle")
            )
            desc_parts.append(f"week of {week}, {version}: {n}")
        body.append(
            _text(
                gx + group_w / 2, top + plot_h + 16, week[5:], size=11, anchor="middle", fill=MUTED
            )
        )
    x = x0
    for j, version in enumerate(versions):
        body.append(_rect(x, 8, 12, 12, VERSION_COLOURS[j % len(VERSION_COLOURS)]))
        body.append(_text(x + 16, 18, version, size=12, fill=MUTED))
        x += 24 + 7 * len(version)
    desc = "Failures reported per week by model version: " + "; ".join(desc_parts) + "."
    return _svg(
        "chart-model-versions",
        top + plot_h + label_h,
        "Failures reported per week, by model version",
        desc,
        body,
    )
