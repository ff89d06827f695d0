"""Lambda validates names, ARNs and qualifiers as AWS does today, and renders its errors as AWS
does (issue 12, families 1 and 2).

The expected answers are AWS's, as recorded from real AWS in LocalStack's snapshot tests
(`tests/aws/services/lambda_/test_lambda_api.snapshot.json`: test_function_name_and_qualifier_validation,
test_ops_with_arn_qualifier_mismatch, test_tag_exceptions, test_provisioned_concurrency_exceptions, …)
and the patterns of botocore's current model. Each test compares the whole error answer: status,
`x-amzn-ErrorType`, and the raw JSON body (botocore hides whether the message member is `Message` or
`message`; AWS sends `Message` for ResourceNotFoundException and `message` for the others).
"""

import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, CREDENTIALS, REPO, ROLE, python_zip, unique_name

REGION = "us-east-1"
# NamespacedFunctionName (GetFunction, DeleteFunction, Invoke, ...) and FunctionName (CreateFunction).
NAMESPACED = (
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
    "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
CREATE = (
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
    "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
)
QUALIFIER = "\\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
SOURCE = "def handler(event, context):\n    return event\n"


class Raw:
    """Records the raw HTTP answer of every call a client makes (botocore parses error bodies
    into `Error` and hides which member carried the message)."""

    def __init__(self, client):
        self.response = None
        client.meta.events.register("after-call.lambda", self._keep)

    def _keep(self, http_response, **_):
        self.response = http_response

    def answer(self):
        body = self.response.content
        return self.response.status_code, self.response.headers.get("x-amzn-ErrorType"), json.loads(body)


@pytest.fixture(scope="module")
def lambda_client(kumo):
    """A client that sends what it is given: botocore's own checks (a `min` of an integer) would
    otherwise refuse some of these requests before Kumo sees them."""
    return boto3.session.Session().client(
        "lambda",
        endpoint_url=kumo.endpoint,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
        **CREDENTIALS,
    )


@pytest.fixture(scope="module")
def raw(lambda_client):
    return Raw(lambda_client)


def refused(raw, call, **params):
    """The whole error answer to `call(**params)`: (status, error type, body)."""
    with pytest.raises(ClientError):
        call(**params)
    return raw.answer()


def validation(*violations):
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    message = f"{count} validation {noun} detected: " + "; ".join(violations)
    return (400, "ValidationException", {"Type": "User", "message": message})


def pattern(value, field, text):
    return f"Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {text}"


def too_long(value, field, limit):
    return f"Value '{value}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {limit}"


def not_found(message):
    return (404, "ResourceNotFoundException", {"Type": "User", "Message": message})


def invalid(message):
    return (400, "InvalidParameterValueException", {"Type": "User", "message": message})


def call_for(client, operation):
    """The operation as LocalStack's recorded test calls it (CreateFunction takes the name with
    the qualifier appended)."""
    if operation == "create_function":

        def create(FunctionName, Qualifier=None):
            name = f"{FunctionName}:{Qualifier}" if Qualifier else FunctionName
            return client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=ROLE,
                Handler="lambda_function.handler",
                Code={"ZipFile": python_zip(SOURCE)},
            )

        return create
    return getattr(client, operation)


OPERATIONS = ["get_function", "delete_function", "invoke", "create_function"]

