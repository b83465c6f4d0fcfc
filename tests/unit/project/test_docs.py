"""The docs stay true: schemas, sample events, links and quoted commands match the code.

Docs drift silently; these checks make drift a test failure: the JSON Schemas in
``docs/schemas`` equal a fresh export, the Node example's sample events pass the
worker's own decoder, every relative link and anchor resolves, and every
``streamtune ...`` command quoted in a shell block names a real sub-command and
real options. The README stays a short front door that links every page under
``docs/``, and the pages that code and tests cite by heading (``(docs/worker.md,
"Dev broker guarantees")``) have that heading.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from streamtune.cli import app
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import EVENT_MODELS
from streamtune.schemas.json_schema import export_json_schemas
from tests.support.paths import REPO

ROOT = REPO
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS, *sorted((ROOT / "examples").glob("*/README.md"))]
SAMPLES = ROOT / "examples" / "producer-node" / "sample-events.jsonl"
SHELL_LANGS = {"sh", "bash", "shell", "console"}
README_MAX_LINES = 300
FRONT_COMMANDS = ["make demo", "make test"]
CITING = [ROOT / "streamtune", ROOT / "tests", ROOT / "benchmarks"]
OPERATIONS_ANCHORS = ["scaling-workers", "partitions", "clickhouse-cluster", "retention",
                      "backups", "backpressure", "models-by-hand", "alerts", "upgrading"]

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
_CITATION = re.compile(r"\((README|docs/[\w-]+\.md),\s+\"([^\"]+)\"[);,]")  # (docs/x.md, "H")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _prose(text: str) -> str:
    """The page without its fenced code blocks (headings and links there do not count)."""
    return _FENCE.sub("", text)


def anchors(path: Path) -> set[str]:
    """Every anchor a page defines, with GitHub's -1, -2 suffixes for repeated headings."""
    text = _prose(path.read_text(encoding="utf-8"))
    found: set[str] = set(_HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(text):
        slug = _slug(heading)
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_json_schemas_in_docs_equal_a_fresh_export(tmp_path: Path) -> None:
    export_json_schemas(tmp_path)
    fresh = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.json")}
    shipped = {p.name: p.read_text(encoding="utf-8")
               for p in (ROOT / "docs" / "schemas").glob("*.json")}
    stale = sorted(name for name in fresh.keys() | shipped.keys()
                   if fresh.get(name) != shipped.get(name))
    assert not stale, (f"docs/schemas is out of date ({', '.join(stale)}): "
                       "run `streamtune schemas export docs/schemas`")
    assert {f"{kind}.schema.json" for kind in EVENT_MODELS} <= shipped.keys()


def test_sample_events_decode_and_cover_every_kind() -> None:
    lines = [line for line in SAMPLES.read_bytes().splitlines() if line.strip()]
    events = [decode_event(line) for line in lines]
    assert sorted({e.kind for e in events}) == sorted(EVENT_MODELS)
    # resends are stored once only when the producer sets the id: every sample does
    assert all(b'"event_id"' in line for line in lines)
    assert len({e.event_id for e in events}) == len(events)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    broken = []
    for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no such anchor")
    assert not broken, f"{_rel(page)}: " + "; ".join(broken)


def test_readme_is_a_short_front_door() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, "move detail into a page under docs/"
    first_block = _FENCE.search(text)
    assert first_block is not None
    assert [line.split("#", 1)[0].strip() for line in first_block.group(2).splitlines()] \
        == FRONT_COMMANDS, "the README opens with `make demo` and `make test`"
    assert "```mermaid" in text, "the README shows the picture"


def test_readme_links_every_docs_page() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve()
              for target in _LINK.findall(_prose((ROOT / "README.md").read_text("utf-8")))}
    unlinked = [_rel(page) for page in DOCS if page.resolve() not in linked]
    assert not unlinked, f"README links no {', '.join(unlinked)}"


def citations() -> list[tuple[str, str, str]]:
    """``(page, heading)`` citations in code, tests and benchmarks: (file, page, heading)."""
    found = []
    for folder in CITING:
        for path in sorted(folder.rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            text = path.read_text(encoding="utf-8")
            for page, heading in _CITATION.findall(text):
                found.append((_rel(path), page, " ".join(heading.split())))
    return found


def test_headings_cited_from_code_exist() -> None:
    assert citations(), "the scan finds the citations the code holds"
    broken = [f"{where}: ({page}, {heading!r})" for where, page, heading in citations()
              if page == "README" or _slug(heading) not in anchors(ROOT / page)]
    assert not broken, "cite a heading of a page under docs/: " + "; ".join(broken)


def test_operations_has_the_anchors_alert_rules_link_to() -> None:
    missing = set(OPERATIONS_ANCHORS) - anchors(ROOT / "docs" / "operations.md")
    assert not missing


def quoted_commands(text: str) -> list[list[str]]:
    """``streamtune ...`` invocations in the page's shell blocks, as argument lists."""
    found = []
    for lang, body in _FENCE.findall(text):
        if lang not in SHELL_LANGS:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            code = line.split(" #", 1)[0].removeprefix("$ ")
            for segment in re.split(r"&&|\|\||;|\s\|\s|\$\(", code):
                words = segment.replace("[", " ").replace("]", " ").replace(")", " ").split()
                while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value cmd
                    words.pop(0)
                if words and words[0].rsplit("/", 1)[-1] == "streamtune":
                    found.append(shlex.split(" ".join(words[1:]), posix=True))
    return found


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")  # typer vendors click: no click.Group to test against


def check_command(root: Any, args: list[str]) -> str | None:
    """Why ``streamtune ARGS`` is not a real command line, or None when it is."""
    command = root
    path = "streamtune"
    rest = list(args)
    while _is_group(command):
        if not rest:
            return f"{path}: names no sub-command"
        word = rest.pop(0)
        choices = word.split("|")  # `broker start|stop|status` quotes three at once
        unknown = [c for c in choices if c not in command.commands]
        if unknown:
            return f"{path} {word}: no sub-command {', '.join(unknown)}"
        if len(choices) > 1:
            return None if not any(_is_group(command.commands[c]) for c in choices) \
                else f"{path} {word}: groups"
        path += f" {word}"
        command = command.commands[word]
    options = {"--help"} | {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    bad = [w.split("=", 1)[0] for w in rest
           if w.startswith("--") and w.split("=", 1)[0] not in options]
    return f"{path}: no option {', '.join(bad)}" if bad else None


def test_command_check_refuses_what_does_not_exist() -> None:
    root = typer.main.get_command(app)
    assert check_command(root, ["models", "promote", "x", "v2", "--reason", "r"]) is None
    assert check_command(root, ["broker", "start|stop|status"]) is None
    assert check_command(root, ["models", "retire", "x"]) is not None
    assert check_command(root, ["worker", "--partitions", "3"]) is not None
    assert check_command(root, ["db"]) is not None


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=_rel)
def test_quoted_commands_exist(page: Path) -> None:
    root = typer.main.get_command(app)
    commands = quoted_commands(page.read_text(encoding="utf-8"))
    problems = [why for args in commands if (why := check_command(root, args))]
    assert not problems, f"{_rel(page)}: " + "; ".join(problems)
