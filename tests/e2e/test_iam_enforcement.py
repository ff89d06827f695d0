"""Accounts and IAM policies as AWS applies them: SQS queues per account (the same name in two
accounts is two queues), a queue's `Policy` opening exactly what it grants to another account,
and role sessions (functions' execution roles, AssumeRole sessions) held to their role's
identity policies, a change taking effect on the next call; `--iam-enforcement off` lets role
sessions do everything in their account again. What Lambda does as a function's role (mappings,
dead-letter queues, destinations) is checked when configured and again when done."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import (
    ACCOUNT,
    LAMBDA_TRUST_POLICY,
    SQS_EXECUTION_POLICY,
    error_of,
    invoke,
    poll,
    python_zip,
    unique_name,
)

OTHER = "111111111111"
OTHER_KEYS = {"aws_access_key_id": "other", "aws_secret_access_key": "othersecret"}
KEYS = f"test:test,other:othersecret:{OTHER}"

# Calls another service with the function's own role credentials and reports AWS's answer.
CALLER = """
import json
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        if event["call"] == "send":
            sent = boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody=event["body"])
            return {"ok": sent["MessageId"]}
        if event["call"] == "invoke":
            answer = boto3.client("lambda").invoke(FunctionName=event["function"], Payload=b"{}")
            return {"ok": json.load(answer["Payload"])}
    except ClientError as error:
        return {
            "error": error.response["Error"]["Code"],
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            "message": error.response["Error"]["Message"],
        }
"""


# What an SQS event source mapping's execution role needs on its queue.
QUEUE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]

RECEIVER = """
def handler(event, context):
    for record in event.get("Records", []):
        print("GOT " + record["body"])
    return event
