"""Lambda resources per account: two key pairs in two accounts on one server. The same name in
both accounts is two functions, with their own logs, metering and metrics; every operation on
another account's function or layer version by ARN is denied unless its resource-based policy
grants the caller (its account, or its role by the role's ARN with its path); restart keeps all of it, and a data dir from before
accounts existed keeps working."""

import json
import sqlite3
import urllib.error

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, LAMBDA_TRUST_POLICY, error_of, invoke, make_zip, poll, python_zip, unique_name

OTHER = "111111111111"
OTHER_KEYS = {"aws_access_key_id": "other", "aws_secret_access_key": "othersecret"}
KEYS = f"test:test,other:othersecret:{OTHER}"

# Reports which account's function ran: the ARN it was invoked as and whose role credentials
# it holds (a function's boto3 calls come back to Kumo with its execution role's session).
HANDLER = """
import boto3

def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()
    return {"owner": OWNER, "arn": context.invoked_function_arn, "account": identity["Account"]}
"""


def denied(caller_account, action, resource):
    return (
        "AccessDeniedException",
        403,
        f"User: arn:aws:iam::{caller_account}:root is not authorized to perform: {action} on resource: {resource} "
        f"because no resource-based policy allows the {action} action",
    )


def create(client, name, owner, account, **params):
    return client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{account}:role/lambda-role",
        Handler="lambda_function.handler",
        Code={"ZipFile": python_zip(f"OWNER = {owner!r}\n" + HANDLER)},
        **params,
    )


@pytest.fixture
def two_accounts(start_server):
    """A server with the default account (key `test`) and OTHER (key `other`), each with the
    execution role its functions use."""
    server = start_server(KUMO_ACCESS_KEYS=KEYS)
    server.client("iam", **OTHER_KEYS).create_role(RoleName="lambda-role", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    return server


def test_each_account_has_its_own_functions_and_grants_invoke_by_policy(two_accounts):
    server = two_accounts
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    name = unique_name("shared")
    home_arn = create(home, name, "home", ACCOUNT)["FunctionArn"]
    other_arn = create(other, name, "other", OTHER, Timeout=30)["FunctionArn"]
    assert home_arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert other_arn == f"arn:aws:lambda:us-east-1:{OTHER}:function:{name}"
    assert other.get_function(FunctionName=name)["Configuration"]["Timeout"] == 30
    assert home.get_function(FunctionName=name)["Configuration"]["Timeout"] == 3

    only = create(home, unique_name("home-only"), "home", ACCOUNT)["FunctionName"]
    assert sorted(f["FunctionName"] for f in home.list_functions()["Functions"]) == sorted([name, only])
    assert [f["FunctionName"] for f in other.list_functions()["Functions"]] == [name]
    assert home.get_account_settings()["AccountUsage"]["FunctionCount"] == 2
    assert other.get_account_settings()["AccountUsage"]["FunctionCount"] == 1
    with pytest.raises(ClientError) as excinfo:
        other.get_function(FunctionName=only)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)

    # A name always means the caller's own account.
    assert invoke(home, name).payload == {"owner": "home", "arn": home_arn, "account": ACCOUNT}
    assert invoke(other, name).payload == {"owner": "other", "arn": other_arn, "account": OTHER}

    # Another account's function by ARN: denied until its policy grants the caller's account.
    with pytest.raises(ClientError) as excinfo:
        invoke(other, home_arn)
    assert error_of(excinfo) == denied(OTHER, "lambda:InvokeFunction", home_arn)
    with pytest.raises(ClientError) as excinfo:
        invoke(other, f"{ACCOUNT}:function:{only}")
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 403), "the partial ARN form names the account too"
    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{unique_name('missing')}"
    with pytest.raises(ClientError) as excinfo:
        invoke(other, missing)
    assert error_of(excinfo) == denied(OTHER, "lambda:InvokeFunction", missing), "existence is not revealed"

    home.add_permission(FunctionName=name, StatementId="other-invokes", Action="lambda:InvokeFunction", Principal=OTHER)
    assert invoke(other, home_arn).payload == {"owner": "home", "arn": home_arn, "account": ACCOUNT}
    # The grant is for InvokeFunction only.
    with pytest.raises(ClientError) as excinfo:
        other.get_function(FunctionName=home_arn)
    assert error_of(excinfo) == denied(OTHER, "lambda:GetFunction", home_arn)
    home.add_permission(
        FunctionName=name, StatementId="other-reads", Action="lambda:*", Principal=f"arn:aws:iam::{OTHER}:root"
    )
    assert other.get_function(FunctionName=home_arn)["Configuration"]["FunctionArn"] == home_arn

    home.remove_permission(FunctionName=name, StatementId="other-invokes")
    home.remove_permission(FunctionName=name, StatementId="other-reads")
    with pytest.raises(ClientError) as excinfo:
        invoke(other, home_arn)
    assert error_of(excinfo) == denied(OTHER, "lambda:InvokeFunction", home_arn)

    # Deleting one account's function leaves the other's.
    other.delete_function(FunctionName=name)
    assert invoke(home, name).payload["owner"] == "home"


