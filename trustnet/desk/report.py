"""Reports an analyst can send: Markdown and one self-contained HTML file (issue 16 item 4).

A report is gathered through the node's own JSON views (`/status`-free: `/compliance`,
`/beliefs`, `/suspicion`, `/forks`, `/series/{party}`), from a running node's URL or computed
from a node directory, as of one moment (`at`, the node's time). It is built as a list of
blocks (headings, paragraphs, tables, figures) rendered both ways, so the two say the same.
Nothing in it reads the wall clock: the same node state and the same `at` and `since` give a
byte-identical Markdown file (the figures are PNG files beside it, embedded in the HTML as
base64).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustnet.clock import DAY_MS
from trustnet.desk.compliance import OBLIGATIONS

Fetch = Callable[[str, Mapping[str, str]], Any]  # (route, query) -> the route's JSON, every page
MOVERS = 5  # the parties whose suspicion moved most, at most
SAMPLES = 24  # points per plotted line
CLAIMS = 8  # unverified claims listed, at most


def stamp(ms: int) -> str:
    """A time as the report prints it (UTC, to the minute)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True, slots=True)
class Para:
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # file name beside the Markdown
    caption: str
    png: bytes = field(repr=False)


Block = Heading | Para | Table | Figure


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    blocks: tuple[Block, ...]

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Figure))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """The report as Markdown; figures are linked files beside it."""
    out = [f"# {report.title}", ""]
    for b in report.blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [b.text, ""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(_cell(h) for h in b.head) + " |")
            out.append("|" + "---|" * len(b.head))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        else:
            out += [f"![{b.caption}]({b.name})", ""]
    return "\n".join(out)


STATUS_COLOURS = {"met": "#d5f5e3", "late": "#fdebd0", "missing": "#fadbd8",
                  "breached": "#f1948a", "pending": "#d6eaf8", "not_applicable": "#eaeded"}
CSS = """body{font:14px/1.5 system-ui,sans-serif;color:#1d2733;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e3e8ee}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border-bottom:1px solid #e3e8ee;padding:4px 8px;text-align:left;vertical-align:top}
th{color:#6b7785;font-size:12px}img{max-width:100%}figcaption{color:#6b7785;font-size:12px}"""


