"""Every operation Kumo implements against its botocore model, through real clients (issue 11:
"every SQS, IAM, STS and Lambda operation's shapes decode and encode").

The operations are read from Kumo's own tables (the `operation!` rows of `kumo-sqs` and
`kumo-iam`, Lambda's `LAMBDA_OPERATIONS`), so a new row is tested without touching this file.
For each one, botocore builds and sends, from the model:
- **example**: the input of its `examples-1.json` example, else a skeleton of every member;
- **full**: a skeleton of every member of the input shape (optional ones, nested lists, maps and
  structures included) under the example's values, when there is an example;
- **minimal**: the required members only (plus the few values an operation needs to succeed),
  which must succeed;
- **absent**: the minimal request naming resources that do not exist (not for creates), for the
  error path.
Resource names in them are replaced by resources created first (a function, version, alias,
layer, queue, role, policy …); an operation that consumes its resource (deletes, receipt
handles, move tasks) gets a throwaway one per request.

Each answer must not be a decode-class error (`SerializationException`, "Could not parse",
`MalformedQueryString`, an unknown or missing field, `InternalFailure`/5xx, an unknown
operation): Kumo decoded what botocore sent. Each answer that succeeds must carry, in its raw
body, only members of the model's output shape at each level, with the model's types (strings,
integers, doubles, booleans, timestamps, blobs, enum values), and botocore must have parsed it;
the JSON body of a modeled error only members of that error's shape."""

import base64
import datetime
import json
import os
import re
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore import xform_name
from botocore.utils import parse_timestamp

from e2e_support import ACCOUNT, LAMBDA_TRUST_POLICY, python_zip, unique_name

REPO = Path(__file__).resolve().parents[2]
SOURCES = {
    "sqs": sorted((REPO / "crates/kumo-sqs/src").glob("api*.rs")),
    "iam": sorted((REPO / "crates/kumo-iam/src").glob("api*.rs")),
    "lambda": [REPO / "crates/kumo-gateway/src/lambda_operations.rs"],
}
BOTOCORE = botocore.session.get_session()
MODELS = {service: BOTOCORE.get_service_model(service) for service in ("lambda", "sqs", "iam", "sts")}
LOADER = BOTOCORE.get_component("data_loader")

FUNCTION_SOURCE = "def handler(event, context):\n    return {'ok': True}\n"
POLICY_DOCUMENT = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
DECODE_CODES = {
    "SerializationException", "MalformedQueryString", "InternalFailure", "InternalError", "InternalServerError",
    "ServiceException", "UnknownOperationException", "UnknownOperation", "InvalidAction", "MissingAction",
    "MalformedInput",
}
DECODE_MESSAGE = re.compile(
    r"unknown (field|variant)|missing field|missing required member|invalid type: |could not parse|"
    r"unrecognized|not valid json|malformed", re.IGNORECASE)


def implemented_operations():
    """(service, operation) for every row of Kumo's operation tables."""
    found = []
    for source_service, files in SOURCES.items():
        text = "".join(path.read_text() for path in files)
        if source_service == "lambda":
            names = re.findall(r'^\s*"(\w+)" (?:GET|POST|PUT|DELETE) "/', text, re.MULTILINE)
            # Served by ListLayers' route (`?find=LayerVersion`), named in a comment there.
            names += [name for name in ["GetLayerVersionByArn"] if name in text]
        else:
            names = re.findall(r'operation!\(\s*"(\w+)"', text)
        for name in dict.fromkeys(names):
            if source_service == "iam" and name in MODELS["sts"].operation_names:
                found.append(("sts", name))
            else:
                found.append((source_service, name))
    return found


OPERATIONS = implemented_operations()


# -- building requests from the model


def skeleton(shape, required_only=False, depth=0):
    """Every member of `shape` (or only the required ones) with placeholder values of its type:
    the member's name for strings, the first enum value, the model's minimum for numbers and
    lists, one entry per list and map."""
    if shape.type_name == "structure":
        if depth > 6:
            return {}
        members = shape.members.items()
        if required_only:
            members = [(name, member) for name, member in members if name in shape.required_members]
        if shape.metadata.get("union"):
            members = list(members)[:1]
        return {name: value_of(member, name, required_only, depth) for name, member in members}
    raise TypeError(shape.type_name)


