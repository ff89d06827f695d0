"""Bad requests get AWS's error codes and HTTP statuses, and leave Kumo's state intact: after
every test here an existing function still answers."""

import io
import os
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, ROLE, Deployer, error_of, invoke, python_zip, unique_name

OK_SOURCE = """
def handler(event, context):
    return {"ok": True, "size": len(event) if isinstance(event, str) else None}
"""


@pytest.fixture(scope="module")
def canary(kumo):
    deployer = Deployer(kumo)
    yield deployer.create(OK_SOURCE, prefix="canary")
    deployer.cleanup()


@pytest.fixture(autouse=True)
def canary_still_works(canary):
    yield
    result = canary.invoke({})
    assert (result.status, result.function_error, result.payload) == (200, None, {"ok": True, "size": None})
    assert canary.configuration()["CodeSha256"] == canary.created["CodeSha256"]


def create(client, **overrides):
    params = dict(
        FunctionName=unique_name("bad"),
        Runtime="python3.12",
        Role=ROLE,
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(OK_SOURCE)},
    )
    params.update(overrides)
    return client.create_function(**params)


def assert_absent(client, name):
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_creating_an_existing_function_conflicts(kumo, canary):
    with pytest.raises(ClientError) as excinfo:
        create(kumo.lambda_client(), FunctionName=canary.name, Code={"ZipFile": python_zip("x = 1")})
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceConflictException", 409)
    assert canary.name in message


@pytest.mark.parametrize(
    "overrides, expected_code",
    [
        ({"FunctionName": "bad name!"}, "ValidationException"),
        ({"MemorySize": 20000}, "ValidationException"),
        ({"Timeout": 901}, "ValidationException"),
        ({"Runtime": "cobol"}, "InvalidParameterValueException"),
        ({"Role": "not-a-role"}, "ValidationException"),
        ({"Handler": "has space.handler"}, "ValidationException"),
        ({"Environment": {"Variables": {"X": "single-letter keys are invalid"}}}, "ValidationException"),
        ({"Environment": {"Variables": {"BAD-KEY": "x"}}}, "ValidationException"),
        ({"Runtime": "python2.7"}, "InvalidParameterValueException"),
        ({"Environment": {"Variables": {"AWS_REGION": "mars-north-1"}}}, "InvalidParameterValueException"),
        ({"Environment": {"Variables": {"BIG": "x" * 4100}}}, "InvalidParameterValueException"),
        ({"Code": {"ZipFile": b"this is not a zip file"}}, "InvalidParameterValueException"),
    ],
    ids=[
        "name", "memory", "timeout", "runtime", "role", "handler", "env-key-length", "env-key-chars",
        "deprecated-runtime", "reserved-env", "env-4kb", "not-zip",
    ],  # fmt: skip
)
def test_invalid_create_is_rejected_and_creates_nothing(kumo, overrides, expected_code):
    client = kumo.lambda_client()
    name = overrides.get("FunctionName", unique_name("bad"))
    with pytest.raises(ClientError) as excinfo:
        create(client, **{**overrides, "FunctionName": name})
    assert error_of(excinfo)[:2] == (expected_code, 400)
    if name != "bad name!":
        assert_absent(client, name)


def test_reserved_environment_variable_is_named_in_the_error(kumo):
    with pytest.raises(ClientError) as excinfo:
        create(kumo.lambda_client(), Environment={"Variables": {"AWS_REGION": "x", "MINE": "y"}})
    assert "AWS_REGION" in error_of(excinfo)[2]


@pytest.mark.parametrize("operation", ["get_function", "invoke", "delete_function"])
def test_invalid_function_name_in_the_path_is_a_validation_error(kumo, operation):
    with pytest.raises(ClientError) as excinfo:
        getattr(kumo.lambda_client(), operation)(FunctionName="bad name!")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_zip_entries_escaping_the_package_are_rejected(kumo, tmp_path_factory, depth):
    marker = f"evil_{uuid.uuid4().hex}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", OK_SOURCE)
        archive.writestr("../" * depth + f"{marker}.py", "print('escaped')\n")
        archive.writestr(f"sub/{'../' * (depth + 1)}{marker}_2.py", "print('escaped')\n")
    client = kumo.lambda_client()
    name = unique_name("evil")
    with pytest.raises(ClientError) as excinfo:
        create(client, FunctionName=name, Code={"ZipFile": buffer.getvalue()})
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    assert_absent(client, name)
    base = tmp_path_factory.getbasetemp()  # holds the data dir; no entry climbs above its parent
    written = list(base.rglob(f"{marker}*")) + list(base.parent.glob(f"{marker}*"))
    assert written == []