"""


def identity_denied(role, function, action, resource, service_action=None):
    """AWS's message when no identity-based policy of a function's role allows an action."""
    shown = service_action or action
    return (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function} is not authorized to perform: {shown} "
        f"on resource: {resource} because no identity-based policy allows the {shown} action"
    )


@pytest.fixture
def two_accounts(start_server):
    """A server with the default account (key `test`) and OTHER (key `other`)."""
    return start_server(KUMO_ACCESS_KEYS=KEYS)


def queue_arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_two_accounts_queues_with_the_same_name_stay_apart(two_accounts):
    home, other = two_accounts.client("sqs"), two_accounts.client("sqs", **OTHER_KEYS)
    home_url = home.create_queue(QueueName="jobs")["QueueUrl"]
    other_url = other.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "7"})["QueueUrl"]
    assert home_url == f"{two_accounts.endpoint}/queue/us-east-1/{ACCOUNT}/jobs"
    assert other_url == f"{two_accounts.endpoint}/queue/us-east-1/{OTHER}/jobs"
    assert queue_arn(home, home_url) == f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    assert queue_arn(other, other_url) == f"arn:aws:sqs:us-east-1:{OTHER}:jobs"
    assert other.get_queue_attributes(QueueUrl=other_url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "7"
    }
    assert home.get_queue_url(QueueName="jobs")["QueueUrl"] == home_url
    assert other.get_queue_url(QueueName="jobs")["QueueUrl"] == other_url
    assert home.list_queues()["QueueUrls"] == [home_url]
    assert other.list_queues()["QueueUrls"] == [other_url]

    home.send_message(QueueUrl=home_url, MessageBody="for home")
    other.send_message(QueueUrl=other_url, MessageBody="for other")
    assert [m["Body"] for m in home.receive_message(QueueUrl=home_url, MaxNumberOfMessages=10)["Messages"]] == [
        "for home"
    ]
    assert [m["Body"] for m in other.receive_message(QueueUrl=other_url, MaxNumberOfMessages=10)["Messages"]] == [
        "for other"
    ]

    other.delete_queue(QueueUrl=other_url)
    assert home.get_queue_url(QueueName="jobs")["QueueUrl"] == home_url
    with pytest.raises(ClientError) as excinfo:
        other.get_queue_url(QueueName="jobs")
    assert error_of(excinfo)[:2] == ("AWS.SimpleQueueService.NonExistentQueue", 400)

    # Restart keeps each account's queues apart.
    other.create_queue(QueueName="jobs")
    two_accounts.stop()
    two_accounts.start()
    home, other = two_accounts.client("sqs"), two_accounts.client("sqs", **OTHER_KEYS)
    assert home.list_queues()["QueueUrls"] == [f"{two_accounts.endpoint}/queue/us-east-1/{ACCOUNT}/jobs"]
    assert other.list_queues()["QueueUrls"] == [f"{two_accounts.endpoint}/queue/us-east-1/{OTHER}/jobs"]


def test_a_queue_policy_opens_exactly_what_it_grants(two_accounts):
    home, other = two_accounts.client("sqs"), two_accounts.client("sqs", **OTHER_KEYS)
    url = home.create_queue(QueueName="shared")["QueueUrl"]
    arn = queue_arn(home, url)
    other_root = f"arn:aws:iam::{OTHER}:root"

    def refused(call, action):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == (
            "AccessDenied",
            403,
            f"User: {other_root} is not authorized to perform: {action} on resource: {arn} "
            f"because no resource-based policy allows the {action} action",
        )

    refused(lambda: other.send_message(QueueUrl=url, MessageBody="x"), "sqs:sendmessage")
    refused(lambda: other.get_queue_url(QueueName="shared", QueueOwnerAWSAccountId=ACCOUNT), "sqs:getqueueurl")
    # A queue that does not exist is not found, in any account.
    with pytest.raises(ClientError) as excinfo:
        other.send_message(QueueUrl=f"{two_accounts.endpoint}/{ACCOUNT}/missing", MessageBody="x")
    assert error_of(excinfo)[:2] == ("AWS.SimpleQueueService.NonExistentQueue", 400)

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sqs:SendMessage", "Resource": arn}
        ],
    }
    home.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    sent = other.send_message(QueueUrl=url, MessageBody="from the other account")
    refused(lambda: other.receive_message(QueueUrl=url), "sqs:receivemessage")
    refused(lambda: other.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]), "sqs:getqueueattributes")
    refused(lambda: other.delete_queue(QueueUrl=url), "sqs:deletequeue")
    (message,) = home.receive_message(QueueUrl=url)["Messages"]
    assert (message["MessageId"], message["Body"]) == (sent["MessageId"], "from the other account")
    assert other.list_queues().get("QueueUrls", []) == [], "ListQueues shows the caller's own queues only"

    # A mapping reads with the function's role: across accounts both the role's policies and
    # the queue's policy must allow it.
    other_iam = two_accounts.client("iam", **OTHER_KEYS)
    other_iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    other_lambda = two_accounts.client("lambda", **OTHER_KEYS)
    other_lambda.create_function(
        FunctionName="poller",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{OTHER}:role/lambda-role",
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip("def handler(event, context):\n    return 1\n")},
    )
    with pytest.raises(ClientError) as excinfo:
        other_lambda.create_event_source_mapping(EventSourceArn=arn, FunctionName="poller")
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        "The provided execution role does not have permissions to call ReceiveMessage on SQS",
    )
    other_iam.attach_role_policy(RoleName="lambda-role", PolicyArn=SQS_EXECUTION_POLICY)
    with pytest.raises(ClientError) as excinfo:
        other_lambda.create_event_source_mapping(EventSourceArn=arn, FunctionName="poller")
    assert error_of(excinfo)[2] == "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/lambda-role"},
            "Action": QUEUE_ACTIONS,
            "Resource": arn,
        }
    )
    home.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    mapping = other_lambda.create_event_source_mapping(EventSourceArn=arn, FunctionName="poller")
    assert mapping["EventSourceArn"] == arn
    other_lambda.delete_event_source_mapping(UUID=mapping["UUID"])

    # A Deny in the queue's policy wins, for the owner's role sessions too.
    policy["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn})
    home.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    with pytest.raises(ClientError) as excinfo:
        other.send_message(QueueUrl=url, MessageBody="x")
    assert error_of(excinfo)[:2] == ("AccessDenied", 403)
    assert "with an explicit deny in a resource-based policy" in error_of(excinfo)[2]


def test_a_function_whose_role_lacks_send_message_is_refused_until_a_policy_grants_it(kumo, make_function):
    sqs, iam = kumo.client("sqs"), kumo.client("iam")
    url = sqs.create_queue(QueueName=unique_name("grants"))["QueueUrl"]
    arn = queue_arn(sqs, url)
    role_name = unique_name("sender")
    role = kumo.role_with_policies(role_name, ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
    try:
        function = make_function(CALLER, role=role, Timeout=30)
        event = {"call": "send", "queue": url, "body": "granted"}
        answer = function.invoke(event).payload
        assert answer == {
            "error": "AccessDenied",
            "status": 403,
            "message": identity_denied(role_name, function.name, "sqs:SendMessage", arn, "sqs:sendmessage"),
        }

        send_only = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}],
        }
        iam.put_role_policy(RoleName=role_name, PolicyName="send", PolicyDocument=json.dumps(send_only))
        # AWS applies a policy change within seconds; Kumo on the next call.
        answer = poll(lambda: function.invoke(event).payload.get("ok"), timeout=10, what="the grant to apply")
        (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
        assert (message["MessageId"], message["Body"]) == (answer, "granted")

        iam.delete_role_policy(RoleName=role_name, PolicyName="send")
        assert function.invoke(event).payload["error"] == "AccessDenied"
    finally:
        for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role_name, PolicyArn=attached["PolicyArn"])
        sqs.delete_queue(QueueUrl=url)


def test_a_function_whose_role_lacks_invoke_cannot_invoke_another(kumo, make_function):
    iam = kumo.client("iam")
    target = make_function("def handler(event, context):\n    return 'reached'\n")
    role_name = unique_name("no-invoke")
    role = kumo.role_with_policies(role_name)
    caller = make_function(CALLER, role=role, Timeout=30)
    answer = caller.invoke({"call": "invoke", "function": target.arn}).payload
    assert answer == {
        "error": "AccessDeniedException",
        "status": 403,
        "message": identity_denied(role_name, caller.name, "lambda:InvokeFunction", target.arn),
    }
    iam.attach_role_policy(RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaRole")
    try:
        assert poll(lambda: caller.invoke({"call": "invoke", "function": target.arn}).payload.get("ok")) == "reached"
    finally:
        iam.detach_role_policy(RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaRole")


def test_assume_role_sessions_are_held_to_their_roles_policies(kumo):
    iam, sts = kumo.client("iam"), kumo.client("sts")
    role_name = unique_name("session")
    role_arn = kumo.role_with_policies(role_name)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    keys = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1"
    assert kumo.client("sts", **keys).get_caller_identity()["Arn"] == session_arn, "GetCallerIdentity needs nothing"
    with pytest.raises(ClientError) as excinfo:
        kumo.client("iam", **keys).create_role(RoleName=unique_name("x"), AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    assert error_of(excinfo)[:2] == ("AccessDenied", 403)
    assert "is not authorized to perform: iam:CreateRole on resource" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        kumo.client("lambda", **keys).list_functions()
    assert error_of(excinfo) == (
        "AccessDeniedException",
        403,
        f"User: {session_arn} is not authorized to perform: lambda:ListFunctions on resource: * "
        "because no identity-based policy allows the lambda:ListFunctions action",
    )
    with pytest.raises(ClientError) as excinfo:
        kumo.client("sts", **keys).assume_role(RoleArn=role_arn, RoleSessionName="s2")
    assert error_of(excinfo)[:2] == ("AccessDenied", 403)

    iam.attach_role_policy(RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    try:
        assert "Functions" in kumo.client("lambda", **keys).list_functions()
        assert kumo.client("sqs", **keys).list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
        # An explicit Deny in an inline policy wins over AdministratorAccess.
        deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "lambda:List*", "Resource": "*"}]}
        iam.put_role_policy(RoleName=role_name, PolicyName="deny", PolicyDocument=json.dumps(deny))
        with pytest.raises(ClientError) as excinfo:
            kumo.client("lambda", **keys).list_functions()
        assert error_of(excinfo)[2].endswith("with an explicit deny in an identity-based policy")
    finally:
        iam.delete_role_policy(RoleName=role_name, PolicyName="deny")
        iam.detach_role_policy(RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")


def test_enforcement_off_lets_role_sessions_do_everything_in_their_account(start_server):
    server = start_server(KUMO_IAM_ENFORCEMENT="off")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="open")["QueueUrl"]
    client = server.lambda_client()
    target = client.create_function(
        FunctionName="target",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip("def handler(event, context):\n    return 'reached'\n")},
    )
    client.create_function(
        FunctionName="caller",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(CALLER)},
        Timeout=30,
    )
    poll(lambda: client.get_function(FunctionName="caller")["Configuration"]["State"] == "Active")
    poll(lambda: client.get_function(FunctionName="target")["Configuration"]["State"] == "Active")
    assert "ok" in invoke(client, "caller", {"call": "send", "queue": url, "body": "open"}).payload
    assert invoke(client, "caller", {"call": "invoke", "function": target["FunctionArn"]}).payload == {"ok": "reached"}
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == "open"
    # Lambda's own reads with the role are not held to its policies either.
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert client.create_event_source_mapping(EventSourceArn=queue, FunctionName="target")["EventSourceArn"] == queue



def test_an_event_source_mapping_needs_a_role_that_may_read_and_delete_the_queue(kumo, make_function):
    sqs, iam = kumo.client("sqs"), kumo.client("iam")
    url = sqs.create_queue(QueueName=unique_name("mapped"))["QueueUrl"]
    arn = queue_arn(sqs, url)
    role_name = unique_name("poller")
    role = kumo.role_with_policies(role_name, ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
    function = make_function(RECEIVER, role=role)
    lacks = "The provided execution role does not have permissions to call {} on SQS"
    with pytest.raises(ClientError) as excinfo:
        function.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name)
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, lacks.format("ReceiveMessage"))
    receive_only = {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": arn}
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="receive",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [receive_only]}),
    )
    with pytest.raises(ClientError) as excinfo:
        function.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name)
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, lacks.format("DeleteMessage"))

    iam.attach_role_policy(RoleName=role_name, PolicyArn=SQS_EXECUTION_POLICY)
    mapping = function.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name)
    try:
        sqs.send_message(QueueUrl=url, MessageBody="polled with the role")
        poll(lambda: "GOT polled with the role" in kumo.log_text(function.name), timeout=20, what="the message")
    finally:
        function.client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_within_the_account_a_queue_policy_naming_the_role_is_enough_for_a_mapping(kumo, make_function):
    sqs = kumo.client("sqs")
    url = sqs.create_queue(QueueName=unique_name("granted"))["QueueUrl"]
    arn = queue_arn(sqs, url)
    role = kumo.role_with_policies(unique_name("bare"), [])
    function = make_function(RECEIVER, role=role)
    statement = {"Effect": "Allow", "Principal": {"AWS": role}, "Action": QUEUE_ACTIONS, "Resource": arn}
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}
    )
    mapping = function.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name)
    function.client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_dead_letter_queue_needs_a_role_that_may_send_to_it(kumo, make_function):
    sqs = kumo.client("sqs")
    arn = queue_arn(sqs, sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"])
    role_name = unique_name("nodlq")
    role = kumo.role_with_policies(role_name, [])
    with pytest.raises(ClientError) as excinfo:
        make_function(RECEIVER, role=role, DeadLetterConfig={"TargetArn": arn})
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        "The provided execution role does not have permissions to call SendMessage on SQS",
    )
    function = make_function(RECEIVER, role=role)
    with pytest.raises(ClientError) as excinfo:
        function.client.update_function_configuration(FunctionName=function.name, DeadLetterConfig={"TargetArn": arn})
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    send = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}
    kumo.client("iam").put_role_policy(
        RoleName=role_name, PolicyName="dlq", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [send]})
    )
    updated = function.client.update_function_configuration(FunctionName=function.name, DeadLetterConfig={"TargetArn": arn})
    assert updated["DeadLetterConfig"] == {"TargetArn": arn}


def test_a_destination_needs_a_role_that_may_reach_it_when_configured(kumo, make_function):
    sqs, iam = kumo.client("sqs"), kumo.client("iam")
    arn = queue_arn(sqs, sqs.create_queue(QueueName=unique_name("outcomes"))["QueueUrl"])
    role_name = unique_name("nodest")
    function = make_function(RECEIVER, role=kumo.role_with_policies(role_name, []))
    target = make_function(RECEIVER)

    def configure(destination, update=False):
        put = function.client.update_function_event_invoke_config if update else function.client.put_function_event_invoke_config
        return put(FunctionName=function.name, DestinationConfig={"OnFailure": {"Destination": destination}})

    with pytest.raises(ClientError) as excinfo:
        configure(arn)
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        f"The function's execution role does not have permissions to call SendMessage on {arn}",
    )
    with pytest.raises(ClientError) as excinfo:
        function.client.get_function_event_invoke_config(FunctionName=function.name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404), "nothing was stored"

    send = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}
    iam.put_role_policy(
        RoleName=role_name, PolicyName="send", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [send]})
    )
    assert configure(arn)["DestinationConfig"]["OnFailure"] == {"Destination": arn}
    # A function destination needs lambda:InvokeFunction on it, in Update too.
    with pytest.raises(ClientError) as excinfo:
        configure(target.arn, update=True)
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        f"The function's execution role does not have permissions to call InvokeFunction on {target.arn}",
    )
    # The target's own policy naming the role is enough within the account.
    kumo.lambda_client().add_permission(
        FunctionName=target.name, StatementId="role", Action="lambda:InvokeFunction", Principal=function.created["Role"]
    )
    assert configure(target.arn, update=True)["DestinationConfig"]["OnFailure"] == {"Destination": target.arn}


def test_a_destination_the_role_can_no_longer_reach_gets_nothing_until_the_grant_is_back(kumo, make_function):
    from test_metrics import function_metrics

    sqs, iam = kumo.client("sqs"), kumo.client("iam")
    url = sqs.create_queue(QueueName=unique_name("outcomes"))["QueueUrl"]
    arn = queue_arn(sqs, url)
    role_name = unique_name("nodest")
    send = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}]}
    )
    function = make_function(RECEIVER, role=kumo.role_with_policies(role_name, []))
    iam.put_role_policy(RoleName=role_name, PolicyName="send", PolicyDocument=send)
    function.client.put_function_event_invoke_config(
        FunctionName=function.name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    # The role changes later: each delivery is checked again, and this one is dropped.
    iam.delete_role_policy(RoleName=role_name, PolicyName="send")
    function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"n": 1}')
    poll(
        lambda: function_metrics(kumo, function.name)["DestinationDeliveryFailures"] == 1,
        timeout=20,
        what="the delivery to be refused",
    )
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []

    iam.put_role_policy(RoleName=role_name, PolicyName="send", PolicyDocument=send)
    function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"n": 2}')
    (message,) = poll(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), timeout=20, what="the record"
    )
    record = json.loads(message["Body"])
    assert (record["requestContext"]["condition"], record["requestPayload"]) == ("Success", {"n": 2})
    assert function_metrics(kumo, function.name)["DestinationDeliveryFailures"] == 1


def test_pointing_a_mapping_at_another_function_checks_that_functions_role(kumo, make_function):
    sqs = kumo.client("sqs")
    arn = queue_arn(sqs, sqs.create_queue(QueueName=unique_name("remapped"))["QueueUrl"])
    reader = make_function(RECEIVER, role=kumo.role_with_policies(unique_name("reader"), [SQS_EXECUTION_POLICY]))
    stranger = make_function(RECEIVER, role=kumo.role_with_policies(unique_name("stranger"), []))
    mapping = reader.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=reader.name, Enabled=False)
    try:
        with pytest.raises(ClientError) as excinfo:
            reader.client.update_event_source_mapping(UUID=mapping["UUID"], FunctionName=stranger.name)
        assert error_of(excinfo) == (
            "InvalidParameterValueException",
            400,
            "The provided execution role does not have permissions to call ReceiveMessage on SQS",
        )
        assert reader.client.get_event_source_mapping(UUID=mapping["UUID"])["FunctionArn"] == reader.arn
        # Other changes do not need the check again.
        assert reader.client.update_event_source_mapping(UUID=mapping["UUID"], BatchSize=5)["BatchSize"] == 5
    finally:
        reader.client.delete_event_source_mapping(UUID=mapping["UUID"])
