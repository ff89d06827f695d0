'use strict';
/**
 * Kumo's Node.js runtime bootstrap: an AWS Lambda Runtime API client that loads the function's
 * handler and serves invocations one at a time, behaving like AWS's managed Node.js runtime
 * (`/var/runtime/index.mjs`, i.e. aws-lambda-nodejs-runtime-interface-client 3.x, the line behind
 * nodejs20.x): the same handler resolution, context object, error shapes, log format and
 * process-exit behaviour.
 *
 * Run as `node bootstrap.js` with the environment of a Lambda function (AWS_LAMBDA_RUNTIME_API,
 * _HANDLER, LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_* …). Requiring this file has no side effects:
 * a pre-started "zygote" process may `require()` it early and call `main()` once the function's
 * environment is known.
 *
 * No npm dependencies. Speed matters (cold start is compared with a bare `node -e 0`, warm
 * invokes target well under a millisecond), so it speaks HTTP/1.1 itself over one keep-alive
 * `net` socket instead of loading `http`, and requires modules only when they are needed.
 *
 * This file must be loaded as CommonJS: install it where no enclosing package.json says
 * `"type": "module"` (or name it `.cjs`).
 */

const fs = require('fs');

/** Where AWS's runtime lives. Used as the parent of user-code requires so that "Require stack"
 * lines in import errors read exactly as on AWS (`- /var/runtime/index.mjs`). */
const AWS_RUNTIME_MODULE_PATH = '/var/runtime/index.mjs';

const RUNTIME_API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';

/** Process exit codes of AWS's runtime after reporting a fatal error (uncaught exception,
 * including init errors, and unhandled promise rejection). Kumo sees them as Runtime.ExitError. */
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;

/** Global slots AWS's runtime uses; some libraries (e.g. Powertools) read the request id here. */
const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID_SYMBOL = Symbol.for('aws.lambda.runtime.tenantId');
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * Defines an error class whose `name` is `Runtime.<className>`, as AWS's runtime does. The name
 * sits on the prototype so V8 puts it at the head of `stack` ("Runtime.ImportModuleError: …").
 */
function runtimeErrorClass(className) {
  const cls = { [className]: class extends Error {} }[className];
  cls.prototype.name = `Runtime.${className}`;
  return cls;
}

const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
const MalformedStreamingHandler = runtimeErrorClass('MalformedStreamingHandler');
const InvalidStreamingOperation = runtimeErrorClass('InvalidStreamingOperation');

/** A rejection nobody handled. Like AWS, the message is the reason as a string ("Error: boom"). */
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

/** Duck-typed Error check, as AWS's runtime: errors from other realms or libraries count too. */
function looksLikeError(value) {
  return Boolean(value) && typeof value.name === 'string' && typeof value.message === 'string' &&
    typeof value.stack === 'string' && Boolean(value.name && value.message && value.stack);
}

/**
 * The body posted to `/invocation/{id}/error` and `/init/error`:
 * `{"errorType","errorMessage","trace":[…]}`. Non-Error values (e.g. `throw "boom"`) become
 * `{"errorType":"string","errorMessage":"boom","trace":[]}`, exactly as on AWS.
 */
function toRapidError(error) {
  try {
    if (require('util').types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: error.name?.replace(/\x7F/g, '%7F'),
        errorMessage: error.message?.replace(/\x7F/g, '%7F'),
        trace: error.stack.replace(/\x7F/g, '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function intoError(value) {
  return value instanceof Error ? value : new Error(value);
}

/** An error rendered for a TEXT log line: a tab, then JSON with its enumerable properties. */
function formatErrorForLog(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => errorToLoggable(value));
  } catch {
    return '\t' + JSON.stringify(toRapidError(error));
  }
}

function errorToLoggable(value) {
  if (!(value instanceof Error)) return value;
  const loggable = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code }, value);
  if (typeof value.stack === 'string') loggable.stack = value.stack.split('\n');
  return loggable;
}

// ---------------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------------

const LOG_LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});

/** process.stdout / process.stderr once something created them (see trackStdioStreams). */
const stdioStreams = [];

/** One Int32 to Atomics.wait on: a synchronous sleep while a full, non-blocking pipe drains. */
let sleepCell = null;

function sleepMs(ms) {
  sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleepCell, 0, 0, ms);
}

/**
 * Writes all of `text` to `fd` before returning. Synchronous on purpose: Kumo attributes log
 * lines to an invocation by their order relative to the response, so a line must be in the
 * pipe before the response is posted. Once Node has created process.stdout the pipe is
 * non-blocking, hence the EAGAIN retry. Other errors (Kumo closed the pipe) drop the line
 * rather than crash the function.
 */
function writeFully(fd, text) {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      if (err.code !== 'EAGAIN') return;
      sleepMs(1);
    }
  }
}

/** Emits one log record on stdout (AWS writes every level to stdout). */
function writeLogRecord(text) {
  // If user code wrote to process.stdout and Node still queues part of it, go through the same
  // stream so our line cannot overtake it.
  for (const stream of stdioStreams) {
    if (stream.fd === 1 && stream.writableLength > 0) {
      stream.write(text);
      return;
    }
  }
  writeFully(1, text);
}

