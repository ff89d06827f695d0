"""Waiting async events past Kumo's memory budget wait in the data dir only: they still run with
their own payloads, and a held backlog does not grow Kumo's memory."""

import json
import re

from e2e_support import Deployer, poll

REPORTER = """
def handler(event, context):
    print(f"handled event {event['n']} with {len(event['pad'])} bytes of padding")
    return event["n"]
"""


def rss_bytes(server):
    with open(f"/proc/{server.process.pid}/status") as status:
        kilobytes = re.search(r"^VmRSS:\s+(\d+) kB", status.read(), re.MULTILINE).group(1)
    return int(kilobytes) * 1024


def test_events_read_back_from_the_store_run_with_their_own_payloads(start_server):
    server = start_server(KUMO_ASYNC_BACKLOG_MEMORY="0")
    function = Deployer(server).create(REPORTER)
    sizes = {n: n * 997 for n in range(30)}
    for n, size in sizes.items():
        assert function.invoke({"n": n, "pad": "x" * size}, InvocationType="Event").status == 202

    def handled():
        found = re.findall(r"handled event (\d+) with (\d+) bytes", server.log_text(function.name))
        return {int(n): int(size) for n, size in found}

    poll(lambda: len(handled()) == len(sizes), timeout=60, what="all 30 events to run")
    assert handled() == sizes


def test_a_held_backlog_past_the_budget_does_not_grow_kumos_memory(start_server):
    server = start_server(KUMO_ASYNC_BACKLOG_MEMORY="0")
    function = Deployer(server).create(REPORTER)
    # Reserved concurrency 0: every event is throttled and waits.
    function.client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=0)
    pad = "x" * (256 * 1024)
    function.invoke({"n": -1, "pad": pad}, InvocationType="Event")  # warms the request path's buffers
    before = rss_bytes(server)
    count = 400
    for n in range(count):
        assert function.invoke({"n": n, "pad": pad}, InvocationType="Event").status == 202
    grown = rss_bytes(server) - before
    held = count * len(json.dumps({"n": 0, "pad": pad}))
    # The async workers (64) each hold the event they retry; nothing else should stay.
    assert grown < held / 2, f"Kumo grew by {grown} bytes for {held} bytes of waiting events"
