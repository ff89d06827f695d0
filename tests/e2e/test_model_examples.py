"""Whole responses against AWS's documented ones: each Lambda example of botocore's
`examples-1.json` (the AWS API reference's examples) whose family no other test compares whole
(aliases, async invocation configuration, concurrency, provisioned concurrency, permissions,
layer versions and their permissions, tags) is sent to Kumo as written, its names, account and
region turned into Kumo's, and the answer must equal the example's output: every member, nothing
more, the same names and values; only generated values (revision ids, timestamps, code hashes,
sizes and locations) are masked, after checking that both sides have them. SQS's model has no
examples (its whole responses are compared in test_sqs_wire.py)."""

import copy
import json
from pathlib import Path

import botocore

from e2e_support import ACCOUNT, make_zip, poll, unique_name

EXAMPLES = json.loads(
    (Path(botocore.__file__).parent / "data/lambda/2015-03-31/examples-1.json").read_text()
)["examples"]
# Members whose values AWS generates: present on both sides, values not compared.
GENERATED = {"RevisionId", "LastModified", "CreatedDate", "CodeSha256", "CodeSize", "Location"}
# Members holding a JSON document: compared parsed.
DOCUMENTS = {"Statement", "Policy"}
MASK = "<generated>"


def localized(value, names):
    """An example's value with its account, regions and resource names turned into Kumo's."""
    text = json.dumps(value)
    for example_value, kumo_value in [("123456789012", ACCOUNT), ("us-east-2", "us-east-1"),
                                      ("us-west-2", "us-east-1"), *names.items()]:
        text = text.replace(example_value, kumo_value)
    return json.loads(text)


def comparable(value, key=None):
    """`value` with generated members masked and JSON documents parsed."""
    if isinstance(value, dict):
        return {k: comparable(v, k) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if key in GENERATED:
        return MASK
    if key in DOCUMENTS:
        return json.loads(value)
    return value


def example(operation, names, index=0):
    """(input, expected output) of an example, localized."""
    documented = copy.deepcopy(EXAMPLES[operation][index])
    return localized(documented.get("input", {}), names), localized(documented.get("output", {}), names)


def check(client, operation, names, index=0, recorded=None, **overrides):
    """Sends the example's input (with `overrides`) and compares the whole answer with its output
    (plus `recorded`: members AWS answers today that the older example lacks, as recorded from
    AWS in LocalStack's validated snapshots)."""
    request, expected = example(operation, names, index)
    request.update(overrides)
    expected.update(recorded or {})
    answer = getattr(client, botocore.xform_name(operation))(**request)
    assert comparable(answer) == comparable(expected), operation
    return answer


def test_alias_examples(kumo, deployer):
    client = kumo.lambda_client()
    function = deployer.create("def handler(event, context):\n    return 1\n")
    names = {"my-function": function.name}
    for number in range(1, 4):
        client.update_function_configuration(FunctionName=function.name, Description=f"v{number}")
        client.get_waiter("function_updated_v2").wait(FunctionName=function.name, WaiterConfig={"Delay": 1})
        assert client.publish_version(FunctionName=function.name)["Version"] == str(number)
    check(client, "CreateAlias", names)
    client.create_alias(FunctionName=function.name, Name="BLUE", FunctionVersion="3",
                        Description="Production environment BLUE.")
    check(client, "GetAlias", names)
    check(client, "UpdateAlias", names)


def test_async_invocation_configuration_examples(kumo, deployer):
    client = kumo.lambda_client()
    function = deployer.create("def handler(event, context):\n    return 1\n", role=kumo.delivery_role())
    sqs = kumo.client("sqs")
    for queue in ("failed-invocations", "destination"):
        sqs.create_queue(QueueName=queue)
    names = {"my-function": function.name}
    check(client, "PutFunctionEventInvokeConfig", names)
    check(client, "UpdateFunctionEventInvokeConfig", names)
    version = client.publish_version(FunctionName=function.name)["Version"]
    client.create_alias(FunctionName=function.name, Name="BLUE", FunctionVersion=version)
    client.put_function_event_invoke_config(
        FunctionName=function.name, Qualifier="BLUE", MaximumEventAgeInSeconds=3600, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:failed-invocations"}},
    )
    check(client, "GetFunctionEventInvokeConfig", names)


def test_concurrency_examples(kumo, deployer):
    client = kumo.lambda_client()
    function = deployer.create("def handler(event, context):\n    return 1\n")
    names = {"my-function": function.name}
    check(client, "PutFunctionConcurrency", names)
    client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=250)
    check(client, "GetFunctionConcurrency", names)
    client.delete_function_concurrency(FunctionName=function.name)


def test_permission_and_tag_examples(kumo, deployer):
    client = kumo.lambda_client()
    function = deployer.create("def handler(event, context):\n    return 1\n",
                               Tags={"Category": "Web Tools", "Department": "Sales"})
    names = {"my-function": function.name}
    # The cross-account example (the S3 one's output drops its SourceArn's `/*`: not AWS's answer).
    check(client, "AddPermission", names, index=1)
    version = client.publish_version(FunctionName=function.name)["Version"]
    client.add_permission(FunctionName=function.name, Qualifier=version, StatementId="xaccount",
                          Action="lambda:InvokeFunction", Principal=ACCOUNT)
    check(client, "GetPolicy", names)
    check(client, "ListTags", names)


def test_layer_examples(kumo, make_layer):
    client = kumo.lambda_client()
    name = unique_name("layer")
    names = {"my-layer": name}
    content = {"ZipFile": make_zip({"python/helper.py": "VALUE = 1\n"})}
    published = check(client, "PublishLayerVersion", names, Content=content)
    try:
        check(client, "GetLayerVersion", names)
        check(client, "AddLayerVersionPermission", names)
    finally:
        client.delete_layer_version(LayerName=name, VersionNumber=published["Version"])


def test_provisioned_concurrency_examples(kumo, deployer):
    client = kumo.lambda_client()
    function = deployer.create("def handler(event, context):\n    return 1\n")
    names = {"my-function": function.name}
    version = client.publish_version(FunctionName=function.name)["Version"]
    client.create_alias(FunctionName=function.name, Name="BLUE", FunctionVersion=version)
    # The example's 100 environments scaled down to 2 (each is a process on this machine): the
    # members, statuses and counts relative to the request stay the example's.
    try:
        # AWS answers Available… too (LocalStack's test_lambda_api snapshot `put_provisioned_on_alias`).
        recorded = {"AvailableProvisionedConcurrentExecutions": 0, "RequestedProvisionedConcurrentExecutions": 2}
        check(client, "PutProvisionedConcurrencyConfig", names, recorded=recorded, ProvisionedConcurrentExecutions=2)
        poll(lambda: client.get_provisioned_concurrency_config(FunctionName=function.name, Qualifier="BLUE")[
            "Status"] == "READY", timeout=30, what="the provisioned environments to be READY")
        scaled = {f"{kind}ProvisionedConcurrentExecutions": 2 for kind in ("Allocated", "Available", "Requested")}
        check(client, "GetProvisionedConcurrencyConfig", names, recorded=scaled)
    finally:
        client.delete_provisioned_concurrency_config(FunctionName=function.name, Qualifier="BLUE")
