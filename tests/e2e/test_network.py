"""Each execution environment's own network namespace: a function sees only its own Runtime API
(at AWS's 127.0.0.1:9001) and Kumo's endpoint, cannot take another environment's events, and
still reaches Kumo with boto3. Also the rest of the sandbox's host hygiene: io_uring refused,
interpreters at AWS's paths with no host path inside."""

import json
import os
import threading
import uuid

import pytest

from e2e_support import Deployer, poll

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces per environment need a root Kumo")

# Scans the listening TCP sockets its kernel shows it and long-polls the Runtime API's /next on
# every one but its own, the attack of a tenant that wants its neighbours' events.
SCANNER = r"""
import json
import os
import threading
import time
import urllib.request


def listening():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if fields[3] == "0A":  # TCP_LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return sorted(ports)


def handler(event, context):
    deadline = time.time() + event["seconds"]
    own = os.environ["AWS_LAMBDA_RUNTIME_API"]
    ports = listening()
    stolen = []
    errors = []

    def poll_next(port):
        try:
            url = f"http://127.0.0.1:{port}/2018-06-01/runtime/invocation/next"
            with urllib.request.urlopen(url, timeout=event["seconds"]) as response:
                stolen.append({"port": port, "event": response.read().decode(errors="replace")})
        except Exception as error:
            errors.append(f"{port}: {error}")

    threads = [threading.Thread(target=poll_next, args=(port,)) for port in ports if f"127.0.0.1:{port}" != own]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Keeps the window open as long as asked, whatever it found.
    time.sleep(max(0, deadline - time.time()))
    return {
        "runtime_api": own,
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "listening": ports,
        "stolen": stolen,
        "errors": errors,
    }
"""

VICTIM = """
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"kept": event.get("secret")}
"""


def test_the_health_report_says_environments_have_their_own_network(kumo):
    sandbox = kumo.get_json("/_kumo/health")["sandbox"]
    assert sandbox["network"] == "isolated", sandbox
    assert "namespaces.net" in sandbox["active"], sandbox


def test_a_function_scanning_loopback_gets_no_other_environments_event(kumo, make_function):
    victim = make_function(VICTIM, prefix="victim", Timeout=10)
    scanner = make_function(SCANNER, prefix="scanner", Timeout=30)
    assert victim.invoke({"secret": "warm-up"}).payload == {"kept": "warm-up"}
    # The victim's runtime is busy while the scanner starts polling: were its Runtime API
    # reachable, the scanner's /next would be first in line for the victim's next event.
    busy = threading.Thread(target=lambda: victim.invoke({"secret": "busy", "sleep": 3}))
    busy.start()
    scan = {}
    scanning = threading.Thread(target=lambda: scan.update(scanner.invoke({"seconds": 6}).payload))
    scanning.start()
    busy.join()
    # Secrets for the victim all the while the scanner long-polls whatever it found.
    secrets = []
    while scanning.is_alive() and len(secrets) < 200:
        secret = uuid.uuid4().hex
        secrets.append(secret)
        assert victim.invoke({"secret": secret}).payload == {"kept": secret}, "the victim lost its event"
    scanning.join()
    assert secrets, "the victim was invoked while the scanner polled"
    assert scan["stolen"] == [], scan
    assert not [secret for secret in secrets if secret in json.dumps(scan)]
    # Its own Runtime API and Kumo's endpoint, nothing else of the host's or other environments'.
    assert scan["listening"] == sorted({9001, kumo.port}), scan
    assert scan["runtime_api"] == "127.0.0.1:9001"
    assert scan["endpoint"] == f"http://127.0.0.1:{kumo.port}"


BOTO3_CALLER = """
import boto3


def handler(event, context):
    answer = boto3.client("lambda").invoke(FunctionName=event["target"], Payload=b'{"secret": "through kumo"}')
    return {"endpoint": __import__("os").environ["AWS_ENDPOINT_URL"], "answer": answer["Payload"].read().decode()}
"""


def test_boto3_inside_a_function_reaches_kumo_through_its_namespace(kumo, make_function):
    target = make_function(VICTIM, prefix="target")
    # The caller's role allows invoking, as a real user's would (IAM policies are enforced).
    invoker = kumo.role_with_policies("network-invoker", ["arn:aws:iam::aws:policy/service-role/AWSLambdaRole"])
    caller = make_function(BOTO3_CALLER, prefix="caller", Timeout=30, role=invoker)
    result = caller.invoke({"target": target.name}).payload
    assert result["endpoint"] == f"http://127.0.0.1:{kumo.port}"
    assert json.loads(result["answer"]) == {"kept": "through kumo"}


