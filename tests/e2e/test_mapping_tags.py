"""Tags on event source mapping ARNs (TagResource, UntagResource, ListTags, and Tags in
CreateEventSourceMapping) through boto3 and the AWS CLI, with the answers and errors AWS records."""

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of
from test_sqs import make_queue, queue_arn, sqs, sqs_client  # noqa: F401 (fixtures)

HELLO = "def handler(event, context):\n    return 'hello'\n"
# TaggableResource's pattern in the botocore model the test setup installs (the validator quotes
# the model's current pattern).
PATTERN = (
    "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:"
    "(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|"
    "event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|"
    "(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})"
)


@pytest.fixture
def mapping(kumo, sqs, make_queue, make_function):  # noqa: F811 (fixtures)
    function = make_function(HELLO, role=kumo.delivery_role())
    created = function.client.create_event_source_mapping(
        EventSourceArn=queue_arn(sqs, make_queue()), FunctionName=function.name, Enabled=False,
        Tags={"testtag": "on-create"},
    )
    yield function.client, created
    function.client.delete_event_source_mapping(UUID=created["UUID"])


def tags(client, arn):
    answer = client.list_tags(Resource=arn)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def test_mapping_tag_lifecycle_as_aws_answers(mapping):
    client, created = mapping
    arn = created["EventSourceMappingArn"]
    assert arn == f"arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{created['UUID']}"
    assert "Tags" not in created and "KumoTags" not in created
    assert tags(client, arn) == {"Tags": {"testtag": "on-create"}}
    client.untag_resource(Resource=arn, TagKeys=["testtag"])
    assert client.tag_resource(Resource=arn, Tags={"A": "tag-a"})["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tags(client, arn) == {"Tags": {"A": "tag-a"}}
    client.tag_resource(Resource=arn, Tags={"B": "tag-b", "C": "tag-c"})
    client.tag_resource(Resource=arn, Tags={"C": "tag-c-newsuffix", "D": "tag-d"})
    assert tags(client, arn) == {"Tags": {"A": "tag-a", "B": "tag-b", "C": "tag-c-newsuffix", "D": "tag-d"}}
    # A change of the mapping keeps its tags, and its answers never show them.
    updated = client.update_event_source_mapping(UUID=created["UUID"], BatchSize=5)
    assert "KumoTags" not in updated and "KumoTags" not in client.get_event_source_mapping(UUID=created["UUID"])
    assert client.untag_resource(Resource=arn, TagKeys=["A"])["ResponseMetadata"]["HTTPStatusCode"] == 204
    client.untag_resource(Resource=arn, TagKeys=["B", "C"])
    client.untag_resource(Resource=arn, TagKeys=["a-key-that-does-not-exist"])
    assert tags(client, arn) == {"Tags": {"D": "tag-d"}}
    client.untag_resource(Resource=arn, TagKeys=["D", "nope"])
    assert tags(client, arn) == {"Tags": {}}
    with pytest.raises(ClientError) as excinfo:
        client.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(51)})
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_mapping_tag_errors_as_aws_answers(mapping):
    client, created = mapping
    missing = "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:a1b2c3d4-0000-1111-2222-333344445555"
    calls = (
        lambda: client.tag_resource(Resource=missing, Tags={"a": "b"}),
        lambda: client.untag_resource(Resource=missing, TagKeys=["a"]),
        lambda: client.list_tags(Resource=missing),
    )
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("ResourceNotFoundException", 404, f"Event source mapping not found: {missing}")
    for bad in (f"{created['EventSourceMappingArn']}:alias", "arn:aws:lambda:us-east-1:000000000000:foobar:x"):
        with pytest.raises(ClientError) as excinfo:
            client.list_tags(Resource=bad)
        assert error_of(excinfo) == (
            "ValidationException", 400,
            f"1 validation error detected: Value '{bad}' at 'resource' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {PATTERN}",
        )


def test_mapping_tags_through_the_aws_cli(kumo, mapping):
    client, created = mapping
    arn = created["EventSourceMappingArn"]
    assert kumo.aws("lambda", "tag-resource", "--resource", arn, "--tags", "team=kumo") is None
    assert kumo.aws("lambda", "list-tags", "--resource", arn) == {"Tags": {"testtag": "on-create", "team": "kumo"}}