function currentRequestId() {
  return globalThis[REQUEST_ID_SYMBOL];
}

/**
 * AWS's TEXT format: `<ISO time>\t<request id>\t<LEVEL>\t<util.format(...)>\n`. Newlines inside a
 * message become `\r` so that one console call stays one record on the line-oriented pipe.
 */
function renderTextRecord(util, level, message, params) {
  const line = `${new Date().toISOString()}\t${currentRequestId()}\t${level.name}\t${util.format(message, ...params)}`;
  return line.replace(/\n/g, '\r') + '\n';
}

/** AWS's JSON format (AWS_LAMBDA_LOG_FORMAT=JSON): `{"timestamp","level","requestId","message",…}`. */
function renderJsonRecord(util, level, message, params) {
  const record = { timestamp: new Date().toISOString(), level: level.name, requestId: currentRequestId() };
  const tenantId = globalThis[TENANT_ID_SYMBOL];
  if (tenantId != null) record.tenantId = tenantId;
  let json;
  if (params.length === 0) {
    record.message = message;
    try {
      json = JSON.stringify(record, jsonLogReplacer);
    } catch {
      record.message = util.format(record.message);
      json = JSON.stringify(record);
    }
  } else {
    const all = [message, ...params];
    record.message = util.format(...all);
    const error = all.find((param) => param instanceof Error);
    if (error) {
      record.errorType = error.constructor?.name ?? 'UnknownError';
      record.errorMessage = error.message;
      record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
    }
    json = JSON.stringify(record);
  }
  return json.replace(/\n/g, '\r') + '\n';
}

function jsonLogReplacer(_key, value) {
  if (!(value instanceof Error)) return value;
  return Object.assign({
    errorType: value.constructor?.name ?? 'UnknownError',
    errorMessage: value.message,
    stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
  }, value);
}

/**
 * Replaces console.trace/debug/info/log/warn/error (and adds console.fatal) like AWS's runtime,
 * honouring AWS_LAMBDA_LOG_FORMAT (TEXT | JSON) and AWS_LAMBDA_LOG_LEVEL.
 * @returns {(message: string, error: unknown) => void} how the runtime logs an error it reports
 */
function patchConsole(env) {
  const util = require('util');
  const json = env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const render = json ? renderJsonRecord : renderTextRecord;
  const threshold = LOG_LEVELS[env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LOG_LEVELS.TRACE;
  const nop = () => {};
  const logger = (level) => (message, ...params) => writeLogRecord(render(util, level, message, params));
  const enabled = (level) => (level.priority >= threshold.priority ? logger(level) : nop);

  console.trace = enabled(LOG_LEVELS.TRACE);
  console.debug = enabled(LOG_LEVELS.DEBUG);
  console.info = enabled(LOG_LEVELS.INFO);
  console.log = console.info;
  console.warn = enabled(LOG_LEVELS.WARN);
  console.error = enabled(LOG_LEVELS.ERROR);
  console.fatal = logger(LOG_LEVELS.FATAL);

  return json
    ? (_message, error) => console.error(intoError(error))
    : (message, error) => console.error(message, formatErrorForLog(intoError(error)));
}

/**
 * Wraps the lazy process.stdout/process.stderr getters to remember the streams once anything
 * creates them, so flushStdio() can wait for their queued writes without creating them itself
 * (creating them would switch the pipes to non-blocking mode for nothing).
 */
function trackStdioStreams() {
  for (const name of ['stdout', 'stderr']) {
    const descriptor = Object.getOwnPropertyDescriptor(process, name);
    if (!descriptor || typeof descriptor.get !== 'function' || !descriptor.configurable) continue;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: descriptor.enumerable,
      set: descriptor.set,
      get() {
        const stream = descriptor.get.call(this);
        if (!stdioStreams.includes(stream)) stdioStreams.push(stream);
        return stream;
      },
    });
  }
}

/**
 * Resolves once everything written through process.stdout/stderr has reached the pipes.
 * Returns null when nothing is queued (the usual case), so callers can skip an await.
 */
function flushStdio() {
  let pending = null;
  for (const stream of stdioStreams) {
    if (stream.writableLength > 0 && !stream.destroyed) (pending ??= []).push(drained(stream));
  }
  return pending && Promise.all(pending);
}

