"""The control plane through boto3: create, read, list, update, delete, account settings,
the forms a FunctionName can take, and regions."""

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, ROLE, code_sha256, error_of, poll, python_zip, unique_name

ECHO_ENV = """
import os

def handler(event, context):
    return {"greeting": os.environ.get("GREETING"), "region": os.environ["AWS_REGION"], "version": "v1"}
"""

LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def test_create_function_answers_201_with_its_configuration(kumo, deployer):
    client = kumo.lambda_client()
    name = unique_name("create")
    package = python_zip(ECHO_ENV)
    created = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="lambda_function.handler",
        Code={"ZipFile": package},
        Description="made by the e2e tests",
        Environment={"Variables": {"GREETING": "hello"}},
        Tags={"team": "e2e"},
    )
    deployer.adopt(name)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert created["CodeSha256"] == code_sha256(package)
    assert created["CodeSize"] == len(package)
    assert re.fullmatch(r"[0-9a-f-]{36}", created["RevisionId"])
    assert LAST_MODIFIED.match(created["LastModified"])
    assert created["State"] == "Pending"
    assert created["Runtime"] == "python3.12"
    assert created["Handler"] == "lambda_function.handler"
    assert created["Role"] == ROLE
    assert created["Description"] == "made by the e2e tests"
    assert created["MemorySize"] == 128
    assert created["Timeout"] == 3
    assert created["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["Architectures"] == ["x86_64"]
    assert created["PackageType"] == "Zip"
    assert created["Version"] == "$LATEST"

    configuration = poll(
        lambda: (c := client.get_function(FunctionName=name)["Configuration"])["State"] == "Active" and c,
        what="the function to become Active",
    )
    assert configuration["LastUpdateStatus"] == "Successful"
    # Becoming Active is a state transition: AWS gives it a new RevisionId.
    assert configuration["RevisionId"] != created["RevisionId"]
    assert configuration["CodeSha256"] == created["CodeSha256"]
    assert client.get_function(FunctionName=name)["Tags"] == {"team": "e2e"}


def test_limits_are_inclusive(make_function):
    function = make_function(ECHO_ENV, MemorySize=10240, Timeout=900, EphemeralStorage={"Size": 10240})
    configuration = function.configuration()
    assert (configuration["MemorySize"], configuration["Timeout"]) == (10240, 900)
    assert configuration["EphemeralStorage"] == {"Size": 10240}
    smallest = make_function(ECHO_ENV, MemorySize=128, Timeout=1, name="x" * 64)
    assert smallest.configuration()["FunctionName"] == "x" * 64


def test_concurrent_creates_of_one_name_yield_one_function(kumo, deployer):
    client = kumo.lambda_client()
    name = unique_name("race")
    deployer.adopt(name)

    def create(_):
        try:
            client.create_function(
                FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
                Code={"ZipFile": python_zip(ECHO_ENV)},
            )  # fmt: skip
            return "created"
        except ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(create, range(8)))
    assert outcomes == ["ResourceConflictException"] * 7 + ["created"]


def test_concurrent_conditional_updates_let_one_win(make_function):
    function = make_function(ECHO_ENV)
    revision = function.configuration()["RevisionId"]

    def update(index):
        try:
            function.client.update_function_configuration(
                FunctionName=function.name, RevisionId=revision, Environment={"Variables": {"GREETING": str(index)}}
            )
            return str(index)
        except ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(update, range(8)))
    winners = [outcome for outcome in outcomes if outcome.isdigit()]
    assert len(winners) == 1, outcomes
    assert sorted(set(outcomes) - set(winners)) == ["PreconditionFailedException"]
    assert function.invoke().payload["greeting"] == winners[0]


def test_get_function_code_location_serves_the_uploaded_zip(make_function):
    function = make_function(ECHO_ENV)
    got = function.client.get_function(FunctionName=function.name)
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as response:
        assert response.read() == function.zip_bytes


