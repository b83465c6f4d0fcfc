"""A report's text: the same sections as a markdown summary and as HTML with plots.

Sections are built once as rows of strings, then written twice: markdown
tables (machine-checkable: one ``| a | b |`` row per line) and HTML tables.
Every string from the store is user data: escaped in HTML, pipes escaped in
markdown.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from streamtune.reports.queries import Headline, ReportData

MAX_ROWS = 200  # longer tables are cut, with a note; the headline counts stay exact
NO_EVENTS = "No events in this period."


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


def _count(value: int) -> str:
    return str(value)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _change(now: float | None, before: float | None, *, counts: bool) -> str:
    if now is None or before is None:
        return "n/a"
    if not counts:
        return f"{now - before:+.4f}"
    percent = f" ({(now - before) / before:+.1%})" if before else ""
    return f"{int(now - before):+d}{percent}"


def _time(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


_FIGURES = {"events": "events", "commands": "commands", "errors": "errors",
            "error_rate": "error rate", "dead_letters": "dead letters",
            "dead_letter_share": "dead-letter share", "alerts": "alerts",
            "promotions": "promotions", "rollbacks": "rollbacks"}


def _headline(now: Headline, before: Headline | None) -> Section:
    figures: list[tuple[str, float | None, float | None, bool]] = [
        (label, getattr(now, name), getattr(before, name) if before else None,
         name not in ("error_rate", "dead_letter_share"))
        for name, label in _FIGURES.items()]
    models = sorted(set(now.accuracy) | set(before.accuracy if before else {}))
    figures += [(f"accuracy {m}", now.accuracy.get(m), before.accuracy.get(m) if before else None,
                 False) for m in models]
    rows = []
    for name, value, old, counts in figures:
        show = (lambda v: _count(int(v))) if counts else _ratio
        row = [name, "n/a" if value is None else show(value)]
        if before is not None:
            row += ["n/a" if old is None else show(old), _change(value, old, counts=counts)]
        rows.append(row)
    headers = ["figure", "this period"] + (["previous period", "change"] if before else [])
    return Section("Headline", headers, rows,
                   "error rate = errors / commands; dead-letter share = dead letters / "
                   "(stored events + dead letters); accuracy = served predictions whose truth is "
                   "known")


def sections(data: ReportData) -> list[Section]:
    """Every table of the report, in order."""
    commands = data.headline.commands
    versions: dict[tuple[str, str], list[int]] = {}
    for _, model, version, served, judged, right in data.predictions:
        acc = versions.setdefault((model, version), [0, 0, 0])
        acc[0], acc[1], acc[2] = acc[0] + served, acc[1] + judged, acc[2] + right
    qc = [[str(t), *(str(int(v)) for v in (n, gen, sem, syn, dry, acc)),
           _ratio(acc / gen if gen else None), str(int(rej))]
          for t, n, gen, sem, syn, dry, acc, rej in data.qc]
    return [
        _headline(data.headline, data.previous),
        Section("Events by kind", ["kind", "events"],
                [[k, str(n)] for k, n in data.events_by_kind.items()]),
        Section("Events by source", ["source", "events"],
                [[s, str(n)] for s, n in data.events_by_source.items()]),
        Section("Errors by type", ["error type", "errors", "rate"],
                [[t, str(n), _ratio(n / commands if commands else None)]
                 for t, n in data.errors_by_type.items()], "rate = errors / commands"),
        Section("Accuracy by model version", ["model", "version", "served", "judged", "correct",
                                              "accuracy"],
                [[m, v, str(s), str(j), str(r), _ratio(r / j if j else None)]
                 for (m, v), (s, j, r) in sorted(versions.items())]),
        Section("Alerts", ["raised at", "kind", "severity", "signal", "scope", "model", "version",
                           "title"],
                [[_time(row[0]), *(str(v) for v in row[1:])] for row in data.alerts]),
        Section("Dead letters by category", ["category", "dead letters"],
                [[c, str(n)] for c, n in data.dead_letters.items()]),
        Section("Augmentation QC", ["technique", "batches", "generated", "semantic passed",
                                    "syntax passed", "dry-run passed", "accepted", "pass rate",
                                    "rejected batches"], qc, "pass rate = accepted / generated"),
        Section("Not augmentable", ["command type", "reason", "events"],
                [[str(t), str(r), str(int(n))] for t, r, n in data.not_augmentable],
                "selected events no technique could augment"),
        Section("Loop decisions", ["time", "model", "candidate", "stage", "decision", "reason"],
                [[_time(row[0]), *(str(v) for v in row[1:])] for row in data.decisions]),
    ]


def _cut(section: Section) -> tuple[list[list[str]], str]:
    rows, note = section.rows[:MAX_ROWS], section.note
    if len(section.rows) > MAX_ROWS:
        note = f"{note}; " if note else ""
        note += f"first {MAX_ROWS} of {len(section.rows)} rows"
    return rows, note


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(data: ReportData, plots: list[tuple[str, str]]) -> str:
    """The markdown summary."""
    lines = [f"# streamtune {data.period.title}: {data.period.label()}", ""]
    if not data.headline.events:
        lines += [f"**{NO_EVENTS}**", ""]
    for section in sections(data):
        rows, note = _cut(section)
        lines += [f"## {section.title}", ""]
        if not rows:
            lines += ["none in this period", ""]
            continue
        lines.append("| " + " | ".join(section.headers) + " |")
        lines.append("|" + "---|" * len(section.headers))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        lines += ["", f"_{note}_", ""] if note else [""]
    lines += ["## Not in the store", "",
              "Duplicates dropped and secrets redacted are Prometheus counters only "
              "(`streamtune_duplicates_dropped`, `streamtune_redactions`).", ""]
    if plots:
        lines += ["## Plots", "", *(f"- [{caption}]({name})" for name, caption in plots), ""]
    return "\n".join(lines)


_CSS = """
body { font-family: sans-serif; margin: 16px 24px; width: 1180px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
figure.plot { margin: 0 0 24px; width: 1000px; }
figure.plot img { display: block; width: 1000px; height: 400px; }
p.empty { font-size: 20px; font-weight: bold; color: #a33; }
p.note { font-size: 12px; color: #666; margin-top: -12px; }
"""


def _html_table(section: Section) -> str:
    rows, note = _cut(section)
    if not rows:
        return f"<h2>{html.escape(section.title)}</h2>\n<p>none in this period</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in section.headers)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                     for row in rows)
    tail = f'\n<p class="note">{html.escape(note)}</p>' if note else ""
    return (f"<h2>{html.escape(section.title)}</h2>\n<table>\n<tr>{head}</tr>\n{body}\n"
            f"</table>{tail}")


def html_page(data: ReportData, plots: list[tuple[str, str]]) -> str:
    """The HTML report; plots are PNG files beside it."""
    title = f"streamtune {data.period.title}: {data.period.label()}"
    first, *rest = sections(data)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if not data.headline.events:
        parts.append(f'<p class="empty">{NO_EVENTS}</p>')
    parts.append(_html_table(first))
    parts += [f'<figure class="plot" id="plot-{html.escape(name[:-4])}">'
              f'<img src="{html.escape(name)}" alt="{html.escape(caption)}" width="1000" '
              f'height="400"></figure>' for name, caption in plots]
    parts += [_html_table(section) for section in rest]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
