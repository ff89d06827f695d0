"""The Lambda, IAM and STS operations that other tests drive through boto3, driven once more
through the AWS CLI (v1), whose output is what people script against: versions, aliases,
permissions, tags, layers, IAM roles and policies, AssumeRole, and their main errors."""

import json

import pytest

from e2e_support import ACCOUNT, LAMBDA_TRUST_POLICY, AwsCliError, make_zip, unique_name

SOURCE = """
def handler(event, context):
    return {"version": context.function_version}
"""

BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def cli_error(kumo, *args):
    """The AWS error code the CLI reports for a failing command."""
    with pytest.raises(AwsCliError) as excinfo:
        kumo.aws(*args)
    stderr = excinfo.value.stderr
    return stderr[stderr.index("(") + 1 : stderr.index(")")]


def test_versions_aliases_permissions_and_tags_with_the_aws_cli(kumo, make_function):
    function = make_function(SOURCE)
    name = function.name
    published = kumo.aws("lambda", "publish-version", "--function-name", name, "--description", "first")
    assert (published["Version"], published["Description"]) == ("1", "first")
    versions = kumo.aws("lambda", "list-versions-by-function", "--function-name", name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert kumo.aws("lambda", "get-function-configuration", "--function-name", name, "--qualifier", "1")["Version"] == "1"

    kumo.aws("lambda", "create-alias", "--function-name", name, "--name", "live", "--function-version", "1")
    # An unchanged function publishes as its last version, as on AWS: change it first.
    assert kumo.aws("lambda", "publish-version", "--function-name", name)["Version"] == "1"
    kumo.aws("lambda", "update-function-configuration", "--function-name", name, "--description", "second")
    assert kumo.aws("lambda", "publish-version", "--function-name", name)["Version"] == "2"
    updated = kumo.aws(
        "lambda", "update-alias", "--function-name", name, "--name", "live", "--function-version", "2",
        "--routing-config", json.dumps({"AdditionalVersionWeights": {"1": 0.25}}),
    )  # fmt: skip
    assert (updated["FunctionVersion"], updated["RoutingConfig"]["AdditionalVersionWeights"]) == ("2", {"1": 0.25})
    assert kumo.aws("lambda", "get-alias", "--function-name", name, "--name", "live")["AliasArn"] == f"{function.arn}:live"
    kumo.aws("lambda", "delete-alias", "--function-name", name, "--name", "live")
    assert cli_error(kumo, "lambda", "get-alias", "--function-name", name, "--name", "live") == "ResourceNotFoundException"
    kumo.aws("lambda", "delete-function", "--function-name", name, "--qualifier", "1")
    versions = kumo.aws("lambda", "list-versions-by-function", "--function-name", name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]

    added = kumo.aws(
        "lambda", "add-permission", "--function-name", name, "--statement-id", "s3", "--action",
        "lambda:InvokeFunction", "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::uploads",
        "--source-account", ACCOUNT,
    )  # fmt: skip
    statement = json.loads(added["Statement"])
    assert statement["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": ACCOUNT},
        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"},
    }
    duplicate = ("lambda", "add-permission", "--function-name", name, "--statement-id", "s3", "--action",
                 "lambda:InvokeFunction", "--principal", "s3.amazonaws.com")  # fmt: skip
    assert cli_error(kumo, *duplicate) == "ResourceConflictException"
    policy = kumo.aws("lambda", "get-policy", "--function-name", name)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["s3"]
    kumo.aws("lambda", "remove-permission", "--function-name", name, "--statement-id", "s3")
    assert cli_error(kumo, "lambda", "get-policy", "--function-name", name) == "ResourceNotFoundException"
    missing = ("lambda", "remove-permission", "--function-name", name, "--statement-id", "s3")
    assert cli_error(kumo, *missing) == "ResourceNotFoundException"

    kumo.aws("lambda", "tag-resource", "--resource", function.arn, "--tags", "team=blue,stage=dev")
    kumo.aws("lambda", "untag-resource", "--resource", function.arn, "--tag-keys", "stage")
    assert kumo.aws("lambda", "list-tags", "--resource", function.arn)["Tags"] == {"team": "blue"}
    qualified = ("lambda", "tag-resource", "--resource", f"{function.arn}:2", "--tags", "a=b")
    assert cli_error(kumo, *qualified) == "InvalidParameterValueException"

    signing = kumo.aws("lambda", "get-function-code-signing-config", "--function-name", name)
    # AWS answers `{}` for a function without a code signing configuration: the CLI prints nothing.
    assert signing is None


