"""Quality gates of augmented rows: semantic validity, syntax, dry run, batch rejection.

A row is accepted only if it passes gates 1-3 and its technique's batch is
not rejected (gate 4). The "command" of a row is ``(command_type, raw_input,
parameters)`` of a command event, or ``failed_command``'s ``command_type``,
``raw_input`` and ``parameters`` of an error event. Value texts are
:func:`~streamtune.schemas.commands.format_value` in lower case.

Gate 1 - semantic validity (expert rules), kept if confidence >= ``semantic_min_confidence``::

    confidence = G * V * T * C        (each factor in [0, 1])

* ``G`` grammar: 1.0 if the text's canonical form (see
  :mod:`~streamtune.models.augmentation.grammar`) fully matches a phrasing of
  the command type; otherwise 0.0 if it matches a phrasing of *another*
  command type or the type is unknown; otherwise 0.5 if it contains one of the
  command's keywords (its phrasing words minus stopwords), else 0.0.
* ``V`` values: with a grammar match, the share of parameter names (union of
  the row's parameters and the matched slots) whose slot text equals the
  row's value text; without one, the share of the row's values that appear
  as words in the text. 1.0 when there are no parameters on either side.
* ``T`` types: 1.0 if every parameter is one of the command's and has its
  type (``int``: int; ``float``: int or float; others: str; never bool), else 0.5.
* ``C`` claims: ``command_variation`` 1.0. ``context_augmentation``: 1.0 if the
  context shows what the technique added (``CONTEXT_EVIDENCE``), else 0.0.
  ``error_simulation``: the share of three checks that hold: the error type
  is one the technique may claim (``TECHNIQUE_ERRORS``); ``error_category``
  is the catalogue's category of that error type; the evidence of the error
  is present (``evidence_holds``).
* A row whose event kind does not fit its family (command families ->
  ``CommandEvent``, error simulation -> ``ErrorEvent``) scores 0.0.

With the default threshold 0.9 a row therefore needs a full grammar match,
all values in agreement, right types and every claim.

Gate 2 - syntax, kept if ``unexplained / chunks <= syntax_error_tolerance``:
the text is split at whitespace into chunks (edge punctuation stripped); a
chunk is explained when each of its pieces (split at ``= , % ' /``) is a
grammar word (catalogue phrasing words, synonyms, fillers, articles), one of
the row's own value texts, or a number from the row's values glued to
grammar letters (``80C``, ``x3``); a chunk repeating its predecessor that is
not a value is unexplained (stutter). Empty texts fail. With tolerance 0.01
any unexplained chunk fails a text shorter than 100 chunks.

Gate 3 - execution validation, a dry run with
:func:`~streamtune.schemas.commands.validate_parameters`:

* command rows (command variation, context augmentation): no problems;
* ``invalid_parameter`` error rows: at least one problem, every problem
  names a parameter whose value differs between ``failed_command`` and
  ``correction["parameters"]``, and the corrected parameters pass;
* every other error row: no problems (the failure is environmental, so the
  parameters must be valid) and, if present, the corrected parameters pass.

Gate 4 - batch: per technique and per :meth:`Augmenter.augment` call, if
``dry_run_passed / generated < execution_min_success_rate`` the whole batch
is rejected (``batch_rejected=True``; none of its rows is accepted).
A rejected row is reported with the first gate it failed: ``"semantic"``,
``"syntax"``, ``"dry_run"``, or ``"batch"`` when it passed 1-3.

Text variation rows (:mod:`.text`; command types the catalogue cannot read)
pass the same four gates, with rules that need no catalogue. They compare the
row's words with its parent's (both read by :func:`.examples.tokenize`) and
with the remembered examples of its type (:class:`.examples.ClassExamples`):

* gate 1: ``confidence = min(1, kept / parent cues)`` (1.0 when the parent
  has no cue of its type), where ``kept`` counts the row's cues of its type
  plus the parent's cues of four letters or more still recognisable in it
  (one edit away, joined to a neighbour, or split); 0.0 when the row adds a
  word that is a cue of another type. A row that lost a word singling out its
  type, or gained one of another type, may no longer mean what its label says;
* gate 2: the words the row adds (a word-level diff against the parent) are
  explained when the parent or an example of its type has them; one changed
  stretch whose letters are within one edit of the parent's (a typo, two
  words joined, one split) is explained as the row's single slip; a word
  repeating its predecessor is unexplained unless the parent repeats it too;
* gate 3: the row keeps the parent's command type and parameters, its
  protected words (:func:`.examples.fixed`) are the parent's, and its
  parameter boundaries point at the parent's values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher

from streamtune.config import AugmentationSettings
from streamtune.models.augmentation.context import CONTEXT_EVIDENCE
from streamtune.models.augmentation.examples import ClassExamples, Token, fixed
from streamtune.models.augmentation.grammar import DEFAULT_GRAMMAR, Grammar, atoms
from streamtune.models.augmentation.rows import AugmentedRow, TechniqueQC, value_text
from streamtune.models.augmentation.simulation import TECHNIQUE_ERRORS, evidence_holds
from streamtune.models.augmentation.text import TextBase, row_tokens
from streamtune.schemas.commands import COMMANDS, ERROR_TYPES, validate_parameters
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.transforms.annotation import locate_parameters

FAMILY_KIND = {"command_variation": "command", "error_simulation": "error",
               "context_augmentation": "command", "text_variation": "command"}
"""Event kind each family produces."""

GATES = ("semantic", "syntax", "dry_run", "batch")


def command_of(row: AugmentedRow) -> tuple[str, str, dict[str, object]] | None:
    """``(command_type, text, parameters)`` the row's event expresses, or ``None``."""
    event = row.event
    if isinstance(event, CommandEvent):
        return event.command_type, event.raw_input, dict(event.parameters)
    failed = event.failed_command
    command_type, text, params = (failed.get("command_type"), failed.get("raw_input"),
                                  failed.get("parameters"))
    if isinstance(command_type, str) and isinstance(text, str) and isinstance(params, dict):
        return command_type, text, dict(params)
    return None


