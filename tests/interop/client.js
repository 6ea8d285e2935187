#!/usr/bin/env node
'use strict';
// Greeter client for the grpc-js-xds interop test. One gRPC client (one channel) per process,
// so in --script mode the same channel keeps following the control plane's config pushes.
//
//   node client.js --target T --count N [--deadline-ms D] [--concurrency C]
//   node client.js --target T --until-share NAME:FRACTION --timeout-s S [--batch B]
//   node client.js --target T --script
//
// T is any grpc-js target: xds:///greeter.default.svc.cluster.local:50051 (needs
// GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG), dns:///127.0.0.2:50051, 127.0.0.2:50051, ...
//
// Each call is helloworld.Greeter/SayHello; the reply's message names the backend that served
// it (server.js --name). Results are JSON on stdout, one object per line:
//
//   count mode / "count N":
//     {"mode":"count","calls":N,"counts":{"v1":80,"v2":20},"errors":0,"error_codes":{},
//      "first_error":null,"elapsed_ms":123}
//   until mode / "until NAME FRACTION TIMEOUT_S": batches of B (default 20) calls until NAME's
//   share of the last batch (errors count as "not NAME") is >= FRACTION, or the timeout passes
//   (no call outlives the timeout; a batch it cuts short never converges). calls/counts/errors/
//   share describe the last complete batch, total_* every call made:
//     {"mode":"until","converged":true,"name":"v2","fraction":1,"share":1,"batches":4,
//      "calls":20,"counts":{...last batch...},"errors":0,"error_codes":{},"first_error":null,
//      "total_calls":80,"total_counts":{...all batches...},"total_errors":0,
//      "total_first_error":null,"elapsed_ms":456}
//
// --script reads commands from stdin, one per line, and answers each with one JSON line:
//   count N                      -> a count summary
//   until NAME FRACTION TIMEOUT_S -> an until summary
//   quit (or EOF)                -> exit 0
// It prints {"event":"ready","target":T} first. A bad command gets {"error":"..."} and the
// client keeps going. Failed calls never make the process fail (the test judges them); the exit
// status is non-zero only for a harness problem: 2 = usage, 1 = unexpected exception.
//
// Debugging the xDS side: GRPC_TRACE=xds_client,xds_resolver,cds_balancer,xds_cluster_impl,
// priority,weighted_target,round_robin GRPC_VERBOSITY=DEBUG (logs go to stderr).

const readline = require('readline');
const { grpc, loadGreeter, parseArgs, parseIntArg, UsageError } = require('./greeter');

require('@grpc/grpc-js-xds').register();

const OPTIONS = {
  target: 'string',
  count: 'string',
  'deadline-ms': 'string',
  concurrency: 'string',
  'until-share': 'string',
  'timeout-s': 'string',
  batch: 'string',
  'pause-ms': 'string',
  script: 'bool',
};

function usage(msg) {
  process.stderr.write(
    `client.js: ${msg}\n` +
      'usage: node client.js --target T (--count N | --until-share NAME:FRACTION --timeout-s S | --script)\n' +
      '                      [--deadline-ms D] [--concurrency C] [--batch B] [--pause-ms P]\n');
  process.exit(2);
}

function parseFraction(text, what) {
  const f = Number(text);
  if (text === '' || !Number.isFinite(f) || f < 0 || f > 1) {
    throw new UsageError(`${what}: fraction must be a number in [0, 1], got ${JSON.stringify(text)}`);
  }
  return f;
}

function parseSeconds(text, what) {
  const s = Number(text);
  if (text === '' || !Number.isFinite(s) || s < 0) {
    throw new UsageError(`${what}: timeout must be a non-negative number of seconds, got ${JSON.stringify(text)}`);
  }
  return s;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2), OPTIONS);
  if (!opts.target) throw new UsageError('--target is required');
  const modes = ['count', 'until-share', 'script'].filter((m) => opts[m] !== undefined);
  if (modes.length !== 1) {
    throw new UsageError('exactly one of --count, --until-share, --script is required');
  }
  opts.deadlineMs = opts['deadline-ms'] === undefined ? 5000 : parseIntArg('deadline-ms', opts['deadline-ms'], 1);
  opts.concurrency = opts.concurrency === undefined ? 1 : parseIntArg('concurrency', opts.concurrency, 1);
  opts.batch = opts.batch === undefined ? 20 : parseIntArg('batch', opts.batch, 1);
  opts.pauseMs = opts['pause-ms'] === undefined ? 50 : parseIntArg('pause-ms', opts['pause-ms']);
  if (opts.count !== undefined) {
    opts.count = parseIntArg('count', opts.count);
  }
  if (opts['until-share'] !== undefined) {
    const m = /^(.+):([^:]+)$/.exec(opts['until-share']);
    if (!m) throw new UsageError(`--until-share: expected NAME:FRACTION, got ${opts['until-share']}`);
    opts.untilName = m[1];
    opts.untilFraction = parseFraction(m[2], '--until-share');
    if (opts['timeout-s'] === undefined) throw new UsageError('--until-share needs --timeout-s');
    opts.timeoutS = parseSeconds(opts['timeout-s'], '--timeout-s');
  } else if (opts['timeout-s'] !== undefined) {
    throw new UsageError('--timeout-s only goes with --until-share');
  }
  if (opts.target.startsWith('xds:') && !process.env.GRPC_XDS_BOOTSTRAP && !process.env.GRPC_XDS_BOOTSTRAP_CONFIG) {
    throw new UsageError('an xds: target needs GRPC_XDS_BOOTSTRAP (a file) or GRPC_XDS_BOOTSTRAP_CONFIG (JSON) in the environment');
  }
} catch (e) {
  if (e instanceof UsageError) usage(e.message);
  throw e;
}

