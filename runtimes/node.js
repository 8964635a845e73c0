// Lambada's runtime client for Node.js functions: it speaks the Runtime API
// at $AWS_LAMBDA_RUNTIME_API, loads the handler named by $_HANDLER
// ("[dir/]file.function[.nested]", CommonJS or ES module, under
// $LAMBDA_TASK_ROOT) and calls it with each event and a context, as AWS's
// aws-lambda-ric does: async handlers, callback handlers, the context's
// callbackWaitsForEmptyEventLoop, console lines with the request id. Node's
// standard library only.
'use strict';

const http = require('http');
const path = require('path');
const fs = require('fs');
const util = require('util');
const { createRequire } = require('module');
const { pathToFileURL } = require('url');

// Module resolution errors name AWS's runtime as the requirer.
const runtimeRequire = createRequire('/var/runtime/index.mjs');

let apiHost, apiPort; // of AWS_LAMBDA_RUNTIME_API, once the environment is known
// Idle keep-alive sockets do not hold the event loop open, so 'beforeExit'
// still tells when the function has nothing left to do.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: apiPort, method, agent,
      path: '/2018-06-01/runtime' + p, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Errors as AWS's client sends them: errorType, errorMessage, trace.
function isError(e) {
  return util.types.isNativeError(e) || (e && typeof e.name === 'string' &&
    typeof e.message === 'string' && typeof e.stack === 'string');
}

function rapidError(e) {
  try {
    if (isError(e)) {
      return { errorType: e.name, errorMessage: e.message, trace: e.stack.split('\n') };
    }
    return { errorType: typeof e, errorMessage: String(e), trace: [] };
  } catch (_) {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack' };
  }
}