def test_get_function_configuration_matches_get_function(make_function):
    function = make_function(ECHO_ENV, MemorySize=256, Timeout=7)
    configuration = function.configuration()
    assert configuration["MemorySize"] == 256
    assert configuration["Timeout"] == 7
    got = function.client.get_function(FunctionName=function.name)["Configuration"]
    strip = lambda c: {k: v for k, v in c.items() if k != "ResponseMetadata"}  # noqa: E731
    assert strip(configuration) == strip(got)


def test_function_name_may_be_a_name_partial_arn_or_full_arn(make_function):
    function = make_function(ECHO_ENV)
    forms = [
        function.name,
        f"{ACCOUNT}:function:{function.name}",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function.name}",
        f"{function.name}:$LATEST",
    ]
    for form in forms:
        got = function.client.get_function(FunctionName=form)["Configuration"]
        assert got["FunctionArn"] == function.arn, form
        assert function.client.get_function_configuration(FunctionName=form)["FunctionName"] == function.name
        result = function.client.invoke(FunctionName=form)
        assert result["StatusCode"] == 200, form
        assert "FunctionError" not in result, form


def test_list_functions_pages_with_max_items_and_marker(make_function):
    client = make_function(ECHO_ENV).client
    names = {make_function(ECHO_ENV, prefix="listed").name for _ in range(5)}
    seen, marker, pages = [], None, 0
    while True:
        page = client.list_functions(MaxItems=2, **({"Marker": marker} if marker else {}))
        assert len(page["Functions"]) <= 2
        seen.extend(f["FunctionName"] for f in page["Functions"])
        pages += 1
        marker = page.get("NextMarker")
        if not marker:
            break
    assert len(seen) == len(set(seen)), "a function appeared on two pages"
    assert names <= set(seen)
    assert pages >= 3


def test_list_functions_paginator(make_function):
    client = make_function(ECHO_ENV).client
    names = {make_function(ECHO_ENV, prefix="paged").name for _ in range(3)}
    pages = list(client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}))
    seen = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert all(len(page["Functions"]) <= 1 for page in pages)
    assert len(seen) == len(set(seen))
    assert names <= set(seen)
    listed = {f["FunctionName"]: f for page in pages for f in page["Functions"]}
    some = listed[sorted(names)[0]]
    assert some["Runtime"] == "python3.12" and some["Handler"] == "lambda_function.handler"


def test_update_function_code_changes_sha_and_behaviour(make_function):
    function = make_function(ECHO_ENV)
    assert function.invoke().payload["version"] == "v1"
    new_package = python_zip(ECHO_ENV.replace('"v1"', '"v2"'))
    updated = function.client.update_function_code(FunctionName=function.name, ZipFile=new_package)
    assert updated["CodeSha256"] == code_sha256(new_package) != function.created["CodeSha256"]
    assert updated["CodeSize"] == len(new_package)
    assert updated["RevisionId"] != function.created["RevisionId"]
    function.client.get_waiter("function_updated_v2").wait(
        FunctionName=function.name, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    assert function.invoke().payload["version"] == "v2"


def test_update_function_configuration_changes_environment_and_revision(make_function):
    function = make_function(ECHO_ENV, Environment={"Variables": {"GREETING": "hello"}})
    assert function.invoke().payload["greeting"] == "hello"
    before = function.configuration()["RevisionId"]
    updated = function.client.update_function_configuration(
        FunctionName=function.name, Environment={"Variables": {"GREETING": "bonjour"}}, MemorySize=256
    )
    assert updated["Environment"] == {"Variables": {"GREETING": "bonjour"}}
    assert updated["MemorySize"] == 256
    assert updated["RevisionId"] != before
    assert function.invoke().payload["greeting"] == "bonjour"
    assert function.configuration()["MemorySize"] == 256


def test_update_with_a_stale_revision_id_fails_with_412(make_function):
    function = make_function(ECHO_ENV, Environment={"Variables": {"GREETING": "hello"}})
    stale = function.created["RevisionId"]
    function.client.update_function_configuration(FunctionName=function.name, Timeout=5)
    # The update's own answer is InProgress; finishing it is a transition with a new RevisionId
    # (as on AWS), so the current one is read once the update is done.
    function.client.get_waiter("function_updated_v2").wait(FunctionName=function.name, WaiterConfig={"Delay": 1})
    current = function.client.get_function_configuration(FunctionName=function.name)["RevisionId"]
    with pytest.raises(ClientError) as excinfo:
        function.client.update_function_configuration(
            FunctionName=function.name, RevisionId=stale, Environment={"Variables": {"GREETING": "lost"}}
        )
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)
    with pytest.raises(ClientError) as excinfo:
        function.client.update_function_code(FunctionName=function.name, RevisionId=stale, ZipFile=python_zip("x = 1"))
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)
    assert function.invoke().payload["greeting"] == "hello"
    # The current revision id is accepted.
    function.client.update_function_configuration(
        FunctionName=function.name, RevisionId=current, Environment={"Variables": {"GREETING": "kept"}}
    )
    assert function.invoke().payload["greeting"] == "kept"