def to_html(report: Report) -> str:
    """The report as one HTML file: inline CSS, figures embedded as base64 PNG."""
    esc = html.escape
    body: list[str] = [f"<h1>{esc(report.title)}</h1>"]
    for b in report.blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{esc(b.text)}</p>")
        elif isinstance(b, Table):
            cells = []
            for row in b.rows:
                tds = []
                for c in row:
                    colour = STATUS_COLOURS.get(c.rstrip("*"))
                    style = f' style="background:{colour}"' if colour else ""
                    tds.append(f"<td{style}>{esc(c)}</td>")
                cells.append("<tr>" + "".join(tds) + "</tr>")
            body.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in b.head)
                        + "</tr></thead><tbody>" + "".join(cells) + "</tbody></table>")
        else:
            data = base64.b64encode(b.png).decode()
            body.append(f'<figure><img alt="{esc(b.caption)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{esc(b.caption)}</figcaption></figure>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(report.title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


# -- gathering ------------------------------------------------------------------------------


def _plot(name: str, caption: str, ylabel: str, lines: Mapping[str, Sequence[tuple[int, float]]],
          since: int) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    for label, points in lines.items():
        ax.plot([(t - since) / DAY_MS for t, _ in points], [v for _, v in points], label=label,
                linewidth=1.6)
    ax.set_xlabel(f"days since {stamp(since)}")
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if lines:
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    # No metadata: the same figures give the same bytes.
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return Figure(name, caption, buf.getvalue())


def _key(c: Mapping[str, Any]) -> tuple[str, str]:
    from trustnet.desk.compliance import fact_key

    return fact_key(c["rule"], c["entries"])


def build(fetch: Fetch, at: int, since: int) -> Report:
    """Gather the report as of `at`, about the period from `since`."""
    q = {"at": str(at)}
    beliefs = fetch("/beliefs", q)
    node = beliefs["node"]
    names = {p["party"]: p.get("name") or p["party"][:12] for p in beliefs["parties"]}
    others = [p for p in beliefs["parties"] if p["party"] != node]
    title = f"trustnet report by {names.get(node, node[:12])}"
    period = f"Period {stamp(since)} to {stamp(at)} (as of the node's time {stamp(at)}); node {node}."
    if not others:
        return Report(title, (Para(period), Para(
            "Nothing to report: this node holds no statements by or about other parties "
            "as of this time.")))
    blocks: list[Block] = [Para(period)]

    # Compliance by obligation.
    compliance = fetch("/compliance", q)
    rows = [r for r in compliance["rows"] if r["year"] >= datetime.fromtimestamp(since / 1000, UTC).year]
    blocks.append(Heading("Compliance by obligation"))
    if rows:
        cells: dict[tuple[str, int], dict[str, str]] = {}
        for r in rows:
            cells.setdefault((r["party"], r["year"]), {})[r["obligation"]] = (
                r["status"] + ("" if r["verified"] or not r["findings"] else "*"))
        table = tuple(
            (names.get(p, p[:12]), str(y), *(cells[(p, y)].get(o, "-") for o in OBLIGATIONS))
            for p, y in sorted(cells, key=lambda k: (-k[1], names.get(k[0], k[0]), k[0])))
        blocks.append(Table(("party", "year", *OBLIGATIONS), table))
        blocks.append(Para("* not verified in this node's view; - no fact computed. Obligations "
                           "and their rules: docs/desk.md."))
        findings = [(r, f) for r in rows for f in r["findings"] if f["status"] != "met"]
        if findings:
            blocks.append(Table(("party", "obligation", "status", "verified by", "fact"), tuple(
                (names.get(r["party"], r["party"][:12]), r["obligation"], f["status"],
                 ", ".join(names.get(v, v[:12]) for v in r["verified_by"]) if f["verified"]
                 else "not verified", f["note"])
                for r, f in findings)))
    else:
        blocks.append(Para("No obligation facts in this period."))

    # Suspicion: who moved most, and why.
    now_s = {p["party"]: p for p in fetch("/suspicion", q)["parties"] if p["party"] != node}
    then_s = {p["party"]: p for p in fetch("/suspicion", {"at": str(since)})["parties"]}
    moves = sorted(((now_s[p]["level"] - (then_s[p]["level"] if p in then_s else 0.0), p)
                    for p in now_s), key=lambda m: (-abs(m[0]), names.get(m[1], m[1]), m[1]))
    movers = [p for _d, p in moves[:MOVERS]]
    blocks.append(Heading("Suspicion: who moved most, and why"))
    if moves:
        blocks.append(Table(("party", "level then", "level now", "change", "regime", "drivers"), tuple(
            (names.get(p, p[:12]), f"{then_s[p]['level'] if p in then_s else 0.0:.3f}",
             f"{now_s[p]['level']:.3f}", f"{d:+.3f}", now_s[p]["regime"],
             "; ".join(f"{x['rule']} ({x['contribution']:+.4f}/day)"
                       for x in now_s[p]["drivers"][:3]) or "none")
            for d, p in moves[:MOVERS])))

    # Verified versus unverified claims.
    blocks.append(Heading("Verified and unverified claims"))
    claims = []
    unverified = []
    for p in sorted(others, key=lambda p: (names[p["party"]], p["party"])):
        counted = {_key(c) for c in p["verified"]["evidence"] if c["verified"]}
        ev = [c for c in p["raw"]["evidence"] if since <= c["at"] <= at]
        v = sum(1 for c in ev if _key(c) in counted)
        claims.append((names[p["party"]], str(len(ev)), str(v), str(len(ev) - v)))
        unverified += [(names[p["party"]], c) for c in ev if _key(c) not in counted]
    blocks.append(Table(("party", "facts", "verified", "unverified"), tuple(claims)))
    unverified.sort(key=lambda x: (x[1]["weight"], x[1]["at"], x[0]))
    if unverified:
        blocks.append(Para("The weightiest unverified claims (who makes them, and how far "
                           "they are believed):"))
        blocks.append(Table(("party", "rule", "sources", "basis"), tuple(
            (who, c["rule"], ", ".join(names.get(s, s[:12]) for s in c["sources"]) or "-",
             c["basis"]) for who, c in unverified[:CLAIMS])))

    # Forks.
    forks = [f for f in fetch("/forks", {})["forks"]]
    blocks.append(Heading("Forks (equivocations)"))
    if forks:
        blocks.append(Table(("author", "seq", "entries"), tuple(
            (names.get(f["author"], f["author"][:12]), str(f["seq"]), " / ".join(i[:16] for i in f["ids"]))
            for f in sorted(forks, key=lambda f: (f["author"], f["seq"])))))
    else:
        blocks.append(Para("None: no party signed two different entries at one place of its log."))

    # Plots over the period.
    step = max(60_000, (at - since) // (SAMPLES - 1)) if at > since else 60_000
    level: dict[str, list[tuple[int, float]]] = {}
    comp: dict[str, list[tuple[int, float]]] = {}
    for p in movers:
        samples = fetch(f"/series/{p}", {"from": str(since), "to": str(at), "step": str(step)})["samples"]
        level[names.get(p, p[:12])] = [(s["t"], s["level"]) for s in samples]
        comp[names.get(p, p[:12])] = [(s["t"], s["compliance"]) for s in samples]
    blocks.append(Heading("Over the period"))
    blocks.append(_plot("suspicion.png", "suspicion level of the parties that moved most",
                        "suspicion level", level, since))
    blocks.append(_plot("compliance.png", "verified compliance belief of the same parties",
                        "verified compliance", comp, since))
    return Report(title, tuple(blocks))


def write(report: Report, out: Path) -> list[Path]:
    """report.md, report.html and the figures' PNG files in `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.md", out / "report.html"]
    paths[0].write_text(to_markdown(report), encoding="utf-8")
    paths[1].write_text(to_html(report), encoding="utf-8")
    for f in report.figures:
        (out / f.name).write_bytes(f.png)
        paths.append(out / f.name)
    return paths


def local_fetch(views: Any) -> Fetch:
    """The views a node directory answers (trustnet.analysis.views.NodeViews), every row at once."""
    from trustnet.analysis import views as v

    def fetch(route: str, query: Mapping[str, str]) -> Any:
        if route == "/beliefs":
            return v.beliefs_json(views, query)
        if route == "/suspicion":
            return v.suspicion_json(views, query)
        if route == "/compliance":
            return v.compliance_all(views, query)
        if route == "/forks":
            return {"forks": [p.to_json() for p in views.store.forks()]}
        if route.startswith("/series/"):
            return v.series_json(views, route.removeprefix("/series/"), query)
        raise AssertionError(f"no local view {route}")

    return fetch


def parse_time(text: str) -> int:
    """`--since`/`--at`: ms since the epoch, or a UTC date YYYY-MM-DD[THH:MM]."""
    from trustnet.errors import ConfigError

    if text.isascii() and text.isdigit() and len(text) <= 16:
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{text!r} is neither ms since the epoch nor a date YYYY-MM-DD",
                          code="bad_argument") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)
