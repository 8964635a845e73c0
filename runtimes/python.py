# Lambada's runtime client for Python functions: it speaks the Runtime API
# at $AWS_LAMBDA_RUNTIME_API, imports the handler named by $_HANDLER
# ("module.function", the module under $LAMBDA_TASK_ROOT) and calls it with
# each event and a context, as AWS's awslambdaric does. Standard library only.
import http.client
import importlib
import json
import os
import sys
import time
import traceback

host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
conn = http.client.HTTPConnection(host, int(port))


def call(method, path, body=None, headers=None):
    conn.request(method, "/2018-06-01/runtime" + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


def error_body(exc, request_id, tb=None):
    body = {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(tb)) if tb else []}
    return body


def post_error(path, error_type, body):
    call("POST", path, json.dumps(body).encode(), {"Lambda-Runtime-Function-Error-Type": error_type,
                                                     "Content-Type": "application/json"})


class FaultError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}")
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}")
    except SyntaxError as e:
        raise FaultError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}")
    fn = getattr(module, fname, None)
    if fn is None:
        raise FaultError("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
    return fn


class Context:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def main():
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultError as e:
        post_error("/init/error", e.error_type, {"errorMessage": str(e), "errorType": e.error_type, "requestId": "", "stackTrace": []})
        sys.exit(1)
    except Exception as e:
        post_error("/init/error", type(e).__name__, error_body(e, "", e.__traceback__))
        sys.exit(1)
    while True:
        resp, body = call("GET", "/invocation/next")
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        context = Context(request_id, int(resp.getheader("Lambda-Runtime-Deadline-Ms", "0")),
                          resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                          json.loads(resp.getheader("Lambda-Runtime-Client-Context") or "null"),
                          json.loads(resp.getheader("Lambda-Runtime-Cognito-Identity") or "null"))
        try:
            result = handler(json.loads(body or b"null"), context)
            out = json.dumps(result).encode()
        except Exception as e:
            # The handler's own frames: the first is this loop's call.
            post_error(f"/invocation/{request_id}/error", type(e).__name__, error_body(e, request_id, e.__traceback__.tb_next))
            continue
        call("POST", f"/invocation/{request_id}/response", out, {"Content-Type": "application/json"})


main()
