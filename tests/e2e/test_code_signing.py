"""Code signing configurations and their use by functions through boto3 and the AWS CLI, compared
whole with the answers AWS records (generated ids and timestamps masked). Kumo has no signer:
every package is unsigned, so a configuration with `UntrustedArtifactOnDeployment: Enforce` refuses
code and layers deployed under it, as AWS refuses code not signed by an allowed publisher, and
`Warn` lets them through."""

import re

import pytest
from botocore.exceptions import ClientError

from e2e_support import ROLE, error_of, python_zip, unique_name

HELLO = "def handler(event, context):\n    return 'hello'\n"
PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/test"
ID = re.compile(r"^csc-[a-z0-9]{17}$")
LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
MISSING_ARN = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"


def masked(config):
    """A CodeSigningConfig with its id, ARN and time checked for form and masked."""
    config = dict(config)
    assert ID.match(config["CodeSigningConfigId"]), config
    assert config["CodeSigningConfigArn"] == (
        f"arn:aws:lambda:us-east-1:000000000000:code-signing-config:{config['CodeSigningConfigId']}"
    )
    assert LAST_MODIFIED.match(config["LastModified"]), config
    config.update(CodeSigningConfigId="<id>", CodeSigningConfigArn="<arn>", LastModified="<date>")
    return config


def status(answer):
    return answer["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def lambda_client(kumo):
    client = kumo.lambda_client()
    made = []
    yield client, made
    for arn in made:
        try:
            client.delete_code_signing_config(CodeSigningConfigArn=arn)
        except ClientError:
            pass


def test_code_signing_config_lifecycle_as_aws_answers(lambda_client, make_function):
    client, made = lambda_client
    created = client.create_code_signing_config(
        Description="Testing CodeSigning Config",
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )
    assert status(created) == 201 and set(created) == {"CodeSigningConfig", "ResponseMetadata"}
    config = created["CodeSigningConfig"]
    arn = config["CodeSigningConfigArn"]
    made.append(arn)
    expected = {
        "AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]},
        "CodeSigningConfigArn": "<arn>",
        "CodeSigningConfigId": "<id>",
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
        "Description": "Testing CodeSigning Config",
        "LastModified": "<date>",
    }
    assert masked(config) == expected
    updated = client.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"}
    )
    expected["CodeSigningPolicies"] = {"UntrustedArtifactOnDeployment": "Warn"}
    assert status(updated) == 200 and masked(updated["CodeSigningConfig"]) == expected
    got = client.get_code_signing_config(CodeSigningConfigArn=arn)
    assert masked(got["CodeSigningConfig"]) == expected
    assert got["CodeSigningConfig"]["CodeSigningConfigArn"] == arn
    listed = [c for c in client.list_code_signing_configs()["CodeSigningConfigs"] if c["CodeSigningConfigArn"] == arn]
    assert [masked(c) for c in listed] == [expected]

    function = make_function(HELLO)
    assert {k: v for k, v in client.get_function_code_signing_config(FunctionName=function.name).items()
            if k != "ResponseMetadata"} == {}
    put = client.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=function.name)
    assert status(put) == 200
    assert {k: v for k, v in put.items() if k != "ResponseMetadata"} == {
        "CodeSigningConfigArn": arn, "FunctionName": function.name,
    }
    got = client.get_function_code_signing_config(FunctionName=function.arn)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        "CodeSigningConfigArn": arn, "FunctionName": function.name,
    }
    by_config = client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    assert {k: v for k, v in by_config.items() if k != "ResponseMetadata"} == {"FunctionArns": [function.arn]}
    # In use: AWS refuses to delete it.
    with pytest.raises(ClientError) as excinfo:
        client.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)
    assert status(client.delete_function_code_signing_config(FunctionName=function.name)) == 204
    assert status(client.delete_function_code_signing_config(FunctionName=function.name)) == 204
    assert client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    assert status(client.delete_code_signing_config(CodeSigningConfigArn=arn)) == 204
    made.remove(arn)
    with pytest.raises(ClientError) as excinfo:
        client.get_code_signing_config(CodeSigningConfigArn=arn)
    assert error_of(excinfo) == (
        "ResourceNotFoundException", 404, f"The Lambda code signing configuration {arn} can not be found.",
    )


