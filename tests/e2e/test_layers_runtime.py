"""Layers at run time: merged in order at `/opt`, read-only, on the search paths AWS uses
(Python's sys.path, Node's NODE_PATH, PATH, LD_LIBRARY_PATH), a custom runtime's bootstrap
from a layer, the same without the sandbox, and the 250 MB limit counting code and layers."""

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from e2e_support import ROLE, error_of, make_zip, poll, python_zip, unique_name

PYTHON_PATHS = """
import os
import sys

import from_layer
import site_module

def handler(event, context):
    return {
        "from_layer": from_layer.VALUE,
        "site_module": site_module.VALUE,
        "python": "%d.%d" % sys.version_info[:2],
        "sys_path": sys.path[:3],
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
    }
"""


def python_layer_files():
    """A module at /opt/python and, for every Python Kumo may run, one in that version's
    site-packages naming the version it was found for."""
    files = {"python/from_layer.py": "VALUE = 'opt/python'\n"}
    for minor in range(8, 16):
        files[f"python/lib/python3.{minor}/site-packages/site_module.py"] = f"VALUE = '3.{minor}'\n"
    return files


def test_python_imports_modules_only_a_layer_provides(make_function, make_layer):
    layer = make_layer(python_layer_files(), CompatibleRuntimes=["python3.12"])
    function = make_function(PYTHON_PATHS, Layers=[layer["LayerVersionArn"]])
    result = function.invoke({})
    assert result.function_error is None, result.raw
    payload = result.payload
    assert payload["from_layer"] == "opt/python"
    assert payload["site_module"] == payload["python"], "the site-packages of the running Python"
    assert payload["sys_path"] == [
        "/var/task", f"/opt/python/lib/python{payload['python']}/site-packages", "/opt/python"
    ]  # fmt: skip


NODE_HANDLER = """
const shared = require('shared-package');
const versioned = require('versioned-package');
exports.handler = async () => ({ shared: shared.name, versioned: versioned.name, nodePath: process.env.NODE_PATH });
"""


