#!/usr/bin/env node
'use strict';
// Greeter backend for the grpc-js-xds interop test.
//
//   node server.js --port P --name v1 [--host 127.0.0.2]
//
// Serves helloworld.Greeter/SayHello over plaintext HTTP/2 on HOST:PORT (default host
// 127.0.0.1) and replies HelloReply{message: NAME}, so a client can count which backend
// answered. Prints "listening <port>" on stdout once the port is bound (with --port 0 the
// kernel's choice). Exits 0 on SIGTERM/SIGINT, 2 on a usage error, 1 if it cannot bind.

const { grpc, loadGreeter, parseArgs, parseIntArg, UsageError } = require('./greeter');

function usage(msg) {
  process.stderr.write(`server.js: ${msg}\nusage: node server.js --port P --name NAME [--host ADDR]\n`);
  process.exit(2);
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2), { port: 'string', name: 'string', host: 'string' });
  if (opts.port === undefined) throw new UsageError('--port is required');
  if (!opts.name) throw new UsageError('--name is required');
  opts.port = parseIntArg('port', opts.port);
  if (opts.port > 65535) throw new UsageError(`--port out of range: ${opts.port}`);
} catch (e) {
  if (e instanceof UsageError) usage(e.message);
  throw e;
}
const host = opts.host || '127.0.0.1';
const name = opts.name;

const helloworld = loadGreeter();
const server = new grpc.Server();
let served = 0;
server.addService(helloworld.Greeter.service, {
  SayHello(call, callback) {
    served++;
    callback(null, { message: name });
  },
});

// IPv6 literals need brackets in the bind address.
const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
server.bindAsync(`${bindHost}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`server.js: cannot bind ${bindHost}:${opts.port}: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`listening ${port}\n`);
  process.stderr.write(`server.js: ${name} serving helloworld.Greeter on ${bindHost}:${port}\n`);
});

function stop(signal) {
  process.stderr.write(`server.js: ${name} got ${signal} after ${served} calls; stopping\n`);
  server.tryShutdown(() => process.exit(0));
  // Do not wait long for clients that keep their connections open.
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
