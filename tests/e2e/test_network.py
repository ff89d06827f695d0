"""Each execution environment's own network namespace: a function sees only its own Runtime API
(at AWS's 127.0.0.1:9001) and Kumo's endpoint, cannot take another environment's events, and
still reaches Kumo with boto3. Also the rest of the sandbox's host hygiene: io_uring refused,
interpreters at AWS's paths with no host path inside."""

import json
import os
import shutil
import socket
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


def open_descriptors(pid, port):
    """Kumo's open descriptors, less the test's own client connections to its API on `port`
    (boto3 keeps up to one per concurrent call open for reuse: the client's, not Kumo's)."""
    clients = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as lines:
            next(lines)
            for fields in map(str.split, lines):
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # ESTABLISHED
                    clients.add(f"socket:[{fields[9]}]")
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") not in clients
        except OSError:
            pass  # closed while listed
    return count


def parked_pools(server):
    """Every pool of parked processes (zygotes' children, pre-started runtimes, launchers) as
    (parked, target) pairs; a zygote still starting counts as not settled."""
    status = server.get_json("/_kumo/status")
    pools = [(status["parked_launchers"]["parked"], status["parked_launchers"]["target"])]
    pools += [(pool["parked"], pool["target"]) for pool in status["prestarted"]]
    for zygote in status["zygotes"]:
        pools.append((zygote["parked"], zygote["target"]) if zygote["state"] == "ready" else (0, 1))
    return pools


def settled_descriptors(server, what):
    """Kumo's descriptor count once every parked pool holds exactly its target and the count
    has stayed the same for a second (parked processes are refilled in the background, and
    each holds descriptors: its pipes, pidfd and its namespace's listeners)."""
    counts = []

    def settled():
        pools = parked_pools(server)
        assert all(parked <= target for parked, target in pools), f"a pool holds more than its target: {pools}"
        counts.append(open_descriptors(server.process.pid, server.port) if all(p == t for p, t in pools) else None)
        return len(counts) >= 3 and counts[-1] is not None and counts[-3:] == [counts[-1]] * 3

    poll(settled, timeout=60, interval=0.5, what=what)
    return counts[-1]


def test_environments_leave_no_descriptors_behind(start_server):
    """40 cold starts, four at a time (each retiring its function's environment), leave Kumo
    holding what it held before once the parked pools are full again: no namespace, listener,
    pidfd, pipe or connection of a retired environment stays open, and no pool parks past its
    target (concurrent cold starts once made every refill count the same gap, and a zygote
    parked 15 children where it keeps 2)."""
    server = start_server()
    deployer = Deployer(server)
    functions = [deployer.create(VICTIM, prefix=f"churn{index}") for index in range(4)]
    client = server.lambda_client()

    def cold_starts(rounds):
        for round in range(rounds):
            # A configuration change retires each function's environment: the next invoke of
            # each is a cold start, all four at once.
            for function in functions:
                client.update_function_configuration(FunctionName=function.name, Description=f"{rounds} {round}")
            for function in functions:
                poll(
                    lambda: client.get_function(FunctionName=function.name)["Configuration"]["LastUpdateStatus"]
                    == "Successful",
                    what="the update",
                )
            answers = {}
            threads = [
                threading.Thread(target=lambda f=function: answers.update({f.name: f.invoke({"secret": round}).payload}))
                for function in functions
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert answers == {function.name: {"kept": round} for function in functions}

    cold_starts(2)
    settled_descriptors(server, "the zygote and Kumo's parked pools")
    # Once more with the zygote ready, so that the environments alive before are of the kind
    # that will be alive after (a zygote's child holds two pidfds, a launcher one).
    cold_starts(1)
    before = settled_descriptors(server, "Kumo's parked pools to fill")
    cold_starts(10)
    after = settled_descriptors(server, "Kumo's parked pools to fill again")
    # A leak of one descriptor per cold start shows as 40.
    assert after <= before + 2, f"Kumo held {before} descriptors before 40 cold starts and {after} after"


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


# Connects to a TCP server and returns what it says.
CONNECTOR = """
import socket


def handler(event, context):
    try:
        with socket.create_connection((event["host"], event["port"]), timeout=3) as connection:
            return {"answer": connection.recv(100).decode()}
    except OSError as error:
        return {"error": str(error)}
"""


def default_route_address():
    """The IPv4 address of this host's default-route interface (not loopback), or None."""
    try:
        with open("/proc/net/route") as routes:
            next(routes)
            gateways = [int(fields[2], 16) for fields in map(str.split, routes) if fields[1] == "00000000"]
    except OSError:
        return None
    if not gateways:
        return None
    gateway = socket.inet_ntoa(gateways[0].to_bytes(4, "little"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((gateway, 9))  # UDP: no packet is sent; the kernel picks the source address
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.fixture
def host_server():
    """A TCP server on the host's default-route address that greets whoever connects."""
    address = default_route_address()
    if address is None:
        pytest.skip("this host has no default route with a non-loopback IPv4 address")
    listener = socket.create_server((address, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"hello from the host")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield {"host": address, "port": listener.getsockname()[1]}
    stop.set()
    thread.join()
    listener.close()


def test_by_default_a_function_reaches_no_other_host(make_function, host_server):
    answer = make_function(CONNECTOR, prefix="offline").invoke(host_server).payload
    assert "error" in answer and "unreachable" in answer["error"], answer


def test_with_function_network_outbound_a_function_reaches_other_hosts(start_server, host_server):
    if shutil.which("pasta") is None:
        pytest.skip("pasta is not installed (apt-get install passt; scripts/run does it for --function-network outbound)")
    server = start_server(KUMO_FUNCTION_NETWORK="outbound")
    sandbox = server.get_json("/_kumo/health")["sandbox"]
    assert (sandbox["network"], sandbox["network_tool"]) == ("outbound", "pasta"), sandbox
    deployer = Deployer(server)
    function = deployer.create(CONNECTOR, prefix="online")
    assert function.invoke(host_server).payload == {"answer": "hello from the host"}
    # Kumo's endpoint and the Runtime API inside are as without the option.
    assert deployer.create(RUNTIME_API_REPORTER, prefix="outbound-api").invoke().payload == "127.0.0.1:9001"
    caller_role = server.role_with_policies("outbound-invoker", ["arn:aws:iam::aws:policy/service-role/AWSLambdaRole"])
    caller = deployer.create(BOTO3_CALLER, prefix="outbound-boto3", Timeout=30, role=caller_role)
    target = deployer.create(VICTIM, prefix="outbound-target")
    result = caller.invoke({"target": target.name}).payload
    assert result["endpoint"] == f"http://127.0.0.1:{server.port}"
    assert json.loads(result["answer"]) == {"kept": "through kumo"}
    # Nothing of the host's loopback shows inside: Kumo's own port there is the namespace's listener.
    scan = deployer.create(SCANNER, prefix="outbound-scan", Timeout=30).invoke({"seconds": 1}).payload
    assert scan["listening"] == sorted({9001, server.port}) and scan["stolen"] == [], scan


def test_kumo_refuses_to_start_when_outbound_network_cannot_be_given(start_server, tmp_path):
    empty = tmp_path / "no-pasta"
    empty.mkdir()
    with pytest.raises(RuntimeError) as excinfo:
        start_server(KUMO_FUNCTION_NETWORK="outbound", PATH=str(empty))
    assert "pasta is not installed" in str(excinfo.value), str(excinfo.value)
