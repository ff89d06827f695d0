"""Fixtures and helpers shared by the SNS end-to-end tests."""

import pytest

from e2e_support import unique_name


@pytest.fixture
def sns(kumo):
    return kumo.client("sns")


@pytest.fixture
def make_topic(sns):
    """`make_topic(prefix="t", fifo=False, **attributes)` → topic ARN; deleted after the test."""
    created = []

    def make(prefix="t", fifo=False, tags=None, **attributes):
        name = unique_name(prefix) + (".fifo" if fifo else "")
        if fifo:
            attributes["FifoTopic"] = "true"
        params = {"Name": name, "Attributes": attributes}
        if tags:
            params["Tags"] = tags
        arn = sns.create_topic(**params)["TopicArn"]
        created.append(arn)
        return arn

    yield make
    for arn in created:
        sns.delete_topic(TopicArn=arn)
