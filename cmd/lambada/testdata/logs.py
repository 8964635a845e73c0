"""CloudWatch Logs through boto3 against a real node whose function FUNCTION
was invoked four times (see TestLogs_Boto3): one JSON line per case."""
import json
import os
import re
import uuid

import boto3
from botocore.config import Config

from cases import case, error_code, expect

ENDPOINT = os.environ["LAMBADA_ENDPOINT"]
GROUP = "/aws/lambda/" + os.environ["FUNCTION"]
logs = boto3.client(
    "logs", endpoint_url=ENDPOINT, region_name="us-east-1",
    aws_access_key_id="x", aws_secret_access_key="x",
    config=Config(retries={"max_attempts": 1}),
)


def messages(**kw):
    return [e["message"] for e in logs.filter_log_events(logGroupName=GROUP, **kw)["events"]]


def groups_are_listed_and_paged():
    logs.create_log_group(logGroupName="/custom/a")
    logs.create_log_group(logGroupName="/custom/b")
    all_groups = logs.describe_log_groups()["logGroups"]
    names = [g["logGroupName"] for g in all_groups]
    expect(names == sorted(names) and GROUP in names and "/custom/a" in names, names)
    g = next(g for g in all_groups if g["logGroupName"] == GROUP)
    expect(g["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:" + GROUP + ":*", g)
    expect(g["logGroupArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:" + GROUP, g)
    expect(g["creationTime"] > 0 and "retentionInDays" not in g, g)
    custom = logs.describe_log_groups(logGroupNamePrefix="/custom/")["logGroups"]
    expect([x["logGroupName"] for x in custom] == ["/custom/a", "/custom/b"], custom)
    first = logs.describe_log_groups(logGroupNamePrefix="/custom/", limit=1)
    expect([x["logGroupName"] for x in first["logGroups"]] == ["/custom/a"] and "nextToken" in first, first)
    second = logs.describe_log_groups(logGroupNamePrefix="/custom/", limit=1, nextToken=first["nextToken"])
    expect([x["logGroupName"] for x in second["logGroups"]] == ["/custom/b"] and "nextToken" not in second, second)
    paged = [x["logGroupName"] for p in logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 1}) for x in p["logGroups"]]
    expect(paged == names, paged)
    code, msg = error_code(logs.create_log_group, logGroupName="/custom/a")
    expect((code, msg) == ("ResourceAlreadyExistsException", "The specified log group already exists"), (code, msg))
    code, msg = error_code(logs.describe_log_groups, limit=51)
    expect(code == "InvalidParameterException" and msg == "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50", msg)


def streams_are_named_and_ordered():
    streams = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime", descending=True)["logStreams"]
    expect(len(streams) >= 1, streams)
    for s in streams:
        expect(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", s["logStreamName"]), s)
        expect(s["firstEventTimestamp"] <= s["lastEventTimestamp"] <= s["lastIngestionTime"], s)
        expect(s["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:" + GROUP + ":log-stream:" + s["logStreamName"], s)
        expect(s["storedBytes"] == 0, s)
    times = [s["lastEventTimestamp"] for s in streams]
    expect(times == sorted(times, reverse=True), times)
    prefix = streams[0]["logStreamName"][:11]
    expect(len(logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=prefix)["logStreams"]) == len(streams), prefix)
    expect(logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="nope")["logStreams"] == [], "prefix nope")
    code, msg = error_code(logs.describe_log_streams, logGroupName=GROUP, orderBy="LastEventTime", logStreamNamePrefix="2")
    expect((code, msg) == ("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix."), (code, msg))
    code, msg = error_code(logs.describe_log_streams, logGroupName="/aws/lambda/none")
    expect((code, msg) == ("ResourceNotFoundException", "The specified log group does not exist."), (code, msg))


