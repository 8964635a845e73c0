"""Lambada's control-plane answers checked through boto3, as AWS gives them.

Run by TestParity (parity_test.go) against a real node: LAMBADA_ENDPOINT is
its URL; FN_ZIP, FN_ZIP_B and BIG_ZIP are deployment packages of the test
function (BIG_ZIP and BIG_ZIP_2 hold thousands of extra files, so that
preparing one takes long enough to be seen; tag.txt tells the packages
apart, and each is prepared once per node, so each case uses its own). Each case prints
one JSON line: {"case": name, "error": null or what went wrong}. The AWS
behaviours checked are described in docs/aws-behaviour.md.
"""

import json
import os
import sys
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/any"
REGION = "us-east-1"
ACCOUNT = "000000000000"
CREATING = "The function is being created."

lam = boto3.client(
    "lambda",
    endpoint_url=os.environ["LAMBADA_ENDPOINT"],
    region_name=REGION,
    aws_access_key_id="x",
    aws_secret_access_key="x",
    # Retries off (a 429 must reach the test) and no client-side checks (the
    # server's answers to invalid input are what is tested).
    config=Config(retries={"max_attempts": 1, "mode": "legacy"}, parameter_validation=False),
)

sqs = boto3.client(
    "sqs",
    endpoint_url=os.environ["LAMBADA_ENDPOINT"],
    region_name=REGION,
    aws_access_key_id="x",
    aws_secret_access_key="x",
    config=Config(retries={"max_attempts": 1, "mode": "legacy"}),
)


def arn(name, qualifier=None):
    a = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{a}:{qualifier}" if qualifier else a


def package(env="FN_ZIP"):
    with open(os.environ[env], "rb") as f:
        return f.read()


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def equal(got, want, what):
    expect(got == want, f"{what}: got {got!r}, want {want!r}")


def fails(call, **kwargs):
    """Calls call(**kwargs), which must fail; returns the error response."""
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response
    raise AssertionError(f"{call.__name__} succeeded, want an error")


def error_is(resp, status, code, message):
    equal(resp["ResponseMetadata"]["HTTPStatusCode"], status, "status")
    equal(resp["Error"]["Code"], code, "error code")
    equal(resp["Error"]["Message"], message, "error message")


def create(name, env="FN_ZIP", **kwargs):
    return lam.create_function(
        FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Role=ROLE,
        Code={"ZipFile": package(env)}, **kwargs)


# AWS's own waiters, polling every 20 ms instead of every second.
FAST = {"Delay": 0.02, "MaxAttempts": 3000}


def wait_active(name):
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)


def wait_updated(name):
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)


def ready(name, env="FN_ZIP", **kwargs):
    out = create(name, env, **kwargs)
    wait_active(name)
    return out


def tag_of(name, qualifier=None):
    """Invokes name and returns the tag.txt of the code that ran."""
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    out = lam.invoke(FunctionName=name, Payload=b'{"action":"file","msg":"tag.txt"}', **kwargs)
    expect("FunctionError" not in out, f"invoke {name}: {out.get('FunctionError')}")
    return json.loads(out["Payload"].read())


def runtime_arn(cfg):
    return cfg["RuntimeVersionConfig"]["RuntimeVersionArn"]