def test_layers_are_shared_across_accounts_only_by_permission(two_accounts):
    server = two_accounts
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    layer_name = unique_name("layer")
    files = {"python/shared_helper.py": "GREETING = 'from the home account'\n"}
    layer = home.publish_layer_version(LayerName=layer_name, Content={"ZipFile": make_zip(files)})
    version_arn = layer["LayerVersionArn"]
    assert version_arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{layer_name}:1"
    assert other.list_layers()["Layers"] == []
    own = other.publish_layer_version(LayerName=layer_name, Content={"ZipFile": make_zip(files)})
    assert own["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:{OTHER}:layer:{layer_name}:1"

    with pytest.raises(ClientError) as excinfo:
        other.get_layer_version_by_arn(Arn=version_arn)
    assert error_of(excinfo) == denied(OTHER, "lambda:GetLayerVersion", version_arn)
    source = "import shared_helper\n\ndef handler(event, context):\n    return shared_helper.GREETING\n"
    name = unique_name("uses-layer")
    function = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": f"arn:aws:iam::{OTHER}:role/lambda-role",
        "Handler": "lambda_function.handler",
        "Code": {"ZipFile": python_zip(source)},
        "Layers": [version_arn],
    }
    with pytest.raises(ClientError) as excinfo:
        other.create_function(**function)
    assert error_of(excinfo) == denied(OTHER, "lambda:GetLayerVersion", version_arn)

    home.add_layer_version_permission(
        LayerName=layer_name, VersionNumber=1, StatementId="other", Action="lambda:GetLayerVersion", Principal=OTHER
    )
    assert other.get_layer_version_by_arn(Arn=version_arn)["LayerVersionArn"] == version_arn
    layer_arn = version_arn.rsplit(":", 1)[0]
    assert other.get_layer_version(LayerName=layer_arn, VersionNumber=1)["LayerArn"] == layer_arn
    other.create_function(**function)
    assert invoke(other, name).payload == "from the home account"

    home.remove_layer_version_permission(LayerName=layer_name, VersionNumber=1, StatementId="other")
    with pytest.raises(ClientError) as excinfo:
        other.get_layer_version_by_arn(Arn=version_arn)
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 403)