def test_layers_with_the_aws_cli_listed_and_unshared(kumo, tmp_path):
    name = unique_name("cli-layer")
    package = tmp_path / "layer.zip"
    package.write_bytes(make_zip({"python/helper.py": "X = 1\n"}))
    kumo.aws("lambda", "publish-layer-version", "--layer-name", name, "--zip-file", f"fileb://{package}",
             "--compatible-runtimes", "python3.12")  # fmt: skip
    try:
        layers = kumo.aws("lambda", "list-layers", "--compatible-runtime", "python3.12")["Layers"]
        assert name in [layer["LayerName"] for layer in layers]
        version = kumo.aws("lambda", "get-layer-version", "--layer-name", name, "--version-number", "1")
        assert version["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:1"
        kumo.aws("lambda", "add-layer-version-permission", "--layer-name", name, "--version-number", "1",
                 "--statement-id", "all", "--action", "lambda:GetLayerVersion", "--principal", "*")  # fmt: skip
        kumo.aws("lambda", "remove-layer-version-permission", "--layer-name", name, "--version-number", "1",
                 "--statement-id", "all")  # fmt: skip
        policy = ("lambda", "get-layer-version-policy", "--layer-name", name, "--version-number", "1")
        assert cli_error(kumo, *policy) == "ResourceNotFoundException"
        absent = ("lambda", "get-layer-version", "--layer-name", name, "--version-number", "2")
        assert cli_error(kumo, *absent) == "ResourceNotFoundException"
    finally:
        kumo.aws("lambda", "delete-layer-version", "--layer-name", name, "--version-number", "1")


def test_iam_roles_policies_and_assume_role_with_the_aws_cli(kumo):
    role = unique_name("cli-role")
    kumo.aws("iam", "create-role", "--role-name", role, "--assume-role-policy-document", LAMBDA_TRUST_POLICY)
    assert role in [r["RoleName"] for r in kumo.aws("iam", "list-roles")["Roles"]]
    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
    policy_arn = kumo.aws("iam", "create-policy", "--policy-name", role, "--policy-document", document)["Policy"]["Arn"]
    assert policy_arn == f"arn:aws:iam::{ACCOUNT}:policy/{role}"
    assert kumo.aws("iam", "get-policy", "--policy-arn", policy_arn)["Policy"]["PolicyName"] == role
    kumo.aws("iam", "attach-role-policy", "--role-name", role, "--policy-arn", policy_arn)
    kumo.aws("iam", "attach-role-policy", "--role-name", role, "--policy-arn", BASIC_EXECUTION)
    kumo.aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "inline", "--policy-document", document)
    assert kumo.aws("iam", "list-role-policies", "--role-name", role)["PolicyNames"] == ["inline"]
    assert cli_error(kumo, "iam", "delete-role", "--role-name", role) == "DeleteConflict"

    trusting = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})  # fmt: skip
    kumo.aws("iam", "update-assume-role-policy", "--role-name", role, "--policy-document", trusting)
    assumed = kumo.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/{role}",
                       "--role-session-name", "cli")  # fmt: skip
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/cli"
    assert assumed["Credentials"]["AccessKeyId"].startswith("ASIA")

    kumo.aws("iam", "delete-role-policy", "--role-name", role, "--policy-name", "inline")
    kumo.aws("iam", "detach-role-policy", "--role-name", role, "--policy-arn", policy_arn)
    kumo.aws("iam", "detach-role-policy", "--role-name", role, "--policy-arn", BASIC_EXECUTION)
    kumo.aws("iam", "delete-policy", "--policy-arn", policy_arn)
    kumo.aws("iam", "delete-role", "--role-name", role)
    assert cli_error(kumo, "iam", "get-role", "--role-name", role) == "NoSuchEntity"
    assert cli_error(kumo, "iam", "get-policy", "--policy-arn", policy_arn) == "NoSuchEntity"