def case_runtime_version_config():
    created = ready("rv-a")
    ready("rv-b")
    a = runtime_arn(created)
    prefix = f"arn:aws:lambda:{REGION}::runtime:"
    expect(a.startswith(prefix) and len(a) == len(prefix) + 64 and all(c in "0123456789abcdef" for c in a[len(prefix):]),
           f"RuntimeVersionArn {a!r}")
    answers = {
        "GetFunction": lam.get_function(FunctionName="rv-b")["Configuration"],
        "GetFunctionConfiguration": lam.get_function_configuration(FunctionName="rv-a"),
        "UpdateFunctionConfiguration": lam.update_function_configuration(FunctionName="rv-a", Description="d"),
    }
    wait_updated("rv-a")
    answers["UpdateFunctionCode"] = lam.update_function_code(FunctionName="rv-a", ZipFile=package("FN_ZIP_B"))
    wait_updated("rv-a")
    answers["PublishVersion"] = lam.publish_version(FunctionName="rv-a")
    answers["GetFunction version"] = lam.get_function(FunctionName="rv-a", Qualifier="1")["Configuration"]
    for op, cfg in answers.items():
        equal(runtime_arn(cfg), a, f"{op}'s RuntimeVersionArn")
    for item in lam.list_functions()["Functions"] + lam.list_versions_by_function(FunctionName="rv-a")["Versions"]:
        expect("RuntimeVersionConfig" not in item and "State" not in item, f"list item {item['FunctionArn']} has {sorted(item)}")
    other = lam.update_function_configuration(FunctionName="rv-b", Runtime="provided.al2")
    expect(runtime_arn(other) != a and runtime_arn(other).startswith(prefix), "provided.al2 has its own RuntimeVersionArn")


def case_environment():
    with_env = ready("env-empty", Environment={"Variables": {}})
    equal(with_env["Environment"], {"Variables": {}}, "create answer")
    equal(lam.get_function(FunctionName="env-empty")["Configuration"]["Environment"], {"Variables": {}}, "GetFunction")
    plain = ready("env-none")
    expect("Environment" not in plain, "a function created without Environment answers one")
    expect("Environment" not in lam.get_function_configuration(FunctionName="env-none"), "GetFunctionConfiguration shows an Environment")


