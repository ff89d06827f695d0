"""Aliases and weighted routing through boto3 and the AWS CLI."""

from collections import Counter

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, python_zip

TELL = """
def handler(event, context):
    return {"tag": TAG, "arn": context.invoked_function_arn, "version": context.function_version}
"""


def publish(function, tag):
    function.client.update_function_code(FunctionName=function.name, ZipFile=python_zip(f"TAG = {tag!r}\n" + TELL))
    return function.client.publish_version(FunctionName=function.name)["Version"]


def test_alias_lifecycle_and_invocation(make_function):
    function = make_function("TAG = 'v0'\n" + TELL)
    client = function.client
    v1 = publish(function, "one")
    v2 = publish(function, "two")
    created = client.create_alias(FunctionName=function.name, Name="live", FunctionVersion=v1, Description="blue")
    assert created["AliasArn"] == f"{function.arn}:live"
    assert (created["FunctionVersion"], created["Description"]) == (v1, "blue")
    assert created["RevisionId"]

    result = function.invoke({}, Qualifier="live")
    assert result.payload == {"tag": "one", "arn": f"{function.arn}:live", "version": v1}
    assert result.executed_version == v1
    assert client.invoke(FunctionName=f"{function.arn}:live")["ExecutedVersion"] == v1
    assert client.get_function(FunctionName=function.name, Qualifier="live")["Configuration"]["Version"] == v1

    updated = client.update_alias(FunctionName=function.name, Name="live", FunctionVersion=v2)
    assert updated["FunctionVersion"] == v2 and updated["RevisionId"] != created["RevisionId"]
    assert function.invoke({}, Qualifier="live").payload["tag"] == "two"
    with pytest.raises(ClientError) as excinfo:
        client.update_alias(FunctionName=function.name, Name="live", FunctionVersion=v1, RevisionId="stale")
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)

    client.create_alias(FunctionName=function.name, Name="old", FunctionVersion=v1)
    names = [a["Name"] for a in client.list_aliases(FunctionName=function.name)["Aliases"]]
    assert names == ["live", "old"]
    only_v1 = client.list_aliases(FunctionName=function.name, FunctionVersion=v1)["Aliases"]
    assert [a["Name"] for a in only_v1] == ["old"]

    with pytest.raises(ClientError) as excinfo:
        client.delete_function(FunctionName=function.name, Qualifier=v1)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)
    client.delete_alias(FunctionName=function.name, Name="old")
    client.delete_function(FunctionName=function.name, Qualifier=v1)
    with pytest.raises(ClientError) as excinfo:
        client.get_alias(FunctionName=function.name, Name="old")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_alias_errors(make_function):
    function = make_function("TAG = 'x'\n" + TELL)
    client = function.client
    v1 = client.publish_version(FunctionName=function.name)["Version"]
    client.create_alias(FunctionName=function.name, Name="prod", FunctionVersion=v1)
    with pytest.raises(ClientError) as excinfo:
        client.create_alias(FunctionName=function.name, Name="prod", FunctionVersion=v1)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as excinfo:
        client.create_alias(FunctionName=function.name, Name="ghost", FunctionVersion="42")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        client.create_alias(FunctionName=function.name, Name="123", FunctionVersion=v1)
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        function.invoke({}, Qualifier="missing")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_weighted_routing_splits_traffic(make_function):
    function = make_function("TAG = 'v0'\n" + TELL)
    v1 = publish(function, "one")
    v2 = publish(function, "two")
    function.client.create_alias(
        FunctionName=function.name,
        Name="canary",
        FunctionVersion=v1,
        RoutingConfig={"AdditionalVersionWeights": {v2: 0.3}},
    )
    alias = function.client.get_alias(FunctionName=function.name, Name="canary")
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {v2: 0.3}}
    counts = Counter(function.invoke({}, Qualifier="canary").executed_version for _ in range(200))
    assert set(counts) == {v1, v2}
    # 200 draws at p=0.3: the share of v2 lies in [0.18, 0.42] with overwhelming probability.
    assert 36 <= counts[v2] <= 84, counts
    with pytest.raises(ClientError) as excinfo:
        function.client.update_alias(
            FunctionName=function.name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}}
        )
    assert error_of(excinfo)[1] == 400


def test_aliases_through_the_aws_cli(kumo, make_function):
    function = make_function("TAG = 'cli'\n" + TELL)
    version = function.client.publish_version(FunctionName=function.name)["Version"]
    created = kumo.aws("lambda", "create-alias", "--function-name", function.name, "--name", "stable",
                       "--function-version", version)
    assert created["AliasArn"].endswith(":stable")
    listed = kumo.aws("lambda", "list-aliases", "--function-name", function.name)
    assert [a["Name"] for a in listed["Aliases"]] == ["stable"]
