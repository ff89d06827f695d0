"""Python environments forked from a zygote (a per-interpreter template process with the bootstrap and
boto3 already imported): each is still sealed in its own sandbox, with its own environment, cgroup
and state, and nothing one function does reaches the template or another function."""

import os
import signal

import pytest

from e2e_support import Deployer, descendants, function_processes, poll, process_cmdline, still_running

PROBE = """
import os
import random
import sys

def handler(event, context):
    leaked = {
        "module": getattr(sys.modules.get("json"), "left_by_another_function", None),
        "environment": os.environ.get("LEFT_BY_ANOTHER_FUNCTION"),
    }
    # Leave marks for the next function: in a preloaded module and in the environment.
    import json
    json.left_by_another_function = os.environ["MARK"]
    os.environ["LEFT_BY_ANOTHER_FUNCTION"] = os.environ["MARK"]
    try:
        kumo_dir = sorted(os.listdir("/.kumo/data"))
    except OSError as error:
        kumo_dir = error.strerror
    return {
        "mark": os.environ["MARK"],
        "leaked": leaked,
        "random": random.random(),
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "kumo_dir": kumo_dir,
        "preloaded": "boto3" in sys.modules,
        "path": sys.path[:2],
    }
"""


def ready_zygote(kumo, make_function):
    """Starts (if needed) and waits for the zygote of python3.12 (the functions' default runtime);
    returns its status."""
    make_function("def handler(event, context):\n    return 'warm-up'\n").invoke({})
    unavailable = kumo.get_json("/_kumo/status")["zygotes_unavailable"]
    if unavailable:
        pytest.skip(f"this host gives Kumo no zygotes: {unavailable}")

    def ready():
        zygotes = kumo.get_json("/_kumo/status")["zygotes"]
        return next(
            (z for z in zygotes if z["program"].endswith("python3.12") and z["state"] == "ready" and z["parked"] > 0),
            None,
        )

    return poll(ready, timeout=60, what="a ready zygote with a parked child")


def environments(kumo, program):
    """How many environments the zygote of `program` has started."""
    return next(z["environments"] for z in kumo.get_json("/_kumo/status")["zygotes"] if z["program"] == program)


def test_functions_forked_from_the_zygote_share_nothing(kumo, make_function):
    zygote = ready_zygote(kumo, make_function)
    before = environments(kumo, zygote["program"])
    first = make_function(PROBE, Environment={"Variables": {"MARK": "first"}})
    second = make_function(PROBE, Environment={"Variables": {"MARK": "second"}})
    one_result, two_result = first.invoke({}), second.invoke({})
    assert one_result.function_error is None and two_result.function_error is None, (one_result, two_result)
    one, two = one_result.payload, two_result.payload
    assert environments(kumo, zygote["program"]) >= before + 2, "both cold starts come from the zygote"
    assert one["preloaded"] and two["preloaded"]
    assert one["mark"] == "first" and two["mark"] == "second"
    assert two["leaked"] == {"module": None, "environment": None}
    assert one["random"] != two["random"], "each child reseeds random"
    assert one["uid"] == two["uid"] == 993
    assert one["cwd"] == "/var/task"
    assert one["path"][0] == "/var/task"
    assert one["kumo_dir"] == "No such file or directory" or one["kumo_dir"] == [], one["kumo_dir"]
    # The same function's warm environment keeps its own state, like any warm environment.
    again = first.invoke({}).payload
    assert again["leaked"] == {"module": "first", "environment": "first"}
    # The host sees the function's own environment on its runtime process.
    assert function_processes(kumo, second.name)


def test_a_forked_environment_keeps_its_memory_limit(kumo, make_function):
    zygote = ready_zygote(kumo, make_function)
    before = environments(kumo, zygote["program"])
    function = make_function(
        "def handler(event, context):\n    block = bytearray(event['mb'] * 1024 * 1024)\n    return len(block) // 1048576\n",
        MemorySize=128,
        Timeout=30,
    )
    result = function.invoke({"mb": 600}, LogType="Tail")
    assert environments(kumo, zygote["program"]) > before
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.OutOfMemory", result.payload
    assert function.invoke({"mb": 10}).payload == 10


def test_a_forked_environment_reports_how_its_runtime_ended(kumo, make_function):
    zygote = ready_zygote(kumo, make_function)
    before = environments(kumo, zygote["program"])
    function = make_function("import os\n\ndef handler(event, context):\n    os._exit(3)\n")
    crashed = function.invoke({})
    assert environments(kumo, zygote["program"]) > before, crashed
    assert crashed.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.payload["errorMessage"]


def test_init_errors_of_a_forked_environment_are_awss(kumo, make_function):
    ready_zygote(kumo, make_function)
    function = make_function("import no_such_module\n\ndef handler(event, context):\n    return 1\n")
    failed = function.invoke({}, LogType="Tail")
    assert failed.payload["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'no_such_module'" in failed.payload["errorMessage"]
    assert "[ERROR] Runtime.ImportModuleError" in failed.log


def test_a_function_that_changes_interpreter_start_up_gets_a_fresh_interpreter(kumo, make_function):
    zygote = ready_zygote(kumo, make_function)
    before = environments(kumo, zygote["program"])
    function = make_function(
        "import sys\n\ndef handler(event, context):\n    return sys.flags.hash_randomization\n",
        Environment={"Variables": {"PYTHONHASHSEED": "0"}},
    )
    # The interpreter reads PYTHONHASHSEED once, at start-up: the zygote's children cannot honour it.
    assert function.invoke({}).payload == 0
    assert environments(kumo, zygote["program"]) == before


def test_a_killed_zygote_is_replaced(start_server):
    server = start_server()
    deployer = Deployer(server)
    try:
        zygote = ready_zygote(server, deployer.create)
        old = zygote_processes(server)
        assert len(old) == 1, old
        os.kill(next(iter(old)), signal.SIGKILL)
        # Cold starts go on (the exec way) while a new zygote starts, then come from it again.
        assert deployer.create("def handler(event, context):\n    return 'ok'\n").invoke({}).payload == "ok"

        def replaced():
            fresh = deployer.create("def handler(event, context):\n    return 'ok'\n")
            assert fresh.invoke({}).payload == "ok"
            return environments(server, zygote["program"]) > 0 and not still_running(old)

        poll(replaced, timeout=60, interval=0.2, what="a new zygote forking environments")
        new = zygote_processes(server)
        assert len(new) == 1 and new.keys() != old.keys(), (old, new)
    finally:
        deployer.cleanup()


def zygote_processes(server):
    """The zygote processes of `server` (its parked children, forks of it, look the same)."""
    return {
        pid: started
        for pid, started in descendants(server.process.pid).items()
        if "zygote.main()" in process_cmdline(pid) and _parent(pid) == server.process.pid
    }


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(") ", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_a_forked_environment_sees_its_own_layers(kumo, make_function, make_layer):
    zygote = ready_zygote(kumo, make_function)
    before = environments(kumo, zygote["program"])
    layer = make_layer({"python/from_layer.py": "NAME = 'layer'\n"}, CompatibleRuntimes=["python3.12"])
    with_layer = make_function(
        "import os\nimport from_layer\n\ndef handler(event, context):\n    return [from_layer.NAME, os.listdir('/opt')]\n",
        Layers=[layer["LayerVersionArn"]],
    )
    without = make_function("import os\n\ndef handler(event, context):\n    return os.listdir('/opt')\n")
    assert with_layer.invoke({}).payload == ["layer", ["python"]]
    assert without.invoke({}).payload == []
    assert environments(kumo, zygote["program"]) >= before + 2