IO_URING = """
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
SYS_IO_URING_SETUP = 425  # the same number on x86-64 and arm64


def handler(event, context):
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    fd = libc.syscall(SYS_IO_URING_SETUP, 8, params)
    if fd >= 0:
        os.close(fd)
        return "allowed"
    return os.strerror(ctypes.get_errno())
"""


def test_io_uring_is_refused(make_function):
    assert make_function(IO_URING, prefix="uring").invoke().payload == "Operation not permitted"


INTERPRETER = """
import os
import sys


def handler(event, context):
    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "root": sorted(os.listdir("/root")) if os.path.isdir("/root") else None,
        "maps": sorted({line.split()[-1] for line in open("/proc/self/maps") if "/" in line.split()[-1]}),
    }
"""


def test_the_interpreter_is_at_awss_path_and_no_host_path_shows(kumo, make_function):
    seen = make_function(INTERPRETER, prefix="interpreter").invoke().payload
    assert seen["executable"].startswith("/var/lang/bin/python3"), seen
    assert seen["root"] in (None, []), seen
    leaked = [path for path in seen["maps"] if path.startswith(("/root", "/home", str(kumo.data_dir)))]
    assert leaked == [], leaked


NODE_INTERPRETER = """
exports.handler = async () => ({ execPath: process.execPath });
"""


def test_node_is_at_awss_path(make_function):
    function = make_function(files={"index.js": NODE_INTERPRETER}, runtime="nodejs20.x", handler="index.handler")
    assert function.invoke().payload == {"execPath": "/var/lang/bin/node"}


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.xfail(
    strict=False,
    reason="open (issue #10): in full suite runs on a loaded host Kumo's descriptors did not settle back "
    "within 45 s after 40 cold starts (alone it passes); a leak of prepared network namespaces or "
    "parked processes under contention is not ruled out",
)
def test_environments_leave_no_descriptors_behind(start_server):
    server = start_server()
    function = Deployer(server).create(VICTIM, prefix="churn")
    client = server.lambda_client()

    def cold_starts(count):
        for round in range(count):
            # A configuration change retires the environment: the next invoke is a cold start.
            client.update_function_configuration(FunctionName=function.name, Description=f"{count} {round}")
            poll(
                lambda: client.get_function(FunctionName=function.name)["Configuration"]["LastUpdateStatus"]
                == "Successful",
                what="the update",
            )
            assert function.invoke({"secret": round}).payload == {"kept": round}

    cold_starts(5)

    def zygote_parked():
        zygotes = server.get_json("/_kumo/status")["zygotes"]
        return any(z["state"] == "ready" and z["parked"] == 2 for z in zygotes)

    # Once the zygote (started in the background by the first cold start) holds its parked children.
    if not server.get_json("/_kumo/status")["zygotes_unavailable"]:
        poll(zygote_parked, timeout=60, what="the zygote's parked children")
    cold_starts(5)
    before = open_descriptors(server.process.pid)
    cold_starts(40)
    # Parked processes are refilled in the background: wait for the count to settle.
    # (On a loaded host the refill and the namespaces' release take seconds.)
    poll(
        lambda: open_descriptors(server.process.pid) <= before + 4,
        timeout=45,
        interval=0.5,
        what=f"Kumo's {before} descriptors again",
    )


RUNTIME_API_REPORTER = """
import os


def handler(event, context):
    return os.environ["AWS_LAMBDA_RUNTIME_API"]
"""


def test_without_the_sandbox_environments_share_the_hosts_network_and_health_says_so(start_server):
    server = start_server(KUMO_SANDBOX="off")
    sandbox = server.get_json("/_kumo/health")["sandbox"]
    assert sandbox["network"] == "host"
    assert "namespaces.net" in sandbox["missing"] and sandbox["reasons"]["namespaces.net"]
    address = Deployer(server).create(RUNTIME_API_REPORTER, prefix="hostnet").invoke().payload
    assert address.startswith("127.0.0.1:") and address != "127.0.0.1:9001", address
