"""SNS topics through boto3 and the AWS CLI: create (standard, FIFO, idempotent), attributes,
listing with pages, tags, and AWS's errors."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, error_of, unique_name
from sns_support import make_topic, sns  # noqa: F401 (fixtures)


def test_create_get_set_delete(sns, make_topic):
    arn = make_topic("life", DisplayName="orders")
    name = arn.rsplit(":", 1)[1]
    assert arn == f"arn:aws:sns:us-east-1:{ACCOUNT}:{name}"
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["TopicArn"] == arn
    assert attributes["Owner"] == ACCOUNT
    assert attributes["DisplayName"] == "orders"
    assert attributes["SubscriptionsConfirmed"] == "0"
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == arn
    assert "FifoTopic" not in attributes
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="renamed")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "renamed"
    # Idempotent with the same attributes; refused with others.
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "renamed"})["TopicArn"] == arn
    with pytest.raises(ClientError) as excinfo:
        sns.create_topic(Name=name, Attributes={"DisplayName": "other"})
    assert error_of(excinfo) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
    )
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(ClientError) as excinfo:
        sns.get_topic_attributes(TopicArn=arn)
    assert error_of(excinfo) == ("NotFound", 404, "Topic does not exist")
    # Deleting a topic that does not exist is no error, as on AWS.
    sns.delete_topic(TopicArn=arn)


def test_fifo_topics(sns, make_topic):
    arn = make_topic("fifo", fifo=True, ContentBasedDeduplication="true")
    assert arn.endswith(".fifo")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["FifoTopic"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    with pytest.raises(ClientError) as excinfo:
        sns.create_topic(Name=unique_name("nofifo"), Attributes={"FifoTopic": "true"})
    assert error_of(excinfo)[:2] == ("InvalidParameter", 400)
    assert "Fifo Topic names must end with .fifo" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        sns.create_topic(Name=unique_name("std") + ".fifo")
    assert error_of(excinfo) == ("InvalidParameter", 400, "Invalid parameter: Topic Name")
    standard = make_topic("std")
    with pytest.raises(ClientError) as excinfo:
        sns.set_topic_attributes(TopicArn=standard, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    assert error_of(excinfo)[:2] == ("InvalidParameter", 400)


@pytest.mark.parametrize("name", ["bad name", "x" * 257, "dots.not.allowed", "ünï"])
def test_topic_names_are_validated(sns, name):
    with pytest.raises(ClientError) as excinfo:
        sns.create_topic(Name=name)
    assert error_of(excinfo) == ("InvalidParameter", 400, "Invalid parameter: Topic Name")


def test_errors_for_bad_arns_and_attributes(sns, make_topic):
    with pytest.raises(ClientError) as excinfo:
        sns.get_topic_attributes(TopicArn="not-an-arn")
    assert error_of(excinfo) == ("InvalidParameter", 400, "Invalid parameter: TopicArn")
    arn = make_topic()
    with pytest.raises(ClientError) as excinfo:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="NoSuchAttribute", AttributeValue="x")
    assert error_of(excinfo) == ("InvalidParameter", 400, "Invalid parameter: AttributeName")
    with pytest.raises(ClientError) as excinfo:
        sns.get_topic_attributes(TopicArn=arn + "-missing")
    assert error_of(excinfo) == ("NotFound", 404, "Topic does not exist")


def test_list_topics_pages_of_one_hundred(kumo, sns):
    prefix = unique_name("page")
    arns = [sns.create_topic(Name=f"{prefix}-{i:03}")["TopicArn"] for i in range(105)]
    try:
        seen, token, pages = [], None, 0
        while True:
            page = sns.list_topics(**({"NextToken": token} if token else {}))
            pages += 1
            assert len(page["Topics"]) <= 100
            seen += [topic["TopicArn"] for topic in page["Topics"]]
            token = page.get("NextToken")
            if not token:
                break
        assert pages >= 2
        assert set(arns) <= set(seen)
        assert len(seen) == len(set(seen))
        # Another region has none of them.
        west = kumo.client("sns", region="us-west-2").list_topics()["Topics"]
        assert not {topic["TopicArn"] for topic in west} & set(arns)
        # The CLI pages through them all.
        listed = kumo.aws("sns", "list-topics")["Topics"]
        assert set(arns) <= {topic["TopicArn"] for topic in listed}
    finally:
        for arn in arns:
            sns.delete_topic(TopicArn=arn)


def test_tags(sns, make_topic):
    arn = make_topic("tags", tags=[{"Key": "team", "Value": "a"}])
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
    tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted((tag["Key"], tag["Value"]) for tag in tags) == [("env", "dev"), ("team", "b")]
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as excinfo:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(excinfo)[:2] == ("TagLimitExceeded", 400)
    with pytest.raises(ClientError) as excinfo:
        sns.list_tags_for_resource(ResourceArn=arn + "-missing")
    assert error_of(excinfo) == ("ResourceNotFound", 404, "Resource does not exist")
    name = arn.rsplit(":", 1)[1]
    with pytest.raises(ClientError) as excinfo:
        sns.create_topic(Name=name, Tags=[{"Key": "env", "Value": "prod"}])
    assert error_of(excinfo) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Tags Reason: Topic already exists with different tags",
    )


def test_topics_survive_a_restart(spare_kumo):
    sns = spare_kumo.client("sns")
    arn = sns.create_topic(Name="kept", Attributes={"DisplayName": "kept"}, Tags=[{"Key": "a", "Value": "b"}])["TopicArn"]
    code, _ = spare_kumo.stop()
    assert code == 0
    spare_kumo.start()
    sns = spare_kumo.client("sns")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "kept"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "b"}]


def test_cli_topics(kumo):
    name = unique_name("cli")
    arn = kumo.aws("sns", "create-topic", "--name", name, "--attributes", "DisplayName=cli")["TopicArn"]
    try:
        attributes = kumo.aws("sns", "get-topic-attributes", "--topic-arn", arn)["Attributes"]
        assert attributes["DisplayName"] == "cli"
        kumo.aws("sns", "tag-resource", "--resource-arn", arn, "--tags", "Key=k,Value=v")
        assert kumo.aws("sns", "list-tags-for-resource", "--resource-arn", arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    finally:
        kumo.aws("sns", "delete-topic", "--topic-arn", arn)


def test_role_sessions_are_held_to_their_roles_policies(kumo, sns, make_topic):
    topic = make_topic("iam")
    role_name = unique_name("sns-publisher")
    statement = {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}
    role_arn = kumo.role_with_policies(role_name, inline={"Version": "2012-10-17", "Statement": [statement]})
    credentials = kumo.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    session = kumo.client(
        "sns",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    assert session.publish(TopicArn=topic, Message="allowed")["MessageId"]
    with pytest.raises(ClientError) as excinfo:
        session.get_topic_attributes(TopicArn=topic)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AuthorizationError", 403)
    assert message.startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1 is not authorized to perform: "
        f"sns:GetTopicAttributes on resource: {topic}"
    )
    with pytest.raises(ClientError) as excinfo:
        session.create_topic(Name=unique_name("denied"))
    assert error_of(excinfo)[:2] == ("AuthorizationError", 403)