def test_node_requires_packages_a_layer_provides(make_function, make_layer):
    layer = make_layer({
        "nodejs/node_modules/shared-package/index.js": "exports.name = 'nodejs/node_modules';\n",
        "nodejs/node20/node_modules/versioned-package/index.js": "exports.name = 'nodejs/node20/node_modules';\n",
    })  # fmt: skip
    function = make_function(
        files={"index.js": NODE_HANDLER}, runtime="nodejs20.x", handler="index.handler",
        Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    result = function.invoke({})
    assert result.function_error is None, result.raw
    assert result.payload == {
        "shared": "nodejs/node_modules",
        "versioned": "nodejs/node20/node_modules",
        "nodePath": "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules",
    }


WHICH_LAYER = """
import os
import shared
import only_in_first

def handler(event, context):
    try:
        open("/opt/python/written.txt", "w")
        writable = True
    except OSError:
        writable = False
    return {"shared": shared.VALUE, "first": only_in_first.VALUE, "opt_writable": writable}
"""


def test_a_later_layer_overrides_files_of_an_earlier_one(kumo, make_function, make_layer):
    first = make_layer({"python/shared.py": "VALUE = 'first'\n", "python/only_in_first.py": "VALUE = 'kept'\n"})
    second = make_layer({"python/shared.py": "VALUE = 'second'\n"})
    function = make_function(WHICH_LAYER, Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    assert function.invoke({}).payload == {"shared": "second", "first": "kept", "opt_writable": False}

    # The order is the function's: reversed, the first layer wins.
    client = kumo.lambda_client()
    client.update_function_configuration(
        FunctionName=function.name, Layers=[second["LayerVersionArn"], first["LayerVersionArn"]]
    )
    client.get_waiter("function_updated_v2").wait(FunctionName=function.name)
    assert function.invoke({}).payload == {"shared": "first", "first": "kept", "opt_writable": False}


TOOLS = """
import os
import subprocess

def handler(event, context):
    tool = subprocess.run(["layer-tool", "argument"], capture_output=True, text=True)
    return {"stdout": tool.stdout, "returncode": tool.returncode,
            "path": os.environ["PATH"], "ld_library_path": os.environ["LD_LIBRARY_PATH"]}
"""


def test_executables_of_a_layer_are_on_path(make_function, make_layer):
    layer = make_layer({"bin/layer-tool": ('#!/bin/sh\necho "layer tool got $1"\n', 0o755)})
    function = make_function(TOOLS, Layers=[layer["LayerVersionArn"]])
    result = function.invoke({})
    assert result.function_error is None, result.raw
    assert result.payload["stdout"] == "layer tool got argument\n"
    assert result.payload["path"] == "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert result.payload["ld_library_path"].split(":")[-1] == "/opt/lib"


BASH_BOOTSTRAP = """#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  curl -sS -D "$HEADERS" -o /dev/null "$API/invocation/next"
  REQUEST_ID=$(grep -i '^lambda-runtime-aws-request-id:' "$HEADERS" | cut -d' ' -f2 | tr -d '\\r')
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/response" -d "\\"runtime from $0\\""
done
"""


def test_a_custom_runtime_bootstrap_can_come_from_a_layer(make_function, make_layer):
    layer = make_layer({"bootstrap": BASH_BOOTSTRAP})
    function = make_function(
        files={"handler.txt": "no bootstrap here"}, runtime="provided.al2023", handler="x.y",
        Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    result = function.invoke({})
    assert result.function_error is None, result.raw
    assert result.payload == "runtime from /opt/bootstrap"


SANDBOX_OFF = """
import os
import subprocess
import sys

import from_layer
import site_module

def handler(event, context):
    tool = subprocess.run(["layer-tool"], capture_output=True, text=True)
    python = "%d.%d" % sys.version_info[:2]
    return {"from_layer": from_layer.VALUE, "site_module": site_module.VALUE, "python": python,
            "tool": tool.stdout, "from_layer_file": from_layer.__file__}
"""


def test_without_the_sandbox_the_search_paths_point_at_the_merged_layers(start_server):
    server = start_server(KUMO_SANDBOX="off")
    client = server.lambda_client()
    files = {**python_layer_files(), "bin/layer-tool": ("#!/bin/sh\necho tool on PATH\n", 0o755)}
    files["nodejs/node_modules/shared-package/index.js"] = "exports.name = 'from the host dir';\n"
    layer = client.publish_layer_version(LayerName=unique_name("off"), Content={"ZipFile": make_zip(files)})
    arns = [layer["LayerVersionArn"]]
    python, node = unique_name("off-py"), unique_name("off-node")
    client.create_function(
        FunctionName=python, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(SANDBOX_OFF)}, Layers=arns,
    )  # fmt: skip
    node_source = "exports.handler = async () => require('shared-package').name;\n"
    client.create_function(
        FunctionName=node, Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": make_zip({"index.js": node_source})}, Layers=arns,
    )  # fmt: skip
    for name in (python, node):
        poll(lambda: client.get_function(FunctionName=name)["Configuration"]["State"] == "Active")

    response = client.invoke(FunctionName=python)
    payload = response["Payload"].read()
    assert "FunctionError" not in response, payload
    result = json.loads(payload)
    assert result["from_layer"] == "opt/python"
    assert result["site_module"] == result["python"]
    assert result["tool"] == "tool on PATH\n"
    # Nothing is mounted: the module comes from the merged layers' directory in the data dir.
    assert result["from_layer_file"].startswith(str(server.data_dir.resolve()))
    response = client.invoke(FunctionName=node)
    assert response["Payload"].read() == b'"from the host dir"'


def zeros_zip(name, megabytes, extra=None):
    """A zip that is small but unpacks to `megabytes` MiB of zeros (plus `extra` files)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for extra_name, content in (extra or {}).items():
            archive.writestr(extra_name, content)
        with archive.open(name, "w", force_zip64=True) as entry:
            chunk = bytes(1024 * 1024)
            for _ in range(megabytes):
                entry.write(chunk)
    return buffer.getvalue()


def unzipped_size(zip_bytes):
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return sum(info.file_size for info in archive.infolist())


def test_the_250_mb_limit_counts_the_code_and_its_layers(kumo, make_function, make_layer):
    client = kumo.lambda_client()
    # Each fits on its own; together they exceed 262,144,000 bytes.
    layer_zip = zeros_zip("python/zeros.bin", 200)
    layer = make_layer(layer_zip)
    code_zip = zeros_zip("zeros.bin", 60, {"lambda_function.py": "def handler(event, context):\n    return 1\n"})
    combined = unzipped_size(layer_zip) + unzipped_size(code_zip)
    message = (
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
        f"The actual size is {combined} bytes."
    )
    name = unique_name("too-big")
    with pytest.raises(ClientError) as excinfo:
        client.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
            Code={"ZipFile": code_zip}, Layers=[layer["LayerVersionArn"]],
        )  # fmt: skip
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, message)
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)

    # The same sum is checked when code or layers change on an existing function.
    small = make_function("def handler(event, context):\n    return 1\n", Layers=[layer["LayerVersionArn"]])
    with pytest.raises(ClientError) as excinfo:
        client.update_function_code(FunctionName=small.name, ZipFile=code_zip)
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, message)
    big_code = make_function(zip_bytes=code_zip)
    with pytest.raises(ClientError) as excinfo:
        client.update_function_configuration(FunctionName=big_code.name, Layers=[layer["LayerVersionArn"]])
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, message)
    assert "Layers" not in big_code.configuration()
