"""IAM and STS through boto3 and the AWS CLI; temporary credentials, presigned URLs, execution
roles, the role check on CreateFunction, insecure mode, accounts, and restart."""

import datetime
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, LAMBDA_TRUST_POLICY, ROLE, error_of, invoke, python_zip, unique_name

S3_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TUTORIAL_POLICIES = [
    BASIC_EXECUTION,
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/AWSLambdaExecute",
    "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
    "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
]
WHOAMI = """
import os
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()
    try:
        functions = boto3.client("lambda").list_functions()["Functions"]
    except ClientError as error:
        functions = []
    return {
        "arn": identity["Arn"],
        "account": identity["Account"],
        "user_id": identity["UserId"],
        "key": os.environ["AWS_ACCESS_KEY_ID"],
        "has_token": bool(os.environ.get("AWS_SESSION_TOKEN")),
        "listed": len(functions) >= 1,
    }
"""


@pytest.fixture
def iam(kumo):
    return kumo.client("iam")


@pytest.fixture
def sts(kumo):
    return kumo.client("sts")


@pytest.fixture
def make_role(iam):
    """`make_role(**params)` → the created role; roles and their policies are removed afterwards."""
    created = []

    def make(trust=LAMBDA_TRUST_POLICY, **params):
        params.setdefault("RoleName", unique_name("role"))
        role = iam.create_role(AssumeRolePolicyDocument=trust, **params)["Role"]
        created.append(role["RoleName"])
        return role

    yield make
    for name in created:
        try:
            for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
            iam.delete_role(RoleName=name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity":
                raise


def temporary_client(kumo, service, credentials, **overrides):
    keys = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    keys.update(overrides)
    return kumo.client(service, **keys)


# --------------------------------------------------------------------------------------------
# IAM roles


def test_role_lifecycle(iam, make_role):
    name = unique_name("role")
    created = make_role(
        RoleName=name,
        Path="/service-role/",
        Description="made by a test",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "kumo"}],
    )
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == json.loads(LAMBDA_TRUST_POLICY)
    assert created["Tags"] == [{"Key": "team", "Value": "kumo"}]
    age = datetime.datetime.now(datetime.timezone.utc) - created["CreateDate"]
    assert abs(age.total_seconds()) < 60

    fetched = iam.get_role(RoleName=name)["Role"]
    for field in ("Arn", "RoleId", "Path", "RoleName", "CreateDate", "AssumeRolePolicyDocument"):
        assert fetched[field] == created[field]
    assert (fetched["Description"], fetched["MaxSessionDuration"]) == ("made by a test", 7200)
    assert fetched["RoleLastUsed"] == {}

    iam.update_role(RoleName=name, Description="changed", MaxSessionDuration=3600)
    trust = json.loads(LAMBDA_TRUST_POLICY)
    trust["Statement"][0]["Principal"]["Service"] = ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    fetched = iam.get_role(RoleName=name)["Role"]
    assert (fetched["Description"], fetched["MaxSessionDuration"]) == ("changed", 3600)
    assert fetched["AssumeRolePolicyDocument"] == trust

    iam.tag_role(RoleName=name, Tags=[{"Key": "stage", "Value": "test"}])
    iam.untag_role(RoleName=name, TagKeys=["team"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "stage", "Value": "test"}]

    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_role(RoleName=name)
    assert error_of(excinfo) == ("NoSuchEntity", 404, f"The role with name {name} cannot be found.")


