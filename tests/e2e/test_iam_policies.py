"""The rest of AWS's policy evaluation: within one account a function's own policy naming the
role is enough (and a layer version's policy shared with everyone) (naming the account only delegates to the account's identity policies), session
policies and permissions boundaries cap what a role's policies allow (but not what a resource
policy grants to the session's own ARN), a role with a path is named (as a principal and as
`aws:PrincipalArn`) by its ARN with the path, CancelMessageMoveTask is
authorized, the health report says whether policies are enforced, and SQS's JSON AccessDenied
has AWS's shape."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, LAMBDA_TRUST_POLICY, error_of, unique_name

OTHER = "111111111111"
OTHER_KEYS = {"aws_access_key_id": "other", "aws_secret_access_key": "othersecret"}
KEYS = f"test:test,other:othersecret:{OTHER}"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"

REACHED = "def handler(event, context):\n    return 'reached'\n"

# Sends to a queue or invokes a function with the function's own role credentials and reports
# AWS's answer.
CALLER = """
import json
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        if "queue" in event:
            return {"ok": boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="x")["MessageId"]}
        answer = boto3.client("lambda").invoke(FunctionName=event["function"], Payload=b"{}")
        return {"ok": json.load(answer["Payload"])}
    except ClientError as error:
        return {"error": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
"""


def session_keys(kumo, role_arn, name="s1", **params):
    """Credentials of an AssumeRole session of `role_arn` (assumed by the account's root)."""
    credentials = kumo.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=name, **params)["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def refused(call):
    """(code, status, message) of the ClientError `call` raises."""
    with pytest.raises(ClientError) as excinfo:
        call()
    return error_of(excinfo)


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_within_an_account_a_functions_policy_naming_the_role_is_enough(kumo, make_function):
    lambda_root, iam = kumo.lambda_client(), kumo.client("iam")
    target = make_function(REACHED, prefix="granted-target")
    role_name = unique_name("granted")
    role_arn = kumo.role_with_policies(role_name)
    session = kumo.client("lambda", **session_keys(kumo, role_arn))
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1"

    def invoke():
        return json.load(session.invoke(FunctionName=target.name, Payload=b"{}")["Payload"])

    denied = (
        "AccessDeniedException",
        403,
        f"User: {session_arn} is not authorized to perform: lambda:InvokeFunction on resource: {target.arn} "
        "because no identity-based policy allows the lambda:InvokeFunction action",
    )
    assert refused(invoke) == denied
    # Naming the account delegates to the account's identity policies: the role has none.
    lambda_root.add_permission(
        FunctionName=target.name, StatementId="account", Action="lambda:InvokeFunction", Principal=ACCOUNT
    )
    assert refused(invoke) == denied
    # Naming the role grants its sessions what the statement names, whatever their own policies.
    lambda_root.add_permission(
        FunctionName=target.name, StatementId="role", Action="lambda:InvokeFunction", Principal=role_arn
    )
    assert invoke() == "reached"
    assert refused(lambda: session.get_function(FunctionName=target.name))[:2] == ("AccessDeniedException", 403)
    # An explicit Deny in the role's own policies still wins.
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="deny",
        PolicyDocument=document({"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}),
    )
    try:
        assert refused(invoke)[2].endswith("with an explicit deny in an identity-based policy")
    finally:
        iam.delete_role_policy(RoleName=role_name, PolicyName="deny")


def test_within_an_account_a_layer_versions_policy_is_enough(kumo, make_layer):
    layer = make_layer({"python/shared.py": "VALUE = 1\n"})
    name, version, arn = layer["LayerArn"].rsplit(":", 1)[1], layer["Version"], layer["LayerVersionArn"]
    role_name = unique_name("layer-reader")
    session = kumo.client("lambda", **session_keys(kumo, kumo.role_with_policies(role_name)))
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1"

    def get():
        return session.get_layer_version(LayerName=name, VersionNumber=version)["LayerVersionArn"]

    denied = (
        "AccessDeniedException",
        403,
        f"User: {session_arn} is not authorized to perform: lambda:GetLayerVersion on resource: {arn} "
        "because no identity-based policy allows the lambda:GetLayerVersion action",
    )
    assert refused(get) == denied
    # Naming the account delegates to the account's identity policies: the role has none.
    lambda_root = kumo.lambda_client()
    lambda_root.add_layer_version_permission(
        LayerName=name, VersionNumber=version, StatementId="account", Action="lambda:GetLayerVersion", Principal=ACCOUNT
    )
    assert refused(get) == denied
    # A layer version shared with everyone may be read by every session of its account too.
    lambda_root.add_layer_version_permission(
        LayerName=name, VersionNumber=version, StatementId="all", Action="lambda:GetLayerVersion", Principal="*"
    )
    assert get() == arn
    assert session.get_layer_version_by_arn(Arn=arn)["Version"] == version
    # It grants what it names only.
    assert refused(lambda: session.delete_layer_version(LayerName=name, VersionNumber=version))[:2] == (
        "AccessDeniedException",
        403,
    )


def test_session_policies_limit_what_an_assumed_role_session_may_do(kumo):
    role_name = unique_name("capped")
    role_arn = kumo.role_with_policies(role_name, [ADMINISTRATOR])
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1"
    try:
        # An inline session policy: only what both it and the role allow.
        keys = session_keys(
            kumo, role_arn, Policy=document({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"})
        )
        assert "Functions" in kumo.client("lambda", **keys).list_functions()
        code, status, message = refused(lambda: kumo.client("sqs", **keys).list_queues())
        assert (code, status) == ("AccessDenied", 403)
        assert message.startswith(f"User: {session_arn} is not authorized to perform: sqs:listqueues"), message
        assert message.endswith("because no session policy allows the sqs:listqueues action"), message

        # Managed session policies (PolicyArns) likewise.
        keys = session_keys(kumo, role_arn, PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AmazonSQSFullAccess"}])
        assert kumo.client("sqs", **keys).list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert refused(lambda: kumo.client("lambda", **keys).list_functions()) == (
            "AccessDeniedException",
            403,
            f"User: {session_arn} is not authorized to perform: lambda:ListFunctions on resource: * "
            "because no session policy allows the lambda:ListFunctions action",
        )

        # A Deny in the session policy wins over its own Allow and the role's.
        keys = session_keys(
            kumo,
            role_arn,
            Policy=document(
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "lambda:List*", "Resource": "*"},
            ),
        )
        assert refused(lambda: kumo.client("lambda", **keys).list_functions())[2].endswith(
            "with an explicit deny in a session policy"
        )
        # A session without session policies has all the role allows.
        assert "Functions" in kumo.client("lambda", **session_keys(kumo, role_arn)).list_functions()
    finally:
        kumo.client("iam").detach_role_policy(RoleName=role_name, PolicyArn=ADMINISTRATOR)

    # A session policy grants nothing the role does not allow.
    bare_arn = kumo.role_with_policies(unique_name("bare"))
    keys = session_keys(kumo, bare_arn, Policy=document({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    assert refused(lambda: kumo.client("lambda", **keys).list_functions())[2].endswith(
        "because no identity-based policy allows the lambda:ListFunctions action"
    )


def test_a_permissions_boundary_caps_a_roles_policies(kumo):
    iam = kumo.client("iam")
    boundary = iam.create_policy(
        PolicyName=unique_name("sqs-only"), PolicyDocument=document({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    )["Policy"]["Arn"]
    role_name = unique_name("bounded")
    role_arn = iam.create_role(
        RoleName=role_name, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY, PermissionsBoundary=boundary
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName=role_name, PolicyArn=ADMINISTRATOR)
    try:
        keys = session_keys(kumo, role_arn)
        assert kumo.client("sqs", **keys).list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert refused(lambda: kumo.client("lambda", **keys).list_functions())[2].endswith(
            "because no permissions boundary allows the lambda:ListFunctions action"
        )
        iam.delete_role_permissions_boundary(RoleName=role_name)
        assert "PermissionsBoundary" not in iam.get_role(RoleName=role_name)["Role"]
        assert "Functions" in kumo.client("lambda", **keys).list_functions(), "the next request sees the change"
        iam.put_role_permissions_boundary(RoleName=role_name, PermissionsBoundary=boundary)
        assert iam.get_role(RoleName=role_name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert refused(lambda: kumo.client("lambda", **keys).list_functions())[:2] == ("AccessDeniedException", 403)
        code, _, message = refused(
            lambda: iam.put_role_permissions_boundary(
                RoleName=role_name, PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/missing"
            )
        )
        assert code == "NoSuchEntity", message
    finally:
        iam.detach_role_policy(RoleName=role_name, PolicyArn=ADMINISTRATOR)


def test_a_queue_policy_naming_the_session_passes_its_boundary_and_session_policy(kumo):
    iam, sqs = kumo.client("iam"), kumo.client("sqs")
    lambda_only = document({"Effect": "Allow", "Action": "lambda:*", "Resource": "*"})
    boundary = iam.create_policy(PolicyName=unique_name("lambda-only"), PolicyDocument=lambda_only)["Policy"]["Arn"]
    role_name = unique_name("direct")
    role_arn = iam.create_role(
        RoleName=role_name, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY, PermissionsBoundary=boundary
    )["Role"]["Arn"]
    url = sqs.create_queue(QueueName=unique_name("direct"))["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    session = kumo.client("sqs", **session_keys(kumo, role_arn, Policy=lambda_only))
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1"

    def grant(principal):
        statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sqs:SendMessage", "Resource": queue}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": document(statement)})

    def send():
        return session.send_message(QueueUrl=url, MessageBody="direct")["MessageId"]

    # A grant to the role is capped by its boundary, then by the session's policy.
    grant(role_arn)
    assert refused(send)[2].endswith("because no permissions boundary allows the sqs:sendmessage action")
    iam.delete_role_permissions_boundary(RoleName=role_name)
    assert refused(send)[2].endswith("because no session policy allows the sqs:sendmessage action")
    # A grant to the session itself is not: AWS adds it after both are applied.
    iam.put_role_permissions_boundary(RoleName=role_name, PermissionsBoundary=boundary)
    grant(session_arn)
    assert send()
    # It grants what it names only, and an explicit Deny in the boundary still wins.
    assert refused(lambda: session.receive_message(QueueUrl=url))[:2] == ("AccessDenied", 403)
    denying = document(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}
    )
    denying_boundary = iam.create_policy(PolicyName=unique_name("deny-sqs"), PolicyDocument=denying)["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName=role_name, PermissionsBoundary=denying_boundary)
    assert refused(send)[2].endswith("with an explicit deny in a permissions boundary")


def pathed_role(kumo, prefix):
    """(name, ARN) of a new execution role with the path `/service-role/` and no policies."""
    name = unique_name(prefix)
    role = kumo.client("iam").create_role(
        RoleName=name, Path="/service-role/", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}"
    return name, role["Arn"]


class PathedSender:
    """A function whose execution role has the path `/service-role/` and no policies, a queue,
    and what AWS answers when the function may not send to it."""

    def __init__(self, kumo, make_function):
        self.sqs = kumo.client("sqs")
        self.role_name, self.role_arn = pathed_role(kumo, "pathed-sender")
        self.function = make_function(CALLER, role=self.role_arn, Timeout=30)
        self.url = self.sqs.create_queue(QueueName=unique_name("pathed"))["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]
        self.queue = attributes["QueueArn"]
        self.denied = {
            "error": "AccessDenied",
            "message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{self.role_name}/{self.function.name} is not "
            f"authorized to perform: sqs:sendmessage on resource: {self.queue} because no identity-based policy "
            "allows the sqs:sendmessage action",
        }

    def send(self):
        """The function's SendMessage to the queue: {"ok": message id} or {"error", "message"}."""
        return self.function.invoke({"queue": self.url}).payload

    def allow(self, principal, condition=None):
        """Sets the queue's policy to one statement allowing SendMessage to `principal`."""
        statement = {"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": self.queue}
        if condition is not None:
            statement["Condition"] = condition
        self.sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": document(statement)})


@pytest.fixture
def pathed_sender(kumo, make_function):
    sender = PathedSender(kumo, make_function)
    yield sender
    sender.sqs.delete_queue(QueueUrl=sender.url)


def test_a_queue_policy_names_a_role_with_a_path_by_its_full_arn(pathed_sender):
    sender = pathed_sender
    # The role has no policies: without a grant its function's calls are refused.
    assert sender.send() == sender.denied
    # Naming the role by its ARN (path included) grants every session of it.
    sender.allow({"AWS": sender.role_arn})
    sent = sender.send()
    assert "ok" in sent, sent
    (message,) = sender.sqs.receive_message(QueueUrl=sender.url)["Messages"]
    assert message["MessageId"] == sent["ok"]


def test_a_sessions_principal_arn_is_its_roles_arn_with_the_path(pathed_sender):
    sender = pathed_sender
    # aws:PrincipalArn of the function's session is its role's ARN with the path, not without.
    path_less = f"arn:aws:iam::{ACCOUNT}:role/{sender.role_name}"
    sender.allow("*", {"ArnEquals": {"aws:PrincipalArn": path_less}})
    assert sender.send() == sender.denied
    sender.allow("*", {"ArnEquals": {"aws:PrincipalArn": sender.role_arn}})
    assert "ok" in sender.send()
    sender.allow("*", {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/service-role/*"}})
    assert "ok" in sender.send()


def test_a_functions_policy_names_a_role_with_a_path_by_its_full_arn(kumo, make_function):
    target = make_function(REACHED, prefix="pathed-target")
    role_name, role_arn = pathed_role(kumo, "pathed-invoker")
    caller = make_function(CALLER, role=role_arn, Timeout=30)
    denied = {
        "error": "AccessDeniedException",
        "message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{caller.name} is not authorized to "
        f"perform: lambda:InvokeFunction on resource: {target.arn} because no identity-based policy allows the "
        "lambda:InvokeFunction action",
    }
    assert caller.invoke({"function": target.arn}).payload == denied
    kumo.lambda_client().add_permission(
        FunctionName=target.name, StatementId="pathed-role", Action="lambda:InvokeFunction", Principal=role_arn
    )
    assert caller.invoke({"function": target.arn}).payload == {"ok": "reached"}


def test_the_health_report_says_policies_are_enforced(kumo):
    assert kumo.get_json("/_kumo/health")["auth"]["iam_enforcement"] == "on"


def test_cancelling_a_move_task_needs_a_grant_on_its_source_queue(start_server):
    server = start_server(KUMO_ACCESS_KEYS=KEYS)
    home, other = server.client("sqs"), server.client("sqs", **OTHER_KEYS)
    arn_of = lambda url: home.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dead = home.create_queue(QueueName="dead")["QueueUrl"]
    dead_arn = arn_of(dead)
    work = home.create_queue(
        QueueName="work",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "1"})},
    )["QueueUrl"]
    for index in range(30):
        home.send_message(QueueUrl=dead, MessageBody=str(index))
    handle = home.start_message_move_task(SourceArn=dead_arn, DestinationArn=arn_of(work), MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    assert refused(lambda: other.cancel_message_move_task(TaskHandle=handle)) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{OTHER}:root is not authorized to perform: sqs:cancelmessagemovetask on resource: "
        f"{dead_arn} because no resource-based policy allows the sqs:cancelmessagemovetask action",
    )
    assert home.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"] < 30


def test_sqs_json_access_denied_has_awss_type(start_server):
    server = start_server(KUMO_ACCESS_KEYS=KEYS)
    url = server.client("sqs").create_queue(QueueName="private")["QueueUrl"]
    other = server.client("sqs", **OTHER_KEYS)
    seen = {}
    other.meta.events.register("before-parse.sqs.SendMessage", lambda response_dict, **_: seen.update(response_dict))
    assert refused(lambda: other.send_message(QueueUrl=url, MessageBody="x"))[:2] == ("AccessDenied", 403)
    # AWS raises it in its front layer, not the SQS model: coral's namespace, not com.amazonaws.sqs.
    assert json.loads(seen["body"])["__type"] == "com.amazon.coral.service#AccessDeniedException"
    assert seen["headers"]["x-amzn-query-error"] == "AccessDenied;Sender"


def test_iam_calls_on_a_role_with_a_path_are_authorized_against_its_full_arn(kumo):
    """An IAM call's resource is the role's ARN with its path (`role/service-role/x`), so an
    identity policy granting `role/service-role/*` covers it, and one granting `role/x` does not."""
    iam = kumo.client("iam")
    pathed, pathed_arn = pathed_role(kumo, "pathed-target")
    plain_arn = kumo.role_with_policies(unique_name("plain-target"))
    plain = plain_arn.rsplit("/", 1)[1]
    caller_name = unique_name("role-reader")
    caller_arn = kumo.role_with_policies(caller_name)
    iam.put_role_policy(
        RoleName=caller_name,
        PolicyName="read-service-roles",
        PolicyDocument=document(
            {
                "Effect": "Allow",
                "Action": ["iam:GetRole", "iam:CreateRole"],
                "Resource": f"arn:aws:iam::{ACCOUNT}:role/service-role/*",
            }
        ),
    )
    reader = kumo.client("iam", **session_keys(kumo, caller_arn))
    assert reader.get_role(RoleName=pathed)["Role"]["Arn"] == pathed_arn
    code, status, message = refused(lambda: reader.get_role(RoleName=plain))
    assert (code, status) == ("AccessDenied", 403)
    assert f"on resource: {plain_arn} " in message, message
    # A role being created is named by the path it asks for.
    created = unique_name("created")
    reader.create_role(RoleName=created, Path="/service-role/", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    code, _, message = refused(
        lambda: reader.create_role(RoleName=unique_name("created"), AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    )
    assert code == "AccessDenied", message
