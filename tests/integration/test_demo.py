"""``streamtune demo`` end to end (its short profile), as a user runs it: it finishes by
itself with everything landed, alerts raised and a report written, leaves no process
behind, Ctrl-C at any point stops everything, and a killed demo takes its worker and
trainer along."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.demo_harness import (
    DemoRun,
    eventually,
    kill_leftovers,
    processes_of,
    start_demo,
    wait_for_output,
)

SOURCES = ("commands", "errors", "feedback", "corrections", "traces", "metrics",
           "performance", "error_states")


def test_demo_runs_end_to_end_and_leaves_nothing_running(demo_run: DemoRun) -> None:
    assert demo_run.returncode == 0, demo_run.output[-4000:]
    assert eventually(lambda: processes_of(demo_run.data_dir)) == []
    db = demo_run.database
    counts = demo_run.query({
        **{table: f"SELECT count() FROM {db}.{table}" for table in SOURCES},
        "dead letters": f"SELECT count() FROM {db}.dead_letters",
        "leaks": f"SELECT count() FROM {db}.commands WHERE position(raw_input, 'demo-S3cret-pw')"
                 " > 0",
        "new type": f"SELECT count() FROM {db}.commands WHERE command_type = 'isolate_segment'",
        "alerts": f"SELECT DISTINCT kind FROM {db}.alerts FINAL",
        "champion": f"SELECT candidate FROM {db}.loop_decisions FINAL WHERE decision = "
                    "'promote' ORDER BY time LIMIT 1",
        "served": f"SELECT count() FROM {db}.predictions FINAL WHERE served",
    })
    for table in SOURCES:
        assert counts[table][0][0] > 0, table
    assert counts["dead letters"][0][0] > 0  # the hostile payloads
    assert counts["leaks"][0][0] == 0
    assert counts["new type"][0][0] > 0  # the drift came
    assert {"drift", "new_pattern"} & {kind for (kind,) in counts["alerts"]}
    assert counts["champion"] == [["v1"]]  # bootstrapped from the stream
    assert counts["served"][0][0] > 0
    report = demo_run.report
    assert report.is_file() and report.with_name("summary.md").is_file()
    assert list(report.parent.glob("*.png"))


@pytest.mark.parametrize("moment", ["dev broker at", "trainer pid"])
def test_ctrl_c_stops_everything(tmp_path: Path, moment: str) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "demo.log"
    demo = start_demo(data_dir, log)
    try:
        wait_for_output(log, moment, demo)
        if moment == "trainer pid":  # mid-run: the worker reads traffic, the trainer waits
            wait_for_output(data_dir / "demo-worker.log", "partitions assigned", demo)
            wait_for_output(data_dir / "demo-trainer.log", "waiting for alerts", demo)
        os.killpg(demo.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        try:
            returncode = demo.wait(90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit 90 s after Ctrl-C; still running: {processes_of(data_dir)}; "
                        f"its output:\n{log.read_text(errors='replace')[-3000:]}")
        output = log.read_text(errors="replace")
        assert returncode == 130, output[-3000:]  # the shell's code for an interrupt
        assert eventually(lambda: processes_of(data_dir)) == []
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        kill_leftovers(data_dir)


def test_a_killed_demo_takes_its_worker_and_trainer_along(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "demo.log"
    demo = start_demo(data_dir, log)
    try:
        wait_for_output(log, "trainer pid", demo)
        wait_for_output(data_dir / "demo-worker.log", "partitions assigned", demo)  # both up:
        wait_for_output(data_dir / "demo-trainer.log", "waiting for alerts", demo)
        os.killpg(demo.pid, signal.SIGKILL)  # no cleanup can run in the demo itself
        demo.wait(10)
        left = eventually(lambda: [p for p in processes_of(data_dir) if "noida" not in p],
                          timeout=60)
        assert left == []  # the dev broker stays, like after `streamtune broker start`
    finally:
        kill_leftovers(data_dir)
