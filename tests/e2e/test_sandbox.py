"""What a function can reach of the host. Kumo documents that it has no isolation yet
(`/_kumo/health` → sandbox.isolation "none"); these tests pin down the consequences that differ
from AWS in ways a function can observe."""

import pytest

from e2e_support import python_zip

TAMPERER = """
import os

def handler(event, context):
    if event.get("tamper"):
        path = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "lambda_function.py")
        with open(path, "w") as source:
            source.write("def handler(event, context):\\n    return 'tampered by another function'\\n")
        return "wrote"
    return "original"
"""


@pytest.mark.xfail(
    reason="the deployment package is writable: on AWS /var/task is a read-only file system (EROFS)",
    strict=True,
)
def test_task_root_is_read_only(make_function):
    function = make_function(
        """
        import os

        def handler(event, context):
            try:
                open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "written.txt"), "w").close()
            except OSError as error:
                return error.strerror
            return "written"
        """
    )
    assert function.invoke({}).payload != "written"


@pytest.mark.xfail(
    reason="functions whose zips are identical share one unpacked code directory, and it is writable: "
    "one function can replace the code another one runs",
    strict=True,
)
def test_a_function_cannot_change_another_functions_code(make_function):
    package = python_zip(TAMPERER)
    attacker = make_function(zip_bytes=package, prefix="attacker")
    assert attacker.invoke({"tamper": True}).payload == "wrote"
    victim = make_function(zip_bytes=package, prefix="victim")
    assert victim.invoke({}).payload == "original"
