"""SQS queue URLs carry the region: the same name in two regions is two queues, every URL form
Kumo has issued resolves (path form, host form, the form without a region that queues created
before keep after an upgrade), and a bare queue name is accepted as a `QueueUrl`."""

import sqlite3

from test_sqs import query_request, sqs_client, XMLNS

from e2e_support import ACCOUNT, KumoServer, unique_name


def test_the_same_name_in_two_regions_is_two_queues(kumo):
    east, west = sqs_client(kumo, "us-east-1"), sqs_client(kumo, "eu-west-1")
    name = unique_name("regional")
    east_url = east.create_queue(QueueName=name)["QueueUrl"]
    west_url = west.create_queue(QueueName=name)["QueueUrl"]
    try:
        assert east_url == f"{kumo.endpoint}/queue/us-east-1/{ACCOUNT}/{name}"
        assert west_url == f"{kumo.endpoint}/queue/eu-west-1/{ACCOUNT}/{name}"
        assert east.get_queue_url(QueueName=name)["QueueUrl"] == east_url
        assert west.list_queues(QueueNamePrefix=name)["QueueUrls"] == [west_url]
        # A client that signs for us-east-1 reaches the eu-west-1 queue through its URL alone.
        east.send_message(QueueUrl=west_url, MessageBody="to the west")
        assert east.receive_message(QueueUrl=east_url).get("Messages") is None
        (message,) = west.receive_message(QueueUrl=west_url, WaitTimeSeconds=1)["Messages"]
        assert message["Body"] == "to the west"
        arn = east.get_queue_attributes(QueueUrl=west_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert arn == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{name}"
    finally:
        east.delete_queue(QueueUrl=east_url)
        west.delete_queue(QueueUrl=west_url)


def test_every_url_form_and_a_bare_name_resolve(kumo):
    client = sqs_client(kumo, "eu-central-1")
    name = unique_name("forms")
    url = client.create_queue(QueueName=name)["QueueUrl"]
    try:
        port = kumo.endpoint.rsplit(":", 1)[1]
        forms = [
            url,
            f"http://sqs.eu-central-1.localhost:{port}/{ACCOUNT}/{name}",
            f"https://sqs.eu-central-1.amazonaws.com/{ACCOUNT}/{name}",
            f"{kumo.endpoint}/{ACCOUNT}/{name}",  # no region: the caller's
            name,
        ]
        for form in forms:
            client.send_message(QueueUrl=form, MessageBody=form)
        attributes = client.get_queue_attributes(QueueUrl=name, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"] == {"ApproximateNumberOfMessages": str(len(forms))}
        # The query protocol addressed to the queue's URL path.
        status, root = query_request(kumo, {"Action": "GetQueueAttributes", "AttributeName.1": "QueueArn"},
                                     path=f"/queue/eu-central-1/{ACCOUNT}/{name}", region="us-east-1")
        assert status == 200
        value = root.find("sqs:GetQueueAttributesResult/sqs:Attribute/sqs:Value", XMLNS).text
        assert value == f"arn:aws:sqs:eu-central-1:{ACCOUNT}:{name}"
    finally:
        client.delete_queue(QueueUrl=url)


def test_host_style_urls(start_server):
    server = start_server(KUMO_SQS_URL_STYLE="host")
    client = sqs_client(server, "ap-southeast-2")
    url = client.create_queue(QueueName="hosted")["QueueUrl"]
    port = server.endpoint.rsplit(":", 1)[1]
    assert url == f"http://sqs.ap-southeast-2.localhost:{port}/{ACCOUNT}/hosted"
    sqs_client(server, "us-east-1").send_message(QueueUrl=url, MessageBody="x")
    assert len(client.receive_message(QueueUrl=url)["Messages"]) == 1


def test_queues_created_before_an_upgrade_keep_their_urls(start_server):
    server = start_server()
    sqs_client(server).create_queue(QueueName="before")
    server.stop()
    # Back to the data dir the release before regional URLs left: schema version 1.
    old = sqlite3.connect(server.data_dir / "sqs.sqlite3")
    old.executescript("ALTER TABLE queues DROP COLUMN legacy_url; PRAGMA user_version = 1;")
    old.close()
    upgraded = KumoServer(server.data_dir, server.log_path, port=server.port, env=server.extra_env).start()
    try:
        client = sqs_client(upgraded)
        old_url = f"{upgraded.endpoint}/{ACCOUNT}/before"
        assert client.get_queue_url(QueueName="before")["QueueUrl"] == old_url
        client.send_message(QueueUrl=old_url, MessageBody="still here")
        assert client.receive_message(QueueUrl=old_url)["Messages"][0]["Body"] == "still here"
        new_url = client.create_queue(QueueName="after")["QueueUrl"]
        assert new_url == f"{upgraded.endpoint}/queue/us-east-1/{ACCOUNT}/after"
        assert client.list_queues()["QueueUrls"] == [new_url, old_url]
    finally:
        upgraded.stop()
