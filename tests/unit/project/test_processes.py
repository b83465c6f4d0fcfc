"""A Ctrl-C that comes while a child process is started is not lost (``ctrl_c_held``), the
child does not inherit the held SIGINT (``child_setup``), and a hanging close cannot hang a
stop (``close_within``)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer

from streamtune.processes import close_consumer, close_within
from streamtune.streams.kafka.dev_broker import free_port

# Runs in a fresh interpreter: an at-fork hook sends SIGINT to the process itself during
# Popen's fork, as a Ctrl-C that arrives at that moment would. The child prints whether
# SIGINT is blocked in it. SIGINT gets Python's own handler first: a parent started in
# the background by a shell (``cmd &``) passes SIGINT on ignored, and Python keeps it so.
SCRIPT = """
import contextlib, os, signal, subprocess, sys
from streamtune.processes import child_setup, ctrl_c_held

signal.signal(signal.SIGINT, signal.default_int_handler)
held = sys.argv[1] == "held"
os.register_at_fork(before=lambda: os.kill(os.getpid(), signal.SIGINT))
check = "import signal; print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))"
try:
    with ctrl_c_held() if held else contextlib.nullcontext():
        child = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                               preexec_fn=child_setup, check=True)
        print("child blocks SIGINT:", child.stdout.strip(), flush=True)
    print("Ctrl-C lost", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


@pytest.mark.parametrize("mode", ["held", "not held"])
def test_a_ctrl_c_during_a_child_start_is_raised_once_the_start_is_done(mode: str) -> None:
    out = _run(SCRIPT, mode)
    # the child never has SIGINT blocked: it stops on Ctrl-C like any process
    assert "child blocks SIGINT: False" in out
    if mode == "held":
        assert out.strip().endswith("interrupted")
    else:  # the hazard: Python ran the handler inside an at-fork hook, which swallowed it
        assert out.strip().endswith("Ctrl-C lost")


# Another thread that does not block SIGINT (as numpy's BLAS threads in every streamtune
# process): the kernel gives it the Ctrl-C the main thread holds back, and Python's handler
# then raised in the main thread mid-block.
OTHER_THREAD_SCRIPT = """
import os, signal, threading, time
from streamtune.processes import ctrl_c_held

signal.signal(signal.SIGINT, signal.default_int_handler)
threading.Thread(target=threading.Event().wait, daemon=True).start()
try:
    with ctrl_c_held():
        os.kill(os.getpid(), signal.SIGINT)  # to the process, as a terminal sends it
        time.sleep(0.5)
        print("block done", flush=True)
    print("Ctrl-C lost", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_a_ctrl_c_another_thread_receives_waits_for_the_end_of_the_block() -> None:
    assert _run(OTHER_THREAD_SCRIPT).split() == ["block", "done", "interrupted"]


def test_a_close_that_hangs_is_left_behind_and_one_that_returns_is_waited_for() -> None:
    release, closed = threading.Event(), []
    assert not close_within(release.wait, 0.2, name="st-test-close")  # it still waits
    release.set()
    assert close_within(lambda: closed.append(True), 5.0, name="st-test-close")
    assert closed == [True]


def test_a_consumer_is_closed_at_a_stop_even_with_no_broker_to_answer() -> None:
    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{free_port()}", "group.id": "g",
                         "group.instance.id": "g-1", "log_level": 0})
    consumer.subscribe(["t"])
    consumer.poll(0.1)
    assert close_consumer(consumer, seconds=15.0)
    with pytest.raises(RuntimeError, match="closed"):
        consumer.poll(0)


# A stage's loop waits on the Event its stop sets, again and again. The signal handler
# runs in the main thread between two bytecodes, possibly while that thread holds the
# Event's lock inside ``wait``: a stop that took the lock there never returned.
STOP_SCRIPT = """
import os, signal, sys, threading, time
from streamtune.processes import stop_on_signals

stopping = threading.Event()
stop_on_signals(stopping.set)
print("ready", flush=True)
while not stopping.is_set():
    stopping.wait(0.00001)
until = time.monotonic() + 0.2  # and on, as a stage finishing its batch, signals coming
while time.monotonic() < until:
    stopping.wait(0.00001)
print("stopped", flush=True)
"""


def test_a_signal_stops_a_loop_that_waits_on_the_stop_event() -> None:
    hung = 0
    for _ in range(10):
        child = subprocess.Popen([sys.executable, "-c", STOP_SCRIPT], stdout=subprocess.PIPE,
                                 text=True)
        try:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            for _ in range(300):  # a stop may come more than once (PDEATHSIG, a user's)
                child.send_signal(signal.SIGTERM)
                time.sleep(0.0005)
            out, _ = child.communicate(timeout=5)
            assert out == "stopped\n"
        except subprocess.TimeoutExpired:
            hung += 1
        finally:
            child.kill()
            child.wait()
    assert hung == 0