const helloworld = loadGreeter();
const client = new helloworld.Greeter(opts.target, grpc.credentials.createInsecure());
const statusName = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

function sayHello(i, stopAt) {
  return new Promise((resolve) => {
    const deadline = new Date(Math.min(Date.now() + opts.deadlineMs, stopAt));
    client.SayHello({ name: `call-${i}` }, { deadline }, (err, reply) => {
      if (err) {
        resolve({ ok: false, code: statusName[err.code] || String(err.code), details: err.details || err.message });
      } else {
        resolve({ ok: true, backend: reply.message });
      }
    });
  });
}

let callSeq = 0;

// Makes n calls, `concurrency` at a time; returns the batch summary. With stopAt (ms since the
// epoch), no call outlives it and none starts after it: the batch may then be short (calls < n).
async function runBatch(n, stopAt = Infinity) {
  const started = Date.now();
  const summary = { calls: 0, counts: {}, errors: 0, error_codes: {}, first_error: null };
  let next = 0;
  async function worker() {
    while (next < n && Date.now() < stopAt) {
      next++;
      summary.calls++;
      const r = await sayHello(callSeq++, stopAt);
      if (r.ok) {
        summary.counts[r.backend] = (summary.counts[r.backend] || 0) + 1;
      } else {
        summary.errors++;
        summary.error_codes[r.code] = (summary.error_codes[r.code] || 0) + 1;
        if (summary.first_error === null) summary.first_error = `${r.code}: ${r.details}`;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, Math.max(n, 1)) }, worker));
  summary.elapsed_ms = Date.now() - started;
  return summary;
}

async function runCount(n) {
  return { mode: 'count', ...(await runBatch(n)) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runUntil(name, fraction, timeoutS) {
  const started = Date.now();
  const deadline = started + timeoutS * 1000;
  const total = { calls: 0, counts: {}, errors: 0, first_error: null };
  let batches = 0;
  let last; // the last complete batch (or, if none completed, the short one)
  let share = 0;
  for (;;) {
    const batch = await runBatch(opts.batch, deadline);
    if (batch.calls === opts.batch || last === undefined) last = batch;
    batches++;
    total.calls += batch.calls;
    total.errors += batch.errors;
    for (const [k, v] of Object.entries(batch.counts)) total.counts[k] = (total.counts[k] || 0) + v;
    if (total.first_error === null && batch.first_error !== null) total.first_error = batch.first_error;
    // A batch cut short by the timeout never counts as converged.
    share = batch.calls === opts.batch ? (batch.counts[name] || 0) / batch.calls : 0;
    if (share >= fraction || Date.now() >= deadline) break;
    await sleep(Math.min(opts.pauseMs, Math.max(0, deadline - Date.now())));
  }
  return {
    mode: 'until',
    converged: share >= fraction,
    name,
    fraction,
    share: last.calls ? (last.counts[name] || 0) / last.calls : 0,
    batches,
    calls: last.calls,
    counts: last.counts,
    errors: last.errors,
    error_codes: last.error_codes,
    first_error: last.first_error,
    total_calls: total.calls,
    total_counts: total.counts,
    total_errors: total.errors,
    total_first_error: total.first_error,
    elapsed_ms: Date.now() - started,
  };
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function runCommand(line) {
  const words = line.trim().split(/\s+/);
  switch (words[0]) {
    case 'count':
      if (words.length !== 2) throw new UsageError('usage: count N');
      return runCount(parseIntArg('count', words[1]));
    case 'until':
      if (words.length !== 4) throw new UsageError('usage: until NAME FRACTION TIMEOUT_S');
      return runUntil(words[1], parseFraction(words[2], 'until'), parseSeconds(words[3], 'until'));
    default:
      throw new UsageError(`unknown command ${JSON.stringify(words[0])} (expected count, until or quit)`);
  }
}

function finish(code) {
  client.close();
  // Let stdout drain, then exit even if the xDS client keeps timers or streams alive.
  process.stdout.write('', () => process.exit(code));
}

async function scriptMode() {
  emit({ event: 'ready', target: opts.target });
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const cmd = line.trim();
    if (cmd === '' || cmd.startsWith('#')) continue;
    if (cmd === 'quit' || cmd === 'exit') break;
    try {
      emit(await runCommand(cmd));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      emit({ error: e.message, command: cmd });
    }
  }
  finish(0);
}

async function main() {
  if (opts.script) {
    await scriptMode();
  } else if (opts.count !== undefined) {
    emit(await runCount(opts.count));
    finish(0);
  } else {
    emit(await runUntil(opts.untilName, opts.untilFraction, opts.timeoutS));
    finish(0);
  }
}

main().catch((e) => {
  process.stderr.write(`client.js: harness error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