def _types_ok(command_type: str, params: Mapping[str, object]) -> bool:
    spec = COMMANDS[command_type]
    for name, value in params.items():
        param = spec.param_index.get(name)
        if param is None or isinstance(value, bool):
            return False
        allowed: tuple[type, ...] = (int,) if param.type == "int" else \
            (int, float) if param.type == "float" else (str,)
        if not isinstance(value, allowed):
            return False
    return True


def _grammar_values(grammar: Grammar, command_type: str, text: str,
                    params: Mapping[str, object]) -> tuple[float, float]:
    expected = {k: value_text(v) for k, v in params.items()}
    found = grammar.parse(command_type, text, expected)
    if found is not None:
        slots = {k: v.lower() for k, v in found[1].items()}
        names = set(slots) | set(expected)
        agree = sum(k in slots and k in expected and slots[k] == expected[k] for k in names)
        return 1.0, agree / len(names) if names else 1.0
    if grammar.parses_as_other(command_type, text) is not None:
        return 0.0, 0.0
    words = {a for chunk in atoms(text) for a in chunk}
    canonical = {a for chunk in atoms(grammar.canonical(text)) for a in chunk}
    g = 0.5 if canonical & grammar.keywords(command_type) else 0.0
    present = sum(v in words for v in expected.values())
    return g, present / len(expected) if expected else 1.0


def _claims(row: AugmentedRow) -> float:
    event = row.event
    if row.family == "context_augmentation" and isinstance(event, CommandEvent):
        check = CONTEXT_EVIDENCE.get(row.technique)
        return 1.0 if check is None or check(event.context) else 0.0
    if row.family == "error_simulation" and isinstance(event, ErrorEvent):
        allowed = TECHNIQUE_ERRORS.get(row.technique, tuple(ERROR_TYPES))
        spec = ERROR_TYPES.get(event.error_type)
        checks = (event.error_type in allowed,
                  spec is not None and event.error_category == spec.category,
                  evidence_holds(event))
        return sum(checks) / len(checks)
    return 1.0


