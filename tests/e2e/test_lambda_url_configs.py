"""Function URL configurations, recursion configuration and runtime management configuration
through boto3 and the AWS CLI, compared whole with the answers AWS records (generated URL ids and
timestamps masked); they survive a restart and go with their function or alias."""

import re

import pytest
from botocore.exceptions import ClientError

from e2e_support import ROLE, error_of, python_zip, unique_name

HELLO = "def handler(event, context):\n    return 'hello'\n"
URL = re.compile(r"^http://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:\d+/$")
URL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
PATTERN = "((?!^\\d+$)^[0-9a-zA-Z-_]+$)"


def masked(answer):
    """The answer without its metadata, URL and times checked for form and masked."""
    answer = {key: value for key, value in answer.items() if key != "ResponseMetadata"}
    if "FunctionUrl" in answer:
        assert URL.match(answer["FunctionUrl"]), answer["FunctionUrl"]
        answer["FunctionUrl"] = "<url>"
    for key in ("CreationTime", "LastModifiedTime"):
        if key in answer:
            assert URL_TIME.match(answer[key]), answer[key]
            answer[key] = "<time>"
    return answer


def status(answer):
    return answer["ResponseMetadata"]["HTTPStatusCode"]


def test_url_config_lifecycle_as_aws_answers(make_function):
    function = make_function(HELLO)
    client = function.client
    created = client.create_function_url_config(FunctionName=function.name, AuthType="NONE")
    assert status(created) == 201
    assert masked(created) == {
        "AuthType": "NONE", "CreationTime": "<time>", "FunctionArn": function.arn, "FunctionUrl": "<url>",
    }
    with pytest.raises(ClientError) as excinfo:
        client.create_function_url_config(FunctionName=function.name, AuthType="NONE")
    assert error_of(excinfo) == (
        "ResourceConflictException", 409,
        f"Failed to create function url config for [functionArn = {function.arn}]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function",
    )
    got = client.get_function_url_config(FunctionName=function.name)
    assert masked(got) == {
        "AuthType": "NONE", "CreationTime": "<time>", "FunctionArn": function.arn, "FunctionUrl": "<url>",
        "InvokeMode": "BUFFERED", "LastModifiedTime": "<time>",
    }
    assert got["FunctionUrl"] == created["FunctionUrl"] and got["CreationTime"] == created["CreationTime"]
    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"], "MaxAge": 60}
    updated = client.update_function_url_config(FunctionName=function.name, AuthType="AWS_IAM", Cors=cors)
    assert status(updated) == 200
    assert masked(updated) == {
        "AuthType": "AWS_IAM", "CreationTime": "<time>", "FunctionArn": function.arn, "FunctionUrl": "<url>",
        "LastModifiedTime": "<time>", "Cors": cors,
    }
    assert updated["FunctionUrl"] == created["FunctionUrl"]
    streamed = client.update_function_url_config(FunctionName=function.name, InvokeMode="RESPONSE_STREAM")
    assert streamed["InvokeMode"] == "RESPONSE_STREAM" and streamed["AuthType"] == "AWS_IAM"
    deleted = client.delete_function_url_config(FunctionName=function.name)
    assert status(deleted) == 204
    with pytest.raises(ClientError) as excinfo:
        client.get_function_url_config(FunctionName=function.name)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    # A new configuration gets a new address.
    again = client.create_function_url_config(FunctionName=function.name, AuthType="NONE", InvokeMode="BUFFERED")
    assert again["FunctionUrl"] != created["FunctionUrl"] and again["InvokeMode"] == "BUFFERED"


