"""Kumo's Python runtime bootstrap: the loop between Kumo's Runtime API and a function's handler.

Kumo starts it as ``python3.X /path/to/bootstrap.py`` with the function's environment (``_HANDLER``,
``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_RUNTIME_API``, ...).  It behaves like AWS's own Python runtime
(``awslambdaric``): the same ``sys.path``, the same context object, the same ``logging`` setup, the same
error types, messages and JSON bodies, and the same ``[ERROR] ...`` lines in the log.

It uses the standard library only and is written for a fast cold start and a sub-millisecond warm
invoke, so it imports as little as it can up front:

* HTTP is a small keep-alive HTTP/1.1 client on ``_socket`` (``http.client`` pulls in ``email.*``,
  ``socket`` pulls in ``enum`` and ``selectors``).
* JSON goes straight to the ``_json`` C accelerator that ``json`` itself uses, which skips importing
  ``re`` (``json.decoder`` compiles regexes at import); the ``json`` module is the fallback.
* ``logging`` is configured the moment anything imports it (an import hook), not imported eagerly;
  ``traceback`` is imported only when an error has to be reported.

Importing this module does no work beyond imports and definitions, so a zygote can import it once and
call ``main()`` (or ``run()``) in each forked child.

Launching: ``python3 bootstrap.py`` recompiles this file on every start (a script's bytecode is never
cached), which costs 7-13 ms.  Importing it instead uses ``__pycache__`` and starts as fast as
``python3 -c pass``::

    python3.X -c "import sys; sys.path[0] = '/dir/of/bootstrap'; import bootstrap; bootstrap.main()"

(``main()`` takes that directory off ``sys.path`` again; the directory's ``__pycache__`` must be writable
once, or filled beforehand with ``python3.X -m py_compile bootstrap.py``.)
"""

import os
import sys
import time

import _socket

try:
    import _json
except ImportError:  # Python built without the C accelerator: the json module does the work.
    _json = None

# Error types and messages are AWS's (awslambdaric's FaultException), so user tooling matches them.
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

API_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

TEXT_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
TEXT_LOG_DATEFMT = "%Y-%m-%dT%H:%M:%S"
JSON_LOG_DATEFMT = "%Y-%m-%dT%H:%M:%SZ"

# AWS indents traceback lines in the log with no-break spaces so that log viewers keep the indentation.
ERROR_LOG_INDENT = "\u00a0"

# Logged (at WARNING, through logging) before an init error, word for word as AWS does.
UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, or "
    "can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)

# The invocation being handled, read by the logging filter (one invocation at a time).
_current_request_id = None
_current_tenant_id = None