function drained(stream) {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

// ---------------------------------------------------------------------------------------------
// Runtime API client: HTTP/1.1 over a single keep-alive socket
// ---------------------------------------------------------------------------------------------

/**
 * Incremental parser for one HTTP/1.1 response (Content-Length, chunked, or read-to-close).
 * The Runtime API is Kumo's own server, so this only has to be correct, not lenient. Body bytes
 * are collected as slices and joined once, so a 6 MB event costs one copy, not one per read.
 */
class ResponseParser {
  constructor() {
    this.pending = null; // unparsed bytes (head, chunk-size lines)
    this.status = 0;
    this.headers = null;
    this.mode = 'head'; // head | length | chunked | close | done
    this.remaining = 0; // body bytes still expected (length mode) or left in the current chunk
    this.skip = 0; // CRLF bytes still to drop after a chunk's data
    this.chunks = [];
    this.receivedBytes = 0;
  }

  /** Feeds bytes; returns true once the response is complete. */
  push(chunk) {
    this.receivedBytes += chunk.length;
    if (this.pending !== null) {
      chunk = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    if (this.mode === 'head') {
      chunk = this.parseHead(chunk);
      if (chunk === null) return false;
    }
    if (this.mode === 'length') return this.readLength(chunk);
    if (this.mode === 'chunked') return this.readChunked(chunk);
    if (this.mode === 'close' && chunk.length > 0) this.chunks.push(chunk);
    return this.mode === 'done';
  }

  /** Parses the status line and headers; returns the bytes after them, or null if incomplete. */
  parseHead(bytes) {
    for (;;) {
      const end = bytes.indexOf('\r\n\r\n');
      if (end < 0) {
        this.pending = bytes;
        return null;
      }
      const lines = bytes.toString('utf8', 0, end).split('\r\n');
      bytes = bytes.subarray(end + 4);
      this.status = Number.parseInt(lines[0].slice(9, 12), 10);
      if (this.status >= 100 && this.status < 200) continue; // interim response: skip it
      this.headers = parseHeaderLines(lines, 1);
      const length = this.headers['content-length'];
      if (/chunked/i.test(this.headers['transfer-encoding'] ?? '')) {
        this.mode = 'chunked';
      } else if (length !== undefined) {
        this.mode = 'length';
        this.remaining = Number.parseInt(length, 10);
      } else if (this.status === 204 || this.status === 304) {
        this.mode = 'done';
      } else {
        this.mode = 'close';
      }
      return bytes;
    }
  }

  readLength(bytes) {
    const take = Math.min(bytes.length, this.remaining);
    if (take > 0) this.chunks.push(take === bytes.length ? bytes : bytes.subarray(0, take));
    this.remaining -= take;
    if (this.remaining > 0) return false;
    this.mode = 'done';
    return true;
  }

  readChunked(bytes) {
    for (;;) {
      if (this.remaining > 0) { // inside a chunk's data
        const take = Math.min(bytes.length, this.remaining);
        if (take > 0) this.chunks.push(bytes.subarray(0, take));
        this.remaining -= take;
        bytes = bytes.subarray(take);
        if (this.remaining > 0) return false;
        this.skip = 2;
      }
      if (this.skip > 0) { // the CRLF closing a chunk's data
        const drop = Math.min(bytes.length, this.skip);
        this.skip -= drop;
        bytes = bytes.subarray(drop);
        if (this.skip > 0) return false;
      }
      const lineEnd = bytes.indexOf('\r\n');
      if (lineEnd < 0) {
        this.pending = bytes;
        return false;
      }
      const size = Number.parseInt(bytes.toString('latin1', 0, lineEnd), 16);
      if (size === 0) {
        // The last chunk, then optional trailers, then an empty line.
        const rest = bytes.subarray(lineEnd + 2);
        if (rest.indexOf('\r\n') === 0 || rest.indexOf('\r\n\r\n') >= 0) {
          this.mode = 'done';
          return true;
        }
        this.pending = bytes;
        return false;
      }
      this.remaining = size;
      bytes = bytes.subarray(lineEnd + 2);
    }
  }

  /** The connection closed: complete if the body runs to close, else the response is cut. */
  closed() {
    if (this.mode !== 'close') return false;
    this.mode = 'done';
    return true;
  }

  response() {
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    return { status: this.status, headers: this.headers, body };
  }
}

function parseHeaderLines(lines, start) {
  const headers = {};
  for (let i = start; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) continue;
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

/** Header values go on the wire verbatim, so keep them to one line of visible ASCII. */
function headerValue(value) {
  return String(value).replace(/[^\x20-\x7E]/g, '');
}

/**
 * Minimal Runtime API client. One request at a time over one keep-alive TCP connection with
 * Nagle disabled. The socket is unref'd while idle so that a pending invocation does not keep
 * the event loop alive: that is what lets 'beforeExit' tell us the function's own work drained
 * (callbackWaitsForEmptyEventLoop), just as with AWS's native client.
 */
class RuntimeApiClient {
  /** @param {string} hostPort `host:port` (AWS_LAMBDA_RUNTIME_API), IPv6 as `[::1]:9001` */
  constructor(hostPort) {
    if (!hostPort) throw new Error('AWS_LAMBDA_RUNTIME_API is not set');
    const colon = hostPort.lastIndexOf(':');
    this.host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(hostPort.slice(colon + 1));
    this.hostHeader = hostPort;
    this.socket = null;
    this.exchange = null;
  }

  /** GET /invocation/next: blocks until Kumo has an event. */
  async nextInvocation() {
    const response = await this.request('GET', `${RUNTIME_API_PREFIX}/invocation/next`, null, '');
    if (response.status !== 200) {
      throw new Error(`Failed to get next invocation, HTTP status ${response.status}`);
    }
    return { headers: response.headers, body: response.body.toString('utf8') };
  }

  postResponse(requestId, body) {
    return this.post(`${RUNTIME_API_PREFIX}/invocation/${encodeURIComponent(requestId)}/response`, null, body);
  }

  /** @param {{errorType: string}} rapidError the body from toRapidError() */
  postError(requestId, rapidError) {
    return this.post(`${RUNTIME_API_PREFIX}/invocation/${encodeURIComponent(requestId)}/error`,
      errorTypeHeader(rapidError), JSON.stringify(rapidError));
  }

  postInitError(rapidError) {
    return this.post(`${RUNTIME_API_PREFIX}/init/error`, errorTypeHeader(rapidError), JSON.stringify(rapidError));
  }

  post(path, extraHeaders, body) {
    return this.request('POST', path, `Content-Type: application/json\r\n${extraHeaders ?? ''}`, body);
  }

  /**
   * Sends one request with a Content-Length body and resolves with {status, headers, body}.
   * A reused keep-alive connection may have been closed by the server while idle; if it fails
   * before any response byte arrived, the request is retried once on a fresh connection.
   */
  async request(method, path, extraHeaders, body) {
    const reused = this.socket !== null;
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${extraHeaders ?? ''}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    try {
      return await this.exchangeOnce((socket) => socket.write(head + body));
    } catch (err) {
      if (!reused || err.receivedBytes > 0) throw err;
      return this.exchangeOnce((socket) => socket.write(head + body));
    }
  }

  /**
   * Starts a request whose body is streamed with chunked encoding (response streaming), with
   * optional trailers at the end.
   * @returns {{response: Promise<object>, writeChunk(chunk, callback): void, finish(trailers, callback): void}}
   */
  openUpload(method, path, headers) {
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nTransfer-Encoding: chunked\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${headerValue(value)}\r\n`;
    let socket = null;
    let finished = false;
    const response = this.exchangeOnce((s) => {
      socket = s;
      s.write(head + '\r\n');
    });
    return {
      response,
      writeChunk(chunk, callback) {
        if (finished || socket.destroyed) return callback?.();
        if (chunk.length === 0) return callback?.(); // an empty chunk would end the body
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        socket.write('\r\n', callback);
        socket.uncork();
      },
      finish(trailers, callback) {
        if (finished || socket.destroyed) return callback?.();
        finished = true;
        let tail = '0\r\n';
        for (const [name, value] of Object.entries(trailers ?? {})) tail += `${name}: ${headerValue(value)}\r\n`;
        socket.write(tail + '\r\n', callback);
      },
    };
  }

  /** Runs `send` on a connected socket and resolves with the parsed response. */
  exchangeOnce(send) {
    // A socket the server has half-closed may not have emitted 'close' yet: don't reuse it.
    if (this.socket !== null && (this.socket.destroyed || !this.socket.writable)) this.socket = null;
    const socket = this.socket ?? this.connect();
    return new Promise((resolve, reject) => {
      this.exchange = { socket, parser: new ResponseParser(), resolve, reject };
      socket.ref();
      send(socket);
    });
  }

  connect() {
    const socket = require('net').connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    let failure = null;
    socket.on('data', (chunk) => this.onData(socket, chunk));
    socket.on('error', (err) => { failure = err; });
    socket.on('close', () => this.onClose(socket, failure));
    this.socket = socket;
    return socket;
  }

  onData(socket, chunk) {
    const exchange = this.exchange;
    if (exchange === null || exchange.socket !== socket || !exchange.parser.push(chunk)) return;
    this.exchange = null;
    const response = exchange.parser.response();
    if (/close/i.test(response.headers.connection ?? '')) {
      this.socket = null;
      socket.destroy();
    } else {
      socket.unref();
    }
    exchange.resolve(response);
  }

  onClose(socket, failure) {
    if (this.socket === socket) this.socket = null;
    const exchange = this.exchange;
    if (exchange === null || exchange.socket !== socket) return;
    this.exchange = null;
    if (exchange.parser.closed()) {
      exchange.resolve(exchange.parser.response());
      return;
    }
    const err = failure ?? new Error('Runtime API connection closed before the response ended');
    err.receivedBytes = exchange.parser.receivedBytes;
    exchange.reject(err);
  }
}

function errorTypeHeader(rapidError) {
  return rapidError.errorType ? `${ERROR_TYPE_HEADER}: ${headerValue(rapidError.errorType)}\r\n` : '';
}

// ---------------------------------------------------------------------------------------------
// Loading the handler (same lookup order and errors as AWS's UserFunction.js)
// ---------------------------------------------------------------------------------------------

/**
 * Loads the function named by `_HANDLER`, e.g. `index.handler`, `dir/sub/app.handler`,
 * `app.nested.fn`. For module `m` it tries `<root>/<dir>/m` (no extension), `m.js` (CommonJS
 * unless the nearest package.json says "type": "module"), `m.js` as ESM, `m.mjs`, `m.cjs`, and
 * finally Node's own resolution of `m` from the task root (node_modules, NODE_PATH).
 * @param {string} appRoot LAMBDA_TASK_ROOT
 * @param {string} handlerString _HANDLER
 * @returns {Promise<Function>}
 */
async function loadHandler(appRoot, handlerString) {
  const path = require('path');
  if (handlerString.includes('..')) {
    throw new MalformedHandlerName(`'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const moduleAndHandler = path.basename(handlerString);
  const moduleRoot = handlerString.substring(0, handlerString.indexOf(moduleAndHandler));
  const match = moduleAndHandler.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = match;

  const userModule = await loadUserModule(appRoot, moduleRoot, moduleName);
  const handler = handlerPath.split('.').reduce((nested, key) => nested && nested[key], userModule);
  if (!handler) throw new HandlerNotFound(`${handlerString} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${handlerString} is not a function`);
  return handler;
}

/** Loads the user's module, turning syntax and not-found errors into AWS's error types. */
async function loadUserModule(appRoot, moduleRoot, moduleName) {
  try {
    return await findAndLoadModule(appRoot, moduleRoot, moduleName);
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserCodeSyntaxError(err);
    if (err?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(err);
    throw err;
  }
}

async function findAndLoadModule(appRoot, moduleRoot, moduleName) {
  const path = require('path');
  const runtimeRequire = require('module').createRequire(AWS_RUNTIME_MODULE_PATH);
  const base = path.resolve(appRoot, moduleRoot, moduleName);

  if (fs.existsSync(base)) return runtimeRequire(base);
  const hasJs = fs.existsSync(base + '.js');
  if (hasJs && !packageTypeIsModule(path.dirname(base))) return runtimeRequire(base + '.js');
  if (hasJs) return importFile(base + '.js');
  if (fs.existsSync(base + '.mjs')) return importFile(base + '.mjs');
  if (fs.existsSync(base + '.cjs')) return runtimeRequire(base + '.cjs');

  const resolved = runtimeRequire.resolve(moduleName, { paths: [appRoot, moduleRoot] });
  return runtimeRequire(resolved);
}

function importFile(file) {
  return import(require('url').pathToFileURL(file).href);
}

/** Does the nearest package.json at or above `folder` (not crossing node_modules) say ESM? */
function packageTypeIsModule(folder) {
  const path = require('path');
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (dir.endsWith('/node_modules')) return false;
    const packageJson = path.join(dir, 'package.json');
    if (fs.existsSync(packageJson)) {
      try {
        return JSON.parse(fs.readFileSync(packageJson, 'utf8'))?.type === 'module';
      } catch (err) {
        console.warn(`${packageJson} cannot be read, it will be ignored for ES module detection purposes.`, err);
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

/** Is the handler wrapped with awslambda.streamifyResponse()? */
function isStreamingHandler(handler) {
  const mode = handler[HANDLER_STREAMING];
  if (mode === undefined || mode === null || mode === false) return false;
  if (mode === STREAM_RESPONSE) return true;
  throw new MalformedStreamingHandler('Only response streaming is supported.');
}

/** The `awslambda` global AWS's runtime provides to user code (response streaming helpers). */
function installAwsLambdaGlobal() {
  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') {
        handler[HANDLER_HIGHWATERMARK] = Number.parseInt(options.highWaterMark, 10);
      }
      return handler;
    },
    HttpResponseStream: class HttpResponseStream {
      /** Function URL / API responses: a JSON prelude and 8 NUL bytes precede the body. */
      static from(underlyingStream, prelude) {
        underlyingStream.setContentType('application/vnd.awslambda.http-integration-response');
        const metadata = JSON.stringify(prelude);
        underlyingStream._onBeforeFirstWrite = (write) => {
          write(metadata);
          write(new Uint8Array(8));
        };
        return underlyingStream;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Invocations
// ---------------------------------------------------------------------------------------------

/**
 * Called by the 'beforeExit' listener when the event loop has drained (only our idle, unref'd
 * socket left). Set per invocation; taken once.
 */
let onEventLoopEmpty = null;

/** The invocation in progress, for reporting crashes: {id, reported, posting}. null during init. */
let activeInvocation = null;

/** Set once a crash is being reported: the process is about to exit, so stop serving. */
let crashing = false;

function waitForEmptyEventLoop() {
  return new Promise((resolve) => {
    // Like AWS, go round the loop once more before acting on 'beforeExit'.
    onEventLoopEmpty = () => setImmediate(resolve);
  });
}

function parseJsonHeader(value, name) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

/**
 * Completes the AWS context object: environment data, then invoke headers. Also forwards the
 * trace header to _X_AMZN_TRACE_ID. Throws if a JSON header is malformed (reported as the
 * invocation's error, as on AWS).
 */
function attachContextData(context, headers) {
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
  else delete process.env._X_AMZN_TRACE_ID;
  const env = process.env;
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return Object.assign(context, {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis() {
      return deadline - Date.now();
    },
  });
}

function isPromise(value) {
  return Boolean(value) && typeof value.then === 'function';
}

/** Serves invocations with the user's handler, one at a time, forever. */
class Runtime {
  /**
   * @param {RuntimeApiClient} client
   * @param {Function} handler the user's function
   * @param {(message: string, error: unknown) => void} logError
   */
  constructor(client, handler, logError) {
    this.client = client;
    this.handler = handler;
    this.logError = logError;
    this.streaming = isStreamingHandler(handler);
    const highWaterMark = Number.parseInt(handler[HANDLER_HIGHWATERMARK], 10);
    this.highWaterMark = Number.isNaN(highWaterMark) ? undefined : highWaterMark;
  }

  async run() {
    while (!crashing) {
      const { headers, body } = await this.client.nextInvocation();
      const requestId = headers['lambda-runtime-aws-request-id'];
      if (!requestId) throw new Error('invocation id is missing or invalid');
      globalThis[REQUEST_ID_SYMBOL] = requestId;
      globalThis[TENANT_ID_SYMBOL] = headers['lambda-runtime-aws-tenant-id'];
      activeInvocation = { id: requestId, reported: false, posting: null };
      if (this.streaming) await this.invokeStreaming(requestId, headers, body);
      else await this.invoke(requestId, headers, body);
    }
  }

  /**
   * One buffered invocation, settled by whichever comes first, as on AWS: the returned promise,
   * `callback(err, result)`, `context.succeed/fail/done`, or — when the handler neither returns a
   * promise nor calls back — the event loop draining (the result is then `null`).
   * A successful callback waits for the event loop to drain unless
   * `context.callbackWaitsForEmptyEventLoop` is false; errors are reported at once.
   */
  invoke(requestId, headers, body) {
    return new Promise((resolve) => {
      let settled = false; // a completion call (callback, succeed, fail, done) was made
      let reported = false; // the outcome was posted
      let waitsForEmptyEventLoop = true;
      const report = (error, result) => {
        if (reported) {
          console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
          return;
        }
        reported = true;
        onEventLoopEmpty = null;
        this.report(requestId, error, result).then(resolve, exitOnRuntimeApiFailure);
      };
      const firstCallOnly = (fn) => (...args) => {
        if (settled) return;
        settled = true;
        fn(...args);
      };
      const done = (error, result) => report(error ?? null, result);
      const callback = firstCallOnly((error, result) => {
        if (error !== undefined && error !== null) report(error);
        // Once reported, the drain listener belongs to the next invocation: leave it alone.
        else if (!waitsForEmptyEventLoop || reported) report(null, result);
        else onEventLoopEmpty = () => setImmediate(() => report(null, result));
      });
      const context = {
        get callbackWaitsForEmptyEventLoop() {
          return waitsForEmptyEventLoop;
        },
        set callbackWaitsForEmptyEventLoop(value) {
          waitsForEmptyEventLoop = value;
        },
        succeed: firstCallOnly((result) => done(null, result)),
        fail: firstCallOnly((error) => done(error ?? 'handled')),
        done: firstCallOnly(done),
      };
      // Neither a promise nor a completion call: answer null once nothing is left to run. Not
      // counted as a completion call, so a later callback logs AWS's "already reported" line.
      onEventLoopEmpty = () => report(null, null);
      try {
        attachContextData(context, headers);
        const result = this.handler(JSON.parse(body), context, callback);
        if (isPromise(result)) result.then(context.succeed, context.fail);
      } catch (err) {
        callback(err);
      }
    });
  }

  /**
   * Posts the outcome of an invocation, after making sure every log line written so far is in
   * the pipe (Kumo attributes lines to the invocation by that ordering).
   */
  report(requestId, error, result) {
    let payload = null;
    if (error === null) {
      try {
        payload = JSON.stringify(result === undefined ? null : result) ?? 'null';
      } catch {
        error = new Error('Unable to stringify response body');
      }
    }
    if (error !== null) this.logError('Invoke Error', error);
    const post = error === null
      ? () => this.client.postResponse(requestId, payload)
      : () => this.client.postError(requestId, toRapidError(error));
    const flushing = flushStdio();
    activeInvocation.reported = true;
    activeInvocation.posting = flushing ? flushing.then(post) : post();
    return activeInvocation.posting;
  }

  /**
   * One invocation of a `streamifyResponse` handler: `handler(event, responseStream, context)`
   * must return a promise; the body is streamed to Kumo with chunked encoding, errors go in
   * trailers (Lambda-Runtime-Function-Response-Mode: streaming, as on AWS).
   */
  async invokeStreaming(requestId, headers, body) {
    let waitsForEmptyEventLoop = true;
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitsForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitsForEmptyEventLoop = value;
      },
    };
    const stream = createResponseStream(this.client, requestId, this.highWaterMark);
    const fail = (error) => {
      this.logError('Invoke Error', error);
      activeInvocation.reported = true;
      activeInvocation.posting = stream.fail(error);
      return activeInvocation.posting;
    };
    try {
      attachContextData(context, headers);
      const result = this.handler(JSON.parse(body), stream, context);
      if (!isPromise(result)) {
        await fail('Streaming does not support non-async handlers.');
      } else {
        if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
        if (!stream.writableFinished) await finishedOrIdle(stream);
        if (stream.writableFinished) {
          activeInvocation.reported = true;
          activeInvocation.posting = stream.uploadResponse();
          await activeInvocation.posting;
        } else {
          await fail('Response stream is not finished.');
        }
      }
    } catch (err) {
      await fail(err);
    }
    if (waitsForEmptyEventLoop) await waitForEmptyEventLoop();
  }
}

/** Waits until the stream has finished or nothing else is left to run. */
function finishedOrIdle(stream) {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('finish', done);
      stream.off('close', done);
      onEventLoopEmpty = null;
      resolve();
    };
    stream.on('finish', done);
    stream.on('close', done);
    onEventLoopEmpty = done;
  });
}

/**
 * The `responseStream` given to streaming handlers: a Writable that forwards each write as an
 * HTTP chunk. The request head is sent on the first write so setContentType() still works
 * before it. Non-binary chunks are JSON-encoded, as on AWS.
 */
function createResponseStream(client, requestId, highWaterMark) {
  const { Writable } = require('stream');
  const headers = {
    'Lambda-Runtime-Function-Response-Mode': 'streaming',
    Trailer: `${ERROR_TYPE_HEADER}, ${ERROR_BODY_TRAILER}`,
    'Content-Type': 'application/octet-stream',
  };
  let upload = null;
  const open = () => (upload ??= client.openUpload('POST',
    `${RUNTIME_API_PREFIX}/invocation/${encodeURIComponent(requestId)}/response`, headers));

  const stream = new Writable({
    highWaterMark,
    write(chunk, _encoding, callback) {
      open().writeChunk(chunk, callback);
    },
    final(callback) {
      const flushing = flushStdio();
      const finish = () => open().finish(null, callback);
      if (flushing) flushing.then(finish);
      else finish();
    },
  });

  let firstWriteDone = false;
  const writableWrite = stream.write.bind(stream);
  stream.write = function write(chunk, encoding, callback) {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) chunk = JSON.stringify(chunk);
    if (!firstWriteDone) {
      firstWriteDone = true;
      if (typeof stream._onBeforeFirstWrite === 'function') stream._onBeforeFirstWrite((c) => writableWrite(c));
    }
    return writableWrite(chunk, encoding, callback);
  };
  stream.setContentType = (contentType) => {
    if (firstWriteDone) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    headers['Content-Type'] = contentType;
  };
  stream.uploadResponse = () => open().response;
  stream.fail = async (error) => {
    const rapidError = toRapidError(error);
    const flushing = flushStdio();
    if (flushing) await flushing;
    const current = open();
    current.finish({
      [ERROR_TYPE_HEADER]: rapidError.errorType,
      [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(rapidError)).toString('base64'),
    });
    stream.destroy();
    return current.response;
  };
  return stream;
}

// ---------------------------------------------------------------------------------------------
// Crashes: uncaught exceptions and unhandled rejections
// ---------------------------------------------------------------------------------------------

/**
 * Reports a crash like AWS's runtime: log it, post it as the init error (during init) or as the
 * current invocation's error, then exit. The post uses its own connection because the shared
 * one may be busy (e.g. waiting on /next). If the invocation's outcome is being posted, that
 * post is let finish first so Kumo never sees a truncated request.
 */
function reportCrashAndExit(runtimeApi, logError, label, error, exitCode) {
  if (crashing) return; // already reporting one and about to exit
  crashing = true;
  logError(label, error);
  const client = new RuntimeApiClient(runtimeApi);
  let posting = null;
  if (activeInvocation === null) {
    posting = client.postInitError(toRapidError(error));
  } else if (!activeInvocation.reported) {
    activeInvocation.reported = true;
    posting = client.postError(activeInvocation.id, toRapidError(error));
  } else {
    posting = activeInvocation.posting;
  }
  const exit = () => process.exit(exitCode);
  if (posting) posting.then(exit, exit);
  else exit();
}

function exitOnRuntimeApiFailure(err) {
  console.log(`Unexpected Top Level Error: ${err.toString()}`);
  process.exit(EXIT_UNCAUGHT_EXCEPTION);
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

let started = false;

/** NODE_PATH as Node saw it when building Module.globalPaths at process start. */
const nodePathAtStartup = process.env.NODE_PATH;

/**
 * Starts the runtime: patch console, load the handler (reporting init errors to
 * /runtime/init/error), then serve invocations until the process is stopped.
 * Everything is read from process.env at call time, so a zygote may require this module early,
 * then fill in process.env (and the working directory) and call main().
 */
async function main() {
  if (started) throw new Error('the Kumo Node.js runtime is already running');
  started = true;
  const env = process.env;
  trackStdioStreams();
  const logError = patchConsole(env);
  const runtimeApi = env.AWS_LAMBDA_RUNTIME_API;
  const client = new RuntimeApiClient(runtimeApi);

  process.on('uncaughtException', (error) => {
    reportCrashAndExit(runtimeApi, logError, 'Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    reportCrashAndExit(runtimeApi, logError, 'Unhandled Promise Rejection', error, EXIT_UNHANDLED_REJECTION);
  });
  process.on('beforeExit', () => {
    const callback = onEventLoopEmpty;
    onEventLoopEmpty = null;
    if (callback) callback();
  });

  if (!/^(1|true)$/.test(env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA ?? '')) installAwsLambdaGlobal();
  let runtime;
  try {
    const taskRoot = env.LAMBDA_TASK_ROOT || process.cwd();
    if (process.cwd() !== taskRoot) process.chdir(taskRoot); // AWS runs user code from the task root
    // Module.globalPaths is built from NODE_PATH at process start; a zygote may have had another.
    if (env.NODE_PATH !== nodePathAtStartup) require('module')._initPaths();
    runtime = new Runtime(client, await loadHandler(taskRoot, env._HANDLER ?? ''), logError);
  } catch (err) {
    // AWS surfaces init failures as an uncaught exception: logged, posted, exit 129.
    reportCrashAndExit(runtimeApi, logError, 'Uncaught Exception', err, EXIT_UNCAUGHT_EXCEPTION);
    return;
  }
  // Like AWS, start serving on the next turn of the event loop: a rejection or exception left
  // behind by init code then surfaces as an init error before the first /next.
  await new Promise(setImmediate);
  await runtime.run().catch(exitOnRuntimeApiFailure);
}

/** The argument with which Kumo starts a runtime before its function is known. */
const WAIT_FOR_ENVIRONMENT = '--kumo-wait-for-environment';

/**
 * A pre-started runtime waits here, sealed in its sandbox, until Kumo has a function for it:
 * then init mounts the function's code and writes the function's environment into fd 3, which
 * this process adopts as its own before any of the function's code is loaded.
 */
function adoptEnvironmentFromKumo() {
  // What a cold start needs, loaded while nobody waits (requiring a module once caches it).
  for (const module of ['net', 'util', 'path', 'url', 'module', 'stream']) require(module);
  const environment = JSON.parse(fs.readFileSync(3, 'utf8')); // blocks until the handover
  fs.closeSync(3);
  for (const key of Object.keys(process.env)) {
    if (!Object.hasOwn(environment, key)) delete process.env[key];
  }
  Object.assign(process.env, environment);
}

/** Longest a rehearsal may take; past it the runtime waits for its function all the same. */
const REHEARSAL_TIMEOUT_MS = 2000;

/**
 * Runs one invocation through the code a cold start runs — the Runtime API client on a loopback
 * socket, the invoke and report paths, JSON both ways — against a stand-in for the Runtime API in
 * this process, while the runtime waits for a function. V8 compiles a function on its first call
 * and Node's socket and stream internals are no exception: without the rehearsal, the function's
 * first invocation pays for all of it. Nothing of the rehearsal is left behind: no socket, no
 * listener, no invocation state, and the console is not patched yet, so nothing is logged.
 */
async function rehearse() {
  const net = require('net');
  const event = '{"rehearsal":true}';
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.toString('latin1', 0, end);
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (received.length < end + 4 + length) return;
      received = received.subarray(end + 4 + length);
      if (head.startsWith('GET ')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' +
          'Lambda-Runtime-Aws-Request-Id: rehearsal\r\n' +
          `Lambda-Runtime-Deadline-Ms: ${Date.now() + REHEARSAL_TIMEOUT_MS}\r\n` +
          'Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:rehearsal\r\n' +
          `Content-Length: ${event.length}\r\n\r\n${event}`);
      } else {
        socket.write('HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  let timer = null;
  const client = { current: null };
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const rehearsal = (async () => {
      client.current = new RuntimeApiClient(`127.0.0.1:${server.address().port}`);
      const runtime = new Runtime(client.current, async (received) => received, () => {});
      const { headers, body } = await client.current.nextInvocation();
      const requestId = headers['lambda-runtime-aws-request-id'];
      activeInvocation = { id: requestId, reported: false, posting: null };
      await runtime.invoke(requestId, headers, body);
    })();
    // Abandoned at the timeout, it fails once its socket is destroyed: not an unhandled rejection.
    rehearsal.catch(() => {});
    const timeout = new Promise((resolve) => {
      timer = setTimeout(resolve, REHEARSAL_TIMEOUT_MS);
    });
    await Promise.race([rehearsal, timeout]);
  } finally {
    clearTimeout(timer);
    client.current?.socket?.destroy();
    for (const socket of sockets) socket.destroy();
    server.close();
    activeInvocation = null;
    onEventLoopEmpty = null;
    delete process.env._X_AMZN_TRACE_ID;
  }
}

module.exports = { main };

if (require.main === module) {
  const wait = process.argv.indexOf(WAIT_FOR_ENVIRONMENT);
  if (wait === -1) {
    main();
  } else {
    process.argv.splice(wait, 1);
    // A failed rehearsal costs only the time it saves: the function runs all the same.
    rehearse().catch(() => {}).then(() => {
      adoptEnvironmentFromKumo();
      main();
    });
  }
}
