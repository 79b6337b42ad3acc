"""Render a GateReport: a rich console table, JUnit XML (one testcase per metric), Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evals.gate import GateReport, MetricDecision

_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "skipped": "dim"}
_ICON = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skipped": "➖"}


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}g}" if abs(value) >= 1e-4 else f"{value:.2g}"


def _ci(decision: MetricDecision) -> str:
    if decision.ci_low is None or decision.ci_high is None:
        return "–"
    return f"[{decision.ci_low:+.4f}, {decision.ci_high:+.4f}]"


def _p(decision: MetricDecision) -> str:
    if decision.p_value is None:
        return "–"
    return f"{decision.p_value:.3g} ({decision.test})"


def _run_label(run: dict[str, object]) -> str:
    for key in ("name", "model", "run_id", "path"):
        value = run.get(key)
        if value:
            return str(value)
    return "?"


def render_console(report: GateReport, *, console: Console | None = None) -> None:
    """Print the decisions as a table and the verdict."""
    console = console or Console()
    table = Table(
        title=f"Gate: {_run_label(report.candidate_run)} vs {_run_label(report.baseline_run)}"
        f" ({report.n_shared} shared examples)"
    )
    for column in ("metric", "status", "n", "baseline", "candidate", "diff", "CI (cand-base)"):
        table.add_column(column, justify="left" if column in {"metric", "status"} else "right")
    table.add_column("margin", justify="right")
    table.add_column("p", justify="right")
    table.add_column("reason")
    for d in report.decisions:
        table.add_row(
            d.metric,
            f"[{_STYLE[d.status]}]{d.status.upper()}[/]",
            str(d.n),
            _num(d.baseline_mean),
            _num(d.candidate_mean),
            "–" if d.mean_diff is None else f"{d.mean_diff:+.4f}",
            _ci(d),
            "–" if d.margin is None else f"{d.margin:.4g}",
            _p(d),
            d.reason,
        )
    console.print(table)
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    style = "bold green" if report.status == "pass" else "bold red"
    console.print(
        f"[{style}]GATE {report.status.upper()}[/] — {len(report.failed)} failed, "
        f"{len(report.warnings)} warnings"
    )


def to_junit_xml(report: GateReport) -> str:
    """JUnit XML: one testcase per metric; fail -> <failure>, skipped -> <skipped>,
    warn -> passes with the warning in <system-out>."""
    suite = ET.Element(
        "testsuite",
        {
            "name": "rung-eval-gate",
            "tests": str(len(report.decisions)),
            "failures": str(len(report.failed)),
            "errors": "0",
            "skipped": str(sum(d.status == "skipped" for d in report.decisions)),
        },
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("baseline", _run_label(report.baseline_run)),
        ("candidate", _run_label(report.candidate_run)),
        ("n_shared", str(report.n_shared)),
        ("status", report.status),
    ):
        ET.SubElement(props, "property", {"name": key, "value": value})
    for d in report.decisions:
        case = ET.SubElement(suite, "testcase", {"classname": "rung.eval.gate", "name": d.metric})
        detail = _detail_line(d)
        if d.status == "fail":
            failure = ET.SubElement(case, "failure", {"message": d.reason, "type": "regression"})
            failure.text = detail
        elif d.status == "skipped":
            ET.SubElement(case, "skipped", {"message": d.reason})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = ("WARNING: " if d.status == "warn" else "") + f"{d.reason}\n{detail}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _detail_line(d: MetricDecision) -> str:
    return (
        f"n={d.n} baseline_mean={_num(d.baseline_mean)} candidate_mean={_num(d.candidate_mean)} "
        f"mean_diff={'–' if d.mean_diff is None else f'{d.mean_diff:+.4f}'} "
        f"ci{int(d.confidence * 100)}={_ci(d)} margin={_num(d.margin)} direction={d.direction} "
        f"p={_p(d)} unpaired_p={_num(d.unpaired_p_value, 3)}"
    )


def to_markdown(report: GateReport) -> str:
    """A PR-comment summary."""
    icon = _ICON["pass"] if report.status == "pass" else _ICON["fail"]
    lines = [
        f"### {icon} Eval gate: **{report.status.upper()}**",
        "",
        f"Candidate `{_run_label(report.candidate_run)}` vs baseline "
        f"`{_run_label(report.baseline_run)}` on {report.n_shared} paired examples — "
        f"{len(report.failed)} failed, {len(report.warnings)} warnings.",
        "",
        "| metric | status | n | baseline | candidate | Δ | CI (cand − base) | margin | p |",
        "|---|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for d in report.decisions:
        delta = "–" if d.mean_diff is None else f"{d.mean_diff:+.4f}"
        lines.append(
            f"| `{d.metric}` | {_ICON[d.status]} {d.status} | {d.n} | {_num(d.baseline_mean)} | "
            f"{_num(d.candidate_mean)} | {delta} | {_ci(d)} | {_num(d.margin)} | {_p(d)} |"
        )
    lines.append("")
    for d in report.decisions:
        if d.status in {"fail", "warn"}:
            lines.append(f"- **{d.metric}** ({d.status}): {d.reason}")
    for note in report.notes:
        lines.append(f"- _note_: {note}")
    lines.append("")
    lines.append(
        "<sub>Paired bootstrap CI of per-example differences (exact McNemar interval and test for "
        "pass/fail metrics). Fail = the whole CI is worse than the margin; pass = none of it "
        "is.</sub>"
    )
    return "\n".join(lines) + "\n"


def write_text(path: str | Path, text: str) -> Path:
    """Write a rendered report, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