def test_code_signing_errors_as_aws_answers(lambda_client, make_function):
    client, made = lambda_client
    function = make_function(HELLO)
    not_found = ("ResourceNotFoundException", 404,
                 f"The Lambda code signing configuration {MISSING_ARN} can not be found.")
    for call in (
        lambda: client.get_code_signing_config(CodeSigningConfigArn=MISSING_ARN),
        lambda: client.delete_code_signing_config(CodeSigningConfigArn=MISSING_ARN),
        lambda: client.update_code_signing_config(CodeSigningConfigArn=MISSING_ARN, Description="x"),
        lambda: client.list_functions_by_code_signing_config(CodeSigningConfigArn=MISSING_ARN),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == not_found
    missing_function = "arn:aws:lambda:us-east-1:000000000000:function:csc-test-doesnotexist"
    for call in (
        lambda: client.get_function_code_signing_config(FunctionName="csc-test-doesnotexist"),
        lambda: client.delete_function_code_signing_config(FunctionName="csc-test-doesnotexist"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("ResourceNotFoundException", 404, f"Function not found: {missing_function}")
    # A configuration that does not exist is CodeSigningConfigNotFoundException (with `Message`).
    with pytest.raises(ClientError) as excinfo:
        client.put_function_code_signing_config(CodeSigningConfigArn=MISSING_ARN, FunctionName=function.name)
    assert error_of(excinfo) == (
        "CodeSigningConfigNotFoundException", 404,
        "The code signing configuration cannot be found. Check that the provided configuration is not deleted: "
        f"{MISSING_ARN}.",
    )
    assert excinfo.value.response["Type"] == "User"
    config = client.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})
    arn = config["CodeSigningConfig"]["CodeSigningConfigArn"]
    made.append(arn)
    # Defaults: no description, the Warn policy.
    assert config["CodeSigningConfig"]["Description"] == ""
    assert config["CodeSigningConfig"]["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    with pytest.raises(ClientError) as excinfo:
        client.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName="csc-test-doesnotexist")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, f"Function not found: {missing_function}")
    with pytest.raises(ClientError) as excinfo:
        client.get_code_signing_config(CodeSigningConfigArn="not-an-arn")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.create_code_signing_config(
            AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
            CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Ignore"},
        )
    assert error_of(excinfo) == (
        "ValidationException", 400,
        "1 validation error detected: Value 'Ignore' at 'codeSigningPolicies.untrustedArtifactOnDeployment' "
        "failed to satisfy constraint: Member must satisfy enum value set: [Warn, Enforce]",
    )
    page = client.list_code_signing_configs(MaxItems=1)
    assert len(page["CodeSigningConfigs"]) == 1


def test_code_signing_through_the_aws_cli_and_tags(kumo, lambda_client):
    client, made = lambda_client
    created = kumo.aws(
        "lambda", "create-code-signing-config",
        "--allowed-publishers", f"SigningProfileVersionArns={PROFILE}",
        "--tags", "team=kumo",
    )
    arn = created["CodeSigningConfig"]["CodeSigningConfigArn"]
    made.append(arn)
    assert masked(created["CodeSigningConfig"]) == {
        "AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]},
        "CodeSigningConfigArn": "<arn>", "CodeSigningConfigId": "<id>",
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Warn"},
        "Description": "", "LastModified": "<date>",
    }
    assert client.list_tags(Resource=arn)["Tags"] == {"team": "kumo"}
    client.tag_resource(Resource=arn, Tags={"more": "yes"})
    client.untag_resource(Resource=arn, TagKeys=["team"])
    assert kumo.aws("lambda", "list-tags", "--resource", arn) == {"Tags": {"more": "yes"}}
    assert kumo.aws("lambda", "delete-code-signing-config", "--code-signing-config-arn", arn) is None
    made.remove(arn)