def test_invalid_update_leaves_the_configuration_unchanged(canary):
    before = canary.configuration()
    with pytest.raises(ClientError) as excinfo:
        canary.client.update_function_configuration(FunctionName=canary.name, MemorySize=20000)
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        canary.client.update_function_code(FunctionName=canary.name, ZipFile=b"not a zip")
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    after = canary.configuration()
    assert after["RevisionId"] == before["RevisionId"]
    assert after["MemorySize"] == before["MemorySize"]


def test_payload_that_is_not_json_is_rejected(canary):
    with pytest.raises(ClientError) as excinfo:
        canary.client.invoke(FunctionName=canary.name, Payload=b"{not json")
    assert error_of(excinfo)[:2] == ("InvalidRequestContentException", 400)


def json_string_of_size(size):
    """A JSON document (a string) of exactly `size` bytes."""
    return b'"' + b"a" * (size - 2) + b'"'


def test_sync_payload_limit_is_6_mb(canary):
    with pytest.raises(ClientError) as excinfo:
        canary.client.invoke(FunctionName=canary.name, Payload=json_string_of_size(6_291_457))
    code, status, message = error_of(excinfo)
    assert (code, status) == ("RequestTooLargeException", 413)
    assert "6291456" in message
    at_limit = invoke(canary.client, canary.name, json_string_of_size(6_291_456))
    assert at_limit.function_error is None
    assert at_limit.payload == {"ok": True, "size": 6_291_454}


def test_event_payload_limit_is_1_mb(canary):
    with pytest.raises(ClientError) as excinfo:
        canary.client.invoke(FunctionName=canary.name, InvocationType="Event", Payload=json_string_of_size(1_048_577))
    assert error_of(excinfo)[:2] == ("RequestTooLargeException", 413)
    accepted = canary.client.invoke(
        FunctionName=canary.name, InvocationType="Event", Payload=json_string_of_size(1_048_576)
    )
    assert accepted["StatusCode"] == 202


@pytest.mark.parametrize("operation", ["invoke", "get_function", "get_function_configuration", "delete_function"])
def test_unknown_function_is_404_with_its_arn(kumo, operation):
    name = unique_name("missing")
    with pytest.raises(ClientError) as excinfo:
        getattr(kumo.lambda_client(), operation)(FunctionName=name)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404)
    # Invoke names the version it would have run, as AWS does.
    suffix = ":$LATEST" if operation == "invoke" else ""
    assert message == f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}{suffix}"
    assert excinfo.value.response["ResponseMetadata"]["RequestId"]


def test_unknown_function_update_is_404(kumo):
    client = kumo.lambda_client()
    for call in (
        lambda name: client.update_function_code(FunctionName=name, ZipFile=python_zip(OK_SOURCE)),
        lambda name: client.update_function_configuration(FunctionName=name, Timeout=5),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(unique_name("missing"))
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_unknown_version_is_404_with_the_qualified_arn(canary):
    with pytest.raises(ClientError) as excinfo:
        canary.client.invoke(FunctionName=canary.name, Qualifier="7")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: {canary.arn}:7"


@pytest.mark.parametrize("header", [{"InvocationType": "Sometimes"}, {"LogType": "Everything"}])
def test_invalid_invoke_headers_are_validation_errors(canary, header):
    with pytest.raises(ClientError) as excinfo:
        canary.client.invoke(FunctionName=canary.name, **header)
    assert error_of(excinfo)[:2] == ("ValidationException", 400)


def test_client_context_that_is_not_base64_json_is_rejected(canary):
    with pytest.raises(ClientError) as excinfo:
        canary.client.invoke(FunctionName=canary.name, ClientContext="%%% not base64 %%%")
    assert error_of(excinfo)[1] == 400


def test_packages_over_the_size_limits_are_rejected(kumo):
    client = kumo.lambda_client()
    # 260 MB of zeros compresses to a small zip but unpacks past Lambda's 250 MB limit.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lambda_function.py", OK_SOURCE)
        with archive.open("zeros.bin", "w", force_zip64=True) as entry:
            chunk = bytes(1024 * 1024)
            for _ in range(260):
                entry.write(chunk)
    name = unique_name("huge")
    with pytest.raises(ClientError) as excinfo:
        create(client, FunctionName=name, Code={"ZipFile": buffer.getvalue()})
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == "Unzipped size must be smaller than 262144000 bytes"
    assert_absent(client, name)

    # Over 50 MB zipped: random bytes do not compress.
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("lambda_function.py", OK_SOURCE)
        archive.writestr("noise.bin", os.urandom(51 * 1024 * 1024))
    name = unique_name("big")
    with pytest.raises(ClientError) as excinfo:
        create(client, FunctionName=name, Code={"ZipFile": big.getvalue()})
    code, status, _ = error_of(excinfo)
    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert_absent(client, name)