def value_of(shape, name, required_only, depth):
    kind = shape.type_name
    if kind == "structure":
        return skeleton(shape, required_only, depth + 1)
    if kind == "list":
        count = max(1, int(shape.metadata.get("min", 1)))
        return [value_of(shape.member, name, required_only, depth + 1) for _ in range(min(count, 3))]
    if kind == "map":
        key = shape.key.enum[0] if shape.key.enum else "key"
        return {key: value_of(shape.value, name, required_only, depth + 1)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        text = name
        return text + "x" * max(0, int(shape.metadata.get("min", 0)) - len(text))
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("float", "double"):
        return max(1.0, float(shape.metadata.get("min", 1)))
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    if kind == "blob":
        return b"blob"
    raise TypeError(kind)


def example_input(service, operation):
    try:
        examples = LOADER.load_service_model(service, "examples-1")["examples"]
    except Exception:  # noqa: BLE001 - a service without examples
        return None
    for example in examples.get(operation, []):
        if "input" in example:
            return example["input"]
    return None


def merged(base, over):
    """`over` on top of `base`, structures merged member by member."""
    if isinstance(base, dict) and isinstance(over, dict):
        result = dict(base)
        for key, value in over.items():
            result[key] = merged(base.get(key), value) if key in base else value
        return result
    return over


DELETE = object()


def substituted(params, values):
    """`params` with every member named in `values` (at any depth) replaced by its value
    (`DELETE` removes it); members the request does not have are not added."""
    if isinstance(params, list):
        return [substituted(item, values) for item in params]
    if not isinstance(params, dict):
        return params
    result = {}
    for key, value in params.items():
        if key in values:
            if values[key] is DELETE:
                continue
            result[key] = values[key]
        else:
            result[key] = substituted(value, values)
    return result


def without_deleted(params):
    return {key: value for key, value in params.items() if value is not DELETE}


# -- checking raw answers against the model


# Values real AWS answers that the model's enum lacks (clients keep them as unknown values):
# an update in progress is `LastUpdateStatusReasonCode: Creating` on AWS.
VALUES_AWS_SENDS_OUTSIDE_THE_MODEL = {("LastUpdateStatusReasonCode", "Creating")}


def check_json(value, shape, path, problems, timestamp_as="number"):
    kind = shape.type_name
    if value is None:
        problems.append(f"{path}: null where the model has a {kind}")
    elif kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: {type(value).__name__} where the model has a structure")
            return
        by_wire = {member.serialization.get("name", name): member for name, member in shape.members.items()
                   if member.serialization.get("location") is None}
        for key, item in value.items():
            if key == "__type" and not path:
                continue
            if key not in by_wire:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                check_json(item, by_wire[key], f"{path}.{key}", problems, timestamp_as)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: {type(value).__name__} where the model has a list")
            return
        for index, item in enumerate(value):
            check_json(item, shape.member, f"{path}[{index}]", problems, timestamp_as)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: {type(value).__name__} where the model has a map")
            return
        for key, item in value.items():
            check_json(item, shape.value, f"{path}[{key!r}]", problems, timestamp_as)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: {value!r} where the model has a string")
        elif shape.enum and value not in shape.enum and (shape.name, value) not in VALUES_AWS_SENDS_OUTSIDE_THE_MODEL:
            problems.append(f"{path}: {value!r} is not one of {shape.name}'s values {shape.enum}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: {value!r} where the model has an {kind}")
    elif kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: {value!r} where the model has a {kind}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: {value!r} where the model has a boolean")
    elif kind == "timestamp":
        wire = shape.serialization.get("timestampFormat", timestamp_as)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if wire in ("number", "unixTimestamp") and not number:
            problems.append(f"{path}: {value!r} where the model has an epoch-seconds timestamp")
        if wire in ("iso8601", "rfc822") and not isinstance(value, str):
            problems.append(f"{path}: {value!r} where the model has an {wire} timestamp")
    elif kind == "blob":
        if not isinstance(value, str):
            problems.append(f"{path}: {value!r} where the model has a base64 blob")
        else:
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                problems.append(f"{path}: {value!r} is not base64")


def local(tag):
    return tag.rsplit("}", 1)[-1]


def check_xml(element, shape, path, problems):
    kind = shape.type_name
    children = list(element)
    text = element.text or ""
    if kind == "structure":
        by_wire = {member.serialization.get("name", name): member for name, member in shape.members.items()}
        for child in children:
            name = local(child.tag)
            member = by_wire.get(name)
            if member is None:
                problems.append(f"{path}.{name}: not a member of {shape.name}")
                continue
            if member.type_name == "list" and member.serialization.get("flattened"):
                check_xml(child, member.member, f"{path}.{name}", problems)
            else:
                check_xml(child, member, f"{path}.{name}", problems)
    elif kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        for index, child in enumerate(children):
            if local(child.tag) != item_name:
                problems.append(f"{path}[{index}]: <{local(child.tag)}> where the model has <{item_name}>")
            check_xml(child, shape.member, f"{path}[{index}]", problems)
    elif kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        for index, entry in enumerate(children):
            names = [local(child.tag) for child in entry]
            if local(entry.tag) != "entry" or sorted(names) != sorted([key_name, value_name]):
                problems.append(f"{path}[{index}]: <{local(entry.tag)}> {names} is not a map entry")
                continue
            check_xml(entry.find(f"./{{*}}{value_name}") or list(entry)[names.index(value_name)], shape.value,
                      f"{path}[{index}]", problems)
    else:
        if children:
            problems.append(f"{path}: elements where the model has a {kind}")
            return
        try:
            if kind in ("integer", "long"):
                int(text)
            elif kind in ("float", "double"):
                float(text)
            elif kind == "boolean" and text not in ("true", "false"):
                raise ValueError(text)
            elif kind == "timestamp":
                parse_timestamp(text)
            elif kind == "blob":
                base64.b64decode(text, validate=True)
            elif kind == "string" and shape.enum and text not in shape.enum:
                raise ValueError(text)
        except (ValueError, TypeError):
            problems.append(f"{path}: {text!r} where the model has a {kind}")


def shape_problems(service, operation_model, response):
    """What in the raw answer of a success is not in the model's output shape."""
    output = operation_model.output_shape
    body = response["body"]
    protocol = MODELS[service].resolved_protocol
    problems = []
    if output is None:
        if body.strip() not in (b"", b"{}") and protocol != "query":
            problems.append(f"a body {body[:200]!r} where the model has no output")
        return problems
    if protocol == "query":
        root = ElementTree.fromstring(body)
        if local(root.tag) != f"{operation_model.name}Response":
            problems.append(f"root <{local(root.tag)}>")
        wrapper = output.serialization.get("resultWrapper")
        for child in root:
            name = local(child.tag)
            if name == "ResponseMetadata":
                continue
            if name != wrapper:
                problems.append(f"<{name}> where the model has <{wrapper}>")
                continue
            check_xml(child, output, name, problems)
        return problems
    payload = output.serialization.get("payload")
    if payload:
        member = output.members[payload]
        # A blob, a stream or an event stream (InvokeWithResponseStream) is no JSON document:
        # botocore parses an event stream itself, event by event.
        serialization = member.serialization
        if member.type_name in ("blob", "string") or serialization.get("streaming") or serialization.get("eventstream"):
            return problems
        output = member
    if not body:
        return problems
    check_json(json.loads(body), output, "", problems)
    return problems


# -- resources


class World:
    """What the requests refer to, and what they created, deleted at the end."""

    def __init__(self, kumo):
        self.kumo = kumo
        self.clients = {service: kumo.lambda_client() if service == "lambda" else kumo.client(service)
                        for service in MODELS}
        self.raw = {}
        for service, client in self.clients.items():
            client.meta.events.register(f"before-parse.{client.meta.service_model.service_id.hyphenize()}",
                                        self._record(service))
        self.cleanups = []
        self.zip = python_zip(FUNCTION_SOURCE)
        # The functions' role may do what Lambda does for them (read the mapping's queue, send
        # to a dead-letter queue), as AWS requires of an execution role.
        self.execution_role = kumo.delivery_role()
        lam, sqs, iam = self.clients["lambda"], self.clients["sqs"], self.clients["iam"]
        self.function = self.new_function()
        self.function_arn = lam.get_function(FunctionName=self.function)["Configuration"]["FunctionArn"]
        lam.publish_version(FunctionName=self.function)
        self.alias = "live"
        lam.create_alias(FunctionName=self.function, Name=self.alias, FunctionVersion="1")
        self.layer = unique_name("layer")
        self.layer_version, self.layer_version_arn = self.new_layer_version()
        self.queue_url, self.queue_arn = self.new_queue()
        self.dlq_url, self.dlq_arn = self.new_queue()
        self.source_url, _ = self.new_queue(RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": "3"}))
        self.mapping = self.new_mapping()
        self.role = unique_name("role")
        self.role_arn = iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)["Role"]["Arn"]
        self.cleanups.append(lambda: delete_role(iam, self.role))
        self.policy_arn = self.new_policy()
        self.inline = "inline"
        iam.put_role_policy(RoleName=self.role, PolicyName=self.inline, PolicyDocument=POLICY_DOCUMENT)
        sqs.send_message(QueueUrl=self.queue_url, MessageBody="hello")
        # What the Get operations read: a resource policy, event invoke configs, provisioned
        # concurrency and a layer version policy.
        for qualifier in ({}, {"Qualifier": self.alias}):
            lam.create_function_url_config(FunctionName=self.function, AuthType="NONE", **qualifier)
            lam.add_permission(FunctionName=self.function, StatementId="shapes", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", **qualifier)
            lam.put_function_event_invoke_config(FunctionName=self.function, MaximumRetryAttempts=1, **qualifier)
        lam.put_provisioned_concurrency_config(FunctionName=self.function, Qualifier=self.alias,
                                               ProvisionedConcurrentExecutions=1)
        lam.add_layer_version_permission(LayerName=self.layer, VersionNumber=self.layer_version,
                                         StatementId="shapes", Action="lambda:GetLayerVersion", Principal="*")

    def _record(self, service):
        def record(operation_model, response_dict, **_):
            self.raw[service] = response_dict
        return record

    def new_function(self):
        name = unique_name("shapes")
        lam = self.clients["lambda"]
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=self.execution_role, Handler="lambda_function.handler",
                            Code={"ZipFile": self.zip})
        self.cleanups.append(lambda: ignore_missing(lambda: lam.delete_function(FunctionName=name)))
        return name

    def new_layer_version(self, name=None):
        lam = self.clients["lambda"]
        layer = lam.publish_layer_version(LayerName=name or self.layer, Content={"ZipFile": self.zip},
                                          CompatibleRuntimes=["python3.12"])
        version = layer["Version"]
        self.cleanups.append(lambda: ignore_missing(
            lambda: lam.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=version)))
        return version, layer["LayerVersionArn"]

    def new_code_signing_config(self):
        lam = self.clients["lambda"]
        arn = lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [SIGNING_PROFILE]})[
            "CodeSigningConfig"]["CodeSigningConfigArn"]
        self.cleanups.append(lambda: ignore_missing(lambda: lam.delete_code_signing_config(CodeSigningConfigArn=arn)))
        return arn

    def new_queue(self, **attributes):
        sqs = self.clients["sqs"]
        url = sqs.create_queue(QueueName=unique_name("shapes"), Attributes=attributes)["QueueUrl"]
        self.cleanups.append(lambda: ignore_missing(lambda: sqs.delete_queue(QueueUrl=url)))
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def new_mapping(self):
        lam = self.clients["lambda"]
        _, arn = self.new_queue()
        uuid_ = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=self.function,
                                                Enabled=False)["UUID"]
        self.cleanups.append(lambda: ignore_missing(lambda: lam.delete_event_source_mapping(UUID=uuid_)))
        return uuid_

    def new_policy(self):
        iam = self.clients["iam"]
        arn = iam.create_policy(PolicyName=unique_name("policy"), PolicyDocument=POLICY_DOCUMENT)["Policy"]["Arn"]
        self.cleanups.append(lambda: ignore_missing(lambda: iam.delete_policy(PolicyArn=arn)))
        return arn

    def receipt_handle(self, url=None):
        sqs = self.clients["sqs"]
        url = url or self.queue_url
        sqs.send_message(QueueUrl=url, MessageBody="for a receipt handle")
        for _ in range(20):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)
            if messages.get("Messages"):
                return messages["Messages"][0]["ReceiptHandle"]
        raise AssertionError("no message to receive")

    def cleanup(self):
        for cleanup in reversed(self.cleanups):
            cleanup()


