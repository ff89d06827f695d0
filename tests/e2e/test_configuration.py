"""Configuration fields beyond the basics: dead-letter target, tracing, logging, KMS key, code signing."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of

LOGGER = """
import logging, os
logger = logging.getLogger()
def handler(event, context):
    logger.info("info line")
    logger.debug("debug line")
    return {"format": os.environ.get("AWS_LAMBDA_LOG_FORMAT"), "level": os.environ.get("AWS_LAMBDA_LOG_LEVEL")}
"""


def test_configuration_fields_are_stored_and_returned(kumo, make_function):
    function = make_function(
        LOGGER,
        role=kumo.delivery_role(),
        DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
        TracingConfig={"Mode": "Active"},
        KMSKeyArn="arn:aws:kms:us-east-1:000000000000:key/abc",
        Description="configured",
    )
    configuration = function.configuration()
    assert configuration["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert configuration["TracingConfig"] == {"Mode": "Active"}
    assert configuration["KMSKeyArn"] == "arn:aws:kms:us-east-1:000000000000:key/abc"
    assert configuration["Description"] == "configured"
    assert configuration["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.name}"}

    updated = function.client.update_function_configuration(
        FunctionName=function.name, TracingConfig={"Mode": "PassThrough"}, DeadLetterConfig={}
    )
    assert updated["TracingConfig"] == {"Mode": "PassThrough"}
    assert "DeadLetterConfig" not in updated
    with pytest.raises(ClientError) as excinfo:
        function.client.update_function_configuration(FunctionName=function.name, TracingConfig={"Mode": "Loud"})
    assert error_of(excinfo)[:2] == ("ValidationException", 400)


def test_json_log_format_reaches_the_runtime(make_function):
    function = make_function(LOGGER, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    configuration = function.configuration()["LoggingConfig"]
    assert configuration["LogFormat"] == "JSON"
    assert (configuration["ApplicationLogLevel"], configuration["SystemLogLevel"]) == ("DEBUG", "INFO")
    result = function.invoke({}, LogType="Tail")
    assert result.payload == {"format": "JSON", "level": "DEBUG"}
    lines = [json.loads(line) for line in result.log.splitlines() if line.startswith("{")]
    messages = {line.get("message") for line in lines}
    assert {"info line", "debug line"} <= messages
    with pytest.raises(ClientError) as excinfo:
        function.client.update_function_configuration(
            FunctionName=function.name, LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "INFO"}
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_code_signing_config_answers_without_signing(make_function):
    # AWS answers an empty object for a function without a code signing configuration.
    function = make_function(LOGGER)
    answer = function.client.get_function_code_signing_config(FunctionName=function.name)
    assert {key: value for key, value in answer.items() if key != "ResponseMetadata"} == {}
