# Lambada's runtime client for Python functions: it speaks the Runtime API
# at $AWS_LAMBDA_RUNTIME_API, imports the handler named by $_HANDLER
# ("module.function", the module under $LAMBDA_TASK_ROOT) and calls it with
# each event and a context, as AWS's awslambdaric does: its errors, its log
# lines, its context objects. Standard library only.
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

WARNING = ("LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, "
           "in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using "
           "managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. "
           "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If "
           "this error correlates with a change in the runtime version, you may be able to mitigate this error by "
           "temporarily rolling back to the previous runtime version. For more information, see "
           "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html")

conn = None


def call(method, path, body=None, headers=None):
    conn.request(method, "/2018-06-01/runtime" + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


def post_error(path, body, error_type=None):
    headers = {"Content-Type": "application/json"}
    if error_type:
        headers["Lambda-Runtime-Function-Error-Type"] = error_type
    call("POST", path, json.dumps(body).encode(), headers)


class FaultError(Exception):
    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=""):
    return {"errorMessage": message or "", "errorType": error_type or "", "requestId": request_id or "",
            "stackTrace": stack_trace or []}


def own_frames(tb):
    """The traceback's frames from the first that is not this client's."""
    frames = traceback.extract_tb(tb)
    for i, frame in enumerate(frames):
        if frame.filename != "<string>":
            return traceback.format_list(frames[i:])
    return traceback.format_list(frames)


def log_error(error):
    """An error as one log record: its lines joined by carriage returns,
    the traceback's indentation in no-break spaces."""
    first = "[ERROR]"
    if error["errorType"]:
        first += " " + error["errorType"]
    if error["errorMessage"]:
        first += (":" if error["errorType"] else "") + " " + error["errorMessage"]
    lines = [first, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        for line in element.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}")
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultError("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module")
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}")
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace)
    fn = getattr(module, fname, None)
    if fn is None:
        raise FaultError("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
    return fn


def from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field))
    return obj


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]


class ClientContext:
    __slots__ = ["custom", "env", "client"]


class Context:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        self.client_context = from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = from_dict(Client, self.client_context.client)
        self.identity = from_dict(CognitoIdentity, identity or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg):
        sys.stdout.write(str(msg))


request_id = None


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = request_id or ""
        return True


class Handler(logging.Handler):
    def emit(self, record):
        sys.stdout.write(self.format(record))


def setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = Handler()
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(RequestIdFilter())
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        logging.getLogger().setLevel(level)
    logging.getLogger().addHandler(handler)


