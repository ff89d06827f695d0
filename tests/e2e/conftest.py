"""Fixtures: one Kumo server for the whole session, spare servers for restart tests, and
functions that clean up after themselves."""

import subprocess

import pytest

from e2e_support import KUMO_BIN, SECRET_CANARY, Deployer, KumoServer, make_zip, unique_name


@pytest.fixture(scope="session")
def kumo(tmp_path_factory):
    """The shared server. At the end it is stopped with SIGTERM and must exit 0 leaving none of
    the processes it started (execution environments and their children) behind."""
    if not KUMO_BIN.is_file():
        pytest.exit(f"kumo binary not found at {KUMO_BIN}: run cargo build --release or set KUMO_BIN")
    base = tmp_path_factory.mktemp("kumo-session")
    server = KumoServer(
        base / "data",
        base / "kumo.log",
        # SNS tests deliver to HTTP servers of their own on loopback, which Kumo refuses unless
        # the operator opts in.
        env={
            "KUMO_SECRET_CANARY": SECRET_CANARY,
            "KUMO_ASYNC_RETRY_DELAY": "1",
            "KUMO_LOG": "info",
            "KUMO_SNS_ALLOW_PRIVATE_ENDPOINTS": "1",
        },
    )
    server.start()
    yield server
    code, leftovers = server.stop()
    assert code == 0, f"kumo exited with {code} on SIGTERM:\n{server.log_tail()}"
    assert not leftovers, f"processes started by kumo survived its shutdown: {sorted(leftovers)}"


@pytest.fixture
def make_function(kumo):
    """`make_function(source, **options)` → Function; every function is deleted after the test."""
    deployer = Deployer(kumo)
    yield deployer.create
    deployer.cleanup()


@pytest.fixture
def deployer(kumo):
    """The Deployer behind make_function, for tests that also create functions other ways."""
    deployer = Deployer(kumo)
    yield deployer
    deployer.cleanup()


@pytest.fixture
def make_layer(kumo):
    """`make_layer(files, region=..., **params)` → PublishLayerVersion's answer for a new layer
    (or `name=` for another version of one); every version published is deleted after the test."""
    published = []

    def publish(files, name=None, region="us-east-1", **params):
        client = kumo.lambda_client(region)
        zip_bytes = files if isinstance(files, bytes) else make_zip(files)
        name = name or unique_name("layer")
        layer = client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes}, **params)
        published.append((client, layer["LayerArn"], layer["Version"]))
        return layer

    yield publish
    for client, layer_arn, version in published:
        client.delete_layer_version(LayerName=layer_arn, VersionNumber=version)


@pytest.fixture
def start_server(tmp_path):
    """`start_server(**env)` → a separate running KumoServer with its own data dir and port;
    whatever still runs at the end of the test is stopped."""
    servers = []

    def start(**env):
        index = len(servers)
        server = KumoServer(tmp_path / f"data{index}", tmp_path / f"kumo{index}.log", env=env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        if server.running:
            try:
                server.stop()
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.fixture
def spare_kumo(start_server):
    """A separate server for tests that stop, kill and restart it."""
    return start_server(KUMO_ASYNC_RETRY_DELAY="1")
