#!/usr/bin/env node
'use strict';
// An SDS server on a real gRPC implementation (@grpc/grpc-js), to test weft-proxy's SDS client
// against something that is not ours. envoy.service.secret.v3.SecretDiscoveryService/
// StreamSecrets on a unix socket, state of the world, secrets read from files in --dir:
//   NAME.crt + NAME.key -> Secret NAME {tls_certificate}; NAME.ca -> Secret NAME {validation_context}
//
//   node sds_server.js --socket PATH --dir DIR
//
// stdin, one command per line: "push" re-reads DIR and sends a new version to every stream.
// stdout, one JSON object per line: {"event":"listening"}, then per request received
// {"event":"request","names":[...],"version":"..","nonce":"..","error":".."|null}.
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const DEPS = path.join(__dirname, 'node_modules/@grpc/grpc-js-xds/deps');
const INCLUDES = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(DEPS, d));
const TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

const a = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];

const root = new protobuf.Root();
root.resolvePath = (origin, target) => {
  for (const d of INCLUDES) {
    const p = path.join(d, target);
    if (fs.existsSync(p)) return p;
  }
  return protobuf.util.path.resolve(origin, target);
};
root.loadSync('envoy/extensions/transport_sockets/tls/v3/secret.proto', { keepCase: true });
const Secret = root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');

let version = 1;
function secretBytes(name) {
  const file = (ext) => path.join(a.dir, name + ext);
  let msg;
  if (fs.existsSync(file('.crt'))) {
    msg = { name, tls_certificate: {
      certificate_chain: { inline_bytes: fs.readFileSync(file('.crt')) },
      private_key: { inline_bytes: fs.readFileSync(file('.key')) } } };
  } else if (fs.existsSync(file('.ca'))) {
    msg = { name, validation_context: { trusted_ca: { inline_bytes: fs.readFileSync(file('.ca')) } } };
  } else {
    return null;
  }
  return Secret.encode(Secret.fromObject(msg)).finish();
}

const streams = new Set();
let nonce = 0;
function respond(call) {
  const resources = [];
  for (const n of call.names) {
    const b = secretBytes(n);
    if (b) resources.push({ type_url: TYPE_URL, value: b });
  }
  call.write({ version_info: String(version), resources, type_url: TYPE_URL, nonce: String(++nonce) });
}

const pkg = grpc.loadPackageDefinition(protoLoader.loadSync('envoy/service/secret/v3/sds.proto', {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: INCLUDES }));
const server = new grpc.Server();
server.addService(pkg.envoy.service.secret.v3.SecretDiscoveryService.service, {
  StreamSecrets(call) {
    call.names = null;
    streams.add(call);
    call.on('data', (req) => {
      const err = req.error_detail ? req.error_detail.message : null;
      console.log(JSON.stringify({ event: 'request', names: req.resource_names, version: req.version_info,
                                   nonce: req.response_nonce, error: err || null }));
      const names = req.resource_names.join(',');
      if (call.names === null || call.names.join(',') !== names) {
        call.names = req.resource_names;
        respond(call);
      }
    });
    call.on('end', () => { streams.delete(call); call.end(); });
    call.on('error', () => streams.delete(call));
  },
  FetchSecrets(call, cb) { cb({ code: grpc.status.UNIMPLEMENTED }); },
  DeltaSecrets(call) { call.destroy(new Error('delta is not served')); },
});
try { fs.unlinkSync(a.socket); } catch (e) { /* not there */ }
server.bindAsync('unix://' + a.socket, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.log(JSON.stringify({ event: 'error', error: String(err) }));
    process.exit(1);
  }
  console.log(JSON.stringify({ event: 'listening' }));
});
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'push') {
    version++;
    for (const call of streams) if (call.names) respond(call);
    console.log(JSON.stringify({ event: 'pushed', version }));
  }
});
process.on('SIGTERM', () => process.exit(0));