def ignore_missing(action):
    try:
        action()
    except ClientError as error:
        if error.response["ResponseMetadata"]["HTTPStatusCode"] != 404 and "NonExistent" not in str(error) \
                and "NoSuchEntity" not in str(error):
            raise


def delete_role(iam, name):
    try:
        iam.get_role(RoleName=name)
    except ClientError:
        return  # never created: its CreateRole was refused
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    ignore_missing(lambda: iam.delete_role(RoleName=name))


@pytest.fixture(scope="module")
def world(kumo):
    created = World(kumo)
    yield created
    created.cleanup()


def member_values(service, world):
    """Resource names and valid values by member name, for every request of `service`."""
    if service == "lambda":
        return {
            "FunctionName": world.function, "Qualifier": world.alias, "FunctionVersion": "1", "Name": world.alias,
            "LayerName": world.layer, "VersionNumber": world.layer_version, "Arn": world.layer_version_arn,
            "Role": world.execution_role, "Resource": world.function_arn, "UUID": world.mapping, "EventSourceArn": world.queue_arn,
            "Layers": [world.layer_version_arn], "Runtime": "python3.12", "Handler": "lambda_function.handler",
            "ZipFile": world.zip, "CompatibleRuntimes": ["python3.12"], "CompatibleArchitectures": ["x86_64"],
            "Architectures": ["x86_64"], "RevisionId": DELETE, "Marker": DELETE, "MaxItems": 10,
            "Destination": world.queue_arn, "TargetArn": world.queue_arn, "Tags": {"team": "kumo"},
            "TagKeys": ["team"], "Payload": b"{}", "InvocationType": "RequestResponse", "LogType": "None",
            "ReservedConcurrentExecutions": 5, "ProvisionedConcurrentExecutions": 1, "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 60, "BatchSize": 10, "MemorySize": 128, "Timeout": 3,
            "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com", "SourceAccount": ACCOUNT,
            "Variables": {"GREETING": "hello"}, "Description": "described", "Publish": False,
            "ClientContext": base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode(),
            # Valid values for the members of a full skeleton, so that a request with every member
            # can succeed and its whole answer be checked; what Kumo cannot run (images, S3 code,
            # VPCs, file systems, code signing, capacity providers) is left out.
            "PackageType": "Zip", "ImageUri": DELETE, "ImageConfig": DELETE, "S3Bucket": DELETE, "S3Key": DELETE,
            "S3ObjectVersion": DELETE, "S3ObjectStorageMode": DELETE, "SourceKMSKeyArn": DELETE,
            "KMSKeyArn": DELETE, "VpcConfig": DELETE, "FileSystemConfigs": DELETE, "CodeSigningConfigArn": DELETE,
            "CapacityProviderConfig": DELETE, "TenancyConfig": DELETE, "PublishTo": DELETE, "DurableConfig": DELETE,
            "Pattern": json.dumps({"body": ["hello"]}), "CodeSha256": DELETE, "AdditionalVersionWeights": DELETE,
            "LogGroup": DELETE, "MasterRegion": DELETE, "TenantId": DELETE, "DurableExecutionName": DELETE,
            "AuthType": "NONE", "MaxAge": 60, "RecursiveLoop": "Allow", "UpdateRuntimeOn": "Auto",
            "RuntimeVersionArn": DELETE, "SigningProfileVersionArns": [SIGNING_PROFILE], "InvokeArgs": b"{}",
            "ResourceArn": world.function_arn, "Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
                "Sid": "shapes", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction"}]}),
        }
    if service == "sqs":
        return {
            "QueueUrl": world.queue_url, "QueueName": world.queue_url.rsplit("/", 1)[1],
            "QueueOwnerAWSAccountId": ACCOUNT, "Attributes": {"VisibilityTimeout": "30"},
            "AttributeNames": ["All"], "MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["All"],
            "Tags": {"team": "kumo"}, "TagKeys": ["team"], "MessageBody": "hello", "DelaySeconds": 0,
            "MaxNumberOfMessages": 1, "WaitTimeSeconds": 0, "VisibilityTimeout": 30,
            "MessageDeduplicationId": DELETE, "MessageGroupId": DELETE, "ReceiveRequestAttemptId": DELETE,
            "MessageAttributes": {"color": {"DataType": "String", "StringValue": "blue"}},
            "MessageSystemAttributes": {"AWSTraceHeader": {
                "DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}},
            "MaxResults": 10, "NextToken": DELETE, "QueueNamePrefix": "shapes", "SourceArn": world.dlq_arn,
            "DestinationArn": world.queue_arn, "MaxNumberOfMessagesPerSecond": 10,
        }
    if service == "iam":
        return {
            "RoleName": world.role, "PolicyArn": world.policy_arn, "PolicyName": world.inline,
            "PolicyDocument": POLICY_DOCUMENT, "AssumeRolePolicyDocument": LAMBDA_TRUST_POLICY,
            "PermissionsBoundary": world.policy_arn, "Path": "/", "PathPrefix": "/", "VersionId": "v1",
            "Tags": [{"Key": "team", "Value": "kumo"}], "TagKeys": ["team"], "Marker": DELETE, "MaxItems": 10,
            "MaxSessionDuration": 3600, "Description": "described", "Scope": "Local", "OnlyAttached": False,
            "PolicyUsageFilter": "PermissionsPolicy",
        }
    return {
        "RoleArn": world.role_arn, "RoleSessionName": "shapes", "DurationSeconds": 900, "Policy": POLICY_DOCUMENT,
        "PolicyArns": [{"arn": world.policy_arn}], "Tags": [{"Key": "team", "Value": "kumo"}],
        "TransitiveTagKeys": ["team"], "ExternalId": "external", "SerialNumber": DELETE, "TokenCode": DELETE,
        "SourceIdentity": "shapes", "ProvidedContexts": DELETE,
    }


def fresh_values(service, operation, world):
    """What one request of `operation` needs of its own: a throwaway resource it consumes, a new
    name it creates, a value only valid for it."""
    lam, sqs, iam = world.clients["lambda"], world.clients["sqs"], world.clients["iam"]
    name = unique_name("shapes")
    if service == "lambda":
        if operation == "CreateFunction":
            world.cleanups.append(lambda: ignore_missing(lambda: lam.delete_function(FunctionName=name)))
            return {"FunctionName": name, "Qualifier": DELETE}
        if operation == "DeleteFunction":
            return {"FunctionName": world.new_function(), "Qualifier": DELETE}
        if operation == "CreateAlias":
            return {"Name": "a" + uuid.uuid4().hex[:12]}
        if operation == "DeleteAlias":
            alias = "d" + uuid.uuid4().hex[:12]
            lam.create_alias(FunctionName=world.function, Name=alias, FunctionVersion="1")
            return {"Name": alias}
        if operation == "CreateEventSourceMapping":
            _, arn = world.new_queue()
            return {"EventSourceArn": arn, "Enabled": False}
        if operation == "DeleteEventSourceMapping":
            return {"UUID": world.new_mapping()}
        if operation == "AddPermission":
            return {"StatementId": "s" + uuid.uuid4().hex[:12]}
        if operation == "RemovePermission":
            statement = "r" + uuid.uuid4().hex[:12]
            for qualifier in ({}, {"Qualifier": world.alias}):
                lam.add_permission(FunctionName=world.function, StatementId=statement, Action="lambda:InvokeFunction",
                                   Principal="s3.amazonaws.com", **qualifier)
            return {"StatementId": statement}
        if operation in ("DeleteFunctionEventInvokeConfig", "DeleteProvisionedConcurrencyConfig"):
            for qualifier in ({}, {"Qualifier": world.alias}):
                try:
                    if operation == "DeleteFunctionEventInvokeConfig":
                        lam.put_function_event_invoke_config(FunctionName=world.function, MaximumRetryAttempts=1,
                                                             **qualifier)
                    elif qualifier:
                        lam.put_provisioned_concurrency_config(FunctionName=world.function,
                                                               ProvisionedConcurrentExecutions=1, **qualifier)
                except ClientError:
                    pass
            return {}
        if operation == "DeleteLayerVersion":
            version, _ = world.new_layer_version()
            return {"VersionNumber": version}
        if operation == "AddLayerVersionPermission":
            return {"StatementId": "s" + uuid.uuid4().hex[:12], "Principal": "*", "Action": "lambda:GetLayerVersion",
                    "OrganizationId": DELETE}
        if operation == "RemoveLayerVersionPermission":
            statement = "r" + uuid.uuid4().hex[:12]
            lam.add_layer_version_permission(LayerName=world.layer, VersionNumber=world.layer_version,
                                             StatementId=statement, Action="lambda:GetLayerVersion", Principal="*")
            return {"StatementId": statement}
        if operation == "ListFunctions":
            return {"FunctionVersion": "ALL", "MasterRegion": DELETE}
        if operation == "CreateFunctionUrlConfig":
            return {"FunctionName": world.new_function(), "Qualifier": DELETE}
        if operation == "DeleteFunctionUrlConfig":
            function = world.new_function()
            lam.create_function_url_config(FunctionName=function, AuthType="NONE")
            return {"FunctionName": function, "Qualifier": DELETE}
        if operation in ("PutRuntimeManagementConfig", "GetRuntimeManagementConfig"):
            return {"Qualifier": DELETE}
        if operation in ("GetCodeSigningConfig", "UpdateCodeSigningConfig", "ListFunctionsByCodeSigningConfig",
                         "PutFunctionCodeSigningConfig"):
            if not hasattr(world, "code_signing_config"):
                world.code_signing_config = world.new_code_signing_config()
            return {"CodeSigningConfigArn": world.code_signing_config}
        if operation == "DeleteCodeSigningConfig":
            return {"CodeSigningConfigArn": world.new_code_signing_config()}
        if operation == "DeleteResourcePolicy":
            function = world.new_function()
            arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
            lam.add_permission(FunctionName=function, StatementId="shapes", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com")
            return {"ResourceArn": arn}
        return {}
    if service == "sqs":
        if operation == "CreateQueue":
            world.cleanups.append(lambda: ignore_missing(
                lambda: sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])))
            return {"QueueName": name}
        if operation in ("DeleteQueue", "PurgeQueue"):
            url, _ = world.new_queue()
            return {"QueueUrl": url}
        if operation in ("DeleteMessage", "ChangeMessageVisibility"):
            return {"ReceiptHandle": world.receipt_handle()}
        if operation in ("DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
            entry = {"Id": "one", "ReceiptHandle": world.receipt_handle()}
            if operation == "ChangeMessageVisibilityBatch":
                entry["VisibilityTimeout"] = 30
            return {"Entries": [entry]}
        if operation == "SendMessageBatch":
            return {"Id": "one"}
        if operation in ("StartMessageMoveTask", "CancelMessageMoveTask"):
            dlq_url, dlq_arn = world.new_queue()
            world.new_queue(RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}))
            for _ in range(3):
                sqs.send_message(QueueUrl=dlq_url, MessageBody="dead")
            if operation == "StartMessageMoveTask":
                return {"SourceArn": dlq_arn, "DestinationArn": world.queue_arn, "MaxNumberOfMessagesPerSecond": 1}
            # Messages sent to the dead-letter queue directly have no source to go back to: the
            # task moves them to a named destination, one a second, so it still runs when cancelled.
            task = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=world.queue_arn,
                                               MaxNumberOfMessagesPerSecond=1)
            return {"TaskHandle": task["TaskHandle"]}
        if operation == "ListDeadLetterSourceQueues":
            return {"QueueUrl": world.dlq_url}
        # A label is unique in a queue's policy: each AddPermission a new one, each
        # RemovePermission one that is there.
        if operation == "AddPermission":
            return {"Label": name, "AWSAccountIds": [ACCOUNT], "Actions": ["SendMessage"]}
        if operation == "RemovePermission":
            sqs.add_permission(QueueUrl=world.queue_url, Label=name, AWSAccountIds=[ACCOUNT], Actions=["SendMessage"])
            return {"Label": name}
        return {}
    if service == "iam":
        if operation == "CreateRole":
            world.cleanups.append(lambda: delete_role(iam, name))
            return {"RoleName": name}
        if operation == "DeleteRole":
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
            world.cleanups.append(lambda: delete_role(iam, name))
            return {"RoleName": name}
        if operation == "CreatePolicy":
            world.cleanups.append(lambda: ignore_missing(
                lambda: iam.delete_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{name}")))
            world.cleanups.append(lambda: ignore_missing(
                lambda: iam.delete_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/Path/{name}")))
            return {"PolicyName": name}
        if operation == "DeletePolicy":
            return {"PolicyArn": world.new_policy()}
        if operation == "DetachRolePolicy":
            iam.attach_role_policy(RoleName=world.role, PolicyArn=world.policy_arn)
            return {}
        if operation == "DeleteRolePolicy":
            iam.put_role_policy(RoleName=world.role, PolicyName=name, PolicyDocument=POLICY_DOCUMENT)
            return {"PolicyName": name}
        if operation == "DeleteRolePermissionsBoundary":
            iam.put_role_permissions_boundary(RoleName=world.role, PermissionsBoundary=world.policy_arn)
            return {}
        if operation == "UpdateAssumeRolePolicy":
            return {"PolicyDocument": LAMBDA_TRUST_POLICY}
        if operation == "PutRolePolicy":
            return {"PolicyName": "put-" + uuid.uuid4().hex[:8]}
        return {}
    return {}


# Values an operation's minimal request needs beyond its required members to succeed.
SIGNING_PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/shapes"

MINIMAL_EXTRAS = {
    ("lambda", "CreateFunction"): {"Runtime": "python3.12", "Handler": "lambda_function.handler",
                                   "Code": {"ZipFile": b"placeholder"}},
    ("lambda", "UpdateFunctionCode"): {"ZipFile": b"placeholder"},
    ("lambda", "PublishLayerVersion"): {"Content": {"ZipFile": b"placeholder"}},
    ("lambda", "PutFunctionEventInvokeConfig"): {"MaximumRetryAttempts": 1},
    ("lambda", "UpdateFunctionEventInvokeConfig"): {"MaximumRetryAttempts": 1},
    ("lambda", "UpdateFunctionConfiguration"): {"Description": "described"},
}


def send(world, service, operation, params):
    """(parsed answer or None, error or None, raw answer) of one request."""
    client = world.clients[service]
    method = getattr(client, xform_name(operation))
    world.raw.pop(service, None)
    try:
        return method(**params), None, world.raw.get(service)
    except ClientError as error:
        return None, error, world.raw.get(service)


def is_decode_error(error):
    response = error.response
    code = response["Error"].get("Code", "")
    message = response["Error"].get("Message", "")
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return status >= 500 or code in DECODE_CODES or bool(DECODE_MESSAGE.search(message))


def fill_payload_zip(params, world):
    """Placeholder zips in a minimal request become the test's real zip."""
    def walk(value):
        if isinstance(value, dict):
            return {key: (world.zip if key == "ZipFile" else walk(item)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value
    return walk(params)


def requests_for(service, operation, world):
    """The (kind, params) requests of one operation."""
    model = MODELS[service].operation_model(operation)
    values = member_values(service, world)
    input_shape = model.input_shape
    full = skeleton(input_shape) if input_shape else {}
    minimal = skeleton(input_shape, required_only=True) if input_shape else {}
    example = example_input(service, operation)
    kinds = []
    if example is not None:
        kinds.append(("example", example))
        kinds.append(("full", merged(full, example)))
    else:
        kinds.append(("full", full))
    minimal = merged(minimal, MINIMAL_EXTRAS.get((service, operation), {}))
    kinds.append(("minimal", minimal))
    for kind, params in kinds:
        fresh = fresh_values(service, operation, world)
        params = substituted(params, {**values, **fresh})
        if kind == "minimal":
            params = merged(params, without_deleted({key: value for key, value in fresh.items()
                                                     if key in input_shape.members} if input_shape else {}))
            # The same request for resources that do not exist: the error path's shapes.
            if not operation.startswith(("Create", "Publish")):
                absent = {key: value for key, value in absent_values(service, world).items() if key in params}
                if absent:
                    yield "absent", fill_payload_zip({**params, **absent}, world)
        yield kind, fill_payload_zip(params, world)


def absent_values(service, world):
    """Names of resources that do not exist, by member name."""
    region_account = f"us-east-1:{ACCOUNT}"
    return {
        "lambda": {"FunctionName": "absent-function", "UUID": str(uuid.uuid4()), "LayerName": "absent-layer",
                   "Arn": f"arn:aws:lambda:{region_account}:layer:absent-layer:1",
                   "Resource": f"arn:aws:lambda:{region_account}:function:absent-function"},
        "sqs": {"QueueUrl": f"{world.kumo.endpoint}/{ACCOUNT}/absent-queue", "QueueName": "absent-queue",
                "SourceArn": f"arn:aws:sqs:{region_account}:absent-queue"},
        "iam": {"RoleName": "absent-role", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/absent-policy"},
        "sts": {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/absent-role"},
    }[service]


def error_problems(service, error, response):
    """What in the raw body of a modeled error (JSON protocols) is not a member of its shape:
    botocore fills a modeled error's fields from their own names only."""
    model = MODELS[service]
    if model.resolved_protocol == "query" or response is None or not response["body"]:
        return []
    code = error.response["Error"].get("Code", "")
    shapes = [shape for shape in model.error_shapes
              if code in (shape.name, shape.metadata.get("error", {}).get("code"))]
    if not shapes:
        return []
    body = json.loads(response["body"])
    problems = []
    check_json(body, shapes[0], "", problems)
    return [f"{code}{problem}" for problem in problems]


@pytest.mark.parametrize("service,operation", OPERATIONS, ids=[f"{s}.{o}" for s, o in OPERATIONS])
def test_operation_decodes_and_answers_in_its_model_shape(world, service, operation):
    model = MODELS[service].operation_model(operation)
    failures = []
    outcomes = []
    for kind, params in requests_for(service, operation, world):
        answer, error, raw = send(world, service, operation, params)
        outcomes.append((kind, "ok" if error is None else error.response["Error"]))
        if error is not None:
            if is_decode_error(error):
                failures.append(f"{kind}: decode-class error {error.response['Error']} for {params!r}")
            elif kind == "minimal":
                failures.append(f"{kind}: {error.response['Error']} for {params!r}")
            failures.extend(f"{kind}: {problem}" for problem in error_problems(service, error, raw))
            continue
        assert raw is not None, "no raw answer recorded"
        for problem in shape_problems(service, model, raw):
            failures.append(f"{kind}: {problem}")
    if os.environ.get("KUMO_SHAPES_VERBOSE"):
        print(f"\n{service}.{operation}: {outcomes}")
    assert not failures, "\n".join(failures)


def test_every_table_row_is_a_model_operation():
    """A row with a name the model does not have would be skipped above without a word."""
    assert len(OPERATIONS) > 90
    for service, operation in OPERATIONS:
        assert operation in MODELS[service].operation_names, (service, operation)


def test_the_shape_check_finds_unmodeled_members_and_wrong_types():
    """The check above would pass vacuously if it never found anything: it finds what it must."""
    lam = MODELS["lambda"].operation_model("GetAlias")
    good = {"AliasArn": "arn", "Name": "live", "FunctionVersion": "1", "RevisionId": "r",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}}
    assert shape_problems("lambda", lam, {"body": json.dumps(good).encode()}) == []
    bad = {**good, "Extra": 1, "Name": 7, "RoutingConfig": {"AdditionalVersionWeights": {"2": "half"}},
           "Description": None}
    assert sorted(shape_problems("lambda", lam, {"body": json.dumps(bad).encode()})) == [
        ".Description: null where the model has a string",
        ".Extra: not a member of AliasConfiguration",
        ".Name: 7 where the model has a string",
        ".RoutingConfig.AdditionalVersionWeights['2']: 'half' where the model has a double",
    ]
    sqs = MODELS["sqs"].operation_model("ListMessageMoveTasks")
    listed = {"Results": [{"Status": "RUNNING", "ApproximateNumberOfMessagesMoved": True, "StartedTimestamp": "x"}]}
    assert sorted(shape_problems("sqs", sqs, {"body": json.dumps(listed).encode()})) == [
        ".Results[0].ApproximateNumberOfMessagesMoved: True where the model has an long",
        ".Results[0].StartedTimestamp: 'x' where the model has an long",
    ]
    configuration = MODELS["lambda"].operation_model("GetFunctionConfiguration")
    state = shape_problems("lambda", configuration, {"body": json.dumps({"State": "Going"}).encode()})
    assert len(state) == 1 and ".State: 'Going' is not one of State's values" in state[0]
    iam = MODELS["iam"].operation_model("GetRole")
    xml = ("<GetRoleResponse xmlns='https://iam.amazonaws.com/doc/2010-05-08/'><GetRoleResult><Role>"
           "<RoleName>r</RoleName><CreateDate>{date}</CreateDate><MaxSessionDuration>{duration}</MaxSessionDuration>"
           "<Tags><member><Key>k</Key><Value>v</Value></member></Tags>{extra}</Role></GetRoleResult>"
           "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetRoleResponse>")
    fine = xml.format(date="2026-01-02T03:04:05Z", duration="3600", extra="")
    assert shape_problems("iam", iam, {"body": fine.encode()}) == []
    wrong = xml.format(date="yesterday", duration="an hour", extra="<Color>blue</Color>")
    assert sorted(shape_problems("iam", iam, {"body": wrong.encode()})) == [
        "GetRoleResult.Role.Color: not a member of Role",
        "GetRoleResult.Role.CreateDate: 'yesterday' where the model has a timestamp",
        "GetRoleResult.Role.MaxSessionDuration: 'an hour' where the model has a integer",
    ]
