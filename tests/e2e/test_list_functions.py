"""ListFunctions with FunctionVersion=ALL: every function's $LATEST and its published versions, paged
by MaxItems (a page may end between two versions of one function)."""

HELLO = "def handler(event, context):\n    return 'hello'\n"


def listed(client, **params):
    """Every entry of every page, and the pages' sizes."""
    entries, sizes, marker = [], [], None
    while True:
        page = client.list_functions(FunctionVersion="ALL", **params, **({"Marker": marker} if marker else {}))
        sizes.append(len(page["Functions"]))
        entries += [(entry["FunctionName"], entry["Version"], entry["FunctionArn"]) for entry in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            return entries, sizes


def test_all_versions_are_listed_in_order_and_paged(make_function):
    first, second = make_function(HELLO), make_function(HELLO)
    client = first.client
    for description in ("one", "two"):
        # A version is published only for a change (AWS answers the same version otherwise).
        client.update_function_configuration(FunctionName=first.name, Description=description)
        client.get_waiter("function_updated_v2").wait(FunctionName=first.name)
        client.publish_version(FunctionName=first.name)
    ours = {first.name, second.name}
    expected = sorted(
        [(first.name, "$LATEST", first.arn), (first.name, "1", f"{first.arn}:1"), (first.name, "2", f"{first.arn}:2"),
         (second.name, "$LATEST", second.arn)]
    )
    everything, _ = listed(client)
    assert [entry for entry in everything if entry[0] in ours] == expected
    paged, sizes = listed(client, MaxItems=2)
    assert [entry for entry in paged if entry[0] in ours] == expected
    assert paged == everything and all(size <= 2 for size in sizes) and len(sizes) >= 2
    # Without FunctionVersion, only $LATEST.
    latest = [entry["FunctionName"] for entry in client.list_functions()["Functions"]]
    assert first.name in latest and latest.count(first.name) == 1