def test_code_signing_survives_restart(spare_kumo):
    client = spare_kumo.lambda_client()
    name = unique_name("signed")
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(HELLO)},
    )
    arn = client.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}
    )["CodeSigningConfig"]["CodeSigningConfigArn"]
    client.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=name)
    spare_kumo.stop()
    spare_kumo.start()
    spare_kumo._clients.clear()
    client = spare_kumo.lambda_client()
    assert client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]["CodeSigningConfigArn"] == arn
    assert client.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == arn
    # The association goes with the function.
    client.delete_function(FunctionName=name)
    assert client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    client.delete_code_signing_config(CodeSigningConfigArn=arn)


def test_create_function_with_a_code_signing_config(lambda_client, deployer):
    client, made = lambda_client
    arn = client.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}
    )["CodeSigningConfig"]["CodeSigningConfigArn"]
    made.append(arn)
    function = deployer.create(HELLO, CodeSigningConfigArn=arn)
    got = client.get_function_code_signing_config(FunctionName=function.name)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        "CodeSigningConfigArn": arn, "FunctionName": function.name,
    }
    assert client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [function.arn]
    name = unique_name("unsigned")
    with pytest.raises(ClientError) as excinfo:
        client.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
            Code={"ZipFile": python_zip(HELLO)}, CodeSigningConfigArn=MISSING_ARN,
        )
    assert error_of(excinfo)[:2] == ("CodeSigningConfigNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    client.delete_function_code_signing_config(FunctionName=function.name)


def verification_failed(subject):
    """AWS's answer to code or a layer not signed by an allowed publisher under `Enforce`."""
    return (
        "CodeVerificationFailedException",
        400,
        "Lambda cannot deploy the function. The function or layer might be signed using a signature that the "
        f"client is not configured to accept. Check the provided signature for {subject}.",
    )


def test_enforce_refuses_unsigned_code_and_warn_deploys_it(lambda_client, deployer, make_layer):
    client, made = lambda_client

    def config(policy):
        arn = client.create_code_signing_config(
            AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
            CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
        )["CodeSigningConfig"]["CodeSigningConfigArn"]
        made.append(arn)
        return arn

    enforce, warn = config("Enforce"), config("Warn")
    name = unique_name("unsigned")
    with pytest.raises(ClientError) as excinfo:
        client.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
            Code={"ZipFile": python_zip(HELLO)}, CodeSigningConfigArn=enforce,
        )
    assert error_of(excinfo) == verification_failed(name)
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404), "nothing was created"

    # Warn deploys the same unsigned code.
    warned = deployer.create(HELLO, CodeSigningConfigArn=warn)
    assert warned.invoke({}).payload == "hello"

    # Code that ran before Enforce was attached keeps running; new code and new layers are refused.
    function = deployer.create(HELLO)
    before = function.configuration()
    client.put_function_code_signing_config(CodeSigningConfigArn=enforce, FunctionName=function.name)
    assert function.invoke({}).payload == "hello"
    with pytest.raises(ClientError) as excinfo:
        client.update_function_code(FunctionName=function.name, ZipFile=python_zip(HELLO + "# v2\n"))
    assert error_of(excinfo) == verification_failed(function.name)
    layer = make_layer({"python/helper.py": "VALUE = 1\n"})["LayerVersionArn"]
    with pytest.raises(ClientError) as excinfo:
        client.update_function_configuration(FunctionName=function.name, Layers=[layer])
    assert error_of(excinfo) == verification_failed(layer)
    after = function.configuration()
    assert (after["CodeSha256"], after["RevisionId"], after.get("Layers")) == (
        before["CodeSha256"], before["RevisionId"], None,
    ), "a refused deployment changes nothing"

    # Switching the configuration to Warn lets the same code through.
    client.update_code_signing_config(
        CodeSigningConfigArn=enforce, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"}
    )
    updated = client.update_function_code(FunctionName=function.name, ZipFile=python_zip(HELLO + "# v2\n"))
    assert updated["LastUpdateStatus"] == "InProgress"
    client.delete_function_code_signing_config(FunctionName=function.name)
    client.delete_function_code_signing_config(FunctionName=warned.name)