def test_url_configs_per_alias_listed_and_paged(make_function):
    function = make_function(HELLO)
    client = function.client
    version = client.publish_version(FunctionName=function.name)["Version"]
    client.create_alias(FunctionName=function.name, Name="urlalias", FunctionVersion=version)
    empty = client.list_function_url_configs(FunctionName=function.name)
    assert masked(empty) == {"FunctionUrlConfigs": []}
    client.create_function_url_config(FunctionName=function.name, AuthType="NONE")
    alias_url = client.create_function_url_config(FunctionName=function.name, Qualifier="urlalias", AuthType="AWS_IAM")
    assert alias_url["FunctionArn"] == f"{function.arn}:urlalias"
    listed = client.list_function_url_configs(FunctionName=function.name)
    assert [masked(config) for config in listed["FunctionUrlConfigs"]] == [
        {"AuthType": "NONE", "CreationTime": "<time>", "FunctionArn": function.arn, "FunctionUrl": "<url>",
         "InvokeMode": "BUFFERED", "LastModifiedTime": "<time>"},
        {"AuthType": "AWS_IAM", "CreationTime": "<time>", "FunctionArn": f"{function.arn}:urlalias",
         "FunctionUrl": "<url>", "InvokeMode": "BUFFERED", "LastModifiedTime": "<time>"},
    ]
    assert "NextMarker" not in listed
    first = client.list_function_url_configs(FunctionName=function.name, MaxItems=1)
    assert len(first["FunctionUrlConfigs"]) == 1 and "NextMarker" in first
    second = client.list_function_url_configs(FunctionName=function.name, MaxItems=1, Marker=first["NextMarker"])
    assert len(second["FunctionUrlConfigs"]) == 1 and "NextMarker" not in second
    assert first["FunctionUrlConfigs"][0]["FunctionArn"] != second["FunctionUrlConfigs"][0]["FunctionArn"]
    # Deleting the function's URL leaves the alias's.
    client.delete_function_url_config(FunctionName=function.name)
    assert client.get_function_url_config(FunctionName=function.name, Qualifier="urlalias")["AuthType"] == "AWS_IAM"
    # Deleting the alias deletes its URL.
    client.delete_alias(FunctionName=function.name, Name="urlalias")
    assert client.list_function_url_configs(FunctionName=function.name)["FunctionUrlConfigs"] == []


def test_url_config_errors_as_aws_answers(make_function):
    function = make_function(HELLO)
    client = function.client
    client.create_alias(FunctionName=function.name, Name="real", FunctionVersion="$LATEST")
    missing_arn = function.arn.replace(function.name, "doesnotexist")
    cases = [
        ("create", {"FunctionName": "doesnotexist"}, ("ResourceNotFoundException", 404, "Function does not exist")),
        ("create", {"FunctionName": missing_arn}, ("ResourceNotFoundException", 404, "Function does not exist")),
        ("create", {"FunctionName": function.name, "Qualifier": "v1"},
         ("ResourceNotFoundException", 404, "Function does not exist")),
        ("get", {"FunctionName": "doesnotexist"},
         ("ResourceNotFoundException", 404, "The resource you requested does not exist.")),
        ("get", {"FunctionName": function.name, "Qualifier": "v1"},
         ("ResourceNotFoundException", 404, "The resource you requested does not exist.")),
        ("get", {"FunctionName": function.name},
         ("ResourceNotFoundException", 404, "The resource you requested does not exist.")),
        ("delete", {"FunctionName": missing_arn},
         ("ResourceNotFoundException", 404, "The resource you requested does not exist.")),
        ("delete", {"FunctionName": function.name},
         ("ResourceNotFoundException", 404, "The resource you requested does not exist.")),
        ("update", {"FunctionName": "doesnotexist"}, ("ResourceNotFoundException", 404, "Function does not exist")),
        ("update", {"FunctionName": function.name},
         ("ResourceNotFoundException", 404, "The resource you requested does not exist.")),
        ("get", {"FunctionName": f"{function.name}:real", "Qualifier": "other"},
         ("InvalidParameterValueException", 400,
          "The derived qualifier from the function name does not match the specified qualifier.")),
    ]
    for qualifier in ("1", "$LATEST"):
        for operation in ("create", "get", "delete", "update"):
            cases.append((operation, {"FunctionName": function.name, "Qualifier": qualifier}, (
                "ValidationException", 400,
                f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {PATTERN}",
            )))
    calls = {
        "create": lambda **args: client.create_function_url_config(AuthType="NONE", **args),
        "get": client.get_function_url_config,
        "delete": client.delete_function_url_config,
        "update": lambda **args: client.update_function_url_config(AuthType="AWS_IAM", **args),
    }
    for operation, args, expected in cases:
        with pytest.raises(ClientError) as excinfo:
            calls[operation](**args)
        assert error_of(excinfo) == expected, (operation, args)
    with pytest.raises(ClientError) as excinfo:
        client.list_function_url_configs(FunctionName="doesnotexist")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, "Function does not exist")
    with pytest.raises(ClientError) as excinfo:
        client.create_function_url_config(FunctionName=function.name, AuthType="SOMETIMES")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.create_function_url_config(
            FunctionName=function.name, AuthType="NONE", Cors={"AllowMethods": ["GET"] * 7}
        )
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    assert client.list_function_url_configs(FunctionName=function.name)["FunctionUrlConfigs"] == []