def semantic_confidence(row: AugmentedRow, grammar: Grammar = DEFAULT_GRAMMAR) -> float:
    """Gate 1: confidence in [0, 1] that the row still means what it claims."""
    if FAMILY_KIND.get(row.family) != row.event.kind:
        return 0.0
    command = command_of(row)
    if command is None or command[0] not in COMMANDS:
        return 0.0
    command_type, text, params = command
    g, v = _grammar_values(grammar, command_type, text, params)
    t = 1.0 if _types_ok(command_type, params) else 0.5
    return round(g * v * t * _claims(row), 6)


def syntax_error_share(row: AugmentedRow, grammar: Grammar = DEFAULT_GRAMMAR) -> float:
    """Gate 2's measure: share of the text's chunks the grammar does not explain."""
    command = command_of(row)
    if command is None:
        return 1.0
    _, text, params = command
    bad, total = grammar.unexplained(text, (value_text(v) for v in params.values()))
    return bad / total if total else 1.0


def syntax_check(row: AugmentedRow, tolerance: float,
                 grammar: Grammar = DEFAULT_GRAMMAR) -> bool:
    """Gate 2: ``True`` if at most ``tolerance`` of the text's chunks are unexplained."""
    return syntax_error_share(row, grammar) <= tolerance


def dry_run_violations(row: AugmentedRow) -> list[str]:
    """Gate 3's findings: why the row's dry run does not behave as required (empty if it does)."""
    command = command_of(row)
    if command is None:
        return ["event carries no command to dry-run"]
    command_type, _, params = command
    problems = validate_parameters(command_type, params)
    event = row.event
    if isinstance(event, CommandEvent):
        return problems
    fixed = event.correction.get("parameters")
    fixed_problems = validate_parameters(command_type, fixed) if isinstance(fixed, dict) else []
    if event.error_type != "invalid_parameter":
        found = [f"valid parameters required for {event.error_type}: {p}" for p in problems]
        return found + [f"correction: {p}" for p in fixed_problems]
    if not isinstance(fixed, dict):
        return ["invalid_parameter needs corrected parameters"]
    if not problems:
        return ["claims invalid_parameter but the parameters pass the dry run"]
    changed = {k for k in {*params, *fixed} if value_text(params.get(k)) != value_text(
        fixed.get(k))}
    stray = [f"not the corrected parameter: {p}" for p in problems
             if p.split(":", 1)[0] not in changed]
    return stray + [f"correction: {p}" for p in fixed_problems]


def dry_run(row: AugmentedRow) -> bool:
    """Gate 3: ``True`` if the dry run passes (command rows) or fails as claimed (error rows)."""
    return not dry_run_violations(row)


def score(row: AugmentedRow, settings: AugmentationSettings,
          grammar: Grammar = DEFAULT_GRAMMAR) -> AugmentedRow:
    """The row with the verdicts of gates 1-3 filled in."""
    return dataclasses.replace(
        row, semantic_confidence=semantic_confidence(row, grammar),
        syntax_ok=syntax_check(row, settings.syntax_error_tolerance, grammar),
        dry_run_ok=dry_run(row))


def text_semantic_confidence(words: Sequence[Token], base: TextBase,
                             examples: ClassExamples) -> float:
    """Gate 1 of a text row whose words are ``words``: cues kept, none of another type."""
    command_type = base.command_type
    new = {t.key for t in words}
    old = {t.key for t in base.tokens}
    if any(examples.foreign_cue(command_type, w) for w in new - old):
        return 0.0
    cues = examples.cues(command_type, old)
    if not cues:
        return 1.0
    kept = examples.cues(command_type, new) | {c for c in cues - new if _slipped(c, new - old)}
    return round(min(1.0, len(kept) / len(cues)), 6)


def _slipped(word: str, words: set[str]) -> bool:
    """Whether ``word`` is still recognisable among ``words``: one edit away, or joined
    to a neighbour or split in two (pieces of three letters or more)."""
    return len(word) >= 4 and any(
        _one_edit(word, w) or word in w or (len(w) >= 3 and w in word) for w in words)