def case_create_states():
    created = create("st-create", "BIG_ZIP")
    equal((created["State"], created["StateReason"], created["StateReasonCode"]), ("Pending", CREATING, "Creating"), "create answer")
    expect("LastUpdateStatus" not in created, "the create answer has a LastUpdateStatus")
    # Before the code is ready, the function cannot run nor change.
    error_is(fails(lam.invoke, FunctionName="st-create", Payload=b"{}"), 409, "ResourceConflictException",
             "The operation cannot be performed at this time. The function is currently in the following state: Pending")
    error_is(fails(lam.update_function_configuration, FunctionName="st-create", Timeout=9), 409, "ResourceConflictException",
             f"The operation cannot be performed at this time. The resource {arn('st-create')} is currently in the following state: 'Pending'. StateReasonCode: 'Creating'")
    wait_active("st-create")
    cfg = lam.get_function(FunctionName="st-create")["Configuration"]
    equal((cfg["State"], cfg["LastUpdateStatus"]), ("Active", "Successful"), "after the waiter")
    for key in ("StateReason", "StateReasonCode", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
        expect(key not in cfg, f"an Active function shows {key}")
    expect(cfg["RevisionId"] != created["RevisionId"], "Pending → Active kept the RevisionId")
    equal(tag_of("st-create"), "big", "the code that runs")


def case_update_states():
    ready("st-update")
    before = lam.get_function(FunctionName="st-update")["Configuration"]["RevisionId"]
    updated = lam.update_function_code(FunctionName="st-update", ZipFile=package("BIG_ZIP_2"))
    equal((updated["State"], updated["LastUpdateStatus"], updated["LastUpdateStatusReason"], updated["LastUpdateStatusReasonCode"]),
          ("Active", "InProgress", CREATING, "Creating"), "update answer")
    expect("StateReason" not in updated, "the update answer has a StateReason")
    expect(updated["RevisionId"] != before, "the update kept the RevisionId")
    # While the new code is prepared, invocations run the code it replaces;
    # a second update is refused.
    equal(tag_of("st-update"), "A", "the code that runs during the update")
    msg = f"The operation cannot be performed at this time. An update is in progress for resource: {arn('st-update')}"
    resp = fails(lam.update_function_configuration, FunctionName="st-update", Timeout=9)
    error_is(resp, 409, "ResourceConflictException", msg)
    equal(resp.get("Type"), "User", "the conflict's Type")
    error_is(fails(lam.update_function_code, FunctionName="st-update", ZipFile=package()), 409, "ResourceConflictException", msg)
    error_is(fails(lam.publish_version, FunctionName="st-update"), 409, "ResourceConflictException", msg)
    wait_updated("st-update")
    cfg = lam.get_function(FunctionName="st-update")["Configuration"]
    equal(cfg["LastUpdateStatus"], "Successful", "after the waiter")
    expect("LastUpdateStatusReason" not in cfg and "LastUpdateStatusReasonCode" not in cfg, "reasons shown after a successful update")
    expect(cfg["RevisionId"] != updated["RevisionId"], "InProgress → Successful kept the RevisionId")
    equal(tag_of("st-update"), "big2", "the code that runs after the update")
    # A configuration update goes the same way.
    conf = lam.update_function_configuration(FunctionName="st-update", Description="two")
    equal(conf["LastUpdateStatus"], "InProgress", "configuration update answer")
    wait_updated("st-update")
    expect(lam.get_function(FunctionName="st-update")["Configuration"]["RevisionId"] != conf["RevisionId"], "the configuration update's end kept the RevisionId")


def case_publish_states():
    created = create("st-publish", Publish=True)
    equal((created["Version"], created["FunctionArn"], created["State"]), ("1", arn("st-publish"), "Pending"), "create answer with Publish")
    wait_active("st-publish")
    v1 = lam.get_function(FunctionName="st-publish", Qualifier="1")["Configuration"]
    latest = lam.get_function(FunctionName="st-publish", Qualifier="$LATEST")["Configuration"]
    equal((v1["State"], v1["LastUpdateStatus"], v1["FunctionArn"]), ("Active", "Successful", arn("st-publish", "1")), "version 1")
    equal(len({created["RevisionId"], v1["RevisionId"], latest["RevisionId"]}), 3, "distinct RevisionIds of the create answer, version 1 and $LATEST")
    shipped = lam.update_function_code(FunctionName="st-publish", ZipFile=package("FN_ZIP_B"), Publish=True)
    equal((shipped["Version"], shipped["FunctionArn"], shipped["State"], shipped["StateReason"], shipped["StateReasonCode"]),
          ("2", arn("st-publish", "2"), "Pending", CREATING, "Creating"), "UpdateFunctionCode with Publish")
    expect("LastUpdateStatus" not in shipped, "the published version has a LastUpdateStatus")
    wait_updated("st-publish")
    equal(tag_of("st-publish", "2"), "B", "version 2's code")
    # A version published from a ready $LATEST is Active at once.
    lam.update_function_configuration(FunctionName="st-publish", Description="three")
    wait_updated("st-publish")
    v3 = lam.publish_version(FunctionName="st-publish")
    equal((v3["Version"], v3["State"], v3["LastUpdateStatus"]), ("3", "Active", "Successful"), "PublishVersion")


def case_provisioned_fills_reservation():
    ready("pc-full")
    lam.publish_version(FunctionName="pc-full")
    lam.put_provisioned_concurrency_config(FunctionName="pc-full", Qualifier="1", ProvisionedConcurrentExecutions=1)
    lam.put_function_concurrency(FunctionName="pc-full", ReservedConcurrentExecutions=1)
    resp = fails(lam.invoke, FunctionName="pc-full", Payload=b"{}")
    error_is(resp, 429, "TooManyRequestsException", "Rate Exceeded.")
    equal(resp.get("Reason"), "ReservedFunctionConcurrentInvocationLimitExceeded", "Reason")
    # The provisioned version itself runs.
    out = lam.invoke(FunctionName="pc-full", Qualifier="1", Payload=b'{"action":"noop"}')
    equal(out["StatusCode"], 200, "the provisioned version's invocation")
    # Below the provisioned total, a reservation is refused (no Type).
    resp = fails(lam.put_function_concurrency, FunctionName="pc-full", ReservedConcurrentExecutions=0)
    error_is(resp, 400, "InvalidParameterValueException",
             " ReservedConcurrentExecutions  0 should not be lower than function's total provisioned concurrency [1].")
    expect("Type" not in resp, "the floor error has a Type")


def case_exact_texts():
    error_is(fails(lam.get_function_concurrency, FunctionName="no-such-fn"), 404, "ResourceNotFoundException",
             f"Function not found: {arn('no-such-fn')}")
    error_is(fails(lam.put_function_concurrency, FunctionName="no-such-fn", ReservedConcurrentExecutions=1), 404, "ResourceNotFoundException",
             f"Function not found: {arn('no-such-fn', '$LATEST')}")
    runtimes = ("[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, "
                "python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, "
                "dotnet6, nodejs18.x, provided.al2, java8.al2]")
    error_is(fails(lam.create_function, FunctionName="bad-runtime", Runtime="non-existent-runtime", Handler="h", Role=ROLE,
                   Code={"ZipFile": package()}),
             400, "InvalidParameterValueException",
             f"Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: {runtimes} or be a valid ARN")
    ready("texts")
    lam.publish_version(FunctionName="texts")
    error_is(fails(lam.create_alias, FunctionName="texts", Name="latest-weight", FunctionVersion="1",
                   RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}}),
             400, "ValidationException",
             "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
             "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or "
             "equal to 1, Member must satisfy regular expression pattern: [0-9]+]")
    big = "x" * 4064
    resp = fails(create, name="env-big", Environment={"Variables": {"SMALL_VAR": "ok", "LARGE_VAR": big}})
    error_is(resp, 400, "InvalidParameterValueException",
             "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the "
             f'4KB limit. String measured: {{"SMALL_VAR":"ok","LARGE_VAR":"{big}"}}')
    name = f"arn:aws:lambda:invalid-region:{ACCOUNT}:function:my-function" + "a" * 140
    pattern = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
               r"([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?")
    error_is(fails(create, name=name), 400, "ValidationException",
             f"2 validation errors detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must have length less "
             f"than or equal to 140; Value '{name}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression "
             f"pattern: {pattern}")
    resp = fails(create, name=f"arn:aws:lambda:{REGION}:123456789012:function:theirs")
    equal(resp["ResponseMetadata"]["HTTPStatusCode"], 403, "status")
    equal(resp["Error"]["Code"], "AccessDeniedException", "error code")
    expect(not resp["Error"].get("Message"), f"the message is {resp['Error'].get('Message')!r}, want null")