class FaultError(Exception):
    """An error the runtime itself reports, with one of AWS's fixed ``Runtime.*`` types."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


class RuntimeApiError(Exception):
    """The Runtime API could not be reached or answered something the loop cannot go on from."""


# --------------------------------------------------------------------------------------------------
# JSON


class JsonCodec:
    """JSON as AWS's runtime marshals it: ``NaN``/``Infinity`` allowed, ``Decimal`` written as the number
    it holds, non-ASCII characters kept as they are on Python 3.12+ and escaped before (AWS's choice).

    The fast path calls the ``_json`` C scanner and encoder exactly as ``json.loads``/``json.dumps`` do
    (one-shot, no indent), so results are identical; it is checked once and the ``json`` module is used
    when it is missing or behaves differently.
    """

    def __init__(self, ensure_ascii=None):
        if ensure_ascii is None:
            ensure_ascii = sys.version_info < (3, 12)
        self.ensure_ascii = ensure_ascii
        # Decimals are encoded through a placeholder string that is then replaced by the number's text
        # (the C encoder cannot write raw text).  The random part makes a clash with user data impossible.
        self._placeholder = "\x00kumo-decimal-%s\x00" % os.urandom(8).hex()
        self._raw = []
        try:
            self._init_fast()
        except Exception:
            self._init_stdlib()

    def _init_fast(self):
        """Build the C scanner/encoder and check them against known output."""
        quote = _json.encode_basestring_ascii if self.ensure_ascii else _json.encode_basestring
        # The encoder keeps its circular-reference markers in this dict, and leaves stale entries there
        # when encoding fails: dumps clears it (json.dumps gets the same effect with a new dict per call).
        self._markers = {}
        self._encode = _json.make_encoder(
            self._markers, self._default, quote, None, ": ", ", ", False, False, True  # as json.dumps does
        )
        self._scan = _json.make_scanner(_ScanContext)
        self._placeholder_json = quote(self._placeholder)
        sample = {"k": [1, 2.5, "\u00e9\n", None, True, False]}
        expected = '{"k": [1, 2.5, "%s\\n", null, true, false]}' % (
            "\\u00e9" if self.ensure_ascii else "\u00e9"
        )
        if self.dumps(sample) != expected or self.loads_text(" " + expected + "\n") != sample:
            raise ValueError("_json behaves unlike json")

    def _init_stdlib(self):
        """Fall back to the json module (slower to import, same output)."""
        import json

        encoder = json.JSONEncoder(ensure_ascii=self.ensure_ascii, allow_nan=True, default=self._default)
        self._encode = lambda obj, _level: (encoder.encode(obj),)
        self._markers = {}
        self._scan = None
        self._placeholder_json = json.dumps(self._placeholder, ensure_ascii=self.ensure_ascii)

    def _default(self, obj):
        """Encode what JSON has no type for: Decimal (as AWS does), anything else is an error."""
        decimal = sys.modules.get("decimal")  # never imported: obj cannot be a Decimal
        if decimal is not None and isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            self._raw.append(str(obj))
            return self._placeholder
        raise TypeError("Object of type %s is not JSON serializable" % obj.__class__.__name__)

    def dumps(self, obj):
        """Serialize obj to a JSON str; raises TypeError/ValueError like json.dumps."""
        raw = self._raw = []
        self._markers.clear()
        text = "".join(self._encode(obj, 0))
        if raw:
            # Placeholders appear in the output in the order _default produced them.
            parts = text.split(self._placeholder_json)
            out = [parts[0]]
            for number, rest in zip(raw, parts[1:]):
                out.append(number)
                out.append(rest)
            text = "".join(out)
        return text

    def dumps_bytes(self, obj):
        """Serialize obj to UTF-8 bytes; lone surrogates (invalid UTF-8) are escaped instead."""
        text = self.dumps(obj)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return JsonCodec(ensure_ascii=True).dumps(obj).encode("ascii")

    def loads_text(self, text):
        """Parse a JSON str; raises ValueError (json.JSONDecodeError) with json's messages."""
        scan = self._scan
        if scan is not None:
            start = len(text) - len(text.lstrip(" \t\n\r"))
            try:
                obj, end = scan(text, start)
            except Exception:
                # Not JSON (or not a single value).  json produces the exact error message; the C scanner
                # alone may not be able to (before 3.12 it raises a SystemError while json.decoder is not
                # imported yet).
                pass
            else:
                if not text[end:].strip(" \t\n\r"):
                    return obj
        import json

        return json.loads(text)

    def loads(self, data):
        """Parse JSON bytes (UTF-8; json's own detection handles BOMs and UTF-16/32)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            import json

            return json.loads(data)
        return self.loads_text(text)


class _ScanContext:
    """The attributes _json.make_scanner reads, set as json.JSONDecoder() sets them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


# --------------------------------------------------------------------------------------------------
# Runtime API client


class _Eof(Exception):
    """The server closed the connection."""


class RuntimeApiClient:
    """The Runtime API over one keep-alive HTTP/1.1 connection, reopened if the server closes it.

    Requests carry Content-Length bodies; responses may use Content-Length, chunked encoding, or
    close-delimited bodies.  Sockets block without a timeout: GET /next waits until there is an event.
    """

    def __init__(self, address):
        self.address = address
        host, _, port = address.rpartition(":")
        if not host:  # "9001" alone
            host, port = "127.0.0.1", address
        self._host = host.strip("[]")
        self._port = int(port)
        self._sock = None
        self._buf = b""
        self._received = False
        self._user_agent = "kumo-python/%d.%d.%d" % sys.version_info[:3]

    # -- the calls of the Runtime API

    def next_invocation(self):
        """Block until the next event; return (headers, body)."""
        status, headers, body = self._request("GET", API_PREFIX + "/invocation/next")
        if status != 200:
            raise RuntimeApiError("GET /invocation/next answered %d: %r" % (status, body[:1000]))
        return headers, body

    def post_response(self, request_id, body, content_type="application/json"):
        """Send a handler's result."""
        path = "%s/invocation/%s/response" % (API_PREFIX, request_id)
        self._post(path, body, content_type, ())

    def post_error(self, request_id, error, body):
        """Send an invocation's error (error: the error dict; body: its JSON bytes)."""
        path = "%s/invocation/%s/error" % (API_PREFIX, request_id)
        self._post(path, body, "application/json", ((ERROR_TYPE_HEADER, error["errorType"]),))

    def post_init_error(self, error, body):
        """Report that the function could not be initialised."""
        path = API_PREFIX + "/init/error"
        self._post(path, body, "application/json", ((ERROR_TYPE_HEADER, error["errorType"]),))

    def _post(self, path, body, content_type, headers):
        status, _, answer = self._request("POST", path, body, (("Content-Type", content_type),) + headers)
        if not 200 <= status < 300:
            # E.g. 413 for a response over 6 MB or 400/403 for an invocation already ended (timed out):
            # the invocation is over either way, so say so in the log and go on to the next one.
            detail = answer[:1000].decode("utf-8", "replace")
            _write_stderr("kumo bootstrap: POST %s answered %d: %s\n" % (path, status, detail))

    # -- HTTP

    def _request(self, method, path, body=None, headers=()):
        """Send one request and return (status, headers with lower-case names, body bytes).

        A reused connection that the server closed meanwhile is reopened once and the request sent again
        (nothing of it was processed: no byte of a response came back)."""
        lines = [
            "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n" % (method, path, self.address, self._user_agent)
        ]
        if body is not None:
            lines.append("Content-Length: %d\r\n" % len(body))
        for name, value in headers:
            lines.append("%s: %s\r\n" % (name, value))
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1", "replace")
        for attempt in (1, 2):
            reused = self._sock is not None
            if not reused:
                self._connect()
            self._received = False
            try:
                self._send(head, body)
                return self._read_response()
            except (OSError, ValueError, _Eof) as e:  # ValueError: not HTTP
                self.close()
                if not reused or self._received or attempt == 2:
                    reason = str(e) or "connection closed"
                    raise RuntimeApiError("%s %s failed: %s" % (method, path, reason)) from None

    def _connect(self):
        """Open a TCP connection to the Runtime API, with Nagle off (small requests, latency matters)."""
        error = None
        try:
            # A bytes host: a str would be IDNA-encoded, which imports encodings.idna, stringprep and re
            # (about 10 ms).
            host = self._host.encode("ascii") if self._host.isascii() else self._host
            infos = _socket.getaddrinfo(host, self._port, 0, _socket.SOCK_STREAM)
        except OSError as e:
            raise RuntimeApiError("cannot resolve %s: %s" % (self.address, e)) from None
        for family, kind, proto, _, sockaddr in infos:
            sock = _socket.socket(family, kind, proto)
            try:
                sock.settimeout(None)  # user code may have changed socket's default timeout
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                sock.connect(sockaddr)
            except OSError as e:
                sock.close()
                error = e
                continue
            self._sock = sock
            self._buf = b""
            return
        raise RuntimeApiError("cannot connect to %s: %s" % (self.address, error))

    def close(self):
        """Drop the connection (the next request opens a new one)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf = b""

    def _send(self, head, body):
        if body and len(body) > 65536:
            self._sock.sendall(head)
            self._sock.sendall(body)
        else:
            self._sock.sendall(head + body if body else head)

    def _fill(self):
        """Append whatever the socket has to the buffer; _Eof when the server closed."""
        data = self._sock.recv(65536)
        if not data:
            raise _Eof()
        self._received = True
        self._buf += data

    def _read_until(self, delimiter):
        """Return the bytes before delimiter and consume both."""
        start = 0
        while True:
            index = self._buf.find(delimiter, start)
            if index >= 0:
                data = self._buf[:index]
                self._buf = self._buf[index + len(delimiter):]
                return data
            start = max(0, len(self._buf) - len(delimiter) + 1)
            self._fill()

    def _read_exact(self, size):
        """Return exactly size bytes; big bodies are received in place rather than concatenated."""
        buf = self._buf
        if len(buf) >= size:
            self._buf = buf[size:]
            return buf[:size]
        data = bytearray(size)
        view = memoryview(data)
        view[: len(buf)] = buf
        filled = len(buf)
        self._buf = b""
        while filled < size:
            count = self._sock.recv_into(view[filled:])
            if not count:
                raise _Eof()
            self._received = True
            filled += count
        return bytes(data)

    def _read_head(self):
        """Read a status line and headers; return (version, status, headers with lower-case names)."""
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, _, rest = head[0].partition(" ")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return version, int(rest[:3]), headers

    def _read_response(self):
        version, status, headers = self._read_head()
        while 100 <= status < 200:  # interim answers (100 Continue) precede the real one
            version, status, headers = self._read_head()
        keep_alive = version != "HTTP/1.0" and headers.get("connection", "").lower() != "close"
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:  # delimited by the server closing the connection
            try:
                while True:
                    self._fill()
            except _Eof:
                pass
            body, self._buf = self._buf, b""
            keep_alive = False
        if not keep_alive:
            self.close()
        return status, headers, body

    def _read_chunked(self):
        chunks = []
        while True:
            size = int(self._read_until(b"\r\n").split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self._read_until(b"\r\n"):  # trailers, up to the empty line
                    pass
                return b"".join(chunks)
            chunks.append(self._read_exact(size))
            self._read_until(b"\r\n")


# --------------------------------------------------------------------------------------------------
# The context object


class LambdaContext:
    """The handler's second argument, with the attributes and methods of AWS's ``LambdaContext``."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, cognito_identity,
                 tenant_id=None):
        environ = os.environ
        self.aws_request_id = request_id
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a str, as on AWS
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = _object_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from_dict(Client, self.client_context.client)
        # Always an object, its fields None when the invocation carried no identity (as on AWS).
        self.identity = _object_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        """Milliseconds left before the invocation's deadline (0 once it has passed)."""
        delta = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        """Write msg to the function's log as is (no newline added), as AWS's context.log does."""
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={0.aws_request_id},log_group_name={0.log_group_name},"
            "log_stream_name={0.log_stream_name},function_name={0.function_name},"
            "memory_limit_in_mb={0.memory_limit_in_mb},function_version={0.function_version},"
            "invoked_function_arn={0.invoked_function_arn},client_context={0.client_context},"
            "identity={0.identity},tenant_id={0.tenant_id}])".format(self)
        )


