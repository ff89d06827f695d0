"""Kumo's Python zygote: a template process that forks execution environments ready to run.

Starting an interpreter, importing the bootstrap and (for most real functions) importing boto3 costs
tens to hundreds of milliseconds per cold start.  The zygote pays it once: Kumo starts it per
interpreter, inside a root that is already the sandbox's root minus the function, and asks it over a
socket (fd 5) for children.  Each child gets three descriptors with the request (its configuration
pipe, its status pipe and its output pipe).  Once Kumo has moved it into its environment's cgroups, it makes the
environment's namespaces and processes through ``libkumo_zygote.so`` (the same Rust code as Kumo's
launcher), and waits.  On a cold start it gets its configuration, seals itself in its sandbox (code,
layers, /tmp, /proc, uid, seccomp) and runs the bootstrap in that process, with exactly the
function's environment.

Nothing a function does reaches the zygote or another function: each child is a fresh copy of the
untouched template.  What children do share with the template (and each other) is what a fork
shares: the imported modules' initial state, the hash seed and the address-space layout.

Started by Kumo as::

    python3.X -c "import sys; sys.path[0] = sys.argv.pop(1); import zygote; zygote.main()" /var/runtime
"""

import os
import sys

import bootstrap

CONTROL_FD = 5
CONFIG_FD = 3
STATUS_FD = 4


# Clients of these services are created once in the zygote, so that their models are parsed once.
COMMON_SERVICES = ("lambda", "s3", "sqs", "sns", "dynamodb", "sts", "secretsmanager", "ssm", "events", "logs")


def preload():
    """Import what most functions import, so that their children start with it loaded."""
    import json  # noqa: F401  (the fallback codec and most handlers)
    import logging  # noqa: F401

    try:
        import boto3
    except ImportError:
        return
    _share_botocore_data()
    for service in COMMON_SERVICES:
        try:
            # Creating a client imports the rest of botocore and loads the service's model.
            boto3.session.Session(region_name="us-east-1").client(
                service, aws_access_key_id="zygote", aws_secret_access_key="zygote"
            )
        except Exception:
            pass


def _share_botocore_data():
    """Make botocore's data files (service models, endpoints; ~100 ms per new session and client)
    load once per process instead of once per session.

    A function's ``boto3.client(...)`` builds a new session, whose loader reads and parses the same
    JSON files again and walks botocore's data directory; only those reads and walks are shared.
    The files are botocore's and boto3's own, on a read-only mount, and never change, so a shared
    copy is what a fresh read would return.  Sessions, credentials and configuration stay per client, read from the function's
    environment when it creates them, exactly as without the zygote."""
    import functools

    import botocore.hooks
    import botocore.loaders

    loaders = botocore.loaders
    # botocore's and boto3's data directories, both inside Kumo's read-only package directory.
    packages = os.path.dirname(os.path.dirname(botocore.__file__)) + os.sep
    load_file, exists = loaders.JSONFileLoader.load_file, loaders.JSONFileLoader.exists

    def shared_file(original):
        results = {}

        @functools.wraps(original)
        def wrapper(self, file_path):
            if not file_path.startswith(packages):
                return original(self, file_path)
            try:
                return results[file_path]
            except KeyError:
                result = results[file_path] = original(self, file_path)
                return result

        return wrapper

    def shared_listing(original):
        results = {}

        @functools.wraps(original)
        def wrapper(self, *args):
            # Only listings of the packages' own data: a customer data path that exists may change.
            if any(not path.startswith(packages) and os.path.isdir(path) for path in self.search_paths):
                return original(self, *args)
            key = (tuple(self.search_paths),) + args
            try:
                return results[key]
            except KeyError:
                result = results[key] = original(self, *args)
                return result

        return wrapper

    loaders.JSONFileLoader.load_file = shared_file(load_file)
    loaders.JSONFileLoader.exists = shared_file(exists)
    for name in ("list_available_services", "determine_latest_version", "list_api_versions"):
        setattr(loaders.Loader, name, shared_listing(getattr(loaders.Loader, name)))
    # Registering a session's ~140 built-in event handlers inspects each one's signature.
    botocore.hooks.accepts_kwargs = functools.lru_cache(maxsize=None)(botocore.hooks.accepts_kwargs)


def main():
    if sys.path and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
        del sys.path[0]
    import ctypes
    import signal
    import socket

    library = ctypes.CDLL(os.environ.pop("KUMO_ZYGOTE_LIBRARY"))
    prepare = library.kumo_zygote_prepare
    prepare.argtypes = [ctypes.c_int]
    prepare.restype = ctypes.c_int
    enter = library.kumo_zygote_enter
    enter.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    enter.restype = ctypes.c_int
    preload()

    # Descriptors 3 and 4 stay taken, so that a child's received descriptors never land where its
    # configuration and status pipes must go.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (CONFIG_FD, STATUS_FD):
        if fd != null:
            os.dup2(null, fd)
    if null not in (CONFIG_FD, STATUS_FD):
        os.close(null)
    control = socket.socket(fileno=CONTROL_FD)
    # The kernel reaps exited children; Kumo learns of their end through a pidfd and the status pipe.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    control.send(b"ready")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 4)
        except InterruptedError:
            continue
        if not message:
            os._exit(0)  # Kumo is gone
        # The configuration, status and output pipes, and the environment's network namespace
        # when the host gives environments one.
        if len(fds) not in (3, 4):
            for fd in fds:
                os.close(fd)
            control.send(b"error: expected 3 or 4 descriptors")
            continue
        pid = os.fork()
        if pid == 0:
            _child(control, prepare, enter, *fds)
        for fd in fds:
            os.close(fd)
        control.send(b"%d" % pid)


def _child(control, prepare, enter, config_fd, status_fd, output_fd, network_fd=-1):
    """One environment: get ready while parked, then take the configuration, enter the sandbox and
    run the bootstrap."""
    try:
        import signal

        control.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(config_fd, CONFIG_FD)
        os.dup2(status_fd, STATUS_FD)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        for fd in (config_fd, status_fd, output_fd):
            os.close(fd)
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.close(stdin)
        lines = _Lines(CONFIG_FD)
        # An empty line once Kumo has moved this process into the environment's cgroups, so that
        # every process of the environment is accounted there.
        if not lines.next():
            os._exit(0)  # Kumo dropped the parked child
        # Namespaces (the network's first: it closes network_fd), init and the runtime's process,
        # ahead of demand. Returns only in the latter.
        prepare(network_fd)
        # Parked here until Kumo has an environment for this child.
        config = lines.next()
        os.close(CONFIG_FD)
        if not config:
            os._exit(0)
        environment = bootstrap.JsonCodec().loads(config)["environment"]
        # Seals this process in its sandbox (root, uid, seccomp); a failure ends it.
        enter(config, len(config))
        os.environ.clear()
        os.environ.update(environment)
        import time

        time.tzset()
        bootstrap.run()
    except SystemExit as e:
        bootstrap._flush_stdio()
        os._exit(e.code if isinstance(e.code, int) else 1)
    except BaseException as e:
        try:
            os.write(2, ("kumo zygote: %r\n" % (e,)).encode())
        finally:
            os._exit(1)
    os._exit(0)


class _Lines:
    """Lines from a pipe, one at a time: the go-ahead and the configuration may arrive together."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""

    def next(self):
        """The next line with its newline; what is left at end of file; b"" after that."""
        while b"\n" not in self.buffer:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"
