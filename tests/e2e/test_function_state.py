"""The function state model and the configuration's shape, compared field by field with what AWS
answers (the AWS API reference's examples and botocore's model: every field, generated ids and
timestamps masked): CreateFunction is Pending, then Active with a new RevisionId; updates are
InProgress, then Successful; published versions are Pending, then Active; the waiters
`function_active_v2`, `function_updated_v2` and `published_version_active` pass through boto3 and
the AWS CLI."""

import io
import json
import re
import zipfile

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, ROLE, code_sha256, error_of, poll, python_zip, unique_name

HANDLER_SOURCE = """
def handler(event, context):
    return {"ok": True}
"""

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
RUNTIME_VERSION_ARN = re.compile(r"^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$")
FAST = {"Delay": 1, "MaxAttempts": 30}


def masked(configuration):
    """The configuration without ResponseMetadata, its generated values checked and masked."""
    configuration = {key: value for key, value in configuration.items() if key != "ResponseMetadata"}
    assert UUID.match(configuration["RevisionId"]), configuration["RevisionId"]
    configuration["RevisionId"] = "<revision>"
    assert LAST_MODIFIED.match(configuration["LastModified"]), configuration["LastModified"]
    configuration["LastModified"] = "<timestamp>"
    if "RuntimeVersionConfig" in configuration:
        arn = configuration["RuntimeVersionConfig"]["RuntimeVersionArn"]
        assert RUNTIME_VERSION_ARN.match(arn), arn
        configuration["RuntimeVersionConfig"] = {"RuntimeVersionArn": "<runtime version>"}
    return configuration


def expected(name, package, version="$LATEST", arn_qualifier=None, listed=False, **state):
    """A Python function's configuration as AWS renders it (GetFunctionConfiguration's example
    in the API reference, with the fields Lambda adds today)."""
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    configuration = {
        "FunctionName": name,
        "FunctionArn": f"{arn}:{arn_qualifier}" if arn_qualifier else arn,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "lambda_function.handler",
        "CodeSize": len(package),
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "LastModified": "<timestamp>",
        "CodeSha256": code_sha256(package),
        "Version": version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": "<revision>",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    if not listed:
        # ListFunctions and ListVersionsByFunction leave the state and runtime version out.
        configuration["RuntimeVersionConfig"] = {"RuntimeVersionArn": "<runtime version>"}
        configuration.update(state)
    return configuration


ACTIVE = {"State": "Active", "LastUpdateStatus": "Successful"}
PENDING = {"State": "Pending", "StateReason": "The function is being created.", "StateReasonCode": "Creating"}
IN_PROGRESS = {
    "State": "Active",
    "LastUpdateStatus": "InProgress",
    "LastUpdateStatusReason": "The function is being created.",
    "LastUpdateStatusReasonCode": "Creating",
}


@pytest.fixture
def created(kumo, deployer):
    """Creates a function without waiting: `(name, package, CreateFunction's answer)`."""

    def create(role=ROLE, **params):
        client = kumo.lambda_client()
        name = unique_name("state")
        package = python_zip(HANDLER_SOURCE)
        answer = client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="lambda_function.handler",
            Code={"ZipFile": package},
            **params,
        )
        deployer.adopt(name)
        return name, package, answer

    return create


def test_create_is_pending_then_active_with_a_new_revision(kumo, created):
    client = kumo.lambda_client()
    name, package, answer = created()
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert masked(answer) == expected(name, package, **PENDING)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    got = client.get_function(FunctionName=name)
    assert masked(got["Configuration"]) == expected(name, package, **ACTIVE)
    assert got["Configuration"]["RevisionId"] != answer["RevisionId"], "a state transition changes the RevisionId"
    assert set(got) - {"ResponseMetadata"} == {"Configuration", "Code"}
    assert got["Code"]["RepositoryType"] == "S3"
    assert masked(client.get_function_configuration(FunctionName=name)) == expected(name, package, **ACTIVE)


def test_invoke_right_after_create_waits_for_the_function(kumo, created):
    client = kumo.lambda_client()
    name, _, answer = created()
    assert answer["State"] == "Pending"
    response = client.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"ok": True}