def test_a_grant_to_another_accounts_role_with_a_path_names_it_by_its_full_arn(two_accounts):
    server = two_accounts
    home, other_iam = server.client("lambda"), server.client("iam", **OTHER_KEYS)
    name = unique_name("pathed")
    home_arn = create(home, name, "home", ACCOUNT)["FunctionArn"]
    role_name = unique_name("pathed-role")
    role_arn = other_iam.create_role(
        RoleName=role_name, Path="/service-role/", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY
    )["Role"]["Arn"]
    assert role_arn == f"arn:aws:iam::{OTHER}:role/service-role/{role_name}"
    # Across accounts the role's own policies must allow the call as well.
    other_iam.attach_role_policy(RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaRole")
    credentials = server.client("sts", **OTHER_KEYS).assume_role(RoleArn=role_arn, RoleSessionName="s1")[
        "Credentials"
    ]
    session = server.client(
        "lambda",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    session_arn = f"arn:aws:sts::{OTHER}:assumed-role/{role_name}/s1"
    with pytest.raises(ClientError) as excinfo:
        invoke(session, home_arn)
    assert error_of(excinfo) == (
        "AccessDeniedException",
        403,
        f"User: {session_arn} is not authorized to perform: lambda:InvokeFunction on resource: {home_arn} "
        "because no resource-based policy allows the lambda:InvokeFunction action",
    )
    # The session ARN leaves the path out; the grant names the role by its ARN with the path.
    home.add_permission(FunctionName=name, StatementId="pathed-role", Action="lambda:InvokeFunction", Principal=role_arn)
    assert invoke(session, home_arn).payload == {"owner": "home", "arn": home_arn, "account": ACCOUNT}


def test_restart_keeps_each_accounts_functions_and_grants(two_accounts):
    server = two_accounts
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    name = unique_name("durable")
    home_arn = create(home, name, "home", ACCOUNT)["FunctionArn"]
    create(other, name, "other", OTHER)
    home.add_permission(FunctionName=name, StatementId="other", Action="lambda:InvokeFunction", Principal=OTHER)
    home.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)

    code, _ = server.stop()
    assert code == 0
    server.start()
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    assert [f["FunctionName"] for f in other.list_functions()["Functions"]] == [name]
    assert invoke(other, name).payload["owner"] == "other"
    assert invoke(other, home_arn).payload == {"owner": "home", "arn": home_arn, "account": ACCOUNT}
    assert home.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert "ReservedConcurrentExecutions" not in other.get_function_concurrency(FunctionName=name)


def test_a_data_dir_from_before_accounts_belongs_to_the_configured_account(start_server):
    server = start_server()
    home = server.client("lambda")
    name = unique_name("legacy")
    create(home, name, "home", ACCOUNT)
    home.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    layer = home.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"python/x.py": ""})})
    code, _ = server.stop()
    assert code == 0

    # Rewrite the Lambda tables to the shape they had before accounts existed (documents are unchanged).
    database = sqlite3.connect(server.data_dir / "kumo.sqlite3")
    for table, columns in [
        ("functions", "region, name, version, document"),
        ("event_source_mappings", "uuid, region, document"),
        ("layers", "region, name, latest_version"),
        ("layer_versions", "region, name, version, document"),
    ]:
        database.execute(f"CREATE TABLE old_{table} AS SELECT {columns} FROM {table}")
        database.execute(f"DROP TABLE {table}")
        database.execute(f"ALTER TABLE old_{table} RENAME TO {table}")
    columns = [row[1] for row in database.execute("PRAGMA table_info(functions)")]
    assert "account" not in columns
    database.commit()
    database.close()

    server.extra_env["KUMO_ACCESS_KEYS"] = KEYS
    server.start()
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    assert invoke(home, name).payload["owner"] == "home"
    assert json.loads(home.get_policy(FunctionName=name)["Policy"])["Statement"][0]["Sid"] == "s3"
    assert home.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])["Version"] == 1
    assert home.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"python/x.py": ""})})["Version"] == 2
    assert other.list_functions()["Functions"] == []
    assert other.list_layers()["Layers"] == []