def test_recursion_config_as_aws_answers(make_function):
    function = make_function(HELLO)
    client = function.client
    assert masked(client.get_function_recursion_config(FunctionName=function.name)) == {"RecursiveLoop": "Terminate"}
    put = client.put_function_recursion_config(FunctionName=function.name, RecursiveLoop="Allow")
    assert (status(put), masked(put)) == (200, {"RecursiveLoop": "Allow"})
    assert masked(client.get_function_recursion_config(FunctionName=function.arn)) == {"RecursiveLoop": "Allow"}
    with pytest.raises(ClientError) as excinfo:
        client.put_function_recursion_config(FunctionName=function.name, RecursiveLoop="InvalidValue")
    assert error_of(excinfo) == (
        "ValidationException", 400,
        "1 validation error detected: Value 'InvalidValue' at 'recursiveLoop' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Allow, Terminate]",
    )
    with pytest.raises(ClientError) as excinfo:
        client.get_function_recursion_config(FunctionName="doesnotexist")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_runtime_management_config_as_aws_answers(make_function):
    function = make_function(HELLO)
    client = function.client
    got = client.get_runtime_management_config(FunctionName=function.name)
    assert masked(got) == {"UpdateRuntimeOn": "Auto", "FunctionArn": f"{function.arn}:$LATEST"}
    runtime_arn = "arn:aws:lambda:us-east-1::runtime:" + "ab" * 32
    put = client.put_runtime_management_config(
        FunctionName=function.name, UpdateRuntimeOn="Manual", RuntimeVersionArn=runtime_arn
    )
    expected = {"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": runtime_arn, "FunctionArn": f"{function.arn}:$LATEST"}
    assert (status(put), masked(put)) == (200, expected)
    assert masked(client.get_runtime_management_config(FunctionName=function.name)) == expected
    version = client.publish_version(FunctionName=function.name)["Version"]
    assert masked(client.get_runtime_management_config(FunctionName=function.name, Qualifier=version)) == {
        "UpdateRuntimeOn": "Auto", "FunctionArn": f"{function.arn}:{version}",
    }
    with pytest.raises(ClientError) as excinfo:
        client.put_runtime_management_config(FunctionName=function.name, UpdateRuntimeOn="Never")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.put_runtime_management_config(FunctionName=function.name, UpdateRuntimeOn="Manual")
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.get_runtime_management_config(FunctionName=function.name, Qualifier="99")
    assert error_of(excinfo) == (
        "ResourceNotFoundException", 404, f"Function not found: {function.arn}:99",
    )


