"""Helpers shared by Kumo's end-to-end tests: a `kumo serve` process, deployment zips, invoking,
waiting by polling, and looking at the processes Kumo started.

The tests talk to Kumo only the way users do: boto3, the AWS CLI, the `kumo` command line and
Kumo's documented `/_kumo/...` endpoints.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
KUMO_BIN = Path(os.environ.get("KUMO_BIN") or REPO / "target/release/kumo")
AWS_CLI = Path(sys.executable).parent / "aws"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
SQS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
LAMBDA_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
# Put in the shared server's environment only: functions must never see Kumo's own environment.
SECRET_CANARY = "kumo-canary-5b1f0c2e"


# --------------------------------------------------------------------------------------------
# Waiting


def poll(check, timeout=10.0, interval=0.05, what="the condition"):
    """Calls `check()` until it returns something truthy and returns that; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
        time.sleep(interval)


def unique_name(prefix="fn"):
    """A function name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------------------------
# Deployment packages


def make_zip(files):
    """A zip in memory. `files` maps names to text or bytes, or to `(content, mode)`.

    Entries carry unix modes: 0o755 for files named `bootstrap` (custom runtimes need an
    executable), 0o644 otherwise."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            mode = 0o755 if name.rsplit("/", 1)[-1] == "bootstrap" else 0o644
            if isinstance(content, tuple):
                content, mode = content
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def python_zip(source, filename="lambda_function.py"):
    """A package holding one Python module (source is dedented)."""
    return make_zip({filename: textwrap.dedent(source)})


def code_sha256(zip_bytes):
    """`CodeSha256` as Lambda reports it: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


# --------------------------------------------------------------------------------------------
# Invoking


@dataclasses.dataclass
class Invocation:
    """What a synchronous Invoke answered, decoded."""

    status: int
    raw: bytes
    function_error: str | None
    log: str | None
    request_id: str
    executed_version: str | None
    seconds: float

    @property
    def payload(self):
        return json.loads(self.raw) if self.raw else None


def invoke(client, function_name, payload=None, **params):
    """Invoke through boto3; `payload` may be a JSON-able value or raw bytes."""
    if payload is not None:
        params["Payload"] = payload if isinstance(payload, bytes) else json.dumps(payload)
    started = time.monotonic()
    response = client.invoke(FunctionName=function_name, **params)
    raw = response["Payload"].read()
    log = response.get("LogResult")
    return Invocation(
        status=response["StatusCode"],
        raw=raw,
        function_error=response.get("FunctionError"),
        log=base64.b64decode(log).decode() if log is not None else None,
        request_id=response["ResponseMetadata"]["RequestId"],
        executed_version=response.get("ExecutedVersion"),
        seconds=time.monotonic() - started,
    )


def error_of(excinfo):
    """(code, HTTP status, message) of a botocore ClientError caught by pytest.raises."""
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


# --------------------------------------------------------------------------------------------
# Processes


def _process_table():
    """{pid: (state, ppid, start time)} read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                text = stat_file.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        table[int(entry)] = (fields[0], int(fields[1]), fields[19])
    return table


def descendants(pid):
    """{pid: start time} of every living process below `pid`."""
    table = _process_table()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (state, ppid, started) in table.items():
            if ppid == parent and child not in found and state != "Z":
                found[child] = started
                frontier.append(child)
    return found


def still_running(processes):
    """Those of `processes` ({pid: start time}) that still run (zombies and reused pids excluded)."""
    table = _process_table()
    return {
        pid
        for pid, started in processes.items()
        if pid in table and table[pid][2] == started and table[pid][0] != "Z"
    }


