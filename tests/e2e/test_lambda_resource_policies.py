"""The generic resource-policy operations (Put/Get/DeleteResourcePolicy, API version 2026-07-09):
a whole policy for a function, version or alias by ARN, the same policy AddPermission and GetPolicy
work on, which grants what it says (another account's calls); through boto3 and the AWS CLI."""

import json
import re

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, error_of, unique_name
from test_accounts import OTHER, OTHER_KEYS, create, two_accounts  # noqa: F401 (fixture)

HELLO = "def handler(event, context):\n    return 'hello'\n"
REVISION = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STALE = (
    "PreconditionFailedException", 412,
    "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest "
    "Revision Id",
)


def statement(sid, resource, principal=None):
    return {
        "Sid": sid, "Effect": "Allow", "Principal": principal or {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": resource,
    }


def document(*statements):
    return {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)}


def body(answer):
    """The answer without metadata, its policy parsed and its revision checked and masked."""
    answer = {key: value for key, value in answer.items() if key != "ResponseMetadata"}
    assert REVISION.match(answer["RevisionId"]), answer
    return {**answer, "Policy": json.loads(answer["Policy"]), "RevisionId": "<revision>"}


def test_put_get_delete_resource_policy_as_aws_answers(make_function):
    function = make_function(HELLO)
    client = function.client
    with pytest.raises(ClientError) as excinfo:
        client.get_resource_policy(ResourceArn=function.arn)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    policy = document(statement("s3", function.arn))
    put = client.put_resource_policy(ResourceArn=function.arn, Policy=json.dumps(policy))
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert body(put) == {"Policy": policy, "RevisionId": "<revision>"}
    got = client.get_resource_policy(ResourceArn=function.arn)
    assert body(got) == body(put) and got["RevisionId"] == put["RevisionId"]
    # The same policy as GetPolicy's, which AddPermission extends.
    assert client.get_policy(FunctionName=function.name)["RevisionId"] == put["RevisionId"]
    client.add_permission(FunctionName=function.name, StatementId="all", Action="lambda:GetFunction", Principal="*")
    after = client.get_resource_policy(ResourceArn=function.arn)
    assert [s["Sid"] for s in json.loads(after["Policy"])["Statement"]] == ["s3", "all"]
    with pytest.raises(ClientError) as excinfo:
        client.put_resource_policy(ResourceArn=function.arn, Policy=json.dumps(policy), RevisionId=put["RevisionId"])
    assert error_of(excinfo) == STALE
    replaced = client.put_resource_policy(
        ResourceArn=function.arn, Policy=json.dumps(policy), RevisionId=after["RevisionId"]
    )
    assert body(replaced) == {"Policy": policy, "RevisionId": "<revision>"}
    with pytest.raises(ClientError) as excinfo:
        client.delete_resource_policy(ResourceArn=function.arn, RevisionId=after["RevisionId"])
    assert error_of(excinfo) == STALE
    deleted = client.delete_resource_policy(ResourceArn=function.arn, RevisionId=replaced["RevisionId"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        client.get_policy(FunctionName=function.name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        client.delete_resource_policy(ResourceArn=function.arn)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")


def test_resource_policies_per_alias_and_errors(make_function):
    function = make_function(HELLO)
    client = function.client
    client.create_alias(FunctionName=function.name, Name="live", FunctionVersion="$LATEST")
    alias_arn = f"{function.arn}:live"
    # A statement without Resource applies to the resource the policy is put on.
    given = {"Version": "2012-10-17", "Statement": [{
        "Sid": "sns", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "lambda:InvokeFunction",
    }]}
    put = client.put_resource_policy(ResourceArn=alias_arn, Policy=json.dumps(given))
    expected = document({**given["Statement"][0], "Resource": alias_arn})
    assert body(put)["Policy"] == expected
    assert json.loads(client.get_policy(FunctionName=function.name, Qualifier="live")["Policy"]) == expected
    with pytest.raises(ClientError) as excinfo:
        client.get_resource_policy(ResourceArn=function.arn)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    for bad in ("not json", json.dumps({"Version": "2012-10-17"}),
                json.dumps({"Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "lambda:*"}]})):
        with pytest.raises(ClientError) as excinfo:
            client.put_resource_policy(ResourceArn=function.arn, Policy=bad)
        assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400), bad
    missing = function.arn.replace(function.name, "doesnotexist")
    with pytest.raises(ClientError) as excinfo:
        client.put_resource_policy(ResourceArn=missing, Policy=json.dumps(given))
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, f"Function not found: {missing}")
    with pytest.raises(ClientError) as excinfo:
        client.get_resource_policy(ResourceArn="arn:aws:s3:::bucket")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.put_resource_policy(ResourceArn=function.arn, Policy=json.dumps(document(statement("x" * 21000, "*"))))
    # Over the model's 20480 characters: the model's check answers before the policy is read.
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value '") and message.endswith(
        "' at 'policy' failed to satisfy constraint: Member must have length less than or equal to 20480"
    ), message


def test_a_put_policy_grants_another_account(two_accounts):  # noqa: F811 (fixture)
    server = two_accounts
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    name = unique_name("granted")
    home_arn = create(home, name, "home", ACCOUNT)["FunctionArn"]
    with pytest.raises(ClientError) as excinfo:
        other.get_function_configuration(FunctionName=home_arn)
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 403)
    grant = statement("other-reads", home_arn, {"AWS": f"arn:aws:iam::{OTHER}:root"})
    grant["Action"] = "lambda:GetFunctionConfiguration"
    home.put_resource_policy(ResourceArn=home_arn, Policy=json.dumps(document(grant)))
    assert other.get_function_configuration(FunctionName=home_arn)["FunctionArn"] == home_arn
    home.delete_resource_policy(ResourceArn=home_arn)
    with pytest.raises(ClientError) as excinfo:
        other.get_function_configuration(FunctionName=home_arn)
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 403)


def test_resource_policy_through_the_aws_cli(kumo, make_function):
    # The AWS CLI v1 on PyPI has no put-resource-policy command yet: the policy is put with boto3
    # and read and deleted through the CLI's commands for the same policy.
    function = make_function(HELLO)
    policy = document(statement("cli", function.arn))
    put = function.client.put_resource_policy(ResourceArn=function.arn, Policy=json.dumps(policy))
    assert body(kumo.aws("lambda", "get-policy", "--function-name", function.arn)) == body(put)
    assert kumo.aws("lambda", "remove-permission", "--function-name", function.name, "--statement-id", "cli") is None
    with pytest.raises(ClientError) as excinfo:
        function.client.get_resource_policy(ResourceArn=function.arn)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
