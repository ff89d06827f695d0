"""The control plane and Invoke through the AWS CLI (v1), as a user types them."""

import base64
import json

import pytest

from e2e_support import ACCOUNT, ROLE, AwsCliError, code_sha256, python_zip, unique_name

SOURCE = """
import os

def handler(event, context):
    print("cli says", event)
    return {"greeting": os.environ.get("GREETING"), "version": "v1", "event": event}
"""


def test_function_lifecycle_with_the_aws_cli(kumo, deployer, tmp_path):
    name = unique_name("cli")
    package = tmp_path / "function.zip"
    package.write_bytes(python_zip(SOURCE))
    created = kumo.aws(
        "lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
        "--handler", "lambda_function.handler", "--role", ROLE, "--zip-file", f"fileb://{package}",
        "--environment", "Variables={GREETING=hi}",
    )  # fmt: skip
    deployer.adopt(name)
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert created["CodeSha256"] == code_sha256(package.read_bytes())
    assert created["State"] == "Pending"

    got = kumo.aws("lambda", "get-function", "--function-name", name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["Environment"] == {"Variables": {"GREETING": "hi"}}

    out = tmp_path / "out.json"
    invoked = kumo.aws(
        "lambda", "invoke", "--function-name", name, "--payload", '{"n": 1}', "--log-type", "Tail", str(out)
    )
    assert invoked["StatusCode"] == 200
    assert invoked["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in invoked
    assert "cli says {'n': 1}" in base64.b64decode(invoked["LogResult"]).decode()
    assert json.loads(out.read_text()) == {"greeting": "hi", "version": "v1", "event": {"n": 1}}

    updated = kumo.aws(
        "lambda", "update-function-configuration", "--function-name", name,
        "--environment", "Variables={GREETING=bye}", "--timeout", "10",
    )  # fmt: skip
    assert updated["Timeout"] == 10
    assert updated["RevisionId"] != created["RevisionId"]

    package.write_bytes(python_zip(SOURCE.replace('"v1"', '"v2"')))
    updated = kumo.aws("lambda", "update-function-code", "--function-name", name, "--zip-file", f"fileb://{package}")
    assert updated["CodeSha256"] == code_sha256(package.read_bytes())
    kumo.aws("lambda", "invoke", "--function-name", name, str(out))
    assert json.loads(out.read_text()) == {"greeting": "bye", "version": "v2", "event": {}}

    settings = kumo.aws("lambda", "get-account-settings")
    assert settings["AccountUsage"]["FunctionCount"] >= 1

    deleted = kumo.aws("lambda", "delete-function", "--function-name", name)
    assert (deleted or {}).get("StatusCode", 204) == 204  # newer service models echo the 204
    with pytest.raises(AwsCliError) as excinfo:
        kumo.aws("lambda", "get-function", "--function-name", name)
    assert "(ResourceNotFoundException)" in excinfo.value.stderr
    assert f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}" in excinfo.value.stderr


def test_aws_cli_lists_every_function_across_pages(kumo, make_function):
    names = {make_function(SOURCE, prefix="clilist").name for _ in range(3)}
    listed = kumo.aws("lambda", "list-functions", "--page-size", "1")
    assert names <= {f["FunctionName"] for f in listed["Functions"]}
    assert "NextToken" not in listed

    first = kumo.aws("lambda", "list-functions", "--max-items", "2")
    assert len(first["Functions"]) == 2
    rest = kumo.aws("lambda", "list-functions", "--starting-token", first["NextToken"])
    seen = [f["FunctionName"] for f in first["Functions"] + rest["Functions"]]
    assert len(seen) == len(set(seen))
    assert names <= set(seen)


def test_aws_cli_reports_service_errors(kumo, tmp_path):
    package = tmp_path / "function.zip"
    package.write_bytes(python_zip(SOURCE))
    with pytest.raises(AwsCliError) as excinfo:
        kumo.aws(
            "lambda", "create-function", "--function-name", unique_name("cli"), "--runtime", "python3.12",
            "--handler", "lambda_function.handler", "--role", ROLE, "--zip-file", f"fileb://{package}",
            "--memory-size", "20000",
        )  # fmt: skip
    assert "(ValidationException)" in excinfo.value.stderr
    with pytest.raises(AwsCliError) as excinfo:
        kumo.aws("lambda", "invoke", "--function-name", unique_name("missing"), str(tmp_path / "out.json"))
    assert "(ResourceNotFoundException)" in excinfo.value.stderr