def test_list_roles_by_path_and_page(iam, make_role):
    path = f"/{unique_name('path')}/"
    names = sorted(make_role(Path=path)["RoleName"] for _ in range(3))
    make_role(Path="/elsewhere/")
    first = iam.list_roles(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Roles"]) == 2
    second = iam.list_roles(PathPrefix=path, MaxItems=2, Marker=first["Marker"])
    assert second["IsTruncated"] is False and "Marker" not in second
    assert [role["RoleName"] for role in first["Roles"] + second["Roles"]] == names
    listed = [role["RoleName"] for page in iam.get_paginator("list_roles").paginate() for role in page["Roles"]]
    assert set(names) <= set(listed) and "lambda-role" in listed


def test_role_errors(iam, make_role):
    role = make_role()
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=role["RoleName"].upper(), AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    assert error_of(excinfo)[:2] == ("EntityAlreadyExists", 409)
    assert error_of(excinfo)[2] == f"Role with name {role['RoleName'].upper()} already exists."
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique_name("role"), AssumeRolePolicyDocument="this is not json")
    assert error_of(excinfo) == ("MalformedPolicyDocument", 400, "This policy contains invalid Json")
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique_name("role"), AssumeRolePolicyDocument=S3_POLICY)
    assert error_of(excinfo) == ("MalformedPolicyDocument", 400, "Missing required field Principal")
    with pytest.raises(ClientError) as excinfo:
        iam.update_role(RoleName=unique_name("missing"), Description="x")
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    assert error_of(excinfo)[:2] == ("ValidationError", 400)

    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=BASIC_EXECUTION)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=role["RoleName"])
    assert error_of(excinfo) == ("DeleteConflict", 409, "Cannot delete entity, must detach all policies first.")
    iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=BASIC_EXECUTION)
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="inline", PolicyDocument=S3_POLICY)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=role["RoleName"])
    assert error_of(excinfo) == ("DeleteConflict", 409, "Cannot delete entity, must delete policies first.")


def test_iam_is_global(kumo, make_role):
    role = make_role()
    elsewhere = kumo.client("iam", region="eu-west-3")
    assert elsewhere.get_role(RoleName=role["RoleName"])["Role"]["RoleId"] == role["RoleId"]


# --------------------------------------------------------------------------------------------
# IAM policies


