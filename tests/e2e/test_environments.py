"""Execution environments: warm reuse, timeouts, crashes, retirement after updates and deletes,
concurrency, init errors and idle reaping."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from e2e_support import Deployer, function_processes, python_zip, wait_until_gone

# Each environment draws its own id at Init. (Its pid says nothing: every environment has its own
# pid namespace, where the runtime always has the same small pid.)
COUNTER = """
import os
import time
import uuid

ENVIRONMENT = uuid.uuid4().hex
invocations = 0

def handler(event, context):
    global invocations
    invocations += 1
    time.sleep(event.get("sleep", 0))
    if event.get("exit") is not None:
        os._exit(event["exit"])
    return {"environment": ENVIRONMENT, "count": invocations, "setting": os.environ.get("SETTING")}
"""


def test_warm_environment_is_reused(make_function):
    function = make_function(COUNTER)
    answers = [function.invoke({}).payload for _ in range(3)]
    assert [answer["count"] for answer in answers] == [1, 2, 3]
    assert len({answer["environment"] for answer in answers}) == 1


def test_timeout_kills_the_invocation_and_the_next_one_gets_a_fresh_environment(kumo, make_function):
    function = make_function(COUNTER, Timeout=1)
    first = function.invoke({}).payload
    first_processes = function_processes(kumo, function.name)
    assert first_processes
    timed_out = function.invoke({"sleep": 5}, LogType="Tail")
    assert timed_out.seconds < 3, "the invocation must end at the 1 s timeout, not when the handler returns"
    assert timed_out.function_error == "Unhandled"
    assert timed_out.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in timed_out.payload["errorMessage"]
    assert "Task timed out after 1.00 seconds" in timed_out.log
    after = function.invoke({})
    assert after.function_error is None
    assert after.payload["environment"] != first["environment"]
    assert after.payload["count"] == 1
    assert not wait_until_gone(first_processes), "the timed-out environment is still running"


def test_crashing_runtime_is_an_exit_error_and_the_next_invoke_works(make_function):
    function = make_function(COUNTER)
    crashed = function.invoke({"exit": 3})
    assert crashed.function_error == "Unhandled"
    assert crashed.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.payload["errorMessage"]
    after = function.invoke({})
    assert after.function_error is None
    assert after.payload["count"] == 1


@pytest.mark.parametrize("update", ["configuration", "code"])
def test_updates_retire_warm_environments(kumo, make_function, update):
    function = make_function(COUNTER, Environment={"Variables": {"SETTING": "old"}})
    before = function.invoke({}).payload
    before_processes = function_processes(kumo, function.name)
    if update == "configuration":
        function.client.update_function_configuration(
            FunctionName=function.name, Environment={"Variables": {"SETTING": "new"}}
        )
    else:
        function.client.update_function_code(FunctionName=function.name, ZipFile=python_zip(COUNTER + "\n# v2\n"))
    after = function.invoke({}).payload
    assert after["environment"] != before["environment"]
    assert after["count"] == 1
    assert after["setting"] == ("new" if update == "configuration" else "old")
    assert not wait_until_gone(before_processes), "the retired environment is still running"


def test_delete_stops_the_functions_environments(kumo, make_function):
    function = make_function(COUNTER)
    function.invoke({})
    processes = function_processes(kumo, function.name)
    assert processes
    function.client.delete_function(FunctionName=function.name)
    assert not wait_until_gone(processes), "the deleted function's environment is still running"


def test_parallel_invocations_run_in_parallel_environments(make_function):
    function = make_function(COUNTER, Timeout=10)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: function.invoke({"sleep": 0.5}), range(10)))
    elapsed = time.monotonic() - started
    assert all(result.function_error is None for result in results), [r.raw for r in results]
    assert elapsed < 3.0, f"10 parallel 0.5 s invocations took {elapsed:.2f} s"
    assert len({result.payload["environment"] for result in results}) == 10


@pytest.mark.parametrize(
    "files, handler, error_type, message",
    [
        ({"lambda_function.py": "x = 1\n"}, "missing_module.handler", "Runtime.ImportModuleError",
         "Unable to import module 'missing_module'"),
        ({"lambda_function.py": "x = 1\n"}, "lambda_function.handler", "Runtime.HandlerNotFound",
         "Handler 'handler' missing on module 'lambda_function'"),
        ({"lambda_function.py": "def handler(event, context:\n"}, "lambda_function.handler",
         "Runtime.UserCodeSyntaxError", "Syntax error in module 'lambda_function'"),
    ],
    ids=["import", "handler", "syntax"],
)  # fmt: skip
def test_init_errors(make_function, files, handler, error_type, message):
    function = make_function(files=files, handler=handler)
    result = function.invoke({}, LogType="Tail")
    assert result.status == 200
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == error_type
    assert message in result.payload["errorMessage"]
    assert f"[ERROR] {error_type}" in result.log
    # The same error again: a failed init leaves no broken environment behind.
    assert function.invoke({}).payload["errorType"] == error_type
    function.client.update_function_code(
        FunctionName=function.name,
        ZipFile=python_zip("def handler(event, context):\n    return 'fixed'\n", filename=handler.split(".")[0] + ".py"),
    )
    assert function.invoke({}).payload == "fixed"


def test_idle_environments_are_stopped(start_server):
    server = start_server(KUMO_IDLE_TIMEOUT="1")
    function = Deployer(server).create(COUNTER)
    function.invoke({})
    processes = function_processes(server, function.name)
    assert processes
    assert not wait_until_gone(processes, timeout=15), "the idle environment was not reaped"
    pools = server.pools()
    assert pools[f"us-east-1/{function.name}:$LATEST"]["idle"] == 0
    cold = function.invoke({}, LogType="Tail")
    assert cold.payload["count"] == 1
    assert "Init Duration" in cold.log
