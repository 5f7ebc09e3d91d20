"""The report a scenario run leaves: report.md (expectations, faults, nodes, steps),
series.json (the sampled series and what the nodes held) and the PNG plots, with the
compared run side by side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustnet.clock import DAY_MS
from trustnet.testbed.cluster import NetworkState
from trustnet.testbed.expect import CheckResult, Run, Series, divergence
from trustnet.testbed.model import TWINS, Scenario


def fmt_value(v: float | str) -> str:
    """A checked value as the report and the run's summary show it."""
    return f"{v:.4g}" if isinstance(v, float) else v


def write_report(out: Path, scenario: Scenario, origin_ms: int, series: Series,
                 results: list[CheckResult], nodes: list[dict[str, Any]],
                 entries: dict[str, str], *, end: NetworkState | None = None,
                 snapshots: Mapping[str, NetworkState] | None = None,
                 compared: Run | None = None, compared_report: str | None = None) -> list[Path]:
    """Write report.md, series.json and the plots; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    snapshots = dict(snapshots or {})
    files = [out / "series.json", out / "report.md"]
    (out / "series.json").write_text(json.dumps({
        "scenario": scenario.name, "origin_ms": origin_ms, "nodes": nodes, "entries": entries,
        "series": series, "checks": [r.to_json() for r in results],
        "end": end.to_json() if end else None,
        "before_faults": {k: v.to_json() for k, v in snapshots.items()},
    }, indent=1))
    plots = _plots(out, scenario, origin_ms, series)
    if compared is not None:
        plots.append(_compare_plot(out, scenario, origin_ms, series, compared))
    files += plots
    ok = all(r.ok for r in results)
    lines = [
        f"# {scenario.title}", "",
        scenario.description, "",
        f"Origin {datetime.fromtimestamp(origin_ms / 1000, UTC):%Y-%m-%d %H:%M} UTC, "
        f"{scenario.days:g} days, {len(scenario.parties)} nodes, sampled every "
        f"{scenario.sample_hours:g} h.", "",
        f"## Expectations: {'all met' if ok else 'NOT all met'}", "",
        "| | expectation | check | left | right |", "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {'ok' if r.ok else 'FAILED'} | {r.what} | `{r.check}` | "
                     f"{fmt_value(r.left)} | {fmt_value(r.right)} |")
    if compared is not None:
        lines += ["", f"## Compared with: {compared.scenario.title}", "",
                  compared.scenario.description, "",
                  "Both played on their own testbed; `compared:` measurements read that run"
                  + (f" (its report: [{compared_report}]({compared_report}))."
                     if compared_report else ".")]
    lines += ["", f"## How each node sees {scenario.focus}", ""]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    faults = [s for s in scenario.steps if s.fault]
    if faults:
        lines += ["", "## Faults", "",
                  "Each fault hit a settled network: what the nodes held just before it.", "",
                  "| day | fault | nodes | before it |", "|---|---|---|---|"]
        for s in faults:
            state = snapshots.get(s.id)
            held = "-" if state is None else (
                "all nodes agree" if state.converged()
                else f"diverged: {divergence(state)}")
            if state is not None:
                counts = sorted({st.entries for st in state.nodes.values()})
                held += f" ({'/'.join(str(c) for c in counts)} entries)"
            who = (s.party + " -> " + ", ".join(s.nodes) if s.fault in TWINS
                   else s.party if s.fault == "rotate" else ", ".join(s.nodes))
            lines.append(f"| {s.day:g} | {s.fault} | {who or '-'} | {held} |")
        if end is not None:
            lines += ["", "At the end: " + ("every node holds the same heads and forks."
                                            if end.converged() else
                                            f"{divergence(end)}.")]
    lines += ["", "## Nodes", "", "| name | node id | url | dir |", "|---|---|---|---|"]
    lines += [f"| {n['name']} | `{n['node_id'][:16]}` | {n['url']} | {n['dir']} |" for n in nodes]
    lines += ["", "## Steps", "", "| day | party | kind | entry |", "|---|---|---|---|"]
    for step in scenario.steps:
        if step.fault and step.fault not in (*TWINS, "rotate"):
            lines.append(f"| {step.day:g} | {', '.join(step.nodes) or '-'} | fault: {step.fault} | |")
            continue
        kind = f"fault: {step.fault} ({step.kind})" if step.fault else step.kind
        entry = ("`" + entries[step.id][:16] + "`" if step.id in entries else "(each party)")
        if step.fault and f"{step.id}:alt" in entries:
            entry += " / `" + entries[f"{step.id}:alt"][:16] + "`"
        lines.append(f"| {step.day:g} | {step.party} | {kind} | {entry} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return files


def _spans(scenario: Scenario) -> list[tuple[float, float, str, str]]:
    """(from day, to day, label, colour) of the faults, for the plots."""
    out: list[tuple[float, float, str, str]] = []
    cut_from: float | None = None
    down: dict[str, float] = {}
    for s in scenario.steps:
        if s.fault == "partition":
            if cut_from is not None:
                out.append((cut_from, s.day, "partition", "#f4a259"))
            cut_from = s.day
        elif s.fault == "heal" and cut_from is not None:
            out.append((cut_from, s.day, "partition", "#f4a259"))
            cut_from = None
        elif s.fault in ("stop", "crash"):
            down.update({n: s.day for n in s.nodes})
        elif s.fault == "restart":
            out += [(down.pop(n), s.day, f"{n} down", "#9aa5b1") for n in s.nodes if n in down]
        elif s.fault == "equivocate":
            out.append((s.day, s.day, f"{s.party} equivocates", "#c0392b"))
        elif s.fault == "compromise":
            out.append((s.day, s.day, f"{s.party}'s key stolen", "#c0392b"))
        elif s.fault == "rotate":
            out.append((s.day, s.day, f"{s.party} rotates", "#2e86c1"))
    if cut_from is not None:
        out.append((cut_from, scenario.days, "partition", "#f4a259"))
    out += [(d, scenario.days, f"{n} down", "#9aa5b1") for n, d in down.items()]
    return out


def _mark_faults(ax: Any, scenario: Scenario) -> list[Any]:
    """Shade the faults on `ax`; legend handles for them, one per label."""
    handles: dict[str, Any] = {}
    for lo, hi, text, colour in _spans(scenario):
        if hi > lo:
            handles[text] = ax.axvspan(lo, hi, color=colour, alpha=0.15, zorder=0, label=text)
        else:
            handles[text] = ax.axvline(lo, color=colour, linewidth=1.2, linestyle=":", zorder=0,
                                       label=text)
    return list(handles.values())


def _plots(out: Path, scenario: Scenario, origin_ms: int, series: Series) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    focus = scenario.focus
    panels = [("level", "suspicion level"), ("escalation_index", "escalation index (per day)"),
              ("compliance", "verified compliance belief"), ("reliability", "reliability as a source")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 11), sharex=True)
    first_marks = _mark_faults(axes[0], scenario)  # the legend shows the first panel's
    for ax, (key, label) in zip(axes, panels, strict=True):
        for node in scenario.parties:
            if node == focus or focus not in series.get(node, {}):
                continue
            samples = series[node][focus]
            days = [(s["t"] - origin_ms) / DAY_MS for s in samples]
            style = "-" if node.startswith(scenario.parties[0].rsplit("-", 1)[0]) else "--"
            ax.plot(days, [s[key] for s in samples], style, label=node, linewidth=1.6)
        if key == "escalation_index":
            ax.axhline(0, color="grey", linewidth=0.8)
        for step in scenario.steps:
            if not step.fault and (step.party == focus or step.kind in ("observation",
                                                                        "inspection_report")):
                ax.axvline(step.day, color="#cccccc", linewidth=0.6, zorder=0)
        if ax is not axes[0]:
            _mark_faults(ax, scenario)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{scenario.title}: how each node sees {focus}")
    lines = [h for h in axes[0].get_lines()
             if not str(h.get_label()).startswith("_") and h not in first_marks]
    if lines or first_marks:
        axes[0].legend(handles=lines + first_marks, ncol=7, fontsize=8, loc="upper left",
                       bbox_to_anchor=(0, -0.02))
    axes[-1].set_xlabel("day of the scenario (grey lines: steps about the focus party; "
                        "shaded: faults)")
    fig.tight_layout()
    path = out / f"{focus}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def _compare_plot(out: Path, scenario: Scenario, origin_ms: int, series: Series,
                  compared: Run) -> Path:
    """The focus party's suspicion in both runs, side by side on shared axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    focus = scenario.focus
    runs = [(compared.scenario, compared.origin_ms, compared.series), (scenario, origin_ms, series)]
    rows = [("level", "suspicion level"), ("escalation_index", "escalation index (per day)")]
    fig, axes = plt.subplots(len(rows), 2, figsize=(13, 7.5), sharex=True, sharey="row")
    for col, (sc, origin, data) in enumerate(runs):
        for row, (key, label) in enumerate(rows):
            ax = axes[row][col]
            for node in sc.parties:
                if node == focus or focus not in data.get(node, {}):
                    continue
                samples = data[node][focus]
                style = "-" if node.startswith(sc.parties[0].rsplit("-", 1)[0]) else "--"
                ax.plot([(s["t"] - origin) / DAY_MS for s in samples], [s[key] for s in samples],
                        style, label=node, linewidth=1.6)
            if key == "escalation_index":
                ax.axhline(0, color="grey", linewidth=0.8)
            for step in sc.steps:
                if step.kind in ("observation", "inspection_report"):
                    ax.axvline(step.day, color="#bbbbbb" if step.kind == "observation"
                               else "#7fb77e", linewidth=0.8, linestyle="--", zorder=0)
            _mark_faults(ax, sc)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(sc.title, fontsize=11)
            else:
                ax.set_xlabel("day of the scenario (grey: observations, green: inspection "
                              "reports)")
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(ncol=3, fontsize=8, loc="upper left")
    fig.suptitle(f"How each node sees {focus}: {compared.scenario.title} (left) and "
                 f"{scenario.title} (right)", fontsize=12)
    fig.tight_layout()
    path = out / f"compare-{focus}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