def case_total_code_size():
    def usage():
        return lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    start = usage()
    size = ready("sized")["CodeSize"]
    equal(usage() - start, size, "after CreateFunction")
    lam.update_function_code(FunctionName="sized", ZipFile=package(), Publish=True)
    equal(usage() - start, 2 * size, "after publishing the same code")
    wait_updated("sized")
    lam.update_function_configuration(FunctionName="sized", Description="config only")
    equal(usage() - start, 2 * size, "after a configuration update")
    wait_updated("sized")
    lam.publish_version(FunctionName="sized")
    equal(usage() - start, 3 * size, "after publishing the configuration update")


def case_tags():
    ready("tagged", Tags={"team": "a"})
    got = lam.get_function(FunctionName="tagged")
    equal(got["Tags"], {"team": "a"}, "GetFunction Tags")
    before = got["Configuration"]["RevisionId"]
    lam.tag_resource(Resource=arn("tagged"), Tags={"team": "b", "env": "prod"})
    equal(lam.list_tags(Resource=arn("tagged"))["Tags"], {"team": "b", "env": "prod"}, "ListTags")
    expect(lam.get_function(FunctionName="tagged")["Configuration"]["RevisionId"] != before, "TagResource kept the RevisionId")
    lam.untag_resource(Resource=arn("tagged"), TagKeys=["team", "absent"])
    equal(lam.list_tags(Resource=arn("tagged"))["Tags"], {"env": "prod"}, "after UntagResource")
    lam.untag_resource(Resource=arn("tagged"), TagKeys=["env"])
    equal(lam.list_tags(Resource=arn("tagged"))["Tags"], {}, "ListTags without tags")
    expect("Tags" not in lam.get_function(FunctionName="tagged"), "GetFunction shows Tags when there are none")

    alias_msg = "Tags on function aliases and versions are not supported. Please specify a function ARN."
    error_is(fails(lam.tag_resource, Resource=arn("tagged", "1"), Tags={"a": "b"}), 400, "InvalidParameterValueException", alias_msg)
    error_is(fails(lam.tag_resource, Resource=arn("tagged", "$LATEST"), Tags={"a": "b"}), 400, "InvalidParameterValueException", alias_msg)
    error_is(fails(lam.tag_resource, Resource=arn("missing"), Tags={"a": "b"}), 404, "ResourceNotFoundException", f"Function not found: {arn('missing')}")
    error_is(fails(lam.list_tags, Resource=arn("missing")), 404, "ResourceNotFoundException", f"Function not found: {arn('missing')}")
    error_is(fails(lam.tag_resource, Resource=arn("tagged"), Tags={}), 400, "InvalidParameterValueException",
             "An error occurred and the request cannot be processed.")
    too_many = {f"k{i}": "v" for i in range(51)}
    error_is(fails(lam.tag_resource, Resource=arn("tagged"), Tags=too_many), 400, "InvalidParameterValueException",
             "Number of tags exceeds resource tag limit.")
    error_is(fails(create, name="many-tags", Tags=too_many), 400, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    error_is(fails(lam.tag_resource, Resource=arn("tagged"), Tags={"aws:owner": "x"}), 400, "InvalidParameterValueException",
             "Invalid tag key. Tag keys cannot start with 'aws:' (case insensitive)")


def case_event_invocation():
    ready("event-fn")
    out = lam.invoke(FunctionName="event-fn", InvocationType="Event", Payload=b'{"action":"noop"}')
    equal(out["StatusCode"], 202, "status")
    equal(out["Payload"].read(), b"", "body")
    headers = out["ResponseMetadata"]["HTTPHeaders"]
    expect("x-amz-executed-version" not in headers and "x-amz-function-error" not in headers, f"headers {headers}")
    expect(len(out["ResponseMetadata"]["RequestId"]) == 36, "request id")
    too_big = b'"' + b"x" * 1048575 + b'"'
    error_is(fails(lam.invoke, FunctionName="event-fn", InvocationType="Event", Payload=too_big), 413, "RequestEntityTooLargeException",
             "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
    error_is(fails(lam.invoke, FunctionName="missing", InvocationType="Event"), 404, "ResourceNotFoundException",
             f"Function not found: {arn('missing', '$LATEST')}")


def case_event_invoke_config():
    ready("eic")
    ready("eic-target")
    lam.publish_version(FunctionName="eic")
    lam.create_alias(FunctionName="eic", Name="live", FunctionVersion="1")
    target = arn("eic-target")
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"

    out = lam.put_function_event_invoke_config(FunctionName="eic", MaximumRetryAttempts=1,
                                               DestinationConfig={"OnFailure": {"Destination": target}})
    equal(out["FunctionArn"], arn("eic", "$LATEST"), "FunctionArn")
    equal(out["MaximumRetryAttempts"], 1, "MaximumRetryAttempts")
    expect("MaximumEventAgeInSeconds" not in out, "no MaximumEventAgeInSeconds")
    equal(out["DestinationConfig"], {"OnSuccess": {}, "OnFailure": {"Destination": target}}, "DestinationConfig")
    expect(out["LastModified"].year >= 2024, f"LastModified {out['LastModified']}")

    # Update merges; Put replaces.
    out = lam.update_function_event_invoke_config(FunctionName="eic", MaximumEventAgeInSeconds=120,
                                                  DestinationConfig={"OnSuccess": {"Destination": queue}})
    equal((out["MaximumRetryAttempts"], out["MaximumEventAgeInSeconds"]), (1, 120), "merged limits")
    equal(out["DestinationConfig"], {"OnSuccess": {"Destination": queue}, "OnFailure": {"Destination": target}}, "merged destinations")
    out = lam.put_function_event_invoke_config(FunctionName="eic", MaximumEventAgeInSeconds=60)
    expect("MaximumRetryAttempts" not in out, "Put replaced the whole configuration")
    equal(out["DestinationConfig"], {"OnSuccess": {}, "OnFailure": {}}, "replaced destinations")
    equal(lam.get_function_event_invoke_config(FunctionName="eic")["MaximumEventAgeInSeconds"], 60, "Get")

    lam.put_function_event_invoke_config(FunctionName="eic", Qualifier="1", MaximumRetryAttempts=0)
    lam.put_function_event_invoke_config(FunctionName=arn("eic", "live"), MaximumRetryAttempts=2)
    listed = lam.list_function_event_invoke_configs(FunctionName="eic")["FunctionEventInvokeConfigs"]
    equal([c["FunctionArn"] for c in listed], [arn("eic", q) for q in ("$LATEST", "1", "live")], "List")
    page = lam.list_function_event_invoke_configs(FunctionName="eic", MaxItems=2)
    equal(len(page["FunctionEventInvokeConfigs"]), 2, "first page")
    rest = lam.list_function_event_invoke_configs(FunctionName="eic", Marker=page["NextMarker"])
    equal([c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]], [arn("eic", "live")], "second page")

    lam.delete_function_event_invoke_config(FunctionName="eic", Qualifier="1")
    error_is(fails(lam.get_function_event_invoke_config, FunctionName="eic", Qualifier="1"), 404, "ResourceNotFoundException",
             f"The function {arn('eic', '1')} doesn't have an EventInvokeConfig")
    error_is(fails(lam.delete_function_event_invoke_config, FunctionName="eic", Qualifier="1"), 404, "ResourceNotFoundException",
             f"The function {arn('eic', '1')} doesn't have an EventInvokeConfig")
    error_is(fails(lam.update_function_event_invoke_config, FunctionName="eic", Qualifier="1", MaximumRetryAttempts=1), 404,
             "ResourceNotFoundException", f"The function {arn('eic', '1')} doesn't have an EventInvokeConfig")
    lam.delete_alias(FunctionName="eic", Name="live")
    lam.update_function_configuration(FunctionName="eic", Description="two")
    wait_updated("eic")
    lam.publish_version(FunctionName="eic")
    lam.put_function_event_invoke_config(FunctionName="eic", Qualifier="2", MaximumRetryAttempts=0)
    lam.delete_function(FunctionName="eic", Qualifier="2")
    equal([c["FunctionArn"] for c in lam.list_function_event_invoke_configs(FunctionName="eic")["FunctionEventInvokeConfigs"]],
          [arn("eic", "$LATEST")], "an alias's and a version's configurations go with them")

    error_is(fails(lam.put_function_event_invoke_config, FunctionName="eic"), 400, "InvalidParameterValueException",
             "You must specify at least one of error handling or destination setting.")
    error_is(fails(lam.put_function_event_invoke_config, FunctionName="missing", MaximumRetryAttempts=1), 404,
             "ResourceNotFoundException", "The function doesn't exist.")
    error_is(fails(lam.list_function_event_invoke_configs, FunctionName="missing"), 404, "ResourceNotFoundException", "The function doesn't exist.")
    error_is(fails(lam.put_function_event_invoke_config, FunctionName="eic", DestinationConfig={"OnFailure": {"Destination": arn("eic")}}),
             400, "InvalidParameterValueException", "You can't specify the function as a destination for itself.")
    error_is(fails(lam.put_function_event_invoke_config, FunctionName="eic", DestinationConfig={"OnFailure": {"Destination": arn("doesnotexist")}}),
             400, "InvalidParameterValueException", f"The destination ARN {arn('doesnotexist')} is invalid.")
    dynamo = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    error_is(fails(lam.put_function_event_invoke_config, FunctionName="eic", DestinationConfig={"OnSuccess": {"Destination": dynamo}}),
             400, "InvalidParameterValueException",
             f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={dynamo}), onFailure=null) is invalid.")
    resp = fails(lam.put_function_event_invoke_config, FunctionName="eic", MaximumRetryAttempts=3, MaximumEventAgeInSeconds=59)
    error_is(resp, 400, "ValidationException",
             "2 validation errors detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2; "
             "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60")
    error_is(fails(lam.put_function_event_invoke_config, FunctionName="eic", DestinationConfig={"OnFailure": {"Destination": "not-an-arn"}}),
             400, "ValidationException",
             "1 validation error detected: Value 'not-an-arn' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: "
             "Member must satisfy regular expression pattern: $|kafka://([^.]([a-zA-Z0-9\\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)")


