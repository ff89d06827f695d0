"""The deployment package as the function sees it: read-only, as on AWS, and never shared with
another function in a way that lets one change the other's code (see test_isolation.py for the
rest of the sandbox)."""

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
    assert function.invoke({}).payload == "Read-only file system"


def test_a_function_cannot_change_another_functions_code(make_function):
    package = python_zip(TAMPERER)
    attacker = make_function(zip_bytes=package, prefix="attacker")
    tampering = attacker.invoke({"tamper": True})
    assert tampering.function_error == "Unhandled"
    assert "Read-only file system" in tampering.payload["errorMessage"]
    victim = make_function(zip_bytes=package, prefix="victim")
    assert victim.invoke({}).payload == "original"
