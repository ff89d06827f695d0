"""The data dir holds every account's data and the STS session secrets: `kumo serve` keeps it to
its own user (issue 10). It is created 0700 with its stores' files 0600, and a data dir left
readable by an earlier, looser umask is tightened at start, while the sandbox stays on and
functions still run."""

import os
import stat

from e2e_support import Deployer


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_data_dir_is_kumos_alone(start_server, tmp_path):
    # What a default umask of 022 left behind: a readable data dir and database.
    data_dir = tmp_path / "data0"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    leftover = data_dir / "leftover.db"
    leftover.write_bytes(b"")
    os.chmod(leftover, 0o644)

    server = start_server()
    assert server.data_dir == data_dir
    if os.geteuid() == 0:
        # A private data dir must not cost the sandbox anything (a 077 umask once turned it off).
        assert server.get_json("/_kumo/health")["sandbox"]["isolation"] == "full"
    function = Deployer(server).create("def handler(event, context):\n    return 'still runs'\n")
    assert function.invoke().payload == "still runs"

    assert mode(data_dir) == 0o700
    assert mode(leftover) == 0o600
    top_level = sorted(data_dir.iterdir())
    assert any(path.name == "iam.sqlite3" for path in top_level), top_level
    for path in top_level:
        if path.is_file():
            assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"
    # Nothing deeper is writable by anyone but Kumo (code trees stay readable for the sandbox
    # user, behind the private data dir).
    for root, directories, files in os.walk(data_dir):
        for name in directories + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                assert mode(path) & 0o022 == 0, f"{path} is {oct(mode(path))}"
