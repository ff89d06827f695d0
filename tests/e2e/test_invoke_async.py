"""The deprecated InvokeAsync, still in every SDK: the event runs asynchronously and the answer
is AWS's 202, its `Status` bound to the HTTP status by the model (so the body is empty and SDKs
read `{"Status": 202}`, botocore's model example), through boto3 and the AWS CLI."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, error_of, poll, unique_name

ECHO = "def handler(event, context):\n    print('EVENT ' + str(event['n']))\n    return event\n"


def test_invoke_async_runs_the_event_and_answers_202(kumo, make_function):
    function = make_function(ECHO)
    answer = function.client.invoke_async(FunctionName=function.name, InvokeArgs=json.dumps({"n": 7}))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert {key: value for key, value in answer.items() if key != "ResponseMetadata"} == {"Status": 202}
    assert answer["ResponseMetadata"]["HTTPHeaders"].get("content-length", "0") == "0"
    poll(lambda: "EVENT 7" in kumo.log_text(function.name), timeout=20, what="the async event to run")
    # A qualifier travels in the name.
    version = function.client.publish_version(FunctionName=function.name)["Version"]
    function.client.invoke_async(FunctionName=f"{function.name}:{version}", InvokeArgs=b'{"n": 8}')
    poll(lambda: "EVENT 8" in kumo.log_text(function.name), timeout=20, what="the versioned event to run")


def test_invoke_async_errors(kumo, make_function):
    function = make_function(ECHO)
    with pytest.raises(ClientError) as excinfo:
        function.client.invoke_async(FunctionName="doesnotexist", InvokeArgs="{}")
    assert error_of(excinfo) == (
        "ResourceNotFoundException", 404,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:doesnotexist:$LATEST",
    )
    # InvokeAsync's limit is 256 KB (Invoke's Event type takes 1 MB).
    big = json.dumps({"n": 1, "pad": "x" * (256 * 1024)})
    with pytest.raises(ClientError) as excinfo:
        function.client.invoke_async(FunctionName=function.name, InvokeArgs=big)
    assert error_of(excinfo) == (
        "RequestEntityTooLargeException", 413,
        "Request must be smaller than 262144 bytes for the InvokeAsync operation",
    )


def test_invoke_async_through_the_aws_cli(kumo, make_function, tmp_path):
    function = make_function(ECHO)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"n": 9}))
    answer = kumo.aws("lambda", "invoke-async", "--function-name", function.name, "--invoke-args", str(event))
    assert answer == {"Status": 202}
    poll(lambda: "EVENT 9" in kumo.log_text(function.name), timeout=20, what="the CLI's event to run")


def test_invoke_async_is_authorized_as_its_own_action(kumo, make_function):
    """The AWS SDKs' reference for InvokeAsync: it "requires
    permission for the lambda:InvokeAsync action", not lambda:InvokeFunction."""
    function = make_function(ECHO)
    role_name = unique_name("invoker")
    allow_invoke = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}],
    }
    role_arn = kumo.role_with_policies(role_name, inline=allow_invoke)
    credentials = kumo.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    session = kumo.client(
        "lambda",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1"

    assert session.invoke(FunctionName=function.name, Payload=b'{"n": 1}')["StatusCode"] == 200
    with pytest.raises(ClientError) as excinfo:
        session.invoke_async(FunctionName=function.name, InvokeArgs=b'{"n": 2}')
    assert error_of(excinfo) == (
        "AccessDeniedException",
        403,
        f"User: {session_arn} is not authorized to perform: lambda:InvokeAsync on resource: {function.arn} "
        "because no identity-based policy allows the lambda:InvokeAsync action",
    )

    kumo.client("iam").put_role_policy(
        RoleName=role_name,
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeAsync", "Resource": "*"}]}
        ),
    )
    assert session.invoke_async(FunctionName=function.name, InvokeArgs=b'{"n": 3}')["Status"] == 202
    poll(lambda: "EVENT 3" in kumo.log_text(function.name), timeout=20, what="the async event to run")
