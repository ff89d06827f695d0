"""Durability and process hygiene across restarts: accepted events survive `kill -9`,
functions survive a restart, and no execution environment outlives Kumo."""

import os
import signal

import pytest

from e2e_support import Deployer, KumoServer, poll, process_running, wait_until_gone

APPENDER = """
import os
import time

def handler(event, context):
    time.sleep(1)
    with open(os.environ["OUT_FILE"], "a") as out:
        out.write(f"{event['n']}\\n")
    return event["n"]
"""

SPAWNER = """
import os
import subprocess

def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    return {"runtime": os.getpid(), "child": child.pid}
"""


def restart(server):
    """A new process on the same data dir and port."""
    return KumoServer(server.data_dir, server.log_path, port=server.port, env=server.extra_env).start()


def test_accepted_events_survive_kill_9(spare_kumo, tmp_path):
    out = tmp_path / "events.txt"
    out.touch()
    function = Deployer(spare_kumo).create(APPENDER, Timeout=10, Environment={"Variables": {"OUT_FILE": str(out)}})
    for n in range(20):
        assert function.invoke({"n": n}, InvocationType="Event").status == 202
    environments = spare_kumo.kill()
    done_before_kill = out.read_text().split()
    assert len(done_before_kill) < 20, "every event finished before the kill: nothing left to prove"

    assert not wait_until_gone(environments), "environments outlived kumo's kill -9"
    restarted = restart(spare_kumo)
    try:
        seen = lambda: {int(line) for line in out.read_text().split()}  # noqa: E731
        poll(lambda: seen() == set(range(20)), timeout=30, what="all 20 events to run after the restart")
    finally:
        restarted.stop()


def test_functions_survive_a_restart(spare_kumo):
    function = Deployer(spare_kumo).create(
        "def handler(event, context):\n    print('before restart')\n    return event\n", MemorySize=256
    )
    before = function.configuration()
    assert function.invoke({"n": 1}).payload == {"n": 1}
    code, leftovers = spare_kumo.stop()
    assert code == 0
    assert not leftovers

    restarted = restart(spare_kumo)
    try:
        client = restarted.lambda_client()
        after = client.get_function(FunctionName=function.name)["Configuration"]
        for key in ("FunctionArn", "CodeSha256", "RevisionId", "MemorySize", "LastModified", "Handler", "Runtime"):
            assert after[key] == before[key], key
        assert after["State"] == "Active"
        result = client.invoke(FunctionName=function.name, Payload=b'{"n": 2}')
        assert result["Payload"].read() == b'{"n": 2}'
        assert "before restart" in restarted.log_text(function.name)
        assert len(restarted.metering(function.name)) == 2
    finally:
        restarted.stop()


def test_sigterm_stops_environments_and_what_they_started(spare_kumo):
    function = Deployer(spare_kumo).create(SPAWNER)
    pids = function.invoke({}).payload
    assert process_running(pids["runtime"]) and process_running(pids["child"])
    code, leftovers = spare_kumo.stop()
    assert code == 0
    assert not leftovers
    assert not process_running(pids["runtime"])
    assert not process_running(pids["child"])


def test_kill_9_takes_the_runtime_processes_down(spare_kumo):
    function = Deployer(spare_kumo).create(SPAWNER)
    runtime = function.invoke({}).payload["runtime"]
    spare_kumo.kill()
    poll(lambda: not process_running(runtime), what="the runtime to die with kumo")


@pytest.mark.xfail(
    reason="after kill -9 of kumo the runtime dies (PDEATHSIG) but processes the function started survive "
    "as orphans; on AWS nothing of an execution environment outlives it",
    strict=True,
)
def test_kill_9_leaves_no_process_a_function_started(spare_kumo):
    function = Deployer(spare_kumo).create(SPAWNER)
    child = function.invoke({}).payload["child"]
    spare_kumo.kill()
    try:
        poll(lambda: not process_running(child), timeout=2, what="the function's child process to die")
    finally:
        if process_running(child):
            os.kill(child, signal.SIGKILL)