def main():
    global conn, request_id
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    conn = http.client.HTTPConnection(host, int(port))
    setup_logging()
    # After the code, the layers' Python directories, as AWS's runtime
    # puts them (unless PYTHONPATH is set).
    if "PYTHONPATH" not in os.environ:
        sys.path[0:0] = ["/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2], "/opt/python"]
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as e:
        if isinstance(e, FaultError):
            error = make_error(str(e), e.error_type, e.trace)
        else:
            error = make_error(str(e), type(e).__name__, own_frames(e.__traceback__))
        logging.warning(WARNING)
        log_error(error)
        post_error("/init/error", error, error["errorType"])
        sys.exit(1)
    while True:
        resp, body = call("GET", "/invocation/next")
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        trace_id = resp.getheader("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            context = Context(request_id, int(resp.getheader("Lambda-Runtime-Deadline-Ms", "0")),
                              resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                              json.loads(resp.getheader("Lambda-Runtime-Client-Context") or "null"),
                              json.loads(resp.getheader("Lambda-Runtime-Cognito-Identity") or "null"))
            result = handler(json.loads(body or b"null"), context)
            out = json.dumps(result).encode()
        except Exception as e:
            error = make_error(str(e), type(e).__name__, own_frames(e.__traceback__), request_id)
            logging.warning(WARNING)
            log_error(error)
            post_error(f"/invocation/{request_id}/error", error)
            continue
        call("POST", f"/invocation/{request_id}/response", out, {"Content-Type": "application/json"})


# The zygote: a parent that has loaded this client and common modules, and
# forks children on the node's request (fd 3, a SOCK_SEQPACKET socket),
# each parked in a cgroup until the node gives it, over a socket of its own,
# its walls, environment and output. Its children are the node's
# (CLONE_PARENT), pid 1 of their own namespaces; each enters its walls
# itself, as root, before anything of the function's runs.
CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_PARENT, CLONE_NEWNS = 0x04000000, 0x08000000, 0x20000000, 0x8000, 0x20000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
SYS_CLONE = {"x86_64": 56, "aarch64": 220}


def zygote():
    import ctypes
    import platform
    import resource
    import signal
    import socket
    # What functions commonly import, loaded once here rather than in
    # every environment.
    for name in ("base64", "datetime", "decimal", "hashlib", "random", "re", "urllib.request", "uuid", "typing"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    libc = ctypes.PyDLL(None, use_errno=True)  # calls keep the GIL, as os.fork does
    libc.syscall.restype = ctypes.c_long
    api = ctypes.pythonapi
    sys_clone = SYS_CLONE[platform.machine()]
    flags = CLONE_PARENT | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | signal.SIGCHLD
    sock = socket.socket(fileno=3)

    def check(ret):
        if ret < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return ret

    def join(cgroup):
        if not cgroup:
            return
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write("0")  # this process

    def enter(req, out):
        """The child, in its cgroup: into its other walls."""
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        resource.setrlimit(resource.RLIMIT_NOFILE, (req["maxFiles"], req["maxFiles"]))
        resource.setrlimit(resource.RLIMIT_NPROC, (req["maxProcesses"], req["maxProcesses"]))
        ns = os.open(req["mountNS"], os.O_RDONLY)
        check(libc.setns(ns, CLONE_NEWNS))
        os.close(ns)
        os.chdir(req["dir"])
        os.setsid()
        uid = req["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        # After the change of user: it clears both.
        check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))
        check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
        os.environ.clear()
        os.environ.update(dict(kv.split("=", 1) for kv in req["env"]))

    def clone():
        api.PyOS_BeforeFork()
        pid = libc.syscall(sys_clone, flags, 0, 0, 0, 0)
        errno = ctypes.get_errno()
        if pid == 0:
            api.PyOS_AfterFork_Child()  # random reseeded, locks and threads reset
            global forked
            forked = True  # to be seen by tests, as __main__.forked
            sock.close()
            return 0
        api.PyOS_AfterFork_Parent()
        if pid < 0:
            raise OSError(errno, "clone: " + os.strerror(errno))
        return pid

    def run(req, out, answer):
        """The child's life, in its cgroup: its walls, then the runtime
        client; it never returns."""
        try:
            enter(req, out)
        except BaseException:
            traceback.print_exc()
            os._exit(70)
        answer.send(b"ok")
        answer.close()
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)

    def parked(cgroup, waiter):
        """A child parked in cgroup until the node gives it its walls and
        environment, over waiter: the zygote never holds a function's
        environment, so no child can find one in memory it inherited."""
        try:
            check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))
            join(cgroup)
            waiter.send(b"ready")
            msg, fds, _, _ = socket.recv_fds(waiter, 1 << 20, 1)
            if not msg or len(fds) != 1:
                os._exit(72)
            req = json.loads(msg)
        except BaseException:
            os._exit(71)
        run(req, fds[0], waiter)

    # Each request parks one child: {"prefork": cgroup}; the answer,
    # {"pid": N} with the child's socket, or {"error": "…"}.
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 4096, 1)
        if not msg:
            return  # the node is gone
        for fd in fds:
            os.close(fd)
        try:
            cgroup = json.loads(msg)["prefork"]
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            pid = clone()
            if pid == 0:
                mine.close()
                parked(cgroup, theirs)
            theirs.close()
        except Exception as e:
            sock.send(json.dumps({"error": str(e)}).encode())
            continue
        socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [mine.fileno()])
        mine.close()


if os.environ.get("LAMBADA_ZYGOTE"):
    zygote()
else:
    main()