def test_update_is_in_progress_then_successful(kumo, created):
    client = kumo.lambda_client()
    name, package, _ = created()
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    before = client.get_function_configuration(FunctionName=name)["RevisionId"]

    updated = client.update_function_configuration(FunctionName=name, Description="second")
    assert masked(updated) == {**expected(name, package, **IN_PROGRESS), "Description": "second"}
    assert updated["RevisionId"] != before
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    settled = client.get_function_configuration(FunctionName=name)
    assert masked(settled) == {**expected(name, package, **ACTIVE), "Description": "second"}
    assert settled["RevisionId"] != updated["RevisionId"]

    # An update right after another is not refused: Kumo lets the first one finish.
    new_package = python_zip(HANDLER_SOURCE + "\n# v2\n")
    code = client.update_function_code(FunctionName=name, ZipFile=new_package)
    again = client.update_function_configuration(FunctionName=name, Timeout=5)
    assert code["LastUpdateStatus"] == again["LastUpdateStatus"] == "InProgress"
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    final = client.get_function_configuration(FunctionName=name)
    assert (final["CodeSha256"], final["Timeout"]) == (code_sha256(new_package), 5)


def test_publish_version_is_pending_then_active(kumo, created):
    client = kumo.lambda_client()
    name, package, _ = created()
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    published = client.publish_version(FunctionName=name)
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert masked(published) == expected(name, package, version="1", arn_qualifier="1", **PENDING)
    client.get_waiter("published_version_active").wait(FunctionName=name, Qualifier="1", WaiterConfig=FAST)
    version = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert masked(version) == expected(name, package, version="1", arn_qualifier="1", **ACTIVE)

    listed = client.list_versions_by_function(FunctionName=name)
    assert [masked(entry) for entry in listed["Versions"]] == [
        expected(name, package, listed=True),
        expected(name, package, version="1", arn_qualifier="1", listed=True),
    ]
    functions = client.list_functions()["Functions"]
    assert [masked(entry) for entry in functions if entry["FunctionName"] == name] == [
        expected(name, package, listed=True)
    ]


def test_create_with_publish_answers_version_1_with_the_unqualified_arn(kumo, created):
    client = kumo.lambda_client()
    name, package, answer = created(Publish=True)
    assert masked(answer) == expected(name, package, version="1", **PENDING)
    client.get_waiter("published_version_active").wait(FunctionName=name, Qualifier="1", WaiterConfig=FAST)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)


def test_waiters_through_the_aws_cli(kumo, created):
    client = kumo.lambda_client()
    name, _, _ = created()
    assert kumo.aws("lambda", "wait", "function-active-v2", "--function-name", name) is None
    assert client.get_function(FunctionName=name)["Configuration"]["State"] == "Active"
    kumo.aws("lambda", "update-function-configuration", "--function-name", name, "--memory-size", "256")
    assert kumo.aws("lambda", "wait", "function-updated-v2", "--function-name", name) is None
    assert client.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == "Successful"
    version = kumo.aws("lambda", "publish-version", "--function-name", name)["Version"]
    kumo.aws("lambda", "wait", "published-version-active", "--function-name", name, "--qualifier", version)
    assert client.get_function_configuration(FunctionName=name, Qualifier=version)["State"] == "Active"


def test_empty_environment_is_kept(kumo, created):
    client = kumo.lambda_client()
    name, package, answer = created(Environment={"Variables": {}})
    assert answer["Environment"] == {"Variables": {}}
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    assert masked(client.get_function_configuration(FunctionName=name)) == {
        **expected(name, package, **ACTIVE),
        "Environment": {"Variables": {}},
    }
    other, _, plain = created()
    assert "Environment" not in plain


def test_reading_through_an_alias_answers_the_alias_arn(kumo, created):
    client = kumo.lambda_client()
    name, package, _ = created(Publish=True)
    client.get_waiter("published_version_active").wait(FunctionName=name, Qualifier="1", WaiterConfig=FAST)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    through_alias = client.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert masked(through_alias) == expected(name, package, version="1", arn_qualifier="live", **ACTIVE)
    configuration = client.get_function_configuration(FunctionName=f"{name}:live")
    assert configuration["FunctionArn"].endswith(f":function:{name}:live")
    by_number = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert by_number["FunctionArn"].endswith(f":function:{name}:1")


def test_total_code_size_counts_every_published_version(kumo, created):
    client = kumo.lambda_client()
    before = client.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    name, package, _ = created()
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    client.publish_version(FunctionName=name)
    usage = client.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    assert usage - before == 2 * len(package)


