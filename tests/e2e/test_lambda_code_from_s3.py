"""Lambda code from S3 (issue 13): CreateFunction, UpdateFunctionCode and PublishLayerVersion take
`S3Bucket`/`S3Key`(/`S3ObjectVersion`) and read the package through Kumo's S3 as the caller; AWS's
errors when the object cannot be read (`Error occurred while GetObject. S3 Error Code: …`), and a
package over the 50 MB inline limit deploys from S3 as on AWS."""

import os
import urllib.request

import pytest
from botocore.exceptions import ClientError

from e2e_support import (
    LAMBDA_TRUST_POLICY,
    ROLE,
    code_sha256,
    error_of,
    invoke,
    make_zip,
    poll,
    python_zip,
    unique_name,
)

HANDLER = """
import os

def lambda_handler(event, context):
    from greeting import GREETING
    return {"version": "%s", "greeting": GREETING, "layer": os.path.exists("/opt/python/greeting.py")}
"""


def handler_zip(version):
    return python_zip(HANDLER % version)


@pytest.fixture
def s3(kumo):
    return kumo.client("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("code")
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def create_from_s3(kumo, deployer, code, **params):
    client = kumo.lambda_client()
    name = unique_name("s3code")
    created = client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler", Code=code,
        **params,
    )
    deployer.adopt(name)
    poll(lambda: client.get_function(FunctionName=name)["Configuration"]["State"] == "Active", timeout=30)
    return client, name, created


def test_functions_and_layers_deploy_from_s3_objects(kumo, deployer, s3, bucket):
    layer_zip = make_zip({"python/greeting.py": "GREETING = 'hello from a layer in S3'\n"})
    s3.put_object(Bucket=bucket, Key="layers/greeting.zip", Body=layer_zip)
    client = kumo.lambda_client()
    layer_name = unique_name("s3layer")
    layer = client.publish_layer_version(
        LayerName=layer_name, Content={"S3Bucket": bucket, "S3Key": "layers/greeting.zip"}
    )
    try:
        assert layer["Content"]["CodeSha256"] == code_sha256(layer_zip)
        first = handler_zip("one")
        s3.put_object(Bucket=bucket, Key="functions/v1.zip", Body=first)
        client, name, created = create_from_s3(
            kumo, deployer, {"S3Bucket": bucket, "S3Key": "functions/v1.zip"}, Layers=[layer["LayerVersionArn"]]
        )
        assert created["CodeSha256"] == code_sha256(first)
        assert created["CodeSize"] == len(first)
        assert invoke(client, name, {}).payload == {
            "version": "one", "greeting": "hello from a layer in S3", "layer": True
        }
        # GetFunction's code location serves the package read from S3.
        location = client.get_function(FunctionName=name)["Code"]["Location"]
        with urllib.request.urlopen(location, timeout=10) as response:
            assert response.read() == first

        second = handler_zip("two")
        s3.put_object(Bucket=bucket, Key="functions/v2.zip", Body=second)
        updated = client.update_function_code(
            FunctionName=name, S3Bucket=bucket, S3Key="functions/v2.zip", S3ObjectVersion="null"
        )
        assert updated["CodeSha256"] == code_sha256(second)
        poll(lambda: client.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == "Successful")
        assert invoke(client, name, {}).payload["version"] == "two"
    finally:
        client.delete_layer_version(LayerName=layer_name, VersionNumber=layer["Version"])


def test_a_package_over_the_inline_limit_deploys_from_s3(kumo, deployer, s3, bucket):
    # 51 MiB of incompressible data: over the 50 MB a ZipFile may carry, under the 250 MB unzipped.
    big = make_zip({"lambda_function.py": HANDLER % "big", "greeting.py": "GREETING = 'big'\n",
                    "blob.bin": os.urandom(51 * 1024 * 1024)})
    assert len(big) > 50 * 1024 * 1024
    s3.put_object(Bucket=bucket, Key="big.zip", Body=big)
    client, name, created = create_from_s3(kumo, deployer, {"S3Bucket": bucket, "S3Key": "big.zip"})
    assert created["CodeSize"] == len(big)
    assert invoke(client, name, {}).payload["version"] == "big"


def test_unreadable_objects_answer_aws_errors(kumo, s3, bucket):
    client = kumo.lambda_client()
    s3.put_object(Bucket=bucket, Key="ok.zip", Body=handler_zip("x"))
    other_region = unique_name("west")
    kumo.client("s3", region="us-west-2").create_bucket(
        Bucket=other_region, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    cases = [
        ({"S3Bucket": bucket, "S3Key": "missing.zip"},
         "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist."),
        ({"S3Bucket": unique_name("nobucket"), "S3Key": "ok.zip"},
         "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist"),
        ({"S3Bucket": bucket, "S3Key": "ok.zip", "S3ObjectVersion": "3HL4kqtJlcpXroDTDmJ"},
         "Error occurred while GetObject. S3 Error Code: NoSuchVersion. S3 Error Message: The specified version does not exist."),
        ({"S3Bucket": other_region, "S3Key": "ok.zip"},
         "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is in this "
         "region: us-west-2. Please use this region to retry the request"),
        ({"S3Bucket": bucket}, "Please provide a source for function code."),
    ]
    try:
        for code, message in cases:
            name = unique_name("s3err")
            with pytest.raises(ClientError) as excinfo:
                client.create_function(
                    FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler",
                    Code=code,
                )
            assert error_of(excinfo) == ("InvalidParameterValueException", 400, message), code
            with pytest.raises(ClientError) as excinfo:
                client.get_function(FunctionName=name)
            assert error_of(excinfo)[0] == "ResourceNotFoundException"
        with pytest.raises(ClientError) as excinfo:
            client.publish_layer_version(LayerName=unique_name("l"), Content={"S3Bucket": bucket, "S3Key": "no.zip"})
        assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
        assert "S3 Error Code: NoSuchKey" in error_of(excinfo)[2]
    finally:
        kumo.client("s3", region="us-west-2").delete_bucket(Bucket=other_region)


def test_another_accounts_bucket_is_not_a_code_source(start_server):
    """Lambda reads the package with the caller's permissions: a tenant cannot deploy (and so
    read) another account's private object."""
    other_keys = {"aws_access_key_id": "other", "aws_secret_access_key": "othersecret"}
    server = start_server(KUMO_ACCESS_KEYS="test:test,other:othersecret:111111111111")
    server.client("iam", **other_keys).create_role(RoleName="lambda-role", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    bucket = unique_name("private")
    server.client("s3").create_bucket(Bucket=bucket)
    server.client("s3").put_object(Bucket=bucket, Key="private.zip", Body=handler_zip("x"))
    with pytest.raises(ClientError) as excinfo:
        server.client("lambda", **other_keys).create_function(
            FunctionName=unique_name("thief"), Runtime="python3.12", Role="arn:aws:iam::111111111111:role/lambda-role",
            Handler="lambda_function.lambda_handler", Code={"S3Bucket": bucket, "S3Key": "private.zip"},
        )
    assert error_of(excinfo) == (
        "InvalidParameterValueException", 400,
        "Error occurred while GetObject. S3 Error Code: AccessDenied. S3 Error Message: Access Denied",
    )
