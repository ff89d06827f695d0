"""The sandbox around every execution environment: what a function can see and touch of the host
and of other functions (nothing), and the resource limits of its MemorySize (memory, processes),
all observed through boto3 like a user would."""

import json
import os
import re
import threading
import time
import uuid

import pytest

from e2e_support import SECRET_CANARY, function_processes, wait_until_gone

SNOOPER = """
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)


def attempt(action):
    try:
        action()
        return "allowed"
    except OSError as error:
        return error.strerror


def syscall_error(result):
    return "allowed" if result == 0 else os.strerror(ctypes.get_errno())


def read_all_environ():
    seen = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                seen.append(environ.read().decode(errors="replace"))
        except OSError:
            pass
    return seen


def handler(event, context):
    if "plant" in event:
        with open("/tmp/planted", "w") as planted:
            planted.write(event["plant"])
    tmp = {}
    for name in os.listdir("/tmp"):
        with open(os.path.join("/tmp", name)) as found:
            tmp[name] = found.read()
    processes = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                processes[pid] = cmdline.read().replace(b"\\0", b" ").decode(errors="replace").strip()
        except OSError:
            pass
    return {
        "write_task_root": attempt(lambda: open("/var/task/written.txt", "w").close()),
        "write_runtime_dir": attempt(lambda: open("/var/runtime/written.txt", "w").close()),
        "write_root": attempt(lambda: os.mkdir("/kumo-was-here")),
        "tmp": tmp,
        "processes": processes,
        "data_dir": attempt(lambda: os.listdir(event["data_dir"])),
        "root_home": sorted(os.listdir("/root")) if os.path.isdir("/root") else [],
        "home": attempt(lambda: os.listdir("/home")),
        "shadow": attempt(lambda: open("/etc/shadow").read()),
        "environ": [dict(os.environ)] + read_all_environ(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "unshare": syscall_error(libc.unshare(0x10000000)),
        "mount": syscall_error(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
        "hostname": os.uname().nodename,
        "open_files_limit": __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE),
    }
"""


def test_the_health_report_names_every_protection(kumo):
    sandbox = kumo.get_json("/_kumo/health")["sandbox"]
    if os.geteuid() != 0:
        pytest.skip("the complete sandbox needs root (or user namespaces) and cgroups")
    assert sandbox["isolation"] == "full", sandbox
    assert sandbox["missing"] == []
    for protection in ["namespaces.mount", "namespaces.pid", "filesystem", "unprivileged-user", "seccomp",
                       "no-new-privs", "rlimits", "cgroups.memory", "cgroups.pids", "cgroups.cpu"]:  # fmt: skip
        assert protection in sandbox["active"], protection


def test_a_function_sees_nothing_of_the_host_or_other_functions(kumo, make_function):
    token = uuid.uuid4().hex
    neighbour = make_function(SNOOPER, prefix="neighbour")
    planted = neighbour.invoke({"plant": token, "data_dir": str(kumo.data_dir)}).payload
    assert planted["tmp"] == {"planted": token}, "a function's own /tmp works"

    snooper = make_function(SNOOPER, prefix="snooper")
    seen = snooper.invoke({"data_dir": str(kumo.data_dir)}).payload
    # Its code, runtime and root are read-only; only /tmp is writable, and it is its own.
    assert seen["write_task_root"] == "Read-only file system"
    assert seen["write_runtime_dir"] == "Read-only file system"
    assert seen["write_root"] == "Read-only file system"
    assert token not in json.dumps(seen["tmp"]), "a function read another function's /tmp"
    # Only its own processes: the sandbox's init and the runtime.
    assert len(seen["processes"]) <= 3, seen["processes"]
    assert not [cmd for cmd in seen["processes"].values() if "kumo" in cmd or "pytest" in cmd], seen["processes"]
    # None of Kumo's files, the host's homes or secrets, nor Kumo's environment.
    assert seen["data_dir"] == "No such file or directory"
    assert seen["home"] == "No such file or directory"
    assert set(seen["root_home"]) <= {".pyenv"}, seen["root_home"]
    assert seen["shadow"] == "No such file or directory"
    assert SECRET_CANARY not in json.dumps(seen["environ"])
    assert not [key for key in seen["environ"][0] if key.startswith("KUMO_")]
    # An unprivileged user under a seccomp filter, with AWS's limits.
    assert (seen["uid"], seen["gid"]) == (993, 990)
    assert seen["unshare"] == "Operation not permitted"
    assert seen["mount"] == "Operation not permitted"
    assert seen["hostname"] == "localhost"
    assert seen["open_files_limit"] == [1024, 1024]


ALLOCATOR = """
def handler(event, context):
    data = b"x" * (event["mb"] * 1024 * 1024)
    return len(data) // (1024 * 1024)
"""


def test_running_out_of_memory_is_a_runtime_out_of_memory_error(make_function):
    function = make_function(ALLOCATOR, MemorySize=128, Timeout=30)
    result = function.invoke({"mb": 600}, LogType="Tail")
    assert result.status == 200
    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed",
    }
    assert "Runtime.OutOfMemory" in result.log
    report = re.search(r"REPORT RequestId: .*", result.log).group(0)
    assert "Status: error\tError Type: Runtime.OutOfMemory" in report
    # The next invocation gets a fresh environment and fits in its memory.
    after = function.invoke({"mb": 10}, LogType="Tail")
    assert after.function_error is None, after.raw
    assert after.payload == 10
    assert "Init Duration" in after.log