class _SlotsRepr:
    __slots__ = ()

    def __repr__(self):
        fields = ",".join("%s=%s" % (name, getattr(self, name)) for name in self.__slots__)
        return "%s([%s])" % (self.__class__.__name__, fields)


class CognitoIdentity(_SlotsRepr):
    """``context.identity``."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")


class Client(_SlotsRepr):
    """``context.client_context.client``."""

    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


class ClientContext(_SlotsRepr):
    """``context.client_context``."""

    __slots__ = ("custom", "env", "client")


def _object_from_dict(cls, values):
    """An instance of cls with each slot set from values (None when missing); None if values is None."""
    if values is None:
        return None
    obj = cls()
    for name in cls.__slots__:
        setattr(obj, name, values.get(name))
    return obj


# --------------------------------------------------------------------------------------------------
# Loading the handler


def load_handler(handler):
    """Import the handler's module and return the handler; FaultError with AWS's type and message.

    ``handler`` is ``module.function``, where module may be dotted (``pkg.mod``) or a path
    (``dir/sub/module``, imported as ``dir.sub.module``)."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError(MALFORMED_HANDLER_NAME, "Bad handler '%s': %s" % (handler, e)) from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            message = "Cannot use built-in module %s as a handler module" % modname
            raise FaultError(BUILT_IN_MODULE_CONFLICT, message)
        name = modname.replace("/", ".")
        __import__(name)
        module = sys.modules[name]
    except ImportError as e:
        raise FaultError(IMPORT_MODULE_ERROR, "Unable to import module '%s': %s" % (modname, e)) from None
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        message = "Syntax error in module '%s': %s" % (modname, e)
        raise FaultError(USER_CODE_SYNTAX_ERROR, message, trace) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        message = "Handler '%s' missing on module '%s'" % (fname, modname)
        raise FaultError(HANDLER_NOT_FOUND, message) from None