function postError(p, e) {
  const body = JSON.stringify(rapidError(e));
  const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
  if (p === '/init/error') {
    headers['Lambda-Runtime-Function-Error-Type'] = rapidError(e).errorType;
  }
  return call('POST', p, body, headers);
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

// Console lines: <time>\t<request id>\t<LEVEL>\t<message>, newlines inside a
// message turned into carriage returns so each call is one line.
let requestId;
const levels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
let threshold = 0;
function logLine(level, args) {
  if (levels.indexOf(level) < threshold) {
    return;
  }
  const line = `${new Date().toISOString()}\t${requestId}\t${level}\t${util.format(...args)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}
for (const [fn, level] of [['trace', 'TRACE'], ['debug', 'DEBUG'], ['info', 'INFO'], ['log', 'INFO'],
  ['warn', 'WARN'], ['error', 'ERROR'], ['fatal', 'FATAL']]) {
  console[fn] = (...args) => logLine(level, args);
}

function errorProps(e) {
  if (!(e instanceof Error)) {
    return e;
  }
  const out = Object.assign({ errorType: e.name, errorMessage: e.message, code: e.code }, e);
  if (typeof e.stack === 'string') {
    out.stack = e.stack.split('\n');
  }
  return out;
}

function logError(what, e) {
  const err = e instanceof Error ? e : new Error(e);
  let text;
  try {
    text = JSON.stringify(err, (_k, v) => errorProps(v));
  } catch (_) {
    text = JSON.stringify(rapidError(err));
  }
  console.error(what, '\t' + text);
}

// Loading the handler, as AWS's loader does.
function packageIsModule(dir) {
  for (;;) {
    if (dir.endsWith('/node_modules')) {
      return false;
    }
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj)).type === 'module';
      } catch (_) {
        return false;
      }
    }
    if (dir === '/') {
      return false;
    }
    dir = path.resolve(dir, '..');
  }
}

async function loadModule(root, moduleRoot, name) {
  const file = path.resolve(root, moduleRoot, name);
  const tryRequire = (ext) => (fs.existsSync(file + ext) ? runtimeRequire(file + ext) : undefined);
  const tryImport = async (ext) => (fs.existsSync(file + ext) ? import(pathToFileURL(file + ext).href) : undefined);
  const loaded = tryRequire('');
  if (loaded) {
    return loaded;
  }
  const esm = packageIsModule(path.dirname(file));
  if (!esm) {
    const cjs = tryRequire('.js');
    if (cjs) {
      return cjs;
    }
  }
  return (esm && (await tryImport('.js'))) || (await tryImport('.mjs')) || tryRequire('.cjs') ||
    runtimeRequire(runtimeRequire.resolve(name, { paths: [root, moduleRoot] }));
}

async function loadHandler(root, handler) {
  if (handler.includes('..')) {
    throw new RuntimeError('Runtime.MalformedHandlerName', `'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const base = path.basename(handler);
  const moduleRoot = handler.substring(0, handler.indexOf(base));
  const m = base.match(/^([^.]*)\.(.*)$/);
  if (!m) {
    throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  }
  let app;
  try {
    app = await loadModule(root, moduleRoot, m[1]);
  } catch (e) {
    if (e instanceof SyntaxError) {
      const err = new RuntimeError('Runtime.UserCodeSyntaxError', String(e));
      err.stack = e.stack;
      throw err;
    }
    if (e && e.code === 'MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', String(e));
    }
    throw e;
  }
  const fn = m[2].split('.').reduce((o, k) => o && o[k], app);
  if (!fn) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handler} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handler} is not a function`);
  }
  return fn;
}

// What runs when the event loop empties: set per invocation.
let beforeExit = () => {};
process.on('beforeExit', () => beforeExit());

let onUncaught = (e) => postError('/init/error', e).then(() => process.exit(129));
let onRejection = (e) => postError('/init/error', e).then(() => process.exit(128));
process.on('uncaughtException', (e) => {
  logError('Uncaught Exception', e);
  onUncaught(e);
});
process.on('unhandledRejection', (reason) => {
  const e = new RuntimeError('Runtime.UnhandledPromiseRejection', reason && reason.toString());
  e.reason = reason;
  logError('Unhandled Promise Rejection', e);
  onRejection(e);
});

function serialize(result) {
  return JSON.stringify(result === undefined ? null : result);
}

async function invokeOnce(handler) {
  const { headers, body } = await call('GET', '/invocation/next');
  const id = headers['lambda-runtime-aws-request-id'];
  requestId = id;
  if (headers['lambda-runtime-trace-id']) {
    process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  onUncaught = (e) => postError(`/invocation/${id}/error`, e).then(() => process.exit(129));
  onRejection = (e) => postError(`/invocation/${id}/error`, e).then(() => process.exit(128));

  let finished = false; // the first of callback, succeed, fail, done wins
  const next = () => setImmediate(() => invokeOnce(handler));
  const respond = (result) => {
    let out;
    try {
      out = serialize(result);
    } catch (e) {
      return fail(new RuntimeError('Runtime.JSONStringifyError', 'Unable to stringify response body'));
    }
    call('POST', `/invocation/${id}/response`, out, { 'Content-Type': 'application/json' }).then(next);
  };
  const fail = (e) => {
    logError('Invoke Error', e);
    postError(`/invocation/${id}/error`, e).then(next);
  };
  const once = (f) => (...args) => {
    if (!finished) {
      finished = true;
      beforeExit = () => {};
      f(...args);
    }
  };
  let waits = true;
  const done = once((err, result) => (err !== undefined && err !== null ? fail(err) : respond(result)));
  const callback = once((err, result) => {
    if (err !== undefined && err !== null) {
      fail(err);
    } else if (!waits) {
      respond(result);
    } else {
      beforeExit = () => {
        beforeExit = () => {};
        setImmediate(() => respond(result));
      };
    }
  });
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const parse = (h, name) => {
    if (h === undefined) {
      return undefined;
    }
    try {
      return JSON.parse(h);
    } catch (e) {
      throw new Error(`Cannot parse ${name} as json: ${e.toString()}`);
    }
  };
  // A handler that ends without answering: an async one failed to settle
  // its promise; a callback one answers null.
  const isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  beforeExit = once(() => {
    if (isAsync) {
      fail(new RuntimeError('Runtime.NodeJsExit', 'Runtime exited without providing a reason'));
    } else {
      respond(null);
    }
  });
  try {
    const context = {
      get callbackWaitsForEmptyEventLoop() { return waits; },
      set callbackWaitsForEmptyEventLoop(v) { waits = v; },
      succeed: (r) => done(null, r),
      fail: (e) => done(e === undefined || e === null ? 'handled' : e, null),
      done,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parse(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parse(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
    const result = handler(JSON.parse(body.toString() || 'null'), context, callback);
    if (result && typeof result.then === 'function') {
      result.then((r) => done(null, r), (e) => done(e === undefined || e === null ? 'handled' : e, null));
    }
  } catch (e) {
    callback(e);
  }
}

// run serves the function of this environment.
async function run() {
  [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
  threshold = Math.max(0, levels.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || 'TRACE').toUpperCase()));
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || '/var/task', process.env._HANDLER || '');
  } catch (e) {
    logError('Uncaught Exception', e);
    await postError('/init/error', e);
    process.exit(129);
  }
  invokeOnce(handler);
}

// A spare (LAMBADA_SPARE set) is started ahead of time, in walls of its own
// without code, and becomes an environment when the node writes its
// environment variables (JSON, then end of file) to its standard input:
// its code is mounted by then.
if (process.env.LAMBADA_SPARE) {
  let assigned;
  try {
    assigned = JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch (e) {
    process.exit(70); // the node let it go unused
  }
  for (const k of Object.keys(process.env)) {
    delete process.env[k];
  }
  Object.assign(process.env, assigned.env);
  require('module').Module._initPaths(); // NODE_PATH is read at start
  globalThis[Symbol.for('lambada.spare')] = true; // for tests to see
  process.chdir(process.env.LAMBDA_TASK_ROOT); // the code's mount, not the empty directory under it
  run();
} else {
  run();
}