@pytest.mark.parametrize("runtime", ["java21", "dotnet8", "ruby3.3"])
def test_runtimes_without_an_interpreter_fail_at_invoke(kumo, deployer, runtime):
    client = kumo.lambda_client()
    name = unique_name("rt")
    created = client.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler="example::handler", Code={"ZipFile": python_zip("x")}
    )
    deployer.adopt(name)
    assert created["Runtime"] == runtime
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    response = client.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: fork/exec /var/runtime/bootstrap: no such file or directory",
        error["errorMessage"],
    ), error


def test_log_format_switches(kumo, created):
    client = kumo.lambda_client()
    name, _, _ = created()
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    with pytest.raises(ClientError) as refused:
        client.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert error_of(refused) == (
        "InvalidParameterValueException",
        400,
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "Json" and try again.',
    )
    to_json = client.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON"})
    assert to_json["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{name}",
    }
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    debug = client.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert debug["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    back = client.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    assert back["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}


def test_event_source_mapping_shows_function_response_types(kumo, created):
    client = kumo.lambda_client()
    name, _, _ = created(role=kumo.delivery_role())
    sqs = kumo.client("sqs")
    queue = sqs.create_queue(QueueName=unique_name("esmq"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, Enabled=False)
    try:
        answer = {key: value for key, value in mapping.items() if key != "ResponseMetadata"}
        assert UUID.match(answer.pop("UUID"))
        assert answer.pop("LastModified") is not None
        assert answer == {
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 0,
            "EventSourceArn": queue_arn,
            "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
            "LastProcessingResult": "No records processed",
            "State": "Creating",
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": [],
            "EventSourceMappingArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{mapping['UUID']}",
        }
    finally:
        client.delete_event_source_mapping(UUID=mapping["UUID"])
        sqs.delete_queue(QueueUrl=queue)


def broken_package(source):
    """A package whose central directory reads well but whose file data fails its CRC check: it
    is accepted by UpdateFunctionCode and fails while Lambda prepares it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("lambda_function.py", source)
    package = buffer.getvalue()
    assert package.count(b"CORRUPT-ME") == 1
    return package.replace(b"CORRUPT-ME", b"CORRUPTED!")


def version_source(label):
    return f"import os\n\ndef handler(event, context):\n    return {{'code': {label!r}, 'env': os.environ.get('LABEL')}}\n"


def test_a_failed_update_keeps_running_the_previous_code(kumo, deployer):
    client = kumo.lambda_client()
    function = deployer.create(
        zip_bytes=python_zip(version_source("old")), Environment={"Variables": {"LABEL": "first"}}
    )
    assert function.invoke({}).payload == {"code": "old", "env": "first"}

    broken = broken_package(version_source("broken") + "# CORRUPT-ME\n")
    updated = client.update_function_code(FunctionName=function.name, ZipFile=broken)
    assert updated["LastUpdateStatus"] == "InProgress"
    failed = poll(
        lambda: (c := function.configuration())["LastUpdateStatus"] != "InProgress" and c,
        what="the broken update to settle",
    )
    assert (failed["State"], failed["LastUpdateStatus"], failed["LastUpdateStatusReasonCode"]) == (
        "Active",
        "Failed",
        "InvalidZipFileException",
    )
    assert failed["CodeSha256"] == code_sha256(broken), "the configuration shows the update that failed"
    # AWS keeps invoking what ran before the update.
    invoked = function.invoke({})
    assert (invoked.payload, invoked.function_error, invoked.executed_version) == (
        {"code": "old", "env": "first"},
        None,
        "$LATEST",
    )

    # A configuration change on top of the broken package fails too: the old one still runs.
    client.update_function_configuration(FunctionName=function.name, Environment={"Variables": {"LABEL": "second"}})
    again = poll(
        lambda: (c := function.configuration())["LastUpdateStatus"] != "InProgress" and c,
        what="the second update to settle",
    )
    assert again["LastUpdateStatus"] == "Failed"
    assert function.invoke({}).payload == {"code": "old", "env": "first"}

    # A good package then runs, with the configuration saved meanwhile.
    client.update_function_code(FunctionName=function.name, ZipFile=python_zip(version_source("new")))
    client.get_waiter("function_updated_v2").wait(FunctionName=function.name, WaiterConfig=FAST)
    assert function.configuration()["LastUpdateStatus"] == "Successful"
    assert function.invoke({}).payload == {"code": "new", "env": "second"}
