"""`/_kumo/health` reports what is true: every service `running` on a normal start, and a
service whose store can no longer keep what it is given `unavailable: <why>`, with the HTTP
status following (200 only while every service can serve, 503 otherwise)."""

import json
import urllib.error
import urllib.request


def health(server):
    """(HTTP status, body) of the open health endpoint."""
    try:
        with urllib.request.urlopen(server.endpoint + "/_kumo/health", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_every_service_is_running_on_a_normal_start(kumo):
    status, body = health(kumo)
    assert status == 200
    assert body["status"] == "ok"
    assert body["services"] == {
        "lambda": "running",
        "sqs": "running",
        "sns": "running",
        "s3": "running",
        "iam": "running",
        "sts": "running",
    }


def test_a_database_file_removed_under_kumo_makes_its_service_unavailable(start_server):
    server = start_server()
    sqs = server.client("sqs")
    sqs.create_queue(QueueName="kept-before")
    assert health(server)[0] == 200

    # As `rm data/sqs.sqlite3*` would: SQLite goes on writing into the unlinked file, so every
    # message sent from now on would be gone at the next start. Health says so.
    for path in server.data_dir.glob("sqs.sqlite3*"):
        path.unlink()
    status, body = health(server)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["services"]["sqs"] == (
        "unavailable: database file sqs.sqlite3 was removed while open; writes would be lost at restart"
    )
    assert body["services"]["lambda"] == "running"
    assert body["services"]["iam"] == "running"

    server.client("sns").create_topic(Name="kept-before")
    for path in server.data_dir.glob("sns.sqlite3*"):
        path.unlink()
    assert health(server)[1]["services"]["sns"] == (
        "unavailable: database file sns.sqlite3 was removed while open; writes would be lost at restart"
    )

    for path in server.data_dir.glob("kumo.sqlite3*"):
        path.unlink()
    assert health(server)[1]["services"]["lambda"] == (
        "unavailable: database file kumo.sqlite3 was removed while open; writes would be lost at restart"
    )
