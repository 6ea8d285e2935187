'use strict';
// Shared by server.js and client.js: loads greeter.proto and parses --flag value arguments.

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function loadGreeter() {
  const def = protoLoader.loadSync(path.join(__dirname, 'greeter.proto'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(def).helloworld;
}

class UsageError extends Error {}

// Parses ["--a", "1", "--flag", ...] into {a: "1", flag: true}. `spec` maps each accepted
// option name to 'string' or 'bool'. Unknown options and missing values are usage errors.
function parseArgs(argv, spec) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      throw new UsageError(`unexpected argument: ${arg}`);
    }
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const kind = spec[name];
    if (!kind) {
      throw new UsageError(`unknown option --${name}`);
    }
    if (kind === 'bool') {
      if (value !== undefined) {
        throw new UsageError(`--${name} takes no value`);
      }
      out[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) {
        throw new UsageError(`--${name} needs a value`);
      }
      value = argv[++i];
    }
    out[name] = value;
  }
  return out;
}

function parseIntArg(name, value, min) {
  if (!/^\d+$/.test(String(value))) {
    throw new UsageError(`--${name}: not a non-negative integer: ${value}`);
  }
  const n = Number(value);
  if (min !== undefined && n < min) {
    throw new UsageError(`--${name}: must be >= ${min}, got ${n}`);
  }
  return n;
}

module.exports = { grpc, loadGreeter, parseArgs, parseIntArg, UsageError };
