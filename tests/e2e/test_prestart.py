"""Node.js environments from pre-started runtimes: Node cannot be forked like a Python zygote, so
Kumo starts a few runtimes ahead, sealed in their sandbox, and hands each one function at a cold
start. Each must still be that function's alone: its code, environment, memory limit and `/tmp`,
with nothing of Kumo's data dir left in view."""

import os
import signal
import time

import pytest

from e2e_support import Deployer, descendants, poll, process_cmdline, still_running

PROBE = """
const fs = require('fs');
exports.handler = async () => {
  let kumoDir;
  try { kumoDir = fs.readdirSync('/.kumo/data'); } catch (error) { kumoDir = error.code; }
  const tmp = fs.readdirSync('/tmp');
  fs.writeFileSync('/tmp/mark', process.env.MARK);
  return {
    mark: process.env.MARK,
    kumoVariables: Object.keys(process.env).filter((key) => key.startsWith('KUMO')),
    argv: process.argv.slice(1),
    cwd: process.cwd(),
    uid: process.getuid(),
    kumoDir,
    tmp,
    tmpMb: Math.round(fs.statfsSync('/tmp').blocks * fs.statfsSync('/tmp').bsize / 1048576),
    heapMb: Math.round(require('v8').getHeapStatistics().heap_size_limit / 1048576),
  };
};
"""


def node_function(make_function, source, **params):
    return make_function(files={"index.js": source}, runtime="nodejs20.x", handler="index.handler", **params)


def pools(kumo):
    return kumo.get_json("/_kumo/status")["prestarted"]


def ready_pool(kumo, make_function):
    """Makes (if needed) and waits for the pool of pre-started Node runtimes with the default
    start-up variables; returns its status."""
    node_function(make_function, "exports.handler = async () => 'warm-up';").invoke({})
    unavailable = kumo.get_json("/_kumo/status")["zygotes_unavailable"]
    if unavailable:
        pytest.skip(f"this host gives Kumo no pre-started runtimes: {unavailable}")
    return poll(lambda: next((p for p in pools(kumo) if p["parked"] > 0), None), timeout=60, what="a parked runtime")


def started_from_pools(kumo):
    return sum(pool["environments"] for pool in pools(kumo))


def test_pre_started_runtimes_become_one_function_each(kumo, make_function):
    ready_pool(kumo, make_function)
    before = started_from_pools(kumo)
    first = node_function(make_function, PROBE, Environment={"Variables": {"MARK": "first"}})
    second = node_function(
        make_function, PROBE, Environment={"Variables": {"MARK": "second"}}, EphemeralStorage={"Size": 600}
    )
    one_result, two_result = first.invoke({}), second.invoke({})
    assert one_result.function_error is None and two_result.function_error is None, (one_result, two_result)
    one, two = one_result.payload, two_result.payload
    assert started_from_pools(kumo) >= before + 2, "both cold starts come from pre-started runtimes"
    assert (one["mark"], two["mark"]) == ("first", "second")
    # Nothing of the waiting runtime shows: not Kumo's variables, its argument, or its data dir.
    assert one["kumoVariables"] == [] and one["argv"] == ["/var/runtime/bootstrap.js"], one
    assert one["kumoDir"] in ("ENOENT", []), one["kumoDir"]
    assert one["cwd"] == "/var/task" and one["uid"] == 993
    # Each has its own /tmp, of its own EphemeralStorage size.
    assert one["tmp"] == [] and two["tmp"] == []
    assert (one["tmpMb"], two["tmpMb"]) == (512, 600)
    assert first.invoke({}).payload["tmp"] == ["mark"], "a warm environment keeps its /tmp"


def test_a_pre_started_runtime_keeps_its_functions_memory_limit(kumo, make_function):
    ready_pool(kumo, make_function)
    before = started_from_pools(kumo)
    function = node_function(
        make_function,
        "exports.handler = async (event) => Buffer.alloc(event.mb * 1048576, 1).length / 1048576;",
        MemorySize=128,
        Timeout=30,
    )
    result = function.invoke({"mb": 600})
    assert started_from_pools(kumo) > before
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.OutOfMemory", result.payload
    assert function.invoke({"mb": 10}).payload == 10


def test_init_errors_of_a_pre_started_runtime_are_awss(kumo, make_function):
    ready_pool(kumo, make_function)
    function = node_function(make_function, "require('no-such-package');\nexports.handler = async () => 1;")
    failed = function.invoke({}, LogType="Tail")
    assert failed.payload["errorType"] == "Runtime.ImportModuleError", failed.payload
    assert "Cannot find module 'no-such-package'" in failed.payload["errorMessage"]