def test_delete_function_then_it_is_gone(make_function):
    function = make_function(ECHO_ENV)
    function.invoke()
    deleted = function.client.delete_function(FunctionName=function.name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (
        lambda: function.client.invoke(FunctionName=function.name),
        lambda: function.client.get_function(FunctionName=function.name),
        lambda: function.client.delete_function(FunctionName=function.name),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    names = [f["FunctionName"] for f in function.client.list_functions(MaxItems=1000)["Functions"]]
    assert function.name not in names


def test_account_settings_count_functions(kumo, make_function):
    client = kumo.lambda_client()
    before = client.get_account_settings()
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    function = make_function(ECHO_ENV)
    during = client.get_account_settings()["AccountUsage"]
    assert during["FunctionCount"] == before["AccountUsage"]["FunctionCount"] + 1
    assert during["TotalCodeSize"] == before["AccountUsage"]["TotalCodeSize"] + len(function.zip_bytes)
    client.delete_function(FunctionName=function.name)
    after = client.get_account_settings()["AccountUsage"]
    assert after["FunctionCount"] == before["AccountUsage"]["FunctionCount"]


def test_regions_are_isolated(kumo, make_function):
    east = make_function(ECHO_ENV, Environment={"Variables": {"GREETING": "east"}})
    west_client = kumo.lambda_client("eu-west-1")
    with pytest.raises(ClientError) as excinfo:
        west_client.get_function(FunctionName=east.name)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{east.name}"
    assert east.name not in [f["FunctionName"] for f in west_client.list_functions(MaxItems=1000)["Functions"]]

    west = make_function(ECHO_ENV, name=east.name, region="eu-west-1", Environment={"Variables": {"GREETING": "west"}})
    assert west.arn == f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{east.name}"
    assert east.arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{east.name}"
    assert west.invoke().payload == {"greeting": "west", "region": "eu-west-1", "version": "v1"}
    assert east.invoke().payload == {"greeting": "east", "region": "us-east-1", "version": "v1"}
    assert len(kumo.metering(east.name, region="eu-west-1")) == 1
    assert len(kumo.metering(east.name, region="us-east-1")) == 1


@pytest.mark.parametrize("operation", ["get_function", "invoke"])
def test_full_arn_of_another_region_is_not_served_from_this_region(make_function, operation):
    east = make_function(ECHO_ENV, Environment={"Variables": {"GREETING": "east"}})
    west = make_function(ECHO_ENV, name=east.name, region="eu-west-1", Environment={"Variables": {"GREETING": "west"}})
    with pytest.raises(ClientError) as excinfo:
        getattr(west.client, operation)(FunctionName=east.arn)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_arn_of_another_account_is_not_resolved_to_own_function(make_function):
    function = make_function(ECHO_ENV)
    with pytest.raises(ClientError) as excinfo:
        function.client.get_function(FunctionName=f"111111111111:function:{function.name}")
    code, status, _ = error_of(excinfo)
    assert code in ("ResourceNotFoundException", "AccessDeniedException")
    assert status in (403, 404)
