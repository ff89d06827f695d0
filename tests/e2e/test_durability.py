"""Durability and process hygiene across restarts: accepted events survive `kill -9`,
functions survive a restart, and no execution environment outlives Kumo."""

import re

from e2e_support import Deployer, KumoServer, function_processes, poll, still_running, wait_until_gone

# Functions cannot write to the host: the handled events are observed through the function's log.
APPENDER = """
import time

def handler(event, context):
    time.sleep(1)
    print(f"handled event {event['n']}")
    return event["n"]
"""

SPAWNER = """
import subprocess

def handler(event, context):
    subprocess.Popen(["sleep", "300"], start_new_session=True)
    return "spawned"
"""


def handled_events(server, function_name):
    return {int(n) for n in re.findall(r"handled event (\d+)", server.log_text(function_name))}


def spawned_processes(server, function):
    """The runtime and the `sleep` it started, as host pids ({pid: start time})."""
    assert function.invoke({}).payload == "spawned"
    poll(lambda: len(function_processes(server, function.name)) >= 2, what="the runtime and its child to show up")
    return function_processes(server, function.name)


def restart(server):
    """A new process on the same data dir and port."""
    return KumoServer(server.data_dir, server.log_path, port=server.port, env=server.extra_env).start()


def test_accepted_events_survive_kill_9(spare_kumo):
    function = Deployer(spare_kumo).create(APPENDER, Timeout=10)
    for n in range(20):
        assert function.invoke({"n": n}, InvocationType="Event").status == 202
    done_before_kill = handled_events(spare_kumo, function.name)
    environments = spare_kumo.kill()
    assert len(done_before_kill) < 20, "every event finished before the kill: nothing left to prove"

    assert not wait_until_gone(environments), "environments outlived kumo's kill -9"
    restarted = restart(spare_kumo)
    try:
        poll(
            lambda: handled_events(restarted, function.name) == set(range(20)),
            timeout=30,
            what="all 20 events to run after the restart",
        )
    finally:
        restarted.stop()


def test_functions_survive_a_restart(spare_kumo):
    function = Deployer(spare_kumo).create(
        "def handler(event, context):\n    print('before restart')\n    return event\n", MemorySize=256
    )
    before = function.configuration()
    assert function.invoke({"n": 1}).payload == {"n": 1}
    code, leftovers = spare_kumo.stop()
    assert code == 0
    assert not leftovers

    restarted = restart(spare_kumo)
    try:
        client = restarted.lambda_client()
        after = client.get_function(FunctionName=function.name)["Configuration"]
        for key in ("FunctionArn", "CodeSha256", "RevisionId", "MemorySize", "LastModified", "Handler", "Runtime"):
            assert after[key] == before[key], key
        assert after["State"] == "Active"
        result = client.invoke(FunctionName=function.name, Payload=b'{"n": 2}')
        assert result["Payload"].read() == b'{"n": 2}'
        assert "before restart" in restarted.log_text(function.name)
        assert len(restarted.metering(function.name)) == 2
    finally:
        restarted.stop()


def test_sigterm_stops_environments_and_what_they_started(spare_kumo):
    function = Deployer(spare_kumo).create(SPAWNER)
    processes = spawned_processes(spare_kumo, function)
    code, leftovers = spare_kumo.stop()
    assert code == 0
    assert not leftovers
    assert not still_running(processes)


def test_kill_9_takes_the_runtime_processes_down(spare_kumo):
    function = Deployer(spare_kumo).create("def handler(event, context):\n    return 'up'\n")
    assert function.invoke({}).payload == "up"
    runtime = function_processes(spare_kumo, function.name)
    assert runtime
    spare_kumo.kill()
    assert not wait_until_gone(runtime), "the runtime outlived kumo's kill -9"


def test_kill_9_leaves_no_process_a_function_started(spare_kumo):
    # The child started its own session: only the environment's pid namespace holds it.
    function = Deployer(spare_kumo).create(SPAWNER)
    processes = spawned_processes(spare_kumo, function)
    spare_kumo.kill()
    assert not wait_until_gone(processes, timeout=2), "a process the function started survived kumo's kill -9"


QUICK = """
def handler(event, context):
    print(f"handled event {event['n']}")
    return event["n"]
"""


def test_five_hundred_queued_events_survive_kill_9(spare_kumo):
    function = Deployer(spare_kumo).create(QUICK, Timeout=10)
    # Hold the events: with reserved concurrency 0 they are accepted and stored but cannot run yet.
    function.client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=0)
    for n in range(500):
        assert function.invoke({"n": n}, InvocationType="Event").status == 202
    function.client.delete_function_concurrency(FunctionName=function.name)
    poll(lambda: handled_events(spare_kumo, function.name), timeout=30, what="the first events to run")
    spare_kumo.kill()
    restarted = restart(spare_kumo)
    try:
        poll(
            lambda: handled_events(restarted, function.name) == set(range(500)),
            timeout=120,
            interval=0.5,
            what="all 500 events to run at least once",
        )
    finally:
        restarted.stop()


def test_kill_9_during_an_sqs_drain_loses_no_message(spare_kumo):
    from test_sqs import sqs_client

    sqs = sqs_client(spare_kumo)
    url = sqs.create_queue(QueueName="drain", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function = Deployer(spare_kumo).create(
        """
import json, time
def handler(event, context):
    for record in event["Records"]:
        print(f"handled event {json.loads(record['body'])['n']}")
    time.sleep(0.05)
""",
        role=spare_kumo.delivery_role(),
        Timeout=10,
    )
    for start in range(0, 300, 10):
        entries = [{"Id": str(n), "MessageBody": f'{{"n": {n}}}'} for n in range(start, start + 10)]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
    function.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name, BatchSize=10)
    poll(lambda: len(handled_events(spare_kumo, function.name)) >= 20, timeout=30, what="the drain to start")
    spare_kumo.kill()
    restarted = restart(spare_kumo)
    try:
        poll(
            lambda: handled_events(restarted, function.name) == set(range(300)),
            timeout=120,
            interval=0.5,
            what="every message to be handled at least once",
        )
    finally:
        restarted.stop()