# --------------------------------------------------------------------------------------------------
# Errors


def make_error(message, error_type, stack_trace, request_id=None):
    """The error body AWS's Python runtime sends (key order included)."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def error_from_exception(exc_info, request_id=None):
    """The error body for an exception raised by user code."""
    error_type, value, tb = exc_info
    if isinstance(value, FaultError):
        return make_error(value.message, value.error_type, value.trace, request_id)
    return make_error(str(value), error_type.__name__, _format_stack(tb), request_id)


def _format_stack(tb):
    """AWS's stackTrace: traceback.format_list of the frames, leading frames of this file left out."""
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    own_file = _format_stack.__code__.co_filename
    for index, frame in enumerate(frames):
        if frame[0] != own_file:
            frames = frames[index:]
            break
    return traceback.format_list(frames)


def log_error(error, codec):
    """Print an error to the log the way AWS's runtime does, before reporting it."""
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        record = {"timestamp": time.strftime(JSON_LOG_DATEFMT, time.gmtime()), "level": "ERROR"}
        record.update(error)
        sys.stdout.write(codec.dumps(record) + "\n")
        return
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append(ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------
# Logging


def _log_level_from_env(value):
    """AWS_LAMBDA_LOG_LEVEL as a logging level name ('' when unset; TRACE is DEBUG)."""
    return {None: "", "TRACE": "DEBUG"}.get(value, value).upper()


def configure_logging(logging):
    """Set up the root logger like AWS: one handler writing to stdout, request id in every line.

    Text lines look like ``[INFO]\\t2024-01-01T00:00:00.123Z\\t<request id>\\tmessage``; with
    ``AWS_LAMBDA_LOG_FORMAT=JSON`` they are JSON objects.  The level is WARNING unless
    ``AWS_LAMBDA_LOG_LEVEL`` says otherwise."""
    logging.Formatter.converter = time.gmtime
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    level = _log_level_from_env(os.environ.get("AWS_LAMBDA_LOG_LEVEL"))

    class LambdaLoggerHandler(logging.Handler):
        """Writes records to sys.stdout (looked up each time, like AWS, so redirections apply)."""

        def emit(self, record):
            # No try/except: as in AWS's handler, a formatting error reaches the caller.
            sys.stdout.write(self.format(record))

    class LambdaLoggerFilter(logging.Filter):
        """Stamps each record with the current invocation's request id."""

        def filter(self, record):
            record.aws_request_id = _current_request_id or ""
            record.tenant_id = _current_tenant_id
            return True

    handler = LambdaLoggerHandler()
    if json_format:
        handler.setFormatter(_make_json_formatter(logging)())
    else:
        handler.setFormatter(logging.Formatter(TEXT_LOG_FORMAT, TEXT_LOG_DATEFMT))
    root = logging.getLogger()
    if level in getattr(logging, "_nameToLevel", ()):
        root.setLevel(level)
    handler.addFilter(LambdaLoggerFilter())
    root.addHandler(handler)


def _make_json_formatter(logging):
    """AWS's JsonFormatter (used when AWS_LAMBDA_LOG_FORMAT=JSON)."""
    import json

    encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
    reserved = {
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
        "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
        "threadName", "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
    }

    class JsonFormatter(logging.Formatter):
        def __init__(self):
            super().__init__(datefmt=JSON_LOG_DATEFMT)

        def format(self, record):
            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            exc_info = record.exc_info
            if exc_info:
                import traceback

                stack = traceback.format_tb(exc_info[2])
                error_type, error_message = exc_info[0].__name__, str(exc_info[1])
                location = "%s:%s:%s" % (record.pathname, record.funcName, record.lineno)
            else:
                stack = error_type = error_message = location = None
            message = record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage()
            result = {
                "timestamp": self.formatTime(record, self.datefmt),
                "level": record.levelname,
                "message": message,
                "logger": record.name,
                "stackTrace": stack,
                "errorType": error_type,
                "errorMessage": error_message,
                "requestId": getattr(record, "aws_request_id", None),
                "location": location,
            }
            if getattr(record, "tenant_id", None) is not None:
                result["tenantId"] = record.tenant_id
            # Attributes added with extra={...} become fields of their own.
            result.update(
                (key, value)
                for key, value in record.__dict__.items()
                if key not in reserved and key not in result
            )
            return encode({k: v for k, v in result.items() if v is not None}) + "\n"

    return JsonFormatter


class _ConfigureLoggingOnImport:
    """A sys.meta_path finder that configures logging right after the first ``import logging``.

    Importing logging costs milliseconds that a function that never logs should not pay, yet when a
    function does import it, the root logger must already be set up (so ``basicConfig`` is a no-op and
    import-time log lines are formatted, as on AWS).  This finder wraps the real loader of ``logging``;
    the wrapper removes the finder once logging is loaded and configured."""

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                spec.loader = _ConfiguringLoader(spec.loader)
                return spec
        return None


class _ConfiguringLoader:
    """Runs the real loader of ``logging``, then configure_logging, then steps out of the way."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Put the real loader back first, so that introspection and reloads never see this wrapper.
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _ConfigureLoggingOnImport)]
        configure_logging(module)


def _install_logging_setup():
    """Configure logging now if something already imported it, else as soon as something does."""
    logging = sys.modules.get("logging")
    if logging is not None:
        configure_logging(logging)
    elif not any(isinstance(finder, _ConfigureLoggingOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ConfigureLoggingOnImport())


# --------------------------------------------------------------------------------------------------
# Process setup


def setup_sys_path(task_root):
    """sys.path as on AWS: the code, then the layers (/opt), then the rest (PYTHONPATH, stdlib, ...).

    ``.pth`` files in those directories are processed too, as AWS does with site.addsitedir."""
    layer_site = "/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2]
    for directory in ("/opt/python", layer_site, task_root):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)
    import site

    for directory in (task_root, layer_site, "/opt/python"):
        if os.path.isdir(directory):
            site.addsitedir(directory)


def setup_stdio():
    """Line-buffered UTF-8 stdout/stderr, so print() lines reach Kumo's pipes promptly and in order."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            if (stream.encoding or "").lower().replace("-", "") != "utf8":
                reconfigure(encoding="utf-8", errors="backslashreplace")
            reconfigure(line_buffering=True)
        except (OSError, ValueError):
            pass


def _flush_stdio():
    """Flush user output so Kumo sees it before the response that ends the invocation."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


def _write_stderr(text):
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:
        pass


def _set_trace_id(trace_id):
    """_X_AMZN_TRACE_ID holds the current invocation's trace header (absent when there is none)."""
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    elif "_X_AMZN_TRACE_ID" in os.environ:
        del os.environ["_X_AMZN_TRACE_ID"]


# --------------------------------------------------------------------------------------------------
# The loop


def _parse_json_header(codec, value, name):
    """A JSON header (client context, Cognito identity): UTF-8 inside the HTTP header's latin-1."""
    try:
        text = value.encode("latin-1").decode("utf-8")
        return codec.loads_text(text)
    except Exception as e:
        raise FaultError(CONTEXT_UNMARSHAL_ERROR, "Unable to parse %s JSON: %s" % (name, e)) from None


def handle_invocation(client, codec, handler, headers, body):
    """Run the handler on one event and post its result or error."""
    global _current_request_id, _current_tenant_id
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _current_request_id = request_id
    _current_tenant_id = headers.get("lambda-runtime-aws-tenant-id")
    _set_trace_id(headers.get("lambda-runtime-trace-id"))
    error = None
    try:
        client_context = headers.get("lambda-runtime-client-context")
        cognito_identity = headers.get("lambda-runtime-cognito-identity")
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            _parse_json_header(codec, client_context, "Client Context") if client_context else None,
            _parse_json_header(codec, cognito_identity, "Cognito Identity") if cognito_identity else None,
            _current_tenant_id,
        )
        # AWS hands non-JSON payloads to the handler as bytes.  A missing Content-Type counts as JSON, and
        # parameters (charset) are ignored.
        content_type = headers.get("content-type") or "application/json"
        if content_type.partition(";")[0].strip().lower() == "application/json":
            try:
                event = codec.loads(body)
            except Exception as e:
                raise FaultError(UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % e) from None
        else:
            event = body

        result = handler(event, context)

        if isinstance(result, bytes):
            payload, result_type = result, "application/unknown"
        else:
            try:
                payload, result_type = codec.dumps_bytes(result), "application/json"
            except Exception as e:
                raise FaultError(MARSHAL_ERROR, "Unable to marshal response: %s" % e) from None
    except Exception:
        error = error_from_exception(sys.exc_info(), request_id)

    if error is None:
        _flush_stdio()
        client.post_response(request_id, payload, result_type)
    else:
        log_error(error, codec)
        _flush_stdio()
        client.post_error(request_id, error, codec.dumps_bytes(error))


