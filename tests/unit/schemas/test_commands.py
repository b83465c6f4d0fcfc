"""The command catalogue: phrasings render and parse back, parameters validate."""

from __future__ import annotations

import random
import re
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.errors import StreamtuneError
from streamtune.schemas.commands import (
    CATEGORIES,
    CATEGORY_ERRORS,
    COMMANDS,
    ERROR_TYPES,
    NAME_PATTERN,
    RECOVERY_ACTIONS,
    CommandSpec,
    ParamSpec,
    ParamValue,
    RecoveryAction,
    UnknownCommand,
    duration_seconds,
    errors_for,
    extract_parameters,
    get_command,
    match_phrasing,
    render,
    sample_parameters,
    validate_parameters,
)

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
PHRASINGS = [(name, i) for name, spec in COMMANDS.items() for i in range(len(spec.phrasings))]


def test_catalogue_shape() -> None:
    assert len(COMMANDS) >= 22
    assert len(CATEGORIES) >= 5
    for name, spec in COMMANDS.items():
        assert spec.name == name and SNAKE.match(name)
        assert spec.description and spec.category in CATEGORIES
        assert 4 <= len(spec.phrasings) <= 6, name
        assert len(set(spec.phrasings)) == len(spec.phrasings), name
        assert spec.median_seconds > 0 and spec.sigma > 0
        required = {p.name for p in spec.params if p.required}
        for i in range(len(spec.phrasings)):
            fields = spec.placeholders(i)
            assert set(fields) <= set(spec.param_index), (name, fields)
            assert required <= set(fields), (name, spec.phrasings[i])
            assert len(set(fields)) == len(fields)


def test_phrasings_vary_their_wording() -> None:
    """Phrasings of one command do not all start with the same word."""
    for spec in COMMANDS.values():
        first_words = {p.split(" ")[0] for p in spec.phrasings}
        assert len(first_words) >= 3, spec.name


@pytest.mark.parametrize(("name", "index"), PHRASINGS)
def test_every_phrasing_round_trips(name: str, index: int) -> None:
    spec = COMMANDS[name]
    rng = random.Random(f"{name}:{index}")
    for _ in range(30):
        params = sample_parameters(spec, index, rng)
        text = render(spec, params, index)
        assert "{" not in text
        assert extract_parameters(name, text) == params
        assert validate_parameters(name, params) == []
        found = match_phrasing(name, text)
        assert found is not None and found[1] == params


def _value_strategy(param: ParamSpec) -> st.SearchStrategy[ParamValue]:
    if param.type == "int":
        return st.integers(int(param.min or 0), int(param.max or 1000))
    if param.type == "float":
        return st.floats(param.min or 0.0, param.max or 1000.0, allow_nan=False,
                         allow_infinity=False)
    if param.type == "enum":
        return st.sampled_from(param.choices)
    if param.pattern == NAME_PATTERN and param.type == "str":
        return _NAMES
    return st.sampled_from(param.examples)


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_NAMES = st.builds(
    lambda head, body, tail: head + body + tail,
    st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
    st.text(_ALNUM, max_size=8),
    st.text(_ALNUM, min_size=1, max_size=4).map(lambda t: "-" + t) | st.just(""),
)


Rendered = tuple[CommandSpec, int, dict[str, ParamValue]]


@st.composite
def _rendered(draw: st.DrawFn) -> Rendered:
    name, index = draw(st.sampled_from(PHRASINGS))
    spec = COMMANDS[name]
    params = {field: draw(_value_strategy(spec.param_index[field]))
              for field in spec.placeholders(index)}
    return spec, index, params


@settings(max_examples=300, deadline=None)
@given(_rendered())
def test_extraction_recovers_any_value(case: Rendered) -> None:
    spec, index, params = case
    text = render(spec, params, index)
    assert extract_parameters(spec.name, text) == params


def test_extraction_tolerates_case_and_whitespace() -> None:
    found = extract_parameters("set_mode", "  SET   Pump-1 TO  AUTO mode \t")
    assert found == {"device": "Pump-1", "mode": "auto"}
    assert extract_parameters("set_speed", "Run conveyor-2 at 1200 RPM") == {
        "device": "conveyor-2", "rpm": 1200}


def test_extraction_types_values() -> None:
    assert extract_parameters("move_arm", "arm-2 goto -12.5,0,300") == {
        "arm": "arm-2", "x": -12.5, "y": 0.0, "z": 300.0}
    found = extract_parameters("move_arm", "arm-2 goto -12.5,0,300")
    assert all(isinstance(found[axis], float) for axis in "xyz")
    assert isinstance(extract_parameters("scale_service", "historian x4")["replicas"], int)


def test_extraction_without_match_is_empty() -> None:
    assert extract_parameters("restart_device", "rstart pump-3") == {}
    assert extract_parameters("set_mode", "set pump-1 to turbo mode") == {}  # unknown enum
    assert extract_parameters("query_status", "status") == {}
    assert match_phrasing("query_status", "status") == (0, {})