def process_cmdline(pid):
    """The command line of `pid`, arguments joined by spaces ("" once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def process_running(pid):
    """Whether a process with this pid exists and is not a zombie."""
    entry = _process_table().get(pid)
    return entry is not None and entry[0] != "Z"


def wait_until_gone(processes, timeout=10.0):
    """Waits for `processes` to end; returns the pids still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        alive = still_running(processes)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def function_processes(server, function_name):
    """{pid: start time} of the host processes of `function_name`'s execution environments (the
    runtime and what it started), found through the environment they inherited.

    Functions run in their own pid namespace, so the pids they see (`os.getpid()`) mean nothing on
    the host: tests look processes up from the outside instead."""
    marker = f"\0AWS_LAMBDA_FUNCTION_NAME={function_name}\0".encode()
    table = _process_table()
    found = {}
    for pid in descendants(server.process.pid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ_file:
                environ = b"\0" + environ_file.read()
        except OSError:
            continue
        if marker in environ and pid in table:
            found[pid] = table[pid][2]
    return found


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------
# The server


class AwsCliError(Exception):
    """The AWS CLI exited with an error."""

    def __init__(self, returncode, stderr):
        super().__init__(f"aws exited with {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


class PortTaken(Exception):
    """The port chosen for a server was bound by someone else first."""


class KumoServer:
    """One `kumo serve` process on 127.0.0.1 with its own data dir."""

    def __init__(self, data_dir, log_path, port=None, env=None):
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        # A port found free may be taken by another test worker's server before Kumo binds it:
        # then (first start only, so a restart keeps its endpoint) another one is tried.
        self._port_chosen = port is None
        self._started = False
        self.port = port or free_port()
        self.extra_env = dict(env or {})
        self.process = None
        self._clients = {}

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle

    def start(self, timeout=60.0):
        """Starts the server and waits until it answers /_kumo/health and its own log says it is
        ready (the health answer alone could come from another worker's server on that port)."""
        for attempt in range(5):
            try:
                return self._start(timeout)
            except PortTaken:
                if not self._port_chosen or self._started or attempt == 4:
                    raise
                self.port = free_port()
                self._clients = {}
        raise AssertionError("unreachable")

    def _log_since(self, offset):
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _start(self, timeout):
        env = dict(os.environ)
        env.update(self.extra_env)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(KUMO_BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                if "Address already in use" in self._log_since(offset):
                    raise PortTaken(self.port)
                raise RuntimeError(f"kumo exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/_kumo/health", timeout=2) as response:
                    if response.status == 200 and "kumo is ready" in self._log_since(offset):
                        self._started = True
                        self.ensure_lambda_role()
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"kumo did not become healthy within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout=20.0):
        """SIGTERM; returns (exit code, pids of Kumo's descendants still running afterwards)."""
        children = descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, wait_until_gone(children)

    def kill(self):
        """SIGKILL; returns the descendants Kumo had ({pid: start time}) at that moment."""
        children = descendants(self.process.pid)
        self.process.kill()
        self.process.wait(10)
        return children

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- clients

    def client(self, service, region="us-east-1", **credentials):
        """A boto3 client of any service for this server (key test/test unless given); no retries."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60),
            **(credentials or CREDENTIALS),
        )

    def ensure_lambda_role(self):
        """Creates ROLE, the execution role test functions use (CreateFunction checks it exists)."""
        try:
            self.client("iam").create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityAlreadyExists":
                raise

    def role_with_policies(self, name, managed=(), inline=None):
        """The ARN of execution role `name`, created (trusting Lambda) if missing, with the
        AWS-managed policies `managed` attached and the `inline` policy document (a dict) put,
        as a real user grants a function what it calls."""
        iam = self.client("iam")
        try:
            role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)["Role"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            role = iam.get_role(RoleName=name)["Role"]
        for policy in managed:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        if inline is not None:
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
        return role["Arn"]

    def delivery_role(self):
        """The ARN of an execution role allowed what Lambda does with it for a function, as AWS
        requires: read and delete its event source queue (AWSLambdaSQSQueueExecutionRole), send
        to queues and invoke functions (its destinations and dead-letter queue)."""
        inline = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["sqs:SendMessage", "lambda:InvokeFunction"], "Resource": "*"}
            ],
        }
        return self.role_with_policies("lambda-delivery-role", [SQS_EXECUTION_POLICY], inline)

    def lambda_client(self, region="us-east-1"):
        """A boto3 Lambda client for this server (cached per region); no retries."""
        if region not in self._clients:
            self._clients[region] = boto3.session.Session().client(
                "lambda",
                endpoint_url=self.endpoint,
                region_name=region,
                config=Config(
                    retries={"total_max_attempts": 1},
                    connect_timeout=5,
                    read_timeout=60,
                    max_pool_connections=32,
                ),
                **CREDENTIALS,
            )
        return self._clients[region]

    def aws(self, *args, region="us-east-1", text=False):
        """Runs `aws --endpoint-url ... --region ... --output json ARGS`; returns the parsed output
        (its text with `text=True`, for commands that print text, such as `aws s3 ls`)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )
        command = [str(AWS_CLI), "--endpoint-url", self.endpoint, "--region", region, "--output", "json", *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AwsCliError(done.returncode, done.stderr)
        if text:
            return done.stdout
        return json.loads(done.stdout) if done.stdout.strip() else None

    def kumo_cli(self, *args, region="us-east-1", timeout=60):
        """Runs the `kumo` command line against this server."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "KUMO_"))}
        command = [str(KUMO_BIN), *args, "--endpoint", self.endpoint, "--region", region]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)

    # -- Kumo's own endpoints

    def signed_request(self, path, region="us-east-1", credentials=None, method="GET", service="kumo"):
        """A urllib request for `path` signed with SigV4 (botocore's signer) by `credentials`
        (test/test unless given) for `service` (`kumo`, what `/_kumo` endpoints take)."""
        keys = credentials or CREDENTIALS
        signer = SigV4Auth(
            Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"], keys.get("aws_session_token")),
            service,
            region,
        )
        request = AWSRequest(method=method, url=self.endpoint + path)
        signer.add_auth(request)
        return urllib.request.Request(request.url, headers=dict(request.headers.items()), method=method)

    def get_json(self, path, region=None, credentials=None):
        """GET of one of Kumo's `/_kumo` endpoints, signed (the region is the credential
        scope's, as for the AWS APIs; the account is the signer's)."""
        request = self.signed_request(path, region or "us-east-1", credentials)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def log_events(self, function, after=0, region="us-east-1", account=None, credentials=None):
        """Every stored log event of `function` newer than event id `after` (all pages); of the
        signer's account (test/test's unless `credentials` are given), or the one `account` names."""
        of_account = "" if account is None else f"&account={account}"
        events = []
        while True:
            path = f"/_kumo/logs/{function}?after={after}{of_account}"
            page = self.get_json(path, region, credentials)["events"]
            if not page:
                return events
            events.extend(page)
            after = page[-1]["id"]

    def log_text(self, function, region="us-east-1", account=None, credentials=None):
        events = self.log_events(function, region=region, account=account, credentials=credentials)
        return "\n".join(event["message"] for event in events)

    def metering(self, function, region="us-east-1", account=None, credentials=None):
        of_account = "" if account is None else f"?account={account}"
        return self.get_json(f"/_kumo/metering/{function}{of_account}", region, credentials)["records"]

    def pools(self):
        return self.get_json("/_kumo/status")["pools"]


# --------------------------------------------------------------------------------------------
# Functions


@dataclasses.dataclass
class Function:
    """A function a test created."""

    name: str
    arn: str
    region: str
    client: object
    zip_bytes: bytes
    created: dict

    def invoke(self, payload=None, **params):
        return invoke(self.client, self.name, payload, **params)

    def configuration(self):
        return self.client.get_function_configuration(FunctionName=self.name)


class Deployer:
    """Creates functions with unique names and deletes them in `cleanup()`."""

    def __init__(self, server):
        self.server = server
        self.created = []

    def create(
        self,
        source=None,
        *,
        files=None,
        zip_bytes=None,
        runtime="python3.12",
        handler="lambda_function.handler",
        name=None,
        prefix="fn",
        region="us-east-1",
        role=ROLE,
        **params,
    ):
        """Creates a function from Python `source`, a `files` dict or raw `zip_bytes` (running as
        `role`, by default ROLE, which allows nothing), and waits until GetFunction reports it
        Active."""
        if zip_bytes is None:
            zip_bytes = make_zip(files) if files is not None else python_zip(source)
        name = name or unique_name(prefix)
        client = self.server.lambda_client(region)
        created = client.create_function(
            FunctionName=name, Runtime=runtime, Role=role, Handler=handler, Code={"ZipFile": zip_bytes}, **params
        )
        self.created.append((region, name))
        try:
            # Generous: Kumo prepares in milliseconds, but a loaded 2-core CI machine can stall.
            poll(
                lambda: client.get_function(FunctionName=name)["Configuration"]["State"] == "Active",
                timeout=30,
                what=f"{name} to become Active",
            )
        except AssertionError as error:
            state = client.get_function(FunctionName=name)["Configuration"]
            raise AssertionError(f"{error}\nconfiguration: {state}\nserver log:\n{self.server.log_tail()}") from None
        return Function(name, created["FunctionArn"], region, client, zip_bytes, created)

    def adopt(self, name, region="us-east-1"):
        """Deletes a function created some other way (the kumo CLI, the AWS CLI) at cleanup."""
        self.created.append((region, name))

    def cleanup(self):
        for region, name in self.created:
            try:
                self.server.lambda_client(region).delete_function(FunctionName=name)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
        self.created.clear()