def get_log_events_pages_both_ways():
    stream = logs.describe_log_streams(logGroupName=GROUP)["logStreams"][0]["logStreamName"]
    whole = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
    text = [e["message"] for e in whole]
    expect(text[0].startswith("INIT_START Runtime Version: provided:al2023.") and "\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:" in text[0], text[:2])
    expect(text[1].startswith("START RequestId: ") and text[1].endswith(" Version: $LATEST\n"), text[:2])
    expect(any(t.startswith("END RequestId: ") for t in text) and text[-1].startswith("REPORT RequestId: "), text[-2:])
    expect(all(e["timestamp"] <= e["ingestionTime"] for e in whole), whole)
    # Forward two at a time until the token comes back unchanged.
    got, token = [], None
    for _ in range(100):
        kw = {"nextToken": token} if token else {}
        out = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, limit=2, **kw)
        expect(re.fullmatch(r"f/\d{56}/s", out["nextForwardToken"]) and re.fullmatch(r"b/\d{56}/s", out["nextBackwardToken"]), out)
        got += out["events"]
        if out["nextForwardToken"] == token:
            break
        token = out["nextForwardToken"]
    expect([e["message"] for e in got] == text, ([e["message"] for e in got], text))
    # The newest by default; then backward.
    last = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=2)
    expect([e["message"] for e in last["events"]] == text[-2:], last)
    before = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=2, nextToken=last["nextBackwardToken"])
    expect([e["message"] for e in before["events"]] == text[-4:-2], before)
    code, msg = error_code(logs.get_log_events, logGroupName=GROUP, logStreamName=stream, nextToken="invalid-token")
    expect((code, msg) == ("InvalidParameterException", "The specified nextToken is invalid."), (code, msg))
    code, msg = error_code(logs.get_log_events, logGroupName=GROUP, logStreamName="nope")
    expect((code, msg) == ("ResourceNotFoundException", "The specified log stream does not exist."), (code, msg))
    code, _ = error_code(logs.get_log_events, logGroupName=GROUP, logStreamName=stream, limit=10001)
    expect(code == "InvalidParameterException", code)


def filter_patterns():
    expect(messages(filterPattern="disk") == ['{"level":"ERROR","msg":"disk full"}\n', 'stderr:{"level":"ERROR","msg":"disk full"}\n'], messages(filterPattern="disk"))
    expect(messages(filterPattern='"logged in"') == ["user alice logged in\n", "stderr:user alice logged in\n"], messages(filterPattern='"logged in"'))
    expect(len(messages(filterPattern="?alice ?disk")) == 4, messages(filterPattern="?alice ?disk"))
    expect(messages(filterPattern="alice -stderr") == ["user alice logged in\n"], messages(filterPattern="alice -stderr"))
    expect(messages(filterPattern="Alice") == [], "case-sensitive")
    expect(messages(filterPattern="%al[i]ce%") == ["user alice logged in\n", "stderr:user alice logged in\n"], "regex")
    expect(messages(filterPattern='{ $.level = "ERROR" }') == ['{"level":"ERROR","msg":"disk full"}\n'], messages(filterPattern='{ $.level = "ERROR" }'))
    expect(messages(filterPattern="{ $.ms > 100 && $.msg = \"o*\" }") == ['{"level":"INFO","msg":"ok","ms":250}\n'], "json numbers")
    expect(messages(filterPattern="{ $.ms < 100 }") == [], "json below")
    everything = messages()
    expect(len([m for m in everything if m.startswith("REPORT RequestId: ")]) == 4, everything)
    code, _ = error_code(logs.filter_log_events, logGroupName=GROUP, filterPattern="{ $.level = }")
    expect(code == "InvalidParameterException", code)