def test_max_memory_used_reflects_the_functions_allocation(make_function):
    function = make_function(ALLOCATOR, MemorySize=256, Timeout=30)
    result = function.invoke({"mb": 100}, LogType="Tail")
    assert result.function_error is None, result.raw
    used = int(re.search(r"Max Memory Used: (\d+) MB", result.log).group(1))
    assert 100 <= used <= 256, result.log


FORK_BOMB = """
import os
import subprocess
import time

def handler(event, context):
    # The classic shell fork bomb, in the background; the handler watches it for a while and
    # reports the most processes it saw (they come and go as forks fail and shells exit).
    subprocess.Popen(["/bin/sh", "-c", "b() { b | b & }; b"], start_new_session=True)
    most, refused = 0, None
    started = time.monotonic()
    # At least `seconds`; longer (up to 20 s) while the bomb has not grown yet on a starved host.
    while time.monotonic() - started < (event["seconds"] if most > 100 else 20):
        most = max(most, len([pid for pid in os.listdir("/proc") if pid.isdigit()]))
        try:
            child = os.fork()
        except OSError as error:
            refused = error.strerror
        else:
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0)
        time.sleep(0.05)
    return {"most": most, "refused": refused}
"""

ECHO = "def handler(event, context):\n    return event\n"


def test_a_fork_bomb_is_contained(kumo, make_function):
    # Unconfined, the bomb would take the whole machine (and every other test run on it) down:
    # it goes off only where the pid namespace and the pids cgroup are in force.
    active = kumo.get_json("/_kumo/health")["sandbox"]["active"]
    for protection in ("namespaces.pid", "cgroups.pids"):
        if protection not in active:
            pytest.fail(f"the sandbox lacks {protection} (active: {active}); not setting off a fork bomb")
    # A full vCPU (1,769 MB): at a smaller share a busy host can starve the bomb itself.
    bomb = make_function(FORK_BOMB, MemorySize=1769, Timeout=30)
    bystander = make_function(ECHO, prefix="bystander")
    assert bystander.invoke({"n": 0}).payload == {"n": 0}
    answers = {}
    thread = threading.Thread(target=lambda: answers.update(bomb=bomb.invoke({"seconds": 4})))
    thread.start()
    time.sleep(1.5)
    # While the bomb goes off: Kumo answers, and other functions run.
    assert kumo.get_json("/_kumo/health")["status"] == "ok"
    started = time.monotonic()
    assert bystander.invoke({"n": 1}).payload == {"n": 1}
    assert time.monotonic() - started < 5
    # From the host: the environment's pids cgroup caps it at 1,024 processes, and the bomb pushes
    # against that cap. (Counted inside, one listing of /proc is no snapshot: while it walks the
    # pids, processes exit and new ones with higher pids appear, so it can count more than ever
    # existed at once.)
    processes = function_processes(kumo, bomb.name)
    # The runtime, the longest-lived of them (the bomb's own come and go).
    limit, peak = pids_cgroup_of(min(processes, key=processes.get))
    assert limit == "1024"
    thread.join(60)
    result = answers["bomb"]
    assert result.function_error is None, result.raw
    # The host's count is the proof the bomb grew to the cap; the handler's own /proc listings
    # can be starved by the bomb (1,024 processes on its one CPU share) and once saw 56 while the
    # cgroup's peak was 1,024.
    assert 100 < peak() <= 1024, (result.payload, peak())
    assert result.payload["refused"] in (None, "Resource temporarily unavailable"), result.payload
    # The bomb keeps going (its processes come and go) until the environment goes; then all of it goes.
    processes = function_processes(kumo, bomb.name)
    assert processes
    bomb.client.delete_function(FunctionName=bomb.name)
    assert not wait_until_gone(processes, timeout=15), "fork bomb processes outlived their environment"
    assert kumo.get_json("/_kumo/health")["status"] == "ok"
    assert bystander.invoke({"n": 2}).payload == {"n": 2}


def pids_cgroup_of(pid):
    """(`pids.max`, a function reading the highest `pids.current` seen since) of the pids cgroup
    (v1 or v2) that `pid` is in."""
    with open(f"/proc/{pid}/cgroup") as cgroups:
        entries = [line.rstrip("\n").split(":", 2) for line in cgroups]
    v1 = [path for _, controllers, path in entries if "pids" in controllers.split(",")]
    directory = f"/sys/fs/cgroup/pids{v1[0]}" if v1 else f"/sys/fs/cgroup{entries[0][2]}"
    with open(f"{directory}/pids.max") as limit:
        maximum = limit.read().strip()
    highest = [0]

    def peak():
        # v2 keeps its own peak (pids.peak, Linux 6.1+); v1 is sampled.
        for name in ("pids.peak", "pids.current"):
            try:
                with open(f"{directory}/{name}") as value:
                    highest[0] = max(highest[0], int(value.read()))
                    break
            except (OSError, ValueError):
                continue
        return highest[0]

    peak()
    return maximum, peak