def report_init_error(client, codec, error):
    """Log an init error as AWS does, post it to /init/error, and exit."""
    import logging  # the import hook configures it

    logging.warning(UNHANDLED_EXCEPTION_WARNING)
    log_error(error, codec)
    _flush_stdio()
    try:
        client.post_init_error(error, codec.dumps_bytes(error))
    except RuntimeApiError as e:
        _write_stderr("kumo bootstrap: %s\n" % e)
    sys.exit(1)


def run(handler_name=None, runtime_api=None):
    """Initialise the function (sys.path, stdio, logging, handler import) and serve invocations forever.

    Arguments default to ``_HANDLER`` and ``AWS_LAMBDA_RUNTIME_API``; everything else is read from the
    environment, after any fork."""
    environ = os.environ
    if handler_name is None:
        handler_name = environ.get("_HANDLER", "")
    if runtime_api is None:
        runtime_api = environ["AWS_LAMBDA_RUNTIME_API"]
    task_root = environ.get("LAMBDA_TASK_ROOT") or os.getcwd()

    setup_stdio()
    setup_sys_path(task_root)
    _install_logging_setup()
    codec = JsonCodec()
    client = RuntimeApiClient(runtime_api)

    try:
        handler = load_handler(handler_name)
    except Exception:
        report_init_error(client, codec, error_from_exception(sys.exc_info()))

    try:
        while True:
            headers, body = client.next_invocation()
            handle_invocation(client, codec, handler, headers, body)
    except RuntimeApiError as e:
        _flush_stdio()
        _write_stderr("kumo bootstrap: %s\n" % e)
        sys.exit(1)


def main():
    """Entry point for ``python3 bootstrap.py [handler]``."""
    # Running a script puts its directory first on sys.path; the function must not see this one.
    if sys.path and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
        del sys.path[0]
    run(sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()