def test_customer_managed_policies(iam, make_role):
    name = unique_name("policy")
    policy = iam.create_policy(PolicyName=name, Path="/app/", PolicyDocument=S3_POLICY, Description="reads")["Policy"]
    arn = f"arn:aws:iam::{ACCOUNT}:policy/app/{name}"
    assert policy["Arn"] == arn
    assert policy["PolicyId"].startswith("ANPA") and len(policy["PolicyId"]) == 21
    assert (policy["DefaultVersionId"], policy["AttachmentCount"], policy["IsAttachable"]) == ("v1", 0, True)

    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName=name, PolicyDocument=S3_POLICY)
    assert error_of(excinfo)[:2] == ("EntityAlreadyExists", 409)
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName=unique_name("policy"), PolicyDocument="{not json")
    assert error_of(excinfo)[:2] == ("MalformedPolicyDocument", 400)

    fetched = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (fetched["PolicyName"], fetched["Description"]) == (name, "reads")
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == json.loads(S3_POLICY) and version["IsDefaultVersion"] is True

    local = [p["Arn"] for p in iam.list_policies(Scope="Local", MaxItems=1000)["Policies"]]
    aws = [p["Arn"] for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]]
    everything = [p["Arn"] for page in iam.get_paginator("list_policies").paginate() for p in page["Policies"]]
    assert arn in local and arn not in aws and arn in everything
    assert BASIC_EXECUTION in aws and BASIC_EXECUTION not in local and BASIC_EXECUTION in everything
    assert [p["Arn"] for p in iam.list_policies(Scope="Local", PathPrefix="/app/")["Policies"]] == [arn]

    role = make_role()
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(excinfo) == ("DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.get_policy(PolicyArn=arn)
    assert error_of(excinfo) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")


def test_the_policies_lambda_tutorials_attach_exist(iam, make_role):
    role = make_role()
    for arn in TUTORIAL_POLICIES:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        assert policy["Arn"] == arn and policy["PolicyId"].startswith("ANPA")
        document = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        assert document["Document"]["Statement"]
    basic = iam.get_policy_version(PolicyArn=BASIC_EXECUTION, VersionId="v1")["PolicyVersion"]["Document"]
    assert set(basic["Statement"][0]["Action"]) == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    for arn in TUTORIAL_POLICIES[:3]:
        iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert attached == [{"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn} for arn in TUTORIAL_POLICIES[:3]]
    service_role = iam.list_attached_role_policies(RoleName=role["RoleName"], PathPrefix="/service-role/")
    assert len(service_role["AttachedPolicies"]) == 3


def test_attached_and_inline_role_policies(iam, make_role):
    role = make_role()["RoleName"]
    missing_policy = f"arn:aws:iam::{ACCOUNT}:policy/{unique_name('none')}"
    with pytest.raises(ClientError) as excinfo:
        iam.attach_role_policy(RoleName=role, PolicyArn=missing_policy)
    assert error_of(excinfo) == ("NoSuchEntity", 404, f"Policy {missing_policy} does not exist or is not attachable.")
    with pytest.raises(ClientError) as excinfo:
        iam.attach_role_policy(RoleName=unique_name("none"), PolicyArn=BASIC_EXECUTION)
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)
    iam.attach_role_policy(RoleName=role, PolicyArn=BASIC_EXECUTION)
    iam.attach_role_policy(RoleName=role, PolicyArn=BASIC_EXECUTION)
    assert len(iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]) == 1
    iam.detach_role_policy(RoleName=role, PolicyArn=BASIC_EXECUTION)
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    with pytest.raises(ClientError) as excinfo:
        iam.detach_role_policy(RoleName=role, PolicyArn=BASIC_EXECUTION)
    assert error_of(excinfo) == ("NoSuchEntity", 404, f"Policy {BASIC_EXECUTION} was not found.")

    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=S3_POLICY)
    iam.put_role_policy(RoleName=role, PolicyName="another", PolicyDocument=S3_POLICY)
    fetched = iam.get_role_policy(RoleName=role, PolicyName="read")
    assert (fetched["RoleName"], fetched["PolicyName"]) == (role, "read")
    assert fetched["PolicyDocument"] == json.loads(S3_POLICY)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["another", "read"]
    with pytest.raises(ClientError) as excinfo:
        iam.put_role_policy(RoleName=role, PolicyName="bad", PolicyDocument="[not json")
    assert error_of(excinfo)[:2] == ("MalformedPolicyDocument", 400)
    iam.delete_role_policy(RoleName=role, PolicyName="read")
    with pytest.raises(ClientError) as excinfo:
        iam.get_role_policy(RoleName=role, PolicyName="read")
    assert error_of(excinfo) == ("NoSuchEntity", 404, "The role policy with name read cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role_policy(RoleName=role, PolicyName="read")
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)


def test_aws_cli_speaks_iam_and_sts(kumo, iam):
    name = unique_name("cli-role")
    created = kumo.aws("iam", "create-role", "--role-name", name, "--assume-role-policy-document", LAMBDA_TRUST_POLICY)
    try:
        assert created["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
        kumo.aws("iam", "attach-role-policy", "--role-name", name, "--policy-arn", BASIC_EXECUTION)
        fetched = kumo.aws("iam", "get-role", "--role-name", name)
        assert fetched["Role"]["AssumeRolePolicyDocument"] == json.loads(LAMBDA_TRUST_POLICY)
        attached = kumo.aws("iam", "list-attached-role-policies", "--role-name", name)
        assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [BASIC_EXECUTION]
        identity = kumo.aws("sts", "get-caller-identity")
        assert identity == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}
    finally:
        iam.detach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION)
        iam.delete_role(RoleName=name)


# --------------------------------------------------------------------------------------------
# STS


def test_get_caller_identity_of_the_configured_key(sts):
    identity = sts.get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:root",
        ACCOUNT,
    )


