"""`trustnet experiment SWEEP.toml [--out DIR] [--jobs N] [--json]` (docs/experiment.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from trustnet.clock import Clock
from trustnet.errors import TrustnetError
from trustnet.experiment.runner import Result, Timing, run_experiment
from trustnet.experiment.spec import load_spec


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog="trustnet experiment",
        description="Sweep parameters over generated worlds (blocs of states and their people, "
        "incidents real and imagined, reports true and false), each played through the node's "
        "own analysis in process on virtual time, seeded: per point, how often the watched "
        "relationship escalates (with a 95%% Wilson interval), how high suspicion peaks and how "
        "fast it settles. The format: docs/experiment.md.")
    p.add_argument("file", metavar="SWEEP.toml", help="e.g. configs/experiments/validity.toml")
    p.add_argument("--out", metavar="DIR", help="write result.json, result.md and escalation.png")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="worker processes (default 1; the result does not depend on it)")
    p.add_argument("--json", action="store_true",
                   help="print the result as one JSON object (the last line)")
    return p


def table(result: Result) -> list[str]:
    """The result as a Markdown table, one row per point."""
    names = [n for n, _ in result.spec.sweep]
    head = [*names, "runs", "escalated", "rate", "95% interval", "peak (mean)", "settle days (mean)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in result.points:
        vals = [f"{p.params[n]:g}" for n in names]
        rows.append("| " + " | ".join([
            *vals, str(p.runs), str(p.escalations), f"{p.escalation_rate:.2f}",
            f"{p.interval[0]:.2f}-{p.interval[1]:.2f}", f"{p.peak_mean:.3f}",
            f"{p.settle_days_mean:.1f}"]) + " |")
    return rows


def plot(result: Result, path: Path) -> Path:
    """escalation.png: the rate (with its interval) and the mean peak against the first swept
    parameter, one line per combination of the others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, _ in result.spec.sweep]
    x_name, rest = names[0], names[1:]
    lines: dict[tuple[float, ...], list[tuple[float, float, float, float, float]]] = {}
    for p in result.points:
        key = tuple(p.params[n] for n in rest)
        lines.setdefault(key, []).append((p.params[x_name], p.escalation_rate, p.interval[0],
                                          p.interval[1], p.peak_mean))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, pts in lines.items():
        pts.sort()
        xs = [q[0] for q in pts]
        label = ", ".join(f"{n} {v:g}" for n, v in zip(rest, key, strict=True)) or "all"
        ax1.errorbar(xs, [q[1] for q in pts], capsize=3, marker="o", label=label,
                     yerr=[[max(0.0, q[1] - q[2]) for q in pts],
                           [max(0.0, q[3] - q[1]) for q in pts]])
        ax2.plot(xs, [q[4] for q in pts], marker="o", label=label)
    ax1.set_xlabel(x_name)
    ax1.set_ylabel(f"escalation rate (peak >= {result.spec.escalation_level:g}), 95% Wilson")
    ax1.set_ylim(-0.02, 1.02)
    ax2.set_xlabel(x_name)
    ax2.set_ylabel("suspicion peak (mean)")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    fig.suptitle(f"{result.spec.name}: {result.spec.runs} worlds per point, seed {result.spec.seed}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(result: Result, timing: Timing, out: Path) -> list[Path]:
    """result.json (deterministic), result.md (the table and the timing), escalation.png."""
    out.mkdir(parents=True, exist_ok=True)
    js = out / "result.json"
    js.write_text(json.dumps(result.to_json(), indent=1) + "\n")
    md = out / "result.md"
    md.write_text("\n".join([
        f"# {result.spec.name}", "", *table(result), "",
        f"{timing.runs} worlds in {timing.seconds:.1f} s with {timing.jobs} job(s): "
        f"{timing.runs_per_s:.2f} worlds/s.", "", "![escalation](escalation.png)", ""]))
    return [js, md, plot(result, out / "escalation.png")]


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    """Run the command; 0 on success, 1 on a bad file (`trustnet: error [code]: ...`)."""
    args = parser().parse_args(argv)
    if args.jobs < 1:
        parser().error("--jobs: at least 1")
    try:
        spec = load_spec(Path(args.file))
        total = len(spec.points()) * spec.runs
        step = max(1, total // 20)

        def progress(done: int, of: int) -> None:
            if done % step == 0 or done == of:
                print(f"experiment {spec.name}: {done}/{of} worlds", file=sys.stderr, flush=True)

        result, timing = run_experiment(spec, jobs=args.jobs, clock=clock, progress=progress)
        print(f"experiment {spec.name}: {timing.runs} worlds in {timing.seconds:.1f} s "
              f"({timing.runs_per_s:.2f}/s, {timing.jobs} job(s))", file=sys.stderr)
        if args.out:
            for path in write(result, timing, Path(args.out)):
                print(f"wrote {path}", file=sys.stderr)
    except TrustnetError as exc:
        print(f"trustnet: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"trustnet: error [io_error]: {exc.strerror or exc} {exc.filename or ''}".rstrip(),
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        print("\n".join(table(result)))
    return 0
