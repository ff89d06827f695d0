"""Layers through boto3 and the AWS CLI: publishing, reading, listing, deleting, layer version
permissions, the `Layers` of functions, their errors as AWS words them, and durability."""

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, ROLE, code_sha256, error_of, make_zip, python_zip, unique_name

LAYER_FILES = {"python/helper.py": "VALUE = 'from the layer'\n"}
HELLO = "def handler(event, context):\n    return 'hello'\n"


def test_publish_get_list_and_delete_layer_versions(kumo, make_layer):
    client = kumo.lambda_client()
    zip_bytes = make_zip(LAYER_FILES)
    first = make_layer(
        zip_bytes, Description="helpers", CompatibleRuntimes=["python3.12", "python3.13"],
        CompatibleArchitectures=["x86_64"], LicenseInfo="MIT",
    )  # fmt: skip
    name = first["LayerArn"].rsplit(":", 1)[1]
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["LayerArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}"
    assert first["LayerVersionArn"] == f"{first['LayerArn']}:1"
    assert first["Version"] == 1
    assert (first["Description"], first["LicenseInfo"]) == ("helpers", "MIT")
    assert first["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert first["CompatibleArchitectures"] == ["x86_64"]
    assert first["Content"]["CodeSha256"] == code_sha256(zip_bytes)
    assert first["Content"]["CodeSize"] == len(zip_bytes)
    with urllib.request.urlopen(first["Content"]["Location"], timeout=10) as download:
        assert download.read() == zip_bytes
    second = make_layer({"python/helper.py": "VALUE = 2\n"}, name=name)
    assert second["Version"] == 2
    assert "CompatibleRuntimes" not in second and "LicenseInfo" not in second

    got = client.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert {key: got[key] for key in ("LayerVersionArn", "Description", "CreatedDate", "Content")} == {
        key: first[key] for key in ("LayerVersionArn", "Description", "CreatedDate", "Content")
    }
    assert client.get_layer_version(LayerName=first["LayerArn"], VersionNumber=2)["Version"] == 2
    assert client.get_layer_version_by_arn(Arn=first["LayerVersionArn"])["Version"] == 1

    versions = client.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1], "newest first"
    assert versions[1] == {
        "LayerVersionArn": first["LayerVersionArn"], "Version": 1, "Description": "helpers",
        "CreatedDate": first["CreatedDate"], "CompatibleRuntimes": ["python3.12", "python3.13"],
        "CompatibleArchitectures": ["x86_64"], "LicenseInfo": "MIT",
    }  # fmt: skip
    listed = [layer for layer in client.list_layers()["Layers"] if layer["LayerName"] == name]
    assert listed == [
        {"LayerName": name, "LayerArn": first["LayerArn"], "LatestMatchingVersion": versions[0]}
    ]

    deleted = client.delete_layer_version(LayerName=name, VersionNumber=2)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    # Deleting again, or a version that never existed, succeeds as on AWS.
    client.delete_layer_version(LayerName=name, VersionNumber=2)
    client.delete_layer_version(LayerName=unique_name("never"), VersionNumber=7)
    with pytest.raises(ClientError) as excinfo:
        client.get_layer_version(LayerName=name, VersionNumber=2)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    with pytest.raises(ClientError) as excinfo:
        client.get_layer_version_by_arn(Arn=f"{first['LayerArn']}:2")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    client.delete_layer_version(LayerName=name, VersionNumber=1)
    assert client.list_layer_versions(LayerName=name)["LayerVersions"] == []
    assert not [layer for layer in client.list_layers()["Layers"] if layer["LayerName"] == name]
    # Numbers are never reused, even once every version is gone.
    assert make_layer(LAYER_FILES, name=name)["Version"] == 3


def test_list_layers_filters_and_pages(kumo, make_layer):
    # A region of its own, so that only this test's layers are listed.
    region = "ap-southeast-2"
    client = kumo.lambda_client(region)
    python = make_layer(LAYER_FILES, region=region, CompatibleRuntimes=["python3.12"])
    name = python["LayerArn"].rsplit(":", 1)[1]
    node = make_layer(LAYER_FILES, name=name, region=region, CompatibleRuntimes=["nodejs20.x"])
    arm = make_layer(LAYER_FILES, region=region, CompatibleArchitectures=["arm64"])
    plain = make_layer(LAYER_FILES, region=region)

    everything = client.list_layers()["Layers"]
    assert sorted(layer["LayerName"] for layer in everything) == sorted(
        layer["LayerArn"].rsplit(":", 1)[1] for layer in (python, arm, plain)
    )
    by_runtime = client.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert [(layer["LayerName"], layer["LatestMatchingVersion"]["Version"]) for layer in by_runtime] == [(name, 1)]
    by_architecture = client.list_layers(CompatibleArchitecture="arm64")["Layers"]
    assert [layer["LayerArn"] for layer in by_architecture] == [arm["LayerArn"]]
    node_versions = client.list_layer_versions(LayerName=name, CompatibleRuntime="nodejs20.x")["LayerVersions"]
    assert [v["Version"] for v in node_versions] == [2]

    first_page = client.list_layers(MaxItems=2)
    assert len(first_page["Layers"]) == 2 and "NextMarker" in first_page
    rest = client.list_layers(MaxItems=2, Marker=first_page["NextMarker"])
    assert "NextMarker" not in rest
    assert [layer["LayerName"] for layer in first_page["Layers"] + rest["Layers"]] == sorted(
        layer["LayerName"] for layer in everything
    )
    paged = client.get_paginator("list_layer_versions").paginate(LayerName=name, PaginationConfig={"PageSize": 1})
    assert [v["Version"] for page in paged for v in page["LayerVersions"]] == [2, 1]

    # The account's code storage counts layers too (no function lives in this region).
    sizes = [version["Content"]["CodeSize"] for version in (python, node, arm, plain)]
    assert client.get_account_settings()["AccountUsage"]["TotalCodeSize"] == sum(sizes)

    for bad in ({"MaxItems": 51}, {"CompatibleRuntime": "cobol"}, {"CompatibleArchitecture": "sparc"}):
        with pytest.raises(ClientError) as excinfo:
            client.list_layers(**bad)
        assert error_of(excinfo)[:2] == ("ValidationException", 400), bad


def test_publish_errors(kumo):
    client = kumo.lambda_client()
    layer_name = unique_name("bad")
    with pytest.raises(ClientError) as excinfo:
        client.publish_layer_version(LayerName=layer_name, Content={"ZipFile": b"not a zip"})
    assert error_of(excinfo) == (
        "InvalidParameterValueException", 400,
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )  # fmt: skip
    with pytest.raises(ClientError) as excinfo:
        client.publish_layer_version(LayerName=layer_name, Content={"ZipFile": make_zip({"../escape.py": "x"})})
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.publish_layer_version(
            LayerName=layer_name, Content={"ZipFile": make_zip(LAYER_FILES)}, CompatibleRuntimes=["cobol"]
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value '[cobol]' at 'compatibleRuntimes'")
    with pytest.raises(ClientError) as excinfo:
        client.publish_layer_version(LayerName="has space", Content={"ZipFile": make_zip(LAYER_FILES)})
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.get_layer_version(LayerName=layer_name, VersionNumber=0)
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, "Layer Version Cannot be less than 1")
    # Nothing was published by the failed calls.
    assert client.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []


def test_layer_version_permissions(kumo, make_layer):
    client = kumo.lambda_client()
    layer = make_layer(LAYER_FILES)
    name, arn = layer["LayerArn"].rsplit(":", 1)[1], layer["LayerVersionArn"]
    with pytest.raises(ClientError) as excinfo:
        client.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, "No policy is associated with the given resource.")

    added = client.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="one-account", Action="lambda:GetLayerVersion",
        Principal="111122223333",
    )  # fmt: skip
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    account_statement = {
        "Sid": "one-account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "lambda:GetLayerVersion", "Resource": arn,
    }  # fmt: skip
    assert json.loads(added["Statement"]) == account_statement
    organisation = client.add_layer_version_permission(
        LayerName=layer["LayerArn"], VersionNumber=1, StatementId="org", Action="lambda:GetLayerVersion",
        Principal="*", OrganizationId="o-abcdefghij", RevisionId=added["RevisionId"],
    )  # fmt: skip
    org_statement = {
        "Sid": "org", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion", "Resource": arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    }  # fmt: skip
    assert json.loads(organisation["Statement"]) == org_statement
    policy = client.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == organisation["RevisionId"] != added["RevisionId"]
    # Rendered as AWS writes it, keys in its order.
    assert policy["Policy"].startswith('{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"one-account",')
    assert added["Statement"].startswith('{"Sid":"one-account","Effect":"Allow","Principal":{"AWS":')
    assert json.loads(policy["Policy"]) == {
        "Version": "2012-10-17", "Id": "default", "Statement": [account_statement, org_statement]
    }  # fmt: skip

    def add(**params):
        request = {"LayerName": name, "VersionNumber": 1, "StatementId": "s2", "Action": "lambda:GetLayerVersion",
                   "Principal": "*", **params}  # fmt: skip
        with pytest.raises(ClientError) as excinfo:
            client.add_layer_version_permission(**request)
        return error_of(excinfo)

    assert add(StatementId="org") == (
        "ResourceConflictException", 409,
        "The statement id (org) provided already exists. Please provide a new statement id, or remove the existing statement.",
    )  # fmt: skip
    assert add(RevisionId=added["RevisionId"])[:2] == ("PreconditionFailedException", 412)
    assert add(Action="lambda:InvokeFunction")[:2] == ("ValidationException", 400)
    assert add(Principal="s3.amazonaws.com")[:2] == ("ValidationException", 400)
    missing = f"Layer version {layer['LayerArn']}:9 does not exist."
    assert add(VersionNumber=9) == ("ResourceNotFoundException", 404, missing)

    removed = client.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="one-account")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        client.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="one-account")
    not_found = "Statement one-account is not found in resource policy."
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, not_found)
    assert json.loads(client.get_layer_version_policy(LayerName=name, VersionNumber=1)["Policy"])["Statement"] == [
        org_statement
    ]
    client.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org")
    with pytest.raises(ClientError) as excinfo:
        client.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_functions_reference_layers_by_version_arn(kumo, make_function, make_layer):
    client = kumo.lambda_client()
    first = make_layer(LAYER_FILES)
    second = make_layer({"python/other.py": "X = 1\n"})
    function = make_function(HELLO, Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    expected = [
        {"Arn": first["LayerVersionArn"], "CodeSize": first["Content"]["CodeSize"]},
        {"Arn": second["LayerVersionArn"], "CodeSize": second["Content"]["CodeSize"]},
    ]
    assert function.created["Layers"] == expected
    assert function.configuration()["Layers"] == expected
    assert client.get_function(FunctionName=function.name)["Configuration"]["Layers"] == expected
    listed = kumo.kumo_cli("ls")
    row = next(line for line in listed.stdout.splitlines() if line.startswith(function.name + " "))
    assert row.split()[4] == "2", f"the LAYERS column of kumo ls: {row}"

    # PublishVersion snapshots the layers; updating $LATEST replaces its list.
    version = client.publish_version(FunctionName=function.name)["Version"]
    updated = client.update_function_configuration(FunctionName=function.name, Layers=[second["LayerVersionArn"]])
    assert updated["Layers"] == expected[1:]
    assert client.get_function_configuration(FunctionName=function.name, Qualifier=version)["Layers"] == expected
    client.get_waiter("function_updated_v2").wait(FunctionName=function.name)
    removed = client.update_function_configuration(FunctionName=function.name, Layers=[])
    assert "Layers" not in removed

    # A function keeps running on a layer version deleted after it was attached, as on AWS.
    client.delete_layer_version(LayerName=first["LayerArn"], VersionNumber=1)
    assert client.get_function_configuration(FunctionName=function.name, Qualifier=version)["Layers"] == expected
    assert function.invoke(Qualifier=version).payload == "hello"


def test_function_layer_errors(kumo, make_layer):
    client = kumo.lambda_client()
    layer = make_layer(LAYER_FILES)
    arn = layer["LayerVersionArn"]
    newer = make_layer(LAYER_FILES, name=layer["LayerArn"].rsplit(":", 1)[1])["LayerVersionArn"]
    name = unique_name("layered")

    def create(layers):
        with pytest.raises(ClientError) as excinfo:
            client.create_function(
                FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
                Code={"ZipFile": python_zip(HELLO)}, Layers=layers,
            )  # fmt: skip
        return error_of(excinfo)

    missing = f"{layer['LayerArn']}:99"
    assert create([missing]) == ("InvalidParameterValueException", 400, f"Layer version {missing} does not exist.")
    assert create([arn] * 6) == ("InvalidParameterValueException", 400, "Cannot reference more than 5 layers.")
    assert create([arn, newer]) == (
        "InvalidParameterValueException", 400,
        f"Two different versions of the same layer are not allowed to be referenced in the same function. "
        f"{arn} and {newer} are versions of the same layer.",
    )  # fmt: skip
    elsewhere = arn.replace("us-east-1", "eu-west-1")
    assert create([elsewhere]) == (
        "InvalidParameterValueException", 400,
        "Layers are not in the same region as the function. Layers are expected to be in region us-east-1.",
    )  # fmt: skip
    code, status, message = create([layer["LayerArn"]])
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(f"1 validation error detected: Value '[{layer['LayerArn']}]' at 'layers'")
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404), "no failed create left a function behind"


