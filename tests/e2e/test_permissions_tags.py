"""Resource-based policies and tags through boto3 and the AWS CLI; both survive a restart."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import ROLE, error_of, python_zip, unique_name

HELLO = "def handler(event, context):\n    return 'hello'\n"


def test_add_get_remove_permission(make_function):
    function = make_function(HELLO)
    client = function.client
    with pytest.raises(ClientError) as excinfo:
        client.get_policy(FunctionName=function.name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)

    added = client.add_permission(
        FunctionName=function.name,
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::my-bucket",
        SourceAccount="000000000000",
    )
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3-invoke",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": function.arn,
        "Condition": {
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
            "StringEquals": {"AWS:SourceAccount": "000000000000"},
        },
    }
    client.add_permission(
        FunctionName=function.name, StatementId="account", Action="lambda:*", Principal="111122223333"
    )
    policy = client.get_policy(FunctionName=function.name)
    document = json.loads(policy["Policy"])
    assert document["Version"] == "2012-10-17"
    assert [s["Sid"] for s in document["Statement"]] == ["s3-invoke", "account"]
    assert document["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}

    with pytest.raises(ClientError) as excinfo:
        client.add_permission(
            FunctionName=function.name, StatementId="account", Action="lambda:InvokeFunction", Principal="*"
        )
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as excinfo:
        client.remove_permission(FunctionName=function.name, StatementId="s3-invoke", RevisionId="stale")
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)
    client.remove_permission(FunctionName=function.name, StatementId="s3-invoke", RevisionId=policy["RevisionId"])
    remaining = json.loads(client.get_policy(FunctionName=function.name)["Policy"])
    assert [s["Sid"] for s in remaining["Statement"]] == ["account"]
    with pytest.raises(ClientError) as excinfo:
        client.remove_permission(FunctionName=function.name, StatementId="s3-invoke")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_policy_on_a_version_is_separate(make_function):
    function = make_function(HELLO)
    version = function.client.publish_version(FunctionName=function.name)["Version"]
    function.client.add_permission(
        FunctionName=function.name, Qualifier=version, StatementId="v", Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
    )
    versioned = json.loads(function.client.get_policy(FunctionName=function.name, Qualifier=version)["Policy"])
    assert versioned["Statement"][0]["Resource"] == f"{function.arn}:{version}"
    with pytest.raises(ClientError):
        function.client.get_policy(FunctionName=function.name)


def test_tags_on_create_and_through_the_tag_api(kumo, make_function):
    function = make_function(HELLO, Tags={"team": "kumo", "env": "dev"})
    client = function.client
    assert client.list_tags(Resource=function.arn)["Tags"] == {"team": "kumo", "env": "dev"}
    client.tag_resource(Resource=function.arn, Tags={"env": "prod", "cost": "42"})
    assert client.list_tags(Resource=function.arn)["Tags"] == {"team": "kumo", "env": "prod", "cost": "42"}
    client.untag_resource(Resource=function.arn, TagKeys=["team", "cost"])
    assert client.list_tags(Resource=function.arn)["Tags"] == {"env": "prod"}
    assert client.get_function(FunctionName=function.name)["Tags"] == {"env": "prod"}
    cli = kumo.aws("lambda", "list-tags", "--resource", function.arn)
    assert cli["Tags"] == {"env": "prod"}
    with pytest.raises(ClientError) as excinfo:
        client.list_tags(Resource=function.arn + "-missing")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_versions_aliases_policies_tags_survive_restart(spare_kumo):
    client = spare_kumo.lambda_client()
    name = unique_name("durable")
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(HELLO)}, Tags={"keep": "me"},
    )
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    client.add_permission(FunctionName=name, StatementId="x", Action="lambda:InvokeFunction", Principal="*")
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    spare_kumo.stop()
    spare_kumo.start()
    spare_kumo._clients.clear()
    client = spare_kumo.lambda_client()
    arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert [v["Version"] for v in client.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", version]
    assert client.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == version
    assert json.loads(client.get_policy(FunctionName=name)["Policy"])["Statement"][0]["Sid"] == "x"
    assert client.list_tags(Resource=arn)["Tags"] == {"keep": "me"}
    assert client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert json.load(client.invoke(FunctionName=name, Qualifier="live")["Payload"]) == "hello"
