"""Render a GateReport: a rich console table, JUnit XML (one testcase per metric), Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evals.gate import GateReport, MetricDecision, judge_summary

_STYLE = {"pass": "green", "fail": "bold red", "undecided": "yellow", "skipped": "dim"}
_ICON = {"pass": "✅", "fail": "❌", "undecided": "⚠️", "skipped": "➖"}
_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "undecided": "bold yellow"}


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}g}" if abs(value) >= 1e-4 else f"{value:.2g}"


def _ci(decision: MetricDecision) -> str:
    if decision.ci_low is None or decision.ci_high is None:
        return "–"
    return f"[{decision.ci_low:+.4f}, {decision.ci_high:+.4f}]"


def _p(decision: MetricDecision) -> str:
    if decision.p_value is None:
        return "–"
    holm = "" if decision.p_holm is None else f", Holm {decision.p_holm:.3g}"
    return f"{decision.p_value:.3g}{holm} ({decision.test})"


def _drop(decision: MetricDecision) -> str:
    return "–" if decision.detectable_drop is None else f"{decision.detectable_drop:.2g}"


def _judge(decision: MetricDecision) -> str:
    return judge_summary(decision)


def _tally(report: GateReport) -> str:
    return f"{len(report.failed)} failed, {len(report.undecided)} undecided"


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
    for column in ("metric", "status", "n", "baseline", "candidate", "effect", "CI (cand-base)"):
        table.add_column(column, justify="left" if column in {"metric", "status"} else "right")
    table.add_column("margin", justify="right")
    table.add_column("p (drop > margin)", justify="right")
    table.add_column("detectable drop", justify="right")
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
            _drop(d),
            d.reason + (f" ({_judge(d)})" if d.judge else ""),
        )
    console.print(table)
    for d in report.decisions:
        if d.status in {"fail", "undecided"}:
            console.print(f"{d.metric} {d.status}: {d.reason}", soft_wrap=True, markup=False)
    for note in report.notes:
        console.print(f"note: {note}", style="dim", soft_wrap=True, markup=False)
    console.print(f"policy: {report.policy_source}", style="dim", soft_wrap=True, markup=False)
    console.print(
        f"[{_VERDICT_STYLE[report.status]}]GATE {report.status.upper()}[/] — {_tally(report)}"
        + (" (undecided is not a pass)" if report.status == "undecided" else "")
    )


def to_junit_xml(report: GateReport) -> str:
    """JUnit XML: one testcase per metric; fail -> <failure>, skipped -> <skipped>,
    undecided -> <failure type="undecided"> (undecided is never a pass)."""
    suite = ET.Element(
        "testsuite",
        {
            "name": "rung-eval-gate",
            "tests": str(len(report.decisions)),
            "failures": str(len(report.failed) + len(report.undecided)),
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
        ("policy", report.policy_source),
    ):
        ET.SubElement(props, "property", {"name": key, "value": value})
    for d in report.decisions:
        case = ET.SubElement(suite, "testcase", {"classname": "rung.eval.gate", "name": d.metric})
        detail = _detail_line(d)
        if d.status in {"fail", "undecided"}:
            kind = "regression" if d.status == "fail" else "undecided"
            failure = ET.SubElement(case, "failure", {"message": d.reason, "type": kind})
            failure.text = detail
        elif d.status == "skipped":
            ET.SubElement(case, "skipped", {"message": d.reason})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{d.reason}\n{detail}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _detail_line(d: MetricDecision) -> str:
    return (
        f"n={d.n} baseline_mean={_num(d.baseline_mean)} candidate_mean={_num(d.candidate_mean)} "
        f"mean_diff={'–' if d.mean_diff is None else f'{d.mean_diff:+.4f}'} "
        f"ci{int(d.confidence * 100)}={_ci(d)} margin={_num(d.margin)} direction={d.direction} "
        f"p={_p(d)} unpaired_p={_num(d.unpaired_p_value, 3)}\n{d.detectable_sentence}"
        + (f"\n{_judge(d)}" if d.judge else "")
    )


def to_markdown(report: GateReport) -> str:
    """A PR-comment summary."""
    icon = _ICON[report.status]
    lines = [
        f"### {icon} Eval gate: **{report.status.upper()}**",
        "",
        f"Candidate `{_run_label(report.candidate_run)}` vs baseline "
        f"`{_run_label(report.baseline_run)}` on {report.n_shared} paired examples — "
        f"{_tally(report)}. Policy: {report.policy_source}.",
        "",
        "| metric | status | n | baseline | candidate | effect | CI (cand − base) | margin "
        "| p (drop > margin) | detectable drop |",
        "|---|---|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for d in report.decisions:
        delta = "–" if d.mean_diff is None else f"{d.mean_diff:+.4f}"
        lines.append(
            f"| `{d.metric}` | {_ICON[d.status]} {d.status} | {d.n} | {_num(d.baseline_mean)} | "
            f"{_num(d.candidate_mean)} | {delta} | {_ci(d)} | {_num(d.margin)} | {_p(d)} | "
            f"{_drop(d)} |"
        )
    lines.append("")
    for d in report.decisions:
        if d.status == "skipped":
            continue
        if d.status in {"fail", "undecided"}:
            lines.append(f"- **{d.metric}** ({d.status}): {d.reason}")
        else:
            lines.append(f"- **{d.metric}**: {d.detectable_sentence}")
        if d.judge:
            lines.append(f"  - {_judge(d)}")
    for note in report.notes:
        lines.append(f"- _note_: {note}")
    lines.append("")
    lines.append(
        "<sub>BCa bootstrap CI of per-example differences (Tango score interval for pass/fail "
        "metrics). Fail = the whole CI is worse than the margin (Holm-corrected across metrics); "
        "pass = none of it is; anything else, or fewer than min_examples, is undecided. "
        "Detectable drop: the smallest true drop this run fails at 80% power.</sub>"
    )
    return "\n".join(lines) + "\n"


def write_text(path: str | Path, text: str) -> Path:
    """Write a rendered report, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