def test_assumed_role_credentials_work_until_tampered(kumo, sts, iam, make_role):
    role = make_role()
    # The session lists functions and assumes a role again (chaining): its role allows both.
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess")
    assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="chain", PolicyDocument=json.dumps(assume))
    before = datetime.datetime.now(datetime.timezone.utc)
    assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="e2e-session", DurationSeconds=900)
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40 and credentials["SessionToken"]
    lifetime = (credentials["Expiration"] - before).total_seconds()
    assert 890 <= lifetime <= 905
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/e2e-session"
    assert assumed["AssumedRoleUser"] == {"Arn": session_arn, "AssumedRoleId": f"{role['RoleId']}:e2e-session"}

    identity = temporary_client(kumo, "sts", credentials).get_caller_identity()
    assert (identity["Arn"], identity["UserId"], identity["Account"]) == (
        session_arn,
        f"{role['RoleId']}:e2e-session",
        ACCOUNT,
    )
    assert "Functions" in temporary_client(kumo, "lambda", credentials).list_functions()

    tampered = temporary_client(kumo, "lambda", credentials, aws_session_token=credentials["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as excinfo:
        tampered.list_functions()
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)
    without_token = temporary_client(kumo, "lambda", credentials, aws_session_token=None)
    with pytest.raises(ClientError) as excinfo:
        without_token.list_functions()
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)
    wrong_secret = temporary_client(kumo, "lambda", credentials, aws_secret_access_key="x" * 40)
    with pytest.raises(ClientError) as excinfo:
        wrong_secret.list_functions()
    assert error_of(excinfo)[:2] == ("InvalidSignatureException", 403)
    unknown = temporary_client(kumo, "sts", credentials, aws_access_key_id="ASIAUNKNOWNUNKNOWN00")
    with pytest.raises(ClientError) as excinfo:
        unknown.get_caller_identity()
    assert error_of(excinfo) == ("InvalidClientTokenId", 403, "The security token included in the request is invalid.")

    chained = temporary_client(kumo, "sts", credentials).assume_role(RoleArn=role["Arn"], RoleSessionName="chained")
    assert chained["AssumedRoleUser"]["Arn"].endswith("/chained")


def test_assume_role_errors(kumo, sts, make_role):
    missing = f"arn:aws:iam::{ACCOUNT}:role/{unique_name('none')}"
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=missing, RoleSessionName="s1")
    assert error_of(excinfo) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on resource: {missing}",
    )
    role = make_role()
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7200)
    assert error_of(excinfo) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad name")
    assert error_of(excinfo)[:2] == ("ValidationError", 400)
    bad_secret = kumo.client("sts", aws_access_key_id="test", aws_secret_access_key="wrong")
    with pytest.raises(ClientError) as excinfo:
        bad_secret.get_caller_identity()
    assert error_of(excinfo)[:2] == ("SignatureDoesNotMatch", 403)


# --------------------------------------------------------------------------------------------
# Presigned URLs