def _one_edit(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with at most one letter changed, left out, added or swapped."""
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) <= 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return len(long) - len(short) == 1 and any(
        long[:i] + long[i + 1:] == short for i in range(len(long)))


def text_syntax_error_share(words: Sequence[Token], base: TextBase,
                            examples: ClassExamples) -> float:
    """Gate 2's measure for a text row: share of its words left unexplained."""
    new, old = [t.key for t in words], [t.key for t in base.tokens]
    if not new:
        return 1.0
    seen = set(old)

    def explained(word: str) -> bool:
        return word in seen or examples.known(base.command_type, word)

    bad, slipped = 0, False
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        added = new[j1:j2]
        if op in ("equal", "delete") or all(map(explained, added)):
            continue
        if op == "replace" and not slipped and _one_edit("".join(old[i1:i2]), "".join(added)):
            slipped = True
            continue
        bad += sum(not explained(w) for w in added)
    repeats = set(zip(old, old[1:], strict=False))
    bad += sum(a == b and (a, b) not in repeats for a, b in zip(new, new[1:], strict=False))
    return bad / len(new)


def text_dry_run_violations(row: AugmentedRow, words: Sequence[Token], base: TextBase
                            ) -> list[str]:
    """Gate 3's findings for a text row: labels that no longer line up with its text."""
    event, parent = row.event, base.parent
    if not isinstance(event, CommandEvent):
        return ["text variation must give a command event"]
    problems = []
    if (event.command_type, event.parameters) != (parent.command_type, parent.parameters):
        problems.append("command type or parameters changed")
    if fixed(words) != fixed(base.tokens):
        problems.append(f"protected words changed: {fixed(base.tokens)} -> {fixed(words)}")
    want = {(s.name, s.value.lower()) for s in locate_parameters(base.text, parent.parameters)}
    got = {(s.name, s.value.lower()) for s in event.parameter_boundaries or ()}
    if want != got:
        problems.append("parameter boundaries do not point at the parent's values")
    return problems


def score_text(row: AugmentedRow, base: TextBase, examples: ClassExamples,
               settings: AugmentationSettings) -> AugmentedRow:
    """A text row with the verdicts of gates 1-3 filled in (text rules, module docstring)."""
    event = row.event
    words = row_tokens(event) if isinstance(event, CommandEvent) else ()
    confidence = text_semantic_confidence(words, base, examples) if isinstance(
        event, CommandEvent) and row.family == "text_variation" else 0.0
    return dataclasses.replace(
        row, semantic_confidence=confidence,
        syntax_ok=text_syntax_error_share(words, base, examples)
        <= settings.syntax_error_tolerance,
        dry_run_ok=not text_dry_run_violations(row, words, base))


def failed_gate(row: AugmentedRow, settings: AugmentationSettings) -> str | None:
    """The first of gates 1-3 a scored row fails, or ``None``."""
    if row.semantic_confidence < settings.semantic_min_confidence:
        return "semantic"
    if not row.syntax_ok:
        return "syntax"
    if not row.dry_run_ok:
        return "dry_run"
    return None


def gate_batch(
    technique: str, rows: Sequence[AugmentedRow], settings: AugmentationSettings
) -> tuple[TechniqueQC, list[AugmentedRow], list[tuple[AugmentedRow, str]]]:
    """Gate 4 on one technique's scored rows: QC counts, accepted rows, rejected rows."""
    generated = len(rows)
    semantic = sum(r.semantic_confidence >= settings.semantic_min_confidence for r in rows)
    syntax = sum(r.syntax_ok for r in rows)
    executed = sum(r.dry_run_ok for r in rows)
    rejected_batch = generated > 0 and executed / generated < settings.execution_min_success_rate
    accepted: list[AugmentedRow] = []
    rejected: list[tuple[AugmentedRow, str]] = []
    for row in rows:
        gate = failed_gate(row, settings)
        if gate is None and rejected_batch:
            gate = "batch"
        if gate is None:
            accepted.append(row)
        else:
            rejected.append((row, gate))
    qc = TechniqueQC(technique=technique, generated=generated, semantic_passed=semantic,
                     syntax_passed=syntax, dry_run_passed=executed, accepted=len(accepted),
                     batch_rejected=rejected_batch)
    return qc, accepted, rejected
