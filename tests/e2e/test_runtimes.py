"""Runtimes: Python versions and handler paths, Node.js module styles, and custom runtimes
(`provided*`) driven by a bash script with curl and by AWS's own awslambdaric, unmodified."""

import os
import sys
from pathlib import Path

import awslambdaric
import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of

VERSION_REPORTER = """
import os
import sys

def handler(event, context):
    return {"version": list(sys.version_info[:2]), "execution_env": os.environ.get("AWS_EXECUTION_ENV")}
"""


@pytest.mark.parametrize("minor", [9, 11, 13])
def test_python_versions(make_function, minor):
    result = make_function(VERSION_REPORTER, runtime=f"python3.{minor}").invoke({})
    assert result.function_error is None, result.raw
    assert result.payload == {"version": [3, minor], "execution_env": f"AWS_Lambda_python3.{minor}"}


BOTO3_REPORTER = """
import sys

import boto3
import urllib3


def handler(event, context):
    client = boto3.client("lambda")
    return [sys.executable, list(sys.version_info[:2]), boto3.__version__, urllib3.__version__, client.meta.region_name]
"""


@pytest.mark.parametrize("minor", range(8, 16))
def test_every_python_kumo_found_runs_boto3(kumo, make_function, minor):
    """Each Python runtime the host has imports boto3 (and its urllib3) from a package set made
    for that version, as AWS ships a boto3 per runtime. Kumo picks, per version, the interpreter
    that starts fastest (the distribution's rather than a pyenv build with many site-packages,
    say); whichever it picked runs boto3 in the sandbox."""
    interpreters = kumo.get_json("/_kumo/health")["runtimes"]["python_interpreters"]
    assert interpreters
    runtime = f"python3.{minor}"
    if runtime not in interpreters:
        pytest.skip(f"no {runtime} interpreter on this host")
    result = make_function(BOTO3_REPORTER, runtime=runtime).invoke({})
    assert result.function_error is None, (runtime, interpreters[runtime], result.raw)
    executable, version, boto3_version, urllib3_version, region = result.payload
    assert os.path.basename(executable) == os.path.basename(interpreters[runtime]), (runtime, executable)
    assert version == [3, minor]
    assert boto3_version and urllib3_version
    assert region == "us-east-1"


def test_python_handler_in_a_subdirectory(make_function):
    function = make_function(
        files={
            "pkg/handler.py": "from pkg.helper import greet\n\ndef main(event, context):\n    return greet(event['name'])\n",
            "pkg/helper.py": "def greet(name):\n    return 'hello ' + name\n",
            "pkg/__init__.py": "",
        },
        handler="pkg/handler.main",
    )
    assert function.invoke({"name": "kumo"}).payload == "hello kumo"


NODE_CJS = """
exports.handler = async (event, context) => ({
  node: process.version,
  functionName: context.functionName,
  requestId: context.awsRequestId,
  remaining: context.getRemainingTimeInMillis(),
  event,
});
"""


def test_node_commonjs_async_handler(make_function):
    function = make_function(files={"index.js": NODE_CJS}, runtime="nodejs20.x", handler="index.handler")
    result = function.invoke({"a": 1})
    assert result.function_error is None, result.raw
    answer = result.payload
    assert answer["node"].startswith("v20.")
    assert answer["functionName"] == function.name
    assert answer["requestId"] == result.request_id
    assert 0 < answer["remaining"] <= 3000
    assert answer["event"] == {"a": 1}


def test_node_esm_handler(make_function):
    function = make_function(
        files={"app.mjs": "export const handler = async (event) => ({ esm: true, doubled: event.n * 2 });\n"},
        runtime="nodejs20.x",
        handler="app.handler",
    )
    assert function.invoke({"n": 21}).payload == {"esm": True, "doubled": 42}


def test_node_callback_handler(make_function):
    function = make_function(
        files={"index.js": "exports.handler = (event, context, callback) => { callback(null, {cb: event.x}); };\n"},
        runtime="nodejs20.x",
        handler="index.handler",
    )
    assert function.invoke({"x": "yes"}).payload == {"cb": "yes"}


