#!/usr/bin/env node
'use strict';
// Real gRPC clients (@grpc/grpc-js) for the certificate APIs, so tests check weftd and
// weft-agent against an implementation that is not ours.
//
//   node secrets_client.js ca --target HOST:PORT --root FILE --csr FILE
//        [--token FILE | --cert FILE --key FILE] [--server-name N] [--ttl-s S] [--insecure 1]
//     istio.v1.auth.IstioCertificateService/CreateCertificate over TLS. Prints one JSON line:
//     {"ok":true,"cert_chain":[...]} or {"ok":false,"code":16,"details":"..."}.
//
//   node secrets_client.js sds --socket PATH --names default,ROOTCA [--responses N] [--timeout-ms T]
//     envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets on a unix socket; ACKs each
//     response and prints one JSON line per response:
//     {"version":"1","names":["default"],"secrets":[{"name":"default","chain":"...","key":"...",
//      "trusted_ca":"..."}]}; then exits after N responses (default 1), or prints
//     {"error":"..."} and exits 1.
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEPS = path.join(__dirname, 'node_modules/@grpc/grpc-js-xds/deps');
const REPO = path.join(__dirname, '../..');

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

function load(file, includeDirs) {
  return grpc.loadPackageDefinition(protoLoader.loadSync(file, {
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs,
  }));
}

function ca(a) {
  const pkg = load('istio/v1/auth/istioca.proto', [path.join(REPO, 'api/proto')]);
  const root = fs.readFileSync(a.root);
  let creds = a.cert ? grpc.credentials.createSsl(root, fs.readFileSync(a.key), fs.readFileSync(a.cert))
                     : grpc.credentials.createSsl(root);
  if (a.insecure) creds = grpc.credentials.createInsecure();  // to show plaintext is refused
  const options = { 'grpc.ssl_target_name_override': a['server-name'] || 'istiod.istio-system.svc' };
  const client = new pkg.istio.v1.auth.IstioCertificateService(a.target, creds, options);
  const md = new grpc.Metadata();
  if (a.token) md.add('authorization', 'Bearer ' + fs.readFileSync(a.token, 'utf8').trim());
  const req = { csr: fs.readFileSync(a.csr, 'utf8'), validity_duration: String(a['ttl-s'] || 0) };
  client.CreateCertificate(req, md, { deadline: Date.now() + 10000 }, (err, res) => {
    if (err) console.log(JSON.stringify({ ok: false, code: err.code, details: err.details }));
    else console.log(JSON.stringify({ ok: true, cert_chain: res.cert_chain }));
    process.exit(0);
  });
}

function sds(a) {
  const pkg = load('envoy/service/secret/v3/sds.proto', [
    path.join(DEPS, 'envoy-api'), path.join(DEPS, 'xds'), path.join(DEPS, 'googleapis'),
    path.join(DEPS, 'protoc-gen-validate')]);
  const client = new pkg.envoy.service.secret.v3.SecretDiscoveryService('unix://' + a.socket,
                                                                         grpc.credentials.createInsecure());
  const names = a.names.split(',');
  const want = parseInt(a.responses || '1', 10);
  let seen = 0;
  const timer = setTimeout(() => {
    console.log(JSON.stringify({ error: 'timed out after ' + seen + ' responses' }));
    process.exit(1);
  }, parseInt(a['timeout-ms'] || '10000', 10));
  const call = client.StreamSecrets();
  const typeUrl = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
  call.on('data', (res) => {
    const secrets = res.resources.map((any) => decodeSecret(any.value));
    console.log(JSON.stringify({ version: res.version_info, type_url: res.type_url, nonce: res.nonce, secrets }));
    call.write({ version_info: res.version_info, resource_names: names, type_url: typeUrl,
                 response_nonce: res.nonce });
    if (++seen >= want) {
      clearTimeout(timer);
      call.end();
      process.exit(0);
    }
  });
  call.on('error', (err) => {
    console.log(JSON.stringify({ error: err.details || String(err), code: err.code }));
    process.exit(1);
  });
  call.write({ resource_names: names, type_url: typeUrl });
}

// Secret {name=1, tls_certificate=2 {certificate_chain=1, private_key=2}, validation_context=4
// {trusted_ca=1}}, DataSource {filename=1, inline_bytes=2, inline_string=3}: decoded with
// protobufjs, which proto-loader is built on.
const protobuf = require('protobufjs');
let SecretRoot = null;
function decodeSecret(bytes) {
  if (!SecretRoot) {
    SecretRoot = new protobuf.Root();
    SecretRoot.resolvePath = (origin, target) => {
      for (const d of ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']) {
        const p = path.join(DEPS, d, target);
        if (fs.existsSync(p)) return p;
      }
      return protobuf.util.path.resolve(origin, target);
    };
    SecretRoot.loadSync('envoy/extensions/transport_sockets/tls/v3/secret.proto', { keepCase: true });
  }
  const T = SecretRoot.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');
  const s = T.toObject(T.decode(bytes), { bytes: String });
  const text = (ds) => (ds ? (ds.inline_bytes ? Buffer.from(ds.inline_bytes, 'base64').toString()
                                               : ds.inline_string || '') : '');
  return {
    name: s.name,
    chain: s.tls_certificate ? text(s.tls_certificate.certificate_chain) : '',
    key: s.tls_certificate ? text(s.tls_certificate.private_key) : '',
    trusted_ca: s.validation_context ? text(s.validation_context.trusted_ca) : '',
  };
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'ca') ca(args(rest));
else if (mode === 'sds') sds(args(rest));
else {
  console.error('usage: secrets_client.js ca|sds ...');
  process.exit(2);
}