def test_every_operation_on_another_accounts_function_needs_a_grant(two_accounts):
    server = two_accounts
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    name = unique_name("guarded")
    home_arn = create(home, name, "home", ACCOUNT)["FunctionArn"]
    home.publish_version(FunctionName=name)

    def refused(call, action, resource=home_arn, **params):
        with pytest.raises(ClientError) as excinfo:
            call(**params)
        assert error_of(excinfo) == denied(OTHER, action, resource)

    # Without a policy every operation is denied, as on AWS, not "not found".
    refused(other.get_policy, "lambda:GetPolicy", FunctionName=home_arn)
    refused(other.update_function_configuration, "lambda:UpdateFunctionConfiguration", FunctionName=home_arn, Timeout=9)
    refused(other.list_versions_by_function, "lambda:ListVersionsByFunction", FunctionName=home_arn)
    refused(other.list_aliases, "lambda:ListAliases", FunctionName=home_arn)
    refused(other.publish_version, "lambda:PublishVersion", FunctionName=home_arn)
    refused(other.delete_function, "lambda:DeleteFunction", FunctionName=home_arn)
    refused(other.list_tags, "lambda:ListTags", Resource=home_arn)
    refused(other.get_function_concurrency, "lambda:GetFunctionConcurrency", FunctionName=home_arn)
    refused(
        other.add_permission,
        "lambda:AddPermission",
        FunctionName=home_arn,
        StatementId="self-grant",
        Action="lambda:*",
        Principal=OTHER,
    )
    refused(other.get_function, "lambda:GetFunction", f"{home_arn}:1", FunctionName=f"{home_arn}:1")
    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{unique_name('missing')}"
    refused(other.get_policy, "lambda:GetPolicy", missing, FunctionName=missing)

    # A grant of one action opens that action only, and the operation then acts on the owner's function.
    home.add_permission(FunctionName=name, StatementId="reads", Action="lambda:GetFunction", Principal=OTHER)
    assert other.get_function(FunctionName=home_arn)["Configuration"]["FunctionArn"] == home_arn
    refused(other.get_function_configuration, "lambda:GetFunctionConfiguration", FunctionName=home_arn)
    refused(other.update_function_configuration, "lambda:UpdateFunctionConfiguration", FunctionName=home_arn, Timeout=9)
    home.add_permission(
        FunctionName=name,
        StatementId="configures",
        Action="lambda:UpdateFunctionConfiguration",
        Principal=f"arn:aws:iam::{OTHER}:root",
    )
    updated = other.update_function_configuration(FunctionName=home_arn, Timeout=9)
    assert (updated["FunctionArn"], updated["Timeout"]) == (home_arn, 9)
    assert home.get_function_configuration(FunctionName=name)["Timeout"] == 9
    assert "Timeout" not in str(other.list_functions()["Functions"]), "nothing was created in the caller's account"

    # A statement conditioned on a trigger's source grants no direct call: AWS sets
    # AWS:SourceAccount and AWS:SourceArn only when a service calls for one of its resources.
    home.add_permission(
        FunctionName=name, StatementId="source", Action="lambda:GetPolicy", Principal=OTHER, SourceAccount=OTHER
    )
    home.add_permission(
        FunctionName=name,
        StatementId="bucket",
        Action="lambda:GetPolicy",
        Principal=OTHER,
        SourceArn="arn:aws:s3:::uploads",
    )
    refused(other.get_policy, "lambda:GetPolicy", FunctionName=home_arn)
    home.add_permission(FunctionName=name, StatementId="policy", Action="lambda:GetPolicy", Principal=OTHER)
    statements = json.loads(other.get_policy(FunctionName=home_arn)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["reads", "configures", "source", "bucket", "policy"]

    # A grant on the function does not cover its versions: those have policies of their own.
    refused(other.get_function, "lambda:GetFunction", f"{home_arn}:1", FunctionName=home_arn, Qualifier="1")
    home.add_permission(FunctionName=name, Qualifier="1", StatementId="v1", Action="lambda:GetFunction", Principal=OTHER)
    assert other.get_function(FunctionName=home_arn, Qualifier="1")["Configuration"]["Version"] == "1"


def test_logs_metering_and_metrics_are_each_accounts_own(two_accounts):
    server = two_accounts
    home, other = server.client("lambda"), server.client("lambda", **OTHER_KEYS)
    name = unique_name("observed")
    create(home, name, "home", ACCOUNT)
    create(other, name, "other", OTHER)
    for _ in range(2):
        invoke(home, name)
    invoke(other, name)
    assert other.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202

    def requests(account=None):
        # Each account's data is read with its own keys: only an account's root reads it.
        credentials = OTHER_KEYS if account == OTHER else None
        return [record["request_id"] for record in server.metering(name, account=account, credentials=credentials)]

    # Without `account`, the default account's function, as before accounts existed.
    assert len(requests()) == 2
    assert requests() == requests(ACCOUNT)
    home_ids = set(requests(ACCOUNT))
    def both_of_other():
        ids = requests(OTHER)
        return ids if len(ids) == 2 else None

    other_ids = set(poll(both_of_other, timeout=30, what="the async invocation's metering record"))
    assert not home_ids & other_ids
    assert {record["account"] for record in server.metering(name, credentials=OTHER_KEYS)} == {OTHER}

    def starts(account=None):
        credentials = OTHER_KEYS if account == OTHER else None
        lines = server.log_text(name, account=account, credentials=credentials).splitlines()
        return sorted(line.split()[2] for line in lines if line.startswith("START RequestId:"))

    assert starts() == sorted(home_ids)
    assert starts(OTHER) == sorted(other_ids)
    other_cli = ["--access-key", OTHER_KEYS["aws_access_key_id"], "--secret-key", OTHER_KEYS["aws_secret_access_key"]]
    printed = server.kumo_cli("logs", name, *other_cli)
    assert printed.returncode == 0, printed.stderr
    assert all(request_id in printed.stdout for request_id in other_ids)
    assert not any(request_id in printed.stdout for request_id in home_ids)

    def function_metrics(account=None):
        query = "" if account is None else f"?account={account}"
        credentials = OTHER_KEYS if account == OTHER else None
        entries = server.get_json(f"/_kumo/metrics{query}", credentials=credentials)["lambda"]["functions"]
        return [entry for entry in entries if entry["FunctionName"] == name]

    assert function_metrics() == [], "the default account sent no async event"
    [entry] = function_metrics(OTHER)
    assert (entry["Account"], entry["AsyncEventsReceived"]) == (OTHER, 1)

    # Queues too: two accounts' queues of one name, each counted in its own account's metrics.
    queue = unique_name("counted")
    for client, sent in ((server.client("sqs"), 1), (server.client("sqs", **OTHER_KEYS), 3)):
        url = client.create_queue(QueueName=queue)["QueueUrl"]
        for _ in range(sent):
            client.send_message(QueueUrl=url, MessageBody="x")

    def queue_metrics(account=None):
        credentials = OTHER_KEYS if account == OTHER else None
        entries = server.get_json("/_kumo/metrics", credentials=credentials)["sqs"]["queues"]
        return [(entry["QueueName"], entry["NumberOfMessagesSent"]) for entry in entries if entry["QueueName"] == queue]

    assert queue_metrics() == [(queue, 1)]
    assert queue_metrics(OTHER) == [(queue, 3)]

    with pytest.raises(urllib.error.HTTPError) as excinfo:
        server.get_json(f"/_kumo/metering/{name}?account=nope")
    assert excinfo.value.code == 400


def refused_read(server, path, credentials=None):
    """The status and error body of a signed `/_kumo` read that must be refused."""
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        server.get_json(path, credentials=credentials)
    return excinfo.value.code, excinfo.value.headers.get("x-amzn-ErrorType"), json.load(excinfo.value)["message"]


def test_another_accounts_logs_metering_and_metrics_are_refused(two_accounts):
    server = two_accounts
    other = server.client("lambda", **OTHER_KEYS)
    name = unique_name("private")
    create(other, name, "other", OTHER)
    invoke(other, name)
    assert len(server.metering(name, credentials=OTHER_KEYS)) == 1
    # The default account's root asks for OTHER's data: refused, whatever endpoint.
    for path in (f"/_kumo/logs/{name}?account={OTHER}", f"/_kumo/metering/{name}?account={OTHER}", f"/_kumo/metrics?account={OTHER}"):
        status, code, message = refused_read(server, path)
        assert (status, code) == (403, "AccessDeniedException"), path
        assert message.startswith(f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: kumo:Get"), message
    # An account nobody holds keys of is nobody's to read.
    assert refused_read(server, f"/_kumo/logs/{name}?account=333333333333")[0] == 403
    # Node-wide status is the operator's (the configured account's root), not another tenant's.
    assert refused_read(server, "/_kumo/status", OTHER_KEYS)[:2] == (403, "AccessDeniedException")
    assert "pools" in server.get_json("/_kumo/status")
    printed = server.kumo_cli("logs", name, "--account", OTHER)
    assert printed.returncode != 0 and "AccessDeniedException" in printed.stderr, printed
