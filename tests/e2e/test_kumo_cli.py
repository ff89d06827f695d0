"""The `kumo` command line for people: deploy, invoke, ls, logs."""

import json

from e2e_support import code_sha256, poll, unique_name


def write_function(directory, version):
    directory.mkdir(exist_ok=True)
    (directory / "app.py").write_text(
        "def handler(event, context):\n"
        f"    print('cli handler {version} got', event)\n"
        f"    return {{'version': '{version}', 'event': event}}\n"
    )


def test_deploy_creates_then_updates(kumo, deployer, tmp_path):
    name = unique_name("kumo-cli")
    source = tmp_path / "src"
    write_function(source, "v1")
    deploy = ["deploy", str(source), "--name", name, "--runtime", "python3.12", "--handler", "app.handler", "--json"]
    first = kumo.kumo_cli(*deploy)
    deployer.adopt(name)
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["FunctionName"] == name
    assert created["Runtime"] == "python3.12"
    client = kumo.lambda_client()
    assert client.invoke(FunctionName=name)["Payload"].read() == b'{"version": "v1", "event": {}}'

    write_function(source, "v2")
    second = kumo.kumo_cli(*deploy, "--memory", "256")
    assert second.returncode == 0, second.stderr
    updated = json.loads(second.stdout)
    assert updated["FunctionArn"] == created["FunctionArn"]
    assert updated["CodeSha256"] != created["CodeSha256"]
    assert updated["MemorySize"] == 256
    got = client.get_function(FunctionName=name)
    assert got["Configuration"]["CodeSha256"] == updated["CodeSha256"]
    assert client.invoke(FunctionName=name)["Payload"].read() == b'{"version": "v2", "event": {}}'


def test_deploy_keeps_the_executable_bit(kumo, deployer, tmp_path):
    name = unique_name("kumo-cli-bootstrap")
    source = tmp_path / "custom"
    source.mkdir()
    bootstrap = source / "bootstrap"
    bootstrap.write_text(
        "#!/bin/bash\n"
        'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"\n'
        "while true; do\n"
        '  ID="$(curl -sS -D - -o /dev/null "$API/invocation/next" | grep -i \'^lambda-runtime-aws-request-id:\' '
        "| cut -d: -f2 | tr -d '[:space:]')\"\n"
        '  curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" -d \'"from bash"\'\n'
        "done\n"
    )
    bootstrap.chmod(0o755)
    done = kumo.kumo_cli("deploy", str(source), "--name", name, "--runtime", "provided.al2023", "--handler", "x")
    deployer.adopt(name)
    assert done.returncode == 0, done.stderr
    assert name in done.stdout
    assert kumo.lambda_client().invoke(FunctionName=name)["Payload"].read() == b'"from bash"'


def test_invoke_ls_and_logs(kumo, make_function):
    function = make_function(
        "def handler(event, context):\n    print('cli handler got', event)\n    return {'echo': event}\n"
    )
    invoked = kumo.kumo_cli("invoke", function.name, "--payload", '{"via": "kumo invoke"}', "--json")
    assert invoked.returncode == 0, invoked.stderr
    answer = json.loads(invoked.stdout)
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] is None
    assert json.loads(answer["Payload"]) == {"echo": {"via": "kumo invoke"}}
    assert "START RequestId:" in answer["LogResult"]

    listed = kumo.kumo_cli("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = [f for f in json.loads(listed.stdout) if f["FunctionName"] == function.name]
    assert len(mine) == 1
    assert mine[0]["CodeSha256"] == code_sha256(function.zip_bytes)

    table = kumo.kumo_cli("ls")
    assert table.returncode == 0 and function.name in table.stdout

    logs = kumo.kumo_cli("logs", function.name)
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert any("START RequestId:" in line for line in lines)
    assert any("cli handler got {'via': 'kumo invoke'}" in line for line in lines)
    assert any("END RequestId:" in line for line in lines)
    assert any("REPORT RequestId:" in line for line in lines)


def test_invoke_reports_failures_with_its_exit_code(kumo, make_function):
    function = make_function("def handler(event, context):\n    raise ValueError('nope')\n")
    failed = kumo.kumo_cli("invoke", function.name, "--json")
    assert failed.returncode != 0
    answer = json.loads(failed.stdout)
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"])["errorType"] == "ValueError"

    missing = kumo.kumo_cli("invoke", unique_name("missing"))
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_invoke_async(kumo, make_function):
    function = make_function("def handler(event, context):\n    print('async cli', event)\n")
    done = kumo.kumo_cli("invoke", function.name, "--async", "--payload", '{"k": 1}')
    assert done.returncode == 0, done.stderr
    assert "202" in done.stdout
    poll(lambda: "async cli {'k': 1}" in kumo.log_text(function.name), what="the event to run")


def test_status_shows_pools_and_concurrency(kumo, make_function):
    function = make_function("def handler(event, context):\n    return 1\n")
    function.client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=7)
    function.invoke({})
    done = kumo.kumo_cli("status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["concurrency"]["reserved"][f"us-east-1/{function.name}"] == 7
    pool = status["pools"][f"us-east-1/{function.name}:$LATEST"]
    assert pool["idle"] >= 1 and pool["busy"] == 0
    human = kumo.kumo_cli("status").stdout
    assert f"us-east-1/{function.name}:$LATEST" in human
    assert "account concurrency limit per region: 1000" in human
