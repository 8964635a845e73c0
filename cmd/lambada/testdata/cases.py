"""What the boto3 scripts share: a case prints one JSON line, its name and
its failure (None when it passed), for runCases in the Go tests."""
import json
import threading
import traceback

from botocore.exceptions import ClientError

printing = threading.Lock()


def error_code(fn, **kw):
    """The code and message of the ClientError fn(**kw) raises."""
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError("no error")


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def case(fn):
    error = None
    try:
        fn()
    except Exception:
        error = traceback.format_exc()
    with printing:
        print(json.dumps({"case": fn.__name__, "error": error}), flush=True)