def test_start_up_variables_get_a_runtime_started_with_them(kumo, make_function):
    ready_pool(kumo, make_function)
    # Node reads NODE_OPTIONS once, when it starts: the runtime must have been started with it.
    function = node_function(
        make_function, PROBE, Environment={"Variables": {"MARK": "x", "NODE_OPTIONS": "--max-old-space-size=100"}}
    )
    assert function.invoke({}).payload["heapMb"] < 200
    own = [pool for pool in pools(kumo) if "NODE_OPTIONS" in pool["variables"]]
    assert own and own[0]["environments"] >= 1, pools(kumo)


def test_a_killed_pre_started_runtime_is_replaced(start_server):
    server = start_server()
    deployer = Deployer(server)
    try:
        ready_pool(server, deployer.create)
        # The warm-up function's runtime, and parked ones once their launchers have started node.
        def started():
            found = pre_started_runtimes(server)
            return found if len(found) >= 2 else None

        runtimes = poll(started, timeout=30, what="two pre-started runtimes")
        for pid in runtimes:
            os.kill(pid, signal.SIGKILL)
        poll(lambda: not still_running(runtimes), timeout=10, what="the killed runtimes to go")
        # Cold starts go on: a dead runtime is never handed a function (its launcher is skipped, or
        # if it is taken before it is seen gone, another is taken).
        for attempt in range(3):
            function = node_function(deployer.create, "exports.handler = async () => process.env.AWS_LAMBDA_FUNCTION_NAME;")
            result = function.invoke({}, LogType="Tail")
            assert result.payload == function.name, (attempt, result.log, pools(server))
    finally:
        deployer.cleanup()


def pre_started_runtimes(server):
    """{pid: start time} of the pre-started Node runtimes of `server`, parked or not (their
    command line keeps the argument they were started with)."""
    return {
        pid: started
        for pid, started in descendants(server.process.pid).items()
        if "--kumo-wait-for-environment" in process_cmdline(pid)
    }


# tokio's blocking threads exit after ten idle seconds.
IDLE_THREAD_LIFETIME = 10


def test_a_warm_environment_outlives_the_thread_that_parked_its_runtime(start_server):
    """Runtimes die with Kumo through PR_SET_PDEATHSIG, which fires when the *thread* that started
    them exits, not Kumo: started from a short-lived thread, a parked runtime, and the warm
    environment later made from it, was killed once that thread ended."""
    server = start_server()
    deployer = Deployer(server)
    try:
        ready_pool(server, deployer.create)
        poll(
            lambda: all(pool["parked"] >= pool["target"] for pool in pools(server)) or None,
            timeout=60,
            what="the pool refilled",
        )
        function = node_function(deployer.create, "const token = Math.random();\nexports.handler = async () => token;")
        first = function.invoke({}, LogType="Tail")
        assert "Init Duration" in first.log
        # Not synchronisation: idle time is the condition under test (the refill's thread, left
        # idle, ends within it).
        time.sleep(IDLE_THREAD_LIFETIME + 3)
        again = function.invoke({}, LogType="Tail")
        assert again.payload == first.payload, "the warm environment was lost while idle"
        assert "Init Duration" not in again.log
    finally:
        deployer.cleanup()


def test_the_rehearsal_leaves_nothing_behind(kumo, make_function):
    """A parked runtime rehearses one invocation against a stand-in Runtime API (so V8 has compiled
    the invocation path before a function waits on it); the function must see none of it."""
    ready_pool(kumo, make_function)
    before = started_from_pools(kumo)
    function = node_function(
        make_function,
        """
exports.handler = async (event, context) => ({
  event,
  requestId: context.awsRequestId,
  globalRequestId: globalThis[Symbol.for('aws.lambda.runtime.requestId')],
  functionArn: context.invokedFunctionArn,
  handles: process._getActiveHandles().map((handle) => handle.constructor.name).sort(),
});
""",
    )
    result = function.invoke({"real": True})
    assert started_from_pools(kumo) == before + 1, "not served by a pre-started runtime"
    assert result.payload["event"] == {"real": True}
    assert result.payload["requestId"] == result.request_id == result.payload["globalRequestId"]
    assert result.payload["functionArn"].endswith(f":function:{function.name}")
    # The Runtime API connection and stdio only: no listener, no other socket.
    assert "Server" not in result.payload["handles"], result.payload["handles"]
    assert result.payload["handles"].count("Socket") <= 3, result.payload["handles"]