def case_dead_letter_config():
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
    out = ready("dlq-fn", DeadLetterConfig={"TargetArn": queue})
    equal(out["DeadLetterConfig"], {"TargetArn": queue}, "Create")
    equal(lam.get_function_configuration(FunctionName="dlq-fn")["DeadLetterConfig"], {"TargetArn": queue}, "Get")
    out = lam.update_function_configuration(FunctionName="dlq-fn", DeadLetterConfig={"TargetArn": ""})
    expect("DeadLetterConfig" not in out, f"an empty TargetArn removes the queue: {out.get('DeadLetterConfig')}")


def case_dead_letter_queue():
    dlq = sqs.create_queue(QueueName="parity-dlq")["QueueUrl"]
    done = sqs.create_queue(QueueName="parity-done")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    done_arn = sqs.get_queue_attributes(QueueUrl=done, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ready("dlq-target", DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName="dlq-target", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnSuccess": {"Destination": done_arn}})

    failed = lam.invoke(FunctionName="dlq-target", InvocationType="Event", Payload=b'{"action":"error","msg":"no luck"}')
    got = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], WaitTimeSeconds=20)["Messages"]
    equal(len(got), 1, "dead letters")
    equal(got[0]["Body"], '{"action":"error","msg":"no luck"}', "dead letter body")
    equal(got[0]["MessageAttributes"], {
        "RequestID": {"StringValue": failed["ResponseMetadata"]["RequestId"], "DataType": "String"},
        "ErrorCode": {"StringValue": "200", "DataType": "Number"},
        "ErrorMessage": {"StringValue": "no luck", "DataType": "String"},
    }, "dead letter attributes")
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=got[0]["ReceiptHandle"])

    ok = lam.invoke(FunctionName="dlq-target", InvocationType="Event", Payload=b'{"action":"raw","value":{"fine":true}}')
    got = sqs.receive_message(QueueUrl=done, WaitTimeSeconds=20)["Messages"]
    equal(len(got), 1, "success records")
    record = json.loads(got[0]["Body"])
    equal(record["requestContext"], {"requestId": ok["ResponseMetadata"]["RequestId"], "functionArn": arn("dlq-target", "$LATEST"),
                                     "condition": "Success", "approximateInvokeCount": 1}, "requestContext")
    equal(record["requestPayload"], {"action": "raw", "value": {"fine": True}}, "requestPayload")
    equal(record["responseContext"], {"statusCode": 200, "executedVersion": "$LATEST"}, "responseContext")
    equal(record["responsePayload"], {"fine": True}, "responsePayload")
    equal(sorted(record), ["requestContext", "requestPayload", "responseContext", "responsePayload", "timestamp", "version"], "record keys")


def main():
    only = set(sys.argv[1:])
    cases = [(name[len("case_"):], fn) for name, fn in globals().items() if name.startswith("case_") and callable(fn)]
    for name, fn in cases:
        if only and name not in only:
            continue
        try:
            fn()
            error = None
        except Exception:  # noqa: BLE001 - every failure is reported, the next case still runs
            error = traceback.format_exc(limit=3)
        print(json.dumps({"case": name, "error": error}), flush=True)


if __name__ == "__main__":
    main()