def test_url_and_settings_through_the_aws_cli(kumo, make_function):
    function = make_function(HELLO)
    created = kumo.aws("lambda", "create-function-url-config", "--function-name", function.name, "--auth-type", "NONE")
    assert masked(created) == {
        "AuthType": "NONE", "CreationTime": "<time>", "FunctionArn": function.arn, "FunctionUrl": "<url>",
    }
    listed = kumo.aws("lambda", "list-function-url-configs", "--function-name", function.name)
    assert [config["FunctionUrl"] for config in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]
    put = kumo.aws("lambda", "put-function-recursion-config", "--function-name", function.name, "--recursive-loop", "Allow")
    assert put == {"RecursiveLoop": "Allow"}
    runtime = kumo.aws("lambda", "put-runtime-management-config", "--function-name", function.name, "--update-runtime-on", "FunctionUpdate")
    assert runtime == {"UpdateRuntimeOn": "FunctionUpdate", "FunctionArn": f"{function.arn}:$LATEST"}
    assert kumo.aws("lambda", "delete-function-url-config", "--function-name", function.name) is None


def test_url_and_settings_survive_restart_and_go_with_the_function(spare_kumo):
    client = spare_kumo.lambda_client()
    name = unique_name("urls")
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(HELLO)},
    )
    url = client.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    client.put_runtime_management_config(FunctionName=name, UpdateRuntimeOn="FunctionUpdate")
    spare_kumo.stop()
    spare_kumo.start()
    spare_kumo._clients.clear()
    client = spare_kumo.lambda_client()
    got = client.get_function_url_config(FunctionName=name)
    # The port is the server's: the URL id and the rest stay.
    assert got["FunctionUrl"].split(":")[1] == url.split(":")[1] and got["AuthType"] == "AWS_IAM"
    assert client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
    assert client.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == "FunctionUpdate"
    client.delete_function(FunctionName=name)
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(HELLO)},
    )
    with pytest.raises(ClientError) as excinfo:
        client.get_function_url_config(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    assert client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    client.delete_function(FunctionName=name)


def test_new_operations_are_authorized_by_their_iam_actions(kumo, make_function):
    """A role session may call each new operation only where its policies allow that operation's
    IAM action on AWS's resource (the function's ARN, a code signing configuration's, or `*`)."""
    function = make_function(HELLO)
    role_name = unique_name("urls")
    allowed = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["lambda:GetFunctionUrlConfig", "lambda:CreateFunctionUrlConfig"],
        "Resource": function.arn,
    }]}
    role_arn = kumo.role_with_policies(role_name, inline=allowed)
    credentials = kumo.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    session = kumo.client(
        "lambda",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    session_arn = f"arn:aws:sts::000000000000:assumed-role/{role_name}/s1"

    def denied(action, resource):
        return (
            "AccessDeniedException", 403,
            f"User: {session_arn} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action",
        )

    assert session.create_function_url_config(FunctionName=function.name, AuthType="NONE")["AuthType"] == "NONE"
    assert session.get_function_url_config(FunctionName=function.name)["AuthType"] == "NONE"
    calls = [
        (lambda: session.delete_function_url_config(FunctionName=function.name),
         denied("lambda:DeleteFunctionUrlConfig", function.arn)),
        (lambda: session.put_function_recursion_config(FunctionName=function.name, RecursiveLoop="Allow"),
         denied("lambda:PutFunctionRecursionConfig", function.arn)),
        (lambda: session.get_runtime_management_config(FunctionName=function.name),
         denied("lambda:GetRuntimeManagementConfig", function.arn)),
        (lambda: session.get_resource_policy(ResourceArn=function.arn),
         denied("lambda:GetResourcePolicy", function.arn)),
        (lambda: session.list_code_signing_configs(), denied("lambda:ListCodeSigningConfigs", "*")),
        (lambda: session.invoke_async(FunctionName=function.name, InvokeArgs="{}"),
         denied("lambda:InvokeAsync", function.arn)),
    ]
    for call, expected in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == expected
    function.client.delete_function_url_config(FunctionName=function.name)
    kumo.client("iam").delete_role_policy(RoleName=role_name, PolicyName="inline")
