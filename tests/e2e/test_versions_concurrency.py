"""Versions, reserved concurrency and provisioned concurrency through boto3."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, poll, python_zip

VERSIONED = """
import os
def handler(event, context):
    return {"answer": os.environ.get("ANSWER"), "version": context.function_version,
            "arn": context.invoked_function_arn,
            "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
"""

SLEEPER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 1))
    return "slept"
"""


def test_publish_version_snapshots_code_and_configuration(make_function):
    function = make_function(VERSIONED, Environment={"Variables": {"ANSWER": "one"}})
    v1 = function.client.publish_version(FunctionName=function.name, Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == f"{function.arn}:1"
    assert v1["Description"] == "first"
    assert v1["CodeSha256"] == function.created["CodeSha256"]

    function.client.update_function_configuration(
        FunctionName=function.name, Environment={"Variables": {"ANSWER": "two"}}
    )
    poll(lambda: function.configuration()["LastUpdateStatus"] == "Successful")
    assert function.invoke({}).payload["answer"] == "two"
    first = function.invoke({}, Qualifier="1")
    assert first.payload["answer"] == "one", "a published version is immutable"
    assert first.payload["version"] == "1"
    assert first.payload["arn"] == f"{function.arn}:1"
    assert first.executed_version == "1"
    by_name = function.client.invoke(FunctionName=f"{function.name}:1")
    assert by_name["ExecutedVersion"] == "1"

    v2 = function.client.publish_version(FunctionName=function.name)
    assert v2["Version"] == "2"
    again = function.client.publish_version(FunctionName=function.name)
    assert again["Version"] == "2", "publishing an unchanged $LATEST returns the last version"

    versions = function.client.list_versions_by_function(FunctionName=function.name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    got = function.client.get_function(FunctionName=function.name, Qualifier="1")
    assert got["Configuration"]["Environment"]["Variables"] == {"ANSWER": "one"}


def test_publish_preconditions_and_deleting_a_version(make_function):
    function = make_function(VERSIONED)
    with pytest.raises(ClientError) as excinfo:
        function.client.publish_version(FunctionName=function.name, CodeSha256="not-the-sha")
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        function.client.publish_version(FunctionName=function.name, RevisionId="stale")
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)

    function.client.publish_version(FunctionName=function.name)
    function.client.delete_function(FunctionName=function.name, Qualifier="1")
    with pytest.raises(ClientError) as excinfo:
        function.client.invoke(FunctionName=function.name, Qualifier="1")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: {function.arn}:1"
    assert function.invoke({}).function_error is None, "$LATEST survives deleting a version"
    with pytest.raises(ClientError) as excinfo:
        function.client.invoke(FunctionName=function.name, Qualifier="7")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_publish_flag_on_create_and_update(make_function):
    function = make_function(VERSIONED, Publish=True)
    assert function.created["Version"] == "1"
    updated = function.client.update_function_code(
        FunctionName=function.name, ZipFile=python_zip(VERSIONED + "\n# changed\n"), Publish=True
    )
    assert updated["Version"] == "2"
    assert updated["FunctionArn"].endswith(":2")


def test_reserved_concurrency_api_and_account_settings(kumo, make_function):
    function = make_function(VERSIONED)
    client = function.client
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName=function.name)
    before = client.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000
    put = client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert client.get_function_concurrency(FunctionName=function.name)["ReservedConcurrentExecutions"] == 5
    assert client.get_function(FunctionName=function.name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    after = client.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 5
    with pytest.raises(ClientError) as excinfo:
        client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=950)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    client.delete_function_concurrency(FunctionName=function.name)
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName=function.name)


def test_reserved_concurrency_zero_throttles_sync_and_holds_async(kumo, make_function):
    function = make_function(VERSIONED)
    function.client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        function.invoke({})
    code, status, _ = error_of(excinfo)
    assert (code, status) == ("TooManyRequestsException", 429)
    assert excinfo.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"

    accepted = function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"async": 1}')
    assert accepted["StatusCode"] == 202
    function.client.delete_function_concurrency(FunctionName=function.name)
    # The throttled event is retried, not dropped: it runs once the limit is lifted.
    poll(lambda: '{"async": 1}' in kumo.log_text(function.name) or "END RequestId" in kumo.log_text(function.name), timeout=30)


def test_reserved_concurrency_two_under_six_parallel_invokes(make_function):
    function = make_function(SLEEPER, Timeout=10)
    function.client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=2)

    def call(_):
        try:
            return function.invoke({"sleep": 1}).payload
        except ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(call, range(6)))
    assert sorted(outcomes) == ["TooManyRequestsException"] * 4 + ["slept"] * 2, outcomes


def test_provisioned_concurrency_reaches_ready_and_skips_init(kumo, make_function):
    function = make_function(VERSIONED)
    client = function.client
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(
            FunctionName=function.name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    version = client.publish_version(FunctionName=function.name)["Version"]
    put = client.put_provisioned_concurrency_config(
        FunctionName=function.name, Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")

    def ready():
        config = client.get_provisioned_concurrency_config(FunctionName=function.name, Qualifier=version)
        return config if config["Status"] == "READY" else None

    config = poll(ready, timeout=30)
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    assert config["AvailableProvisionedConcurrentExecutions"] == 2
    listed = client.list_provisioned_concurrency_configs(FunctionName=function.name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{function.arn}:{version}"]

    result = function.invoke({}, Qualifier=version, LogType="Tail")
    assert result.payload["init"] == "provisioned-concurrency"
    assert "REPORT RequestId" in result.log and "Init Duration" not in result.log
    on_demand = function.invoke({}, LogType="Tail")
    assert on_demand.payload["init"] == "on-demand"
    assert "Init Duration" in on_demand.log

    client.delete_provisioned_concurrency_config(FunctionName=function.name, Qualifier=version)
    with pytest.raises(ClientError) as excinfo:
        client.get_provisioned_concurrency_config(FunctionName=function.name, Qualifier=version)
    assert error_of(excinfo)[:2] == ("ProvisionedConcurrencyConfigNotFoundException", 404)


def test_hundred_parallel_invocations_all_succeed(make_function):
    function = make_function(SLEEPER, Timeout=30)

    def call(_):
        return function.invoke({"sleep": 0.5}).payload

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=100) as pool:
        outcomes = list(pool.map(call, range(100)))
    elapsed = time.monotonic() - started
    assert outcomes == ["slept"] * 100
    assert elapsed < 100 * 0.5 / 4, f"100 invocations took {elapsed:.1f}s: they did not run in parallel"