def test_node_thrown_error_is_a_function_error(make_function):
    function = make_function(
        files={"index.js": "exports.handler = async () => { throw new Error('node went wrong'); };\n"},
        runtime="nodejs20.x",
        handler="index.handler",
    )
    result = function.invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Error"
    assert result.payload["errorMessage"] == "node went wrong"


def test_newer_node_runtime_runs_on_the_host_node_with_a_warning(kumo, make_function):
    function = make_function(
        files={"index.js": "exports.handler = async () => process.version;\n"},
        runtime="nodejs22.x",
        handler="index.handler",
    )
    result = function.invoke({}, LogType="Tail")
    assert result.function_error is None, result.raw
    host_major = result.payload.lstrip("v").split(".")[0]
    if host_major == "22":
        pytest.skip("the host has Node.js 22: no substitution to warn about")
    warning = f"[WARNING] Kumo: no Node.js 22 on this host; running nodejs22.x on Node.js {host_major}"
    assert warning in result.log
    assert warning in kumo.log_text(function.name)


BASH_BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
count=0
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  REQUEST_ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d '[:space:]')"
  rm -f "$HEADERS"
  count=$((count + 1))
  echo "bash runtime handling $REQUEST_ID"
  RESPONSE="{\"event\": $EVENT, \"handler\": \"$_HANDLER\", \"count\": $count, \"execution_env\": \"${AWS_EXECUTION_ENV:-unset}\"}"
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/response" -d "$RESPONSE"
done
"""


def test_custom_runtime_in_bash_with_curl(make_function):
    function = make_function(files={"bootstrap": BASH_BOOTSTRAP}, runtime="provided.al2023", handler="my.handler")
    first = function.invoke({"n": 1}, LogType="Tail")
    assert first.function_error is None, first.raw
    assert first.payload == {"event": {"n": 1}, "handler": "my.handler", "count": 1, "execution_env": "unset"}
    assert f"bash runtime handling {first.request_id}" in first.log
    second = function.invoke({"n": 2})
    assert second.payload["count"] == 2, "the same runtime process serves the next event"


AWSLAMBDARIC_APP = """
import sys

def handler(event, context):
    if event.get("fail"):
        raise ValueError("ric says no")
    return {"runtime": "awslambdaric", "python": list(sys.version_info[:2]), "request_id": context.aws_request_id}
"""


def awslambdaric_files():
    """awslambdaric and its dependencies, copied from the venv into the deployment package, as a
    custom runtime ships them (the host's site-packages are not visible inside the sandbox)."""
    site_packages = Path(awslambdaric.__file__).parent.parent
    wanted = ["awslambdaric", "simplejson", "snapshot_restore_py.py", "runtime_client.*.so"]
    files = {}
    for pattern in wanted:
        for path in site_packages.glob(pattern):
            candidates = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            for candidate in candidates:
                if "__pycache__" not in candidate.parts:
                    files[str(candidate.relative_to(site_packages))] = (candidate.read_bytes(), 0o644)
    return files


def test_custom_runtime_with_unmodified_awslambdaric(make_function):
    # The sandbox's userland has the host's python3.X; awslambdaric (a C extension for this very
    # minor version) comes in the package, as on AWS.
    python = f"python3.{sys.version_info.minor}"
    bootstrap = f"#!/bin/sh\nexec {python} -m awslambdaric app.handler\n"
    files = {"bootstrap": bootstrap, "app.py": AWSLAMBDARIC_APP, **awslambdaric_files()}
    function = make_function(files=files, runtime="provided.al2", handler="app.handler")
    result = function.invoke({})
    assert result.function_error is None, result.raw
    assert result.payload == {
        "runtime": "awslambdaric",
        "python": list(sys.version_info[:2]),
        "request_id": result.request_id,
    }
    failed = function.invoke({"fail": True})
    assert failed.function_error == "Unhandled"
    error = failed.payload
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "ric says no"
    assert error["requestId"] == failed.request_id
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]


def test_custom_runtime_without_bootstrap_fails_init_like_aws(make_function):
    function = make_function(files={"app.py": "x = 1\n"}, runtime="provided", handler="app.handler")
    result = function.invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.InvalidEntrypoint"
    assert result.payload["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    )