def filter_log_events_pages():
    whole = logs.filter_log_events(logGroupName=GROUP)
    expect("nextToken" not in whole and whole["searchedLogStreams"] == [], whole.keys())
    first = logs.filter_log_events(logGroupName=GROUP, limit=3)
    expect(len(first["events"]) == 3 and "nextToken" in first, first)
    paged = [e for p in logs.get_paginator("filter_log_events").paginate(logGroupName=GROUP, PaginationConfig={"PageSize": 3}) for e in p["events"]]
    expect(paged == whole["events"], (len(paged), len(whole["events"])))
    ids = [e["eventId"] for e in paged]
    expect(len(set(ids)) == len(ids), "event ids repeat")
    stream = whole["events"][0]["logStreamName"]
    only = logs.filter_log_events(logGroupName=GROUP, logStreamNames=[stream])["events"]
    expect(only and all(e["logStreamName"] == stream for e in only), only)
    t = whole["events"][-1]["timestamp"]
    expect(all(e["timestamp"] >= t for e in logs.filter_log_events(logGroupName=GROUP, startTime=t)["events"]), "startTime")
    expect(logs.filter_log_events(logGroupName=GROUP, endTime=whole["events"][0]["timestamp"])["events"] == [], "endTime is exclusive")
    code, msg = error_code(logs.filter_log_events, logGroupName=GROUP, nextToken="invalid-token")
    expect((code, msg) == ("InvalidParameterException", "The specified nextToken is invalid."), (code, msg))


def retention_policies():
    logs.create_log_group(logGroupName="/custom/kept")
    logs.put_retention_policy(logGroupName="/custom/kept", retentionInDays=14)
    g = logs.describe_log_groups(logGroupNamePrefix="/custom/kept")["logGroups"][0]
    expect(g["retentionInDays"] == 14, g)
    code, msg = error_code(logs.put_retention_policy, logGroupName="/custom/kept", retentionInDays=2)
    expect(code == "InvalidParameterException" and "Value '2' at 'retentionInDays'" in msg and "[1, 3, 5, 7, 14," in msg, (code, msg))
    logs.delete_retention_policy(logGroupName="/custom/kept")
    g = logs.describe_log_groups(logGroupNamePrefix="/custom/kept")["logGroups"][0]
    expect("retentionInDays" not in g, g)
    code, _ = error_code(logs.put_retention_policy, logGroupName="/custom/none", retentionInDays=1)
    expect(code == "ResourceNotFoundException", code)


def live_tail_streams_new_lines():
    # botocore puts StartLiveTail's host prefix ("stream-") before any
    # endpoint: a local one needs it off.
    tail = boto3.client(
        "logs", endpoint_url=ENDPOINT, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False, read_timeout=60),
    )
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:" + GROUP
    resp = tail.start_live_tail(logGroupIdentifiers=[arn], logEventFilterPattern="live")
    stream = resp["responseStream"]
    marker = "live " + uuid.uuid4().hex
    lam = boto3.client("lambda", endpoint_url=ENDPOINT, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    started = False
    seen = []
    for event in stream:
        if "sessionStart" in event:
            expect(event["sessionStart"]["logGroupIdentifiers"] == [arn], event)
            started = True
            lam.invoke(FunctionName=os.environ["FUNCTION"], Payload=json.dumps({"action": "print", "msg": marker}))
            continue
        for r in event["sessionUpdate"]["sessionResults"]:
            expect(r["logGroupIdentifier"] == arn and r["timestamp"] <= r["ingestionTime"], r)
            seen.append(r["message"])
        if marker + "\n" in seen:
            break
    stream.close()
    expect(started, "no sessionStart")
    expect(all("live" in m for m in seen), seen)
    expect(seen.count(marker + "\n") == 1 and seen.count("stderr:" + marker + "\n") <= 1, seen)
    code, msg = error_code(tail.start_live_tail, logGroupIdentifiers=["arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/none"])
    expect((code, msg) == ("ResourceNotFoundException", "The specified log group does not exist."), (code, msg))


def delete_log_group():
    logs.create_log_group(logGroupName="/custom/del")
    logs.delete_log_group(logGroupName="/custom/del")
    expect(logs.describe_log_groups(logGroupNamePrefix="/custom/del")["logGroups"] == [], "still listed")
    code, msg = error_code(logs.delete_log_group, logGroupName="/custom/del")
    expect((code, msg) == ("ResourceNotFoundException", "The specified log group does not exist."), (code, msg))


for c in [groups_are_listed_and_paged, streams_are_named_and_ordered, get_log_events_pages_both_ways,
          filter_patterns, filter_log_events_pages, retention_policies, live_tail_streams_new_lines, delete_log_group]:
    case(c)