def test_render_needs_the_phrasing_parameters() -> None:
    spec = get_command("set_speed")
    with pytest.raises(ValueError, match="rpm"):
        render(spec, {"device": "fan-1"}, 0)
    assert render(spec, {"device": "fan-1", "rpm": 900, "extra": 1}, 0) == \
        "set speed of fan-1 to 900 rpm"
    assert render(get_command("set_temperature"), {"zone": "oven-1", "temperature": 180.0}, 2) \
        == "heat oven-1 to 180C"


def test_unknown_command_is_a_key_error() -> None:
    with pytest.raises(KeyError) as caught:
        get_command("launch_rocket")
    assert isinstance(caught.value, UnknownCommand)
    assert isinstance(caught.value, StreamtuneError)
    assert "launch_rocket" in str(caught.value) and "restart_device" in str(caught.value)
    with pytest.raises(UnknownCommand):
        extract_parameters("launch_rocket", "launch it")


@pytest.mark.parametrize(
    ("command", "params", "expected"),
    [
        ("set_speed", {"device": "fan-1"}, ["rpm: required parameter missing"]),
        ("set_speed", {"device": "fan-1", "rpm": 4000},
         ["rpm: 4000 is above the maximum 3600"]),
        ("set_speed", {"device": "fan-1", "rpm": -5}, ["rpm: -5 is below the minimum 0"]),
        ("set_speed", {"device": "fan-1", "rpm": "fast"}, ["rpm: expected int, got str"]),
        ("set_speed", {"device": "fan-1", "rpm": 12.5}, ["rpm: expected int, got float"]),
        ("set_speed", {"device": "fan-1", "rpm": True}, ["rpm: expected int, got bool"]),
        ("set_temperature", {"zone": "oven-1", "temperature": 20}, []),
        ("set_temperature", {"zone": "oven-1", "temperature": 999.5},
         ["temperature: 999.5 is above the maximum 400"]),
        ("set_mode", {"device": "pump-1", "mode": "turbo"},
         ["mode: 'turbo' is not one of auto, manual, standby, maintenance, eco"]),
        ("set_mode", {"device": "pump 1", "mode": "auto"},
         ["device: 'pump 1' is not a valid device value"]),
        ("set_mode", {"device": 7, "mode": "auto"}, ["device: expected a string, got int"]),
        ("restart_device", {"device": "pump-1", "delay": "soon"},
         ["delay: 'soon' is not a valid duration value"]),
        ("restart_device", {"device": "pump-1", "delay": "40d"},
         ["delay: '40d' is above the maximum 2592000"]),
        ("restart_device", {"device": "pump-1", "colour": "red"},
         ["colour: unknown parameter for restart_device"]),
        ("launch_rocket", {}, ["command_type: unknown command type 'launch_rocket'"]),
        ("query_status", {}, []),
    ],
)
def test_validate_parameters_flags_each_problem(
    command: str, params: dict[str, object], expected: list[str]
) -> None:
    assert validate_parameters(command, params) == expected


def test_validate_reports_every_problem() -> None:
    problems = validate_parameters("grant_access", {"role": "god", "duration": "5x", "zz": 1})
    assert len(problems) == 4
    assert problems[0] == "user: required parameter missing"


def test_duration_seconds() -> None:
    assert duration_seconds("90s") == 90
    assert duration_seconds("15m") == 900
    assert duration_seconds("2h") == 7200
    assert duration_seconds("1d") == 86400
    with pytest.raises(ValueError, match="duration"):
        duration_seconds("15 minutes")


def test_error_catalogue() -> None:
    actions = set(get_args(RecoveryAction))
    assert len(ERROR_TYPES) >= 8
    for name, spec in ERROR_TYPES.items():
        assert SNAKE.match(name) and SNAKE.match(spec.category)
        assert spec.messages and spec.corrections and spec.root_causes
        assert len(spec.recovery_steps) >= 2
        assert spec.recovery_action in actions and RECOVERY_ACTIONS[name] == spec.recovery_action
        assert 0 < spec.recovery_success <= 1
        fill = {"target": "pump-1", "command": "restart_device", "user": "bob", "role": "admin",
                "param": "rpm", "value": "9000", "limit": "[0, 3600]", "n": "3"}
        for template in spec.messages + spec.corrections + spec.recovery_steps:
            assert "{" not in template.format(**fill)
    assert set(CATEGORY_ERRORS) == set(CATEGORIES)
    for weighted in CATEGORY_ERRORS.values():
        assert all(error in ERROR_TYPES and weight > 0 for error, weight in weighted)
    assert len({action for action in RECOVERY_ACTIONS.values()}) >= 6
    assert errors_for("no_such_category")  # a generic mix for future categories