def fetch(url):
    """(status, x-amzn-ErrorType, body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, None, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-amzn-ErrorType"), error.read()


def test_presigned_urls(kumo, make_function, sts, make_role):
    function = make_function("def handler(event, context):\n    return 1\n")
    client = function.client
    url = client.generate_presigned_url("get_function", Params={"FunctionName": function.name}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url and "Authorization" not in url
    status, _, body = fetch(url)
    assert status == 200 and json.loads(body)["Configuration"]["FunctionName"] == function.name

    tampered = url.replace(function.name, function.name + "x")
    assert fetch(tampered)[:2] == (403, "InvalidSignatureException")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    forged = url.replace(query["X-Amz-Signature"], "0" * 64)
    assert fetch(forged)[:2] == (403, "InvalidSignatureException")

    short = client.generate_presigned_url("get_function", Params={"FunctionName": function.name}, ExpiresIn=1)
    time.sleep(2.5)
    status, code, body = fetch(short)
    assert (status, code) == (403, "InvalidSignatureException")
    assert "expired" in json.loads(body)["message"]

    reader = make_role()
    kumo.client("iam").attach_role_policy(
        RoleName=reader["RoleName"], PolicyArn="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"
    )
    credentials = sts.assume_role(RoleArn=reader["Arn"], RoleSessionName="presigner")["Credentials"]
    temporary = temporary_client(kumo, "lambda", credentials)
    url = temporary.generate_presigned_url("get_function", Params={"FunctionName": function.name}, ExpiresIn=60)
    assert "X-Amz-Security-Token=" in url
    assert fetch(url)[0] == 200
    stripped = "&".join(part for part in url.split("&") if not part.startswith("X-Amz-Security-Token="))
    assert fetch(stripped)[:2] == (403, "UnrecognizedClientException")

    identity_url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    status, _, body = fetch(identity_url)
    assert status == 200 and f"<Arn>arn:aws:iam::{ACCOUNT}:root</Arn>".encode() in body


# --------------------------------------------------------------------------------------------
# Execution roles


def test_a_function_runs_as_a_session_of_its_role(kumo, deployer, make_role, iam):
    role = make_role()
    # The function lists functions: its role must allow it.
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess")
    name = unique_name()
    client = kumo.lambda_client()
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(WHOAMI)},
        Timeout=30,
    )
    deployer.adopt(name)
    result = invoke(client, name)
    assert result.function_error is None, result.payload
    payload = result.payload
    assert payload["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/{name}"
    assert payload["user_id"] == f"{role['RoleId']}:{name}"
    assert payload["account"] == ACCOUNT
    assert payload["key"].startswith("ASIA") and payload["has_token"] and payload["listed"]


def test_create_function_checks_the_role(kumo, make_function, make_role):
    client = kumo.lambda_client()
    name = unique_name()
    message = "The role defined for the function cannot be assumed by Lambda."
    for role in (
        f"arn:aws:iam::{ACCOUNT}:role/{unique_name('none')}",
        make_role(trust=LAMBDA_TRUST_POLICY.replace("lambda.amazonaws.com", "states.amazonaws.com"))["Arn"],
        "arn:aws:iam::111111111111:role/lambda-role",
    ):
        with pytest.raises(ClientError) as excinfo:
            client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="lambda_function.handler",
                Code={"ZipFile": python_zip("def handler(e, c):\n    return 1\n")},
            )
        assert error_of(excinfo) == ("InvalidParameterValueException", 400, message), role
    function = make_function("def handler(event, context):\n    return 1\n")
    with pytest.raises(ClientError) as excinfo:
        client.update_function_configuration(
            FunctionName=function.name, Role=f"arn:aws:iam::{ACCOUNT}:role/{unique_name('none')}"
        )
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, message)
    other = make_role()
    updated = client.update_function_configuration(FunctionName=function.name, Role=other["Arn"])
    assert updated["Role"] == other["Arn"]


def test_skip_role_check_takes_any_role(start_server):
    server = start_server(KUMO_SKIP_ROLE_CHECK="1")
    assert server.get_json("/_kumo/health")["auth"]["role_check"] is False
    client = server.lambda_client()
    role = f"arn:aws:iam::{ACCOUNT}:role/never-created"
    client.create_function(
        FunctionName="unchecked",
        Runtime="python3.12",
        Role=role,
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(WHOAMI)},
        Timeout=30,
    )
    response = client.invoke(FunctionName="unchecked")
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    assert payload["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/never-created/unchecked"


def test_kumo_deploy_creates_its_default_role(start_server, tmp_path):
    server = start_server()
    iam = server.client("iam")
    iam.delete_role(RoleName="lambda-role")
    source = tmp_path / "app"
    source.mkdir()
    (source / "app.py").write_text("def handler(event, context):\n    return 'hi'\n")
    done = server.kumo_cli("deploy", str(source), "--name", "deployed", "--runtime", "python3.12", "--handler", "app.handler")
    assert done.returncode == 0, done.stderr
    assert "created execution role" in done.stderr
    role = iam.get_role(RoleName="lambda-role")["Role"]
    attached = iam.list_attached_role_policies(RoleName="lambda-role")["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [BASIC_EXECUTION]
    assert server.lambda_client().get_function(FunctionName="deployed")["Configuration"]["Role"] == role["Arn"] == ROLE
    again = server.kumo_cli("deploy", str(source), "--name", "deployed", "--runtime", "python3.12", "--handler", "app.handler")
    assert again.returncode == 0 and "created execution role" not in again.stderr


# --------------------------------------------------------------------------------------------
# Insecure mode, accounts, restart


def test_insecure_mode_accepts_any_credentials(start_server, kumo):
    server = start_server(KUMO_INSECURE_ACCEPT_ANY_CREDENTIALS="1")
    auth = server.get_json("/_kumo/health")["auth"]
    assert auth["insecure_accept_any_credentials"] is True and auth["sigv4"] == "insecure-accept-any-credentials"
    assert "--insecure-accept-any-credentials is on" in server.log_tail(200)
    garbage = {"aws_access_key_id": "garbage", "aws_secret_access_key": "nonsense"}
    assert "Functions" in server.client("lambda", **garbage).list_functions()
    assert server.client("sts", **garbage).get_caller_identity()["Account"] == ACCOUNT
    with urllib.request.urlopen(server.endpoint + "/2015-03-31/functions/", timeout=10) as response:
        assert response.status == 200
    assert kumo.get_json("/_kumo/health")["auth"]["insecure_accept_any_credentials"] is False
    with pytest.raises(ClientError) as excinfo:
        kumo.client("lambda", **garbage).list_functions()
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)


def test_each_key_pair_maps_to_an_account(start_server):
    server = start_server(KUMO_ACCESS_KEYS="test:test,other:othersecret:111111111111")
    other = {"aws_access_key_id": "other", "aws_secret_access_key": "othersecret"}
    identity = server.client("sts", **other).get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == ("111111111111", "arn:aws:iam::111111111111:root")
    other_iam = server.client("iam", **other)
    with pytest.raises(ClientError) as excinfo:
        other_iam.get_role(RoleName="lambda-role")
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)
    created = other_iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)["Role"]
    assert created["Arn"] == "arn:aws:iam::111111111111:role/lambda-role"

    home_sts = server.client("sts")
    with pytest.raises(ClientError) as excinfo:
        home_sts.assume_role(RoleArn=created["Arn"], RoleSessionName="cross")
    assert error_of(excinfo)[:2] == ("AccessDenied", 403)
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    shared = other_iam.create_role(RoleName="shared", AssumeRolePolicyDocument=trust)["Role"]
    credentials = home_sts.assume_role(RoleArn=shared["Arn"], RoleSessionName="cross")["Credentials"]
    identity = temporary_client(server, "sts", credentials).get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::111111111111:assumed-role/shared/cross"


def test_restart_keeps_roles_policies_and_sessions(spare_kumo):
    iam = spare_kumo.client("iam")
    role = iam.create_role(RoleName="kept", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY, Description="survives")["Role"]
    policy = iam.create_policy(PolicyName="kept-policy", PolicyDocument=S3_POLICY)["Policy"]
    iam.attach_role_policy(RoleName="kept", PolicyArn=policy["Arn"])
    iam.attach_role_policy(RoleName="kept", PolicyArn=BASIC_EXECUTION)
    iam.put_role_policy(RoleName="kept", PolicyName="inline", PolicyDocument=S3_POLICY)
    credentials = spare_kumo.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="kept")["Credentials"]

    code, _ = spare_kumo.stop()
    assert code == 0
    spare_kumo.start()

    iam = spare_kumo.client("iam")
    fetched = iam.get_role(RoleName="kept")["Role"]
    assert (fetched["RoleId"], fetched["Description"]) == (role["RoleId"], "survives")
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="kept")["AttachedPolicies"]]
    assert attached == [policy["Arn"], BASIC_EXECUTION]
    assert iam.get_role_policy(RoleName="kept", PolicyName="inline")["PolicyDocument"] == json.loads(S3_POLICY)
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["PolicyId"] == policy["PolicyId"]
    identity = temporary_client(spare_kumo, "sts", credentials).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/kept/kept"