# Values every operation refuses by the model's pattern (CreateFunction quotes its own pattern).
MALFORMED = {
    "invalid_characters_in_function_name": "my-function!",
    "function_name_is_single_invalid": "*",
    "invalid_account_id_in_partial_arn": "invalid-account:function:my-function",
    "invalid_region_in_arn": f"arn:aws:lambda:invalid-region:{ACCOUNT}:function:my-function",
    "non_lambda_arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance:i-1234567890abcdef0",
    "full_arn_with_multiple_qualifiers": f"{ARN}:my-function:1:2",
    "partial_arn_with_extra_qualifier": "function:my-function:$LATEST:extra",
    "missing_region_in_arn": f"arn:aws:lambda::{ACCOUNT}:function:my-function",
    "missing_account_id_in_arn": f"arn:aws:lambda:{REGION}::function:my-function",
    "misspelled_latest_in_arn": f"{ARN}:my-function:$LATES",
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_names_quote_the_operations_pattern(lambda_client, raw, operation, case):
    value = MALFORMED[case]
    expected_pattern = CREATE if operation == "create_function" else NAMESPACED
    answer = refused(raw, call_for(lambda_client, operation), FunctionName=value)
    assert answer == validation(pattern(value, "functionName", expected_pattern))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_qualifiers_are_validated_before_lookup(lambda_client, raw, operation):
    call = call_for(lambda_client, operation)
    long = "a" * 129
    answer = refused(raw, call, FunctionName="my-function", Qualifier="invalid!")
    if operation == "create_function":
        assert answer == validation(pattern("my-function:invalid!", "functionName", CREATE))
    else:
        assert answer == validation(pattern("invalid!", "qualifier", QUALIFIER))
    answer = refused(raw, call, FunctionName="my-function", Qualifier=long)
    if operation == "create_function":
        assert answer == validation(too_long(f"my-function:{long}", "functionName", 140))
    else:
        assert answer == validation(too_long(long, "qualifier", 128))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_violation_is_reported_together(lambda_client, raw, operation):
    name = f"arn:aws:lambda:invalid-region:{ACCOUNT}:function:my-function-{'a' * 170}"
    long = "a" * 129
    answer = refused(raw, call_for(lambda_client, operation), FunctionName=name, Qualifier=long)
    if operation == "create_function":
        value = f"{name}:{long}"
        assert answer == validation(too_long(value, "functionName", 140), pattern(value, "functionName", CREATE))
    else:
        assert answer == validation(pattern(name, "functionName", NAMESPACED), too_long(long, "qualifier", 128))


def test_names_too_long_to_exist_are_not_found(lambda_client, raw):
    name = "a" * 65
    assert refused(raw, lambda_client.get_function, FunctionName=name) == not_found(
        f"Function not found: {ARN}:{name}"
    )
    assert refused(raw, lambda_client.delete_function, FunctionName=name) == not_found(
        f"Function not found: {ARN}:{name}"
    )
    assert refused(raw, lambda_client.invoke, FunctionName=name) == not_found(
        f"Function not found: {ARN}:{name}:$LATEST"
    )
    create = call_for(lambda_client, "create_function")
    assert refused(raw, create, FunctionName=name) == invalid(
        f"1 validation error detected: {too_long(name, 'functionName', 64)}"
    )


def test_an_arn_without_a_name_names_the_function_function(lambda_client, raw):
    assert refused(raw, lambda_client.get_function, FunctionName=ARN) == not_found(
        f"Function not found: {ARN}:function"
    )
    assert refused(raw, lambda_client.delete_function, FunctionName=ARN) == not_found(
        f"Function not found: {ARN}:function"
    )
    assert refused(raw, lambda_client.invoke, FunctionName=ARN) == not_found(
        f"Function not found: {ARN}:function:$LATEST"
    )


@pytest.mark.parametrize("operation", ["get_function", "delete_function", "invoke", "get_function_configuration"])
def test_an_arn_qualifier_that_differs_from_qualifier_is_refused(lambda_client, raw, operation):
    call = getattr(lambda_client, operation)
    answer = refused(raw, call, FunctionName=f"{ARN}:my-function:$LATEST", Qualifier="1")
    assert answer == invalid("The derived qualifier from the function name does not match the specified qualifier.")


def test_not_found_keeps_the_requested_qualifier(lambda_client, raw):
    name = unique_name("missing")
    for call in (lambda_client.get_function, lambda_client.get_function_configuration):
        answer = refused(raw, call, FunctionName=f"{ARN}:{name}:$LATEST", Qualifier="$LATEST")
        assert answer == not_found(f"Function not found: {ARN}:{name}:$LATEST")
        assert refused(raw, call, FunctionName=name, Qualifier="$latest") == not_found(
            f"Function not found: {ARN}:{name}:$latest"
        )
        assert refused(raw, call, FunctionName=name, Qualifier="a" * 65) == not_found(
            f"Function not found: {ARN}:{name}:{'a' * 65}"
        )
    assert refused(raw, lambda_client.invoke, FunctionName=name, Qualifier="$latest") == not_found(
        f"Function not found: {ARN}:{name}:$latest"
    )


def test_delete_function_qualifiers_as_aws(lambda_client, raw, make_function):
    missing = unique_name("missing")
    delete = lambda_client.delete_function
    assert refused(raw, delete, FunctionName=missing, Qualifier="a" * 65) == invalid(
        "Deletion of aliases is not currently supported."
    )
    assert refused(raw, delete, FunctionName=missing, Qualifier="$latest") == not_found(
        f"Function not found: {ARN}:{missing}"
    )
    assert refused(raw, delete, FunctionName=missing, Qualifier="7") == not_found(f"Function not found: {ARN}:{missing}")
    assert refused(raw, delete, FunctionName=f"{ARN}:{missing}:$LATEST", Qualifier="$LATEST") == invalid(
        "$LATEST version cannot be deleted without deleting the function."
    )
    function = make_function(SOURCE)
    assert refused(raw, delete, FunctionName=function.name, Qualifier="42") == not_found(
        f"Function not found: {ARN}:{function.name}"
    )
    assert refused(raw, delete, FunctionName=function.name, Qualifier="live") == invalid(
        "Deletion of aliases is not currently supported."
    )
    assert lambda_client.get_function(FunctionName=function.name)["Configuration"]["FunctionName"] == function.name


def test_create_function_takes_a_full_or_partial_arn(lambda_client, deployer):
    for form in ("{arn}:{name}", f"{ACCOUNT}:function:{{name}}"):
        name = unique_name("arnform")
        created = lambda_client.create_function(
            FunctionName=form.format(arn=ARN, name=name),
            Runtime="python3.12",
            Role=ROLE,
            Handler="lambda_function.handler",
            Code={"ZipFile": python_zip(SOURCE)},
        )
        deployer.adopt(name)
        assert (created["FunctionName"], created["FunctionArn"]) == (name, f"{ARN}:{name}")


def test_create_function_refuses_an_arn_of_another_region(lambda_client, raw):
    other = f"arn:aws:lambda:ap-southeast-1:{ACCOUNT}:function:{unique_name('elsewhere')}"
    answer = refused(raw, call_for(lambda_client, "create_function"), FunctionName=other)
    assert answer == not_found(f"Functions from 'ap-southeast-1' are not reachable in this region ('{REGION}')")


def test_the_constraint_table_is_the_botocore_models():
    """The table the validator runs is generated from the model of the botocore these tests
    use: a botocore whose model changes a constraint fails here until it is regenerated."""
    script = REPO / "scripts" / "gen-lambda-constraints.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, env=os.environ)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# Concurrency, provisioned concurrency, tags, permissions, list paging (issue 12, item 5)


@pytest.fixture(scope="module")
def published(kumo):
    """A function with version 1 and an alias `live` on it (deleted at the end)."""
    from e2e_support import Deployer

    deployer = Deployer(kumo)
    function = deployer.create(SOURCE, prefix="corner")
    client = kumo.lambda_client(REGION)
    client.publish_version(FunctionName=function.name)
    client.create_alias(FunctionName=function.name, Name="live", FunctionVersion="1")
    yield function
    deployer.cleanup()


def test_function_concurrency_corner_cases(lambda_client, raw, published):
    put = lambda_client.put_function_concurrency
    missing = unique_name("missing")
    assert refused(raw, put, FunctionName=missing, ReservedConcurrentExecutions=1) == not_found(
        f"Function not found: {ARN}:{missing}:$LATEST"
    )
    # The function is looked up before a reservation beyond the account is refused.
    assert refused(raw, put, FunctionName=missing, ReservedConcurrentExecutions=100000) == not_found(
        f"Function not found: {ARN}:{missing}:$LATEST"
    )
    assert refused(raw, put, FunctionName=f"{ARN}:{published.name}:1", ReservedConcurrentExecutions=1) == invalid(
        "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. "
        "Please specify either a function name or an unqualified function ARN."
    )
    assert refused(raw, put, FunctionName=published.name, ReservedConcurrentExecutions=-1) == validation(
        "Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0"
    )
    assert refused(raw, lambda_client.get_function_concurrency, FunctionName=missing) == not_found(
        f"Function not found: {ARN}:{missing}"
    )


def test_provisioned_concurrency_corner_cases(lambda_client, raw, published):
    name, missing = published.name, unique_name("missing")
    get = lambda_client.get_provisioned_concurrency_config
    delete = lambda_client.delete_provisioned_concurrency_config
    put = lambda_client.put_provisioned_concurrency_config
    for call in (get, delete):
        assert refused(raw, call, FunctionName=name, Qualifier="$LATEST") == invalid(
            "The function resource provided must be an alias or a published version."
        )
        assert refused(raw, call, FunctionName=name, Qualifier="noalias") == not_found(
            f"Cannot find alias arn: {ARN}:{name}:noalias"
        )
        assert refused(raw, call, FunctionName=missing, Qualifier="noalias") == not_found(
            f"Cannot find alias arn: {ARN}:{missing}:noalias"
        )
        assert refused(raw, call, FunctionName=name, Qualifier="10") == not_found(f"Function not found: {ARN}:{name}:10")
        assert refused(raw, call, FunctionName=missing, Qualifier="1") == not_found(
            f"Function not found: {ARN}:{missing}:1"
        )
    assert refused(raw, get, FunctionName=name, Qualifier="1") == (
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        {"Type": "User", "message": "No Provisioned Concurrency Config found for this function"},
    )
    # Deleting a configuration that does not exist succeeds.
    assert delete(FunctionName=name, Qualifier="1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert refused(raw, put, FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1) == invalid(
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    assert refused(raw, put, FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=0) == validation(
        "Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert refused(raw, lambda_client.list_provisioned_concurrency_configs, FunctionName=missing) == not_found(
        f"Function not found: {ARN}:{missing}"
    )
    # One version is provisioned through its alias or directly, never both.
    put(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    try:
        assert refused(raw, put, FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1) == (
            409,
            "ResourceConflictException",
            {"Type": "User", "message": "Version is pointed by a Provisioned Concurrency alias"},
        )
        listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=1)
        assert [config["FunctionArn"] for config in listed["ProvisionedConcurrencyConfigs"]] == [f"{ARN}:{name}:live"]
        assert "NextMarker" not in listed
    finally:
        delete(FunctionName=name, Qualifier="live")
    put(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    try:
        assert refused(raw, put, FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1) == (
            409,
            "ResourceConflictException",
            {
                "Type": "User",
                "message": "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
            },
        )
    finally:
        delete(FunctionName=name, Qualifier="1")


def test_tag_limits_and_forms(lambda_client, raw, published):
    arn = f"{ARN}:{published.name}"
    tag = lambda_client.tag_resource
    assert refused(raw, tag, Resource=f"{arn}:live", Tags={"a": "b"}) == invalid(
        "Tags on function aliases and versions are not supported. Please specify a function ARN."
    )
    assert refused(raw, tag, Resource=arn, Tags={}) == invalid("An error occurred and the request cannot be processed.")
    many = {f"{index}_key": f"{index}_value" for index in range(51)}
    assert refused(raw, tag, Resource=arn, Tags=many) == invalid("Number of tags exceeds resource tag limit.")
    tag(Resource=arn, Tags={f"{index}_key": f"{index}_value" for index in range(50)})
    assert refused(raw, tag, Resource=arn, Tags={"one_more": "x"}) == invalid(
        "Number of tags exceeds resource tag limit."
    )
    assert len(lambda_client.list_tags(Resource=arn)["Tags"]) == 50
    assert refused(raw, lambda_client.untag_resource, Resource=arn, TagKeys=[]) == validation(
        "Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"
    )
    lambda_client.untag_resource(Resource=arn, TagKeys=[f"{index}_key" for index in range(50)])
    create = call_for(lambda_client, "create_function")
    with pytest.raises(ClientError):
        lambda_client.create_function(
            FunctionName=unique_name("tagged"),
            Runtime="python3.12",
            Role=ROLE,
            Handler="lambda_function.handler",
            Code={"ZipFile": python_zip(SOURCE)},
            Tags=many,
        )
    assert raw.answer() == invalid("Number of tags exceeds resource tag limit.")
    assert create  # the CreateFunction above never created anything: no cleanup needed


def test_permission_corner_cases(lambda_client, raw, published):
    name, missing = published.name, unique_name("missing")
    add = lambda_client.add_permission
    base = dict(Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    assert refused(raw, add, FunctionName=name, StatementId="example.com", **base) == validation(
        pattern("example.com", "statementId", "([a-zA-Z0-9-_]+)")
    )
    assert refused(raw, add, FunctionName=name, StatementId="s1", Qualifier="$LATEST", **base) == invalid(
        "We currently do not support adding policies for $LATEST."
    )
    assert refused(raw, add, FunctionName=name, StatementId="s1", Qualifier="alias-doesnotexist", **base) == not_found(
        f"Cannot find alias arn: {ARN}:{name}:alias-doesnotexist"
    )
    assert refused(raw, add, FunctionName=name, StatementId="s1", Qualifier="42", **base) == not_found(
        f"Function not found: {ARN}:{name}:42"
    )
    assert refused(raw, add, FunctionName=missing, StatementId="s1", **base) == not_found(
        f"Function not found: {ARN}:{missing}"
    )
    remove = lambda_client.remove_permission
    assert refused(raw, remove, FunctionName=missing, StatementId="s1") == not_found(
        f"No policy found for: {ARN}:{missing}"
    )
    assert refused(raw, remove, FunctionName=name, StatementId="s1") == not_found(
        "No policy is associated with the given resource."
    )
    # An alias's policy has its own RevisionId: a stale one is refused.
    first = add(FunctionName=name, StatementId="s1", Qualifier="live", **base)
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    revision = lambda_client.get_policy(FunctionName=name, Qualifier="live")["RevisionId"]
    assert refused(raw, add, FunctionName=name, StatementId="s2", Qualifier="live", RevisionId="0" * 36, **base) == (
        412,
        "PreconditionFailedException",
        {
            "Type": "User",
            "message": "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetPolicy API to retrieve the latest Revision Id",
        },
    )
    add(FunctionName=name, StatementId="s2", Qualifier="live", RevisionId=revision, **base)
    remove(FunctionName=name, StatementId="s1", Qualifier="live")
    remove(FunctionName=name, StatementId="s2", Qualifier="live")


def test_max_items_is_honoured_and_validated(lambda_client, raw, published):
    name = published.name
    for index in range(3):
        lambda_client.put_function_event_invoke_config(
            FunctionName=name, Qualifier=["$LATEST", "1", "live"][index], MaximumRetryAttempts=1
        )
    try:
        seen, marker = [], None
        while True:
            params = {"FunctionName": name, "MaxItems": 2, **({"Marker": marker} if marker else {})}
            page = lambda_client.list_function_event_invoke_configs(**params)
            assert len(page["FunctionEventInvokeConfigs"]) <= 2
            seen += [config["FunctionArn"] for config in page["FunctionEventInvokeConfigs"]]
            marker = page.get("NextMarker")
            if not marker:
                break
        assert sorted(seen) == sorted(f"{ARN}:{name}:{q}" for q in ("$LATEST", "1", "live"))
    finally:
        for qualifier in ("$LATEST", "1", "live"):
            lambda_client.delete_function_event_invoke_config(FunctionName=name, Qualifier=qualifier)
    assert refused(raw, lambda_client.list_function_event_invoke_configs, FunctionName=name, MaxItems=51) == validation(
        "Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"
    )
    for call, params in (
        (lambda_client.list_functions, {}),
        (lambda_client.list_versions_by_function, {"FunctionName": name}),
        (lambda_client.list_aliases, {"FunctionName": name}),
        (lambda_client.list_event_source_mappings, {}),
    ):
        assert refused(raw, call, MaxItems=10001, **params) == validation(
            "Value '10001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000"
        )
    assert refused(raw, lambda_client.list_functions, FunctionVersion="invalid") == validation(
        "Value 'invalid' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
    )
    assert lambda_client.list_versions_by_function(FunctionName=name, MaxItems=1)["Versions"][0]["Version"] == "$LATEST"


# --------------------------------------------------------------------------------------------
# AWS's exact texts (family 2)


def create_params(**overrides):
    params = dict(
        FunctionName=unique_name("texts"),
        Runtime="python3.12",
        Role=ROLE,
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(SOURCE)},
    )
    params.update(overrides)
    return params


def test_an_unknown_runtime_lists_every_valid_one(lambda_client, raw):
    answer = refused(raw, lambda_client.create_function, **create_params(Runtime="non-existent-runtime"))
    assert answer == invalid(
        "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
        "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, "
        "python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, "
        "dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2] or be a valid ARN"
    )


def test_environment_over_4kb_shows_the_string_measured(lambda_client, raw):
    variables = {"LARGE_VAR": "x" * 4097}
    answer = refused(raw, lambda_client.create_function, **create_params(Environment={"Variables": variables}))
    assert answer == invalid(
        "Lambda was unable to configure your environment variables because the environment variables you have "
        f"provided exceeded the 4KB limit. String measured: {json.dumps(variables, separators=(',', ':'))}"
    )


def test_architectures_are_rendered_as_aws_lists_them(lambda_client, raw):
    answer = refused(raw, lambda_client.create_function, **create_params(Architectures=["x86_64", "arm64"]))
    assert answer == validation(
        "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: "
        "Member must have length less than or equal to 1"
    )
    answer = refused(raw, lambda_client.create_function, **create_params(Architectures=["X86_64"]))
    assert answer == validation(
        "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: "
        "[Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"
    )


def test_a_zip_over_50_mb_names_the_zipped_limit(lambda_client, raw):
    import io
    import zipfile

    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("lambda_function.py", SOURCE)
        archive.writestr("noise.bin", os.urandom(50 * 1024 * 1024 + 100_000))
    with pytest.raises(ClientError):
        lambda_client.create_function(**create_params(Code={"ZipFile": big.getvalue()}))
    status, error_type, body = raw.answer()
    assert (status, error_type) == (413, "RequestEntityTooLargeException")
    assert body == {"Type": "User", "message": "Zipped size must be smaller than 52428800 bytes"}


def test_event_invoke_config_and_alias_texts(lambda_client, raw, published):
    name, missing = published.name, unique_name("missing")
    get = lambda_client.get_function_event_invoke_config
    assert refused(raw, get, FunctionName=missing) == not_found(
        f"The function {ARN}:{missing}:$LATEST doesn't have an EventInvokeConfig"
    )
    assert refused(raw, get, FunctionName=name, Qualifier="1221") == not_found(
        f"The function {ARN}:{name}:1221 doesn't have an EventInvokeConfig"
    )
    assert refused(raw, lambda_client.delete_function_event_invoke_config, FunctionName=missing) == not_found(
        f"The function {ARN}:{missing}:$LATEST doesn't have an EventInvokeConfig"
    )
    put = lambda_client.put_function_event_invoke_config
    assert refused(raw, put, FunctionName=missing, MaximumRetryAttempts=1) == not_found("The function doesn't exist.")
    assert refused(raw, lambda_client.update_alias, FunctionName=name, Name="non-existent") == not_found(
        f"Alias not found: {ARN}:{name}:non-existent"
    )
    assert refused(raw, lambda_client.get_alias, FunctionName=name, Name="non-existent") == not_found(
        f"Cannot find alias arn: {ARN}:{name}:non-existent"
    )
    assert refused(raw, lambda_client.create_alias, FunctionName=name, Name="live", FunctionVersion="1") == (
        409,
        "ResourceConflictException",
        {"Type": "User", "message": f"Alias already exists: {ARN}:{name}:live"},
    )
    assert refused(raw, lambda_client.get_alias, FunctionName=name, Name="2024") == validation(
        pattern("2024", "name", "(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
    )