def test_layers_with_the_aws_cli(kumo, tmp_path):
    name = unique_name("cli-layer")
    package = tmp_path / "layer.zip"
    package.write_bytes(make_zip(LAYER_FILES))
    published = kumo.aws(
        "lambda", "publish-layer-version", "--layer-name", name, "--zip-file", f"fileb://{package}",
        "--compatible-runtimes", "python3.12", "nodejs20.x", "--description", "from the cli",
    )  # fmt: skip
    assert published["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:1"
    assert published["Content"]["CodeSha256"] == code_sha256(package.read_bytes())
    found = kumo.aws("lambda", "get-layer-version-by-arn", "--arn", published["LayerVersionArn"])
    assert (found["Description"], found["CompatibleRuntimes"]) == ("from the cli", ["python3.12", "nodejs20.x"])
    listed = kumo.aws("lambda", "list-layer-versions", "--layer-name", name)
    assert [v["Version"] for v in listed["LayerVersions"]] == [1]
    statement = kumo.aws(
        "lambda", "add-layer-version-permission", "--layer-name", name, "--version-number", "1",
        "--statement-id", "everyone", "--action", "lambda:GetLayerVersion", "--principal", "*",
    )  # fmt: skip
    assert json.loads(statement["Statement"])["Principal"] == "*"
    policy = kumo.aws("lambda", "get-layer-version-policy", "--layer-name", name, "--version-number", "1")
    assert json.loads(policy["Policy"])["Statement"][0]["Sid"] == "everyone"
    kumo.aws("lambda", "delete-layer-version", "--layer-name", name, "--version-number", "1")
    assert kumo.aws("lambda", "list-layer-versions", "--layer-name", name)["LayerVersions"] == []


def test_layers_and_their_permissions_survive_restart(spare_kumo):
    client = spare_kumo.lambda_client()
    name = unique_name("durable-layer")
    zip_bytes = make_zip(LAYER_FILES)
    first = client.publish_layer_version(
        LayerName=name, Content={"ZipFile": zip_bytes}, CompatibleRuntimes=["python3.12"]
    )
    client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes})
    client.delete_layer_version(LayerName=name, VersionNumber=2)
    client.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="keep", Action="lambda:GetLayerVersion", Principal="*"
    )
    policy_before = client.get_layer_version_policy(LayerName=name, VersionNumber=1)
    function = unique_name("uses-layer")
    source = "import helper\n\ndef handler(event, context):\n    return helper.VALUE\n"
    client.create_function(
        FunctionName=function, Runtime="python3.12", Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(source)}, Layers=[first["LayerVersionArn"]],
    )  # fmt: skip
    spare_kumo.stop()
    spare_kumo.start()
    spare_kumo._clients.clear()
    client = spare_kumo.lambda_client()

    got = client.get_layer_version(LayerName=name, VersionNumber=1)
    assert (got["CompatibleRuntimes"], got["Content"]["CodeSha256"]) == (["python3.12"], code_sha256(zip_bytes))
    assert [v["Version"] for v in client.list_layer_versions(LayerName=name)["LayerVersions"]] == [1]
    policy_after = client.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy_after["Policy"] == policy_before["Policy"]
    assert policy_after["RevisionId"] == policy_before["RevisionId"]
    assert client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes})["Version"] == 3
    assert client.get_function_configuration(FunctionName=function)["Layers"][0]["Arn"] == first["LayerVersionArn"]
    assert json.load(client.invoke(FunctionName=function)["Payload"]) == "from the layer"
