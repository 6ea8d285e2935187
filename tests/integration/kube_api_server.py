"""A small Kubernetes API server for tests: no cluster can run on these machines, so weftd's
Kubernetes client is tested against this. It speaks the documented protocol of the parts weftd
uses (https://kubernetes.io/docs/reference/using-api/api-concepts/):

- LIST a collection (cluster-wide or one namespace) with `limit` and `continue` tokens; a token
  whose version was compacted away answers 410 Gone.
- WATCH (`watch=1`) from a `resourceVersion`: the events after it, then new ones, as a chunked
  stream of JSON lines; BOOKMARK events with `allowWatchBookmarks`; the stream ends after
  `timeoutSeconds`; a version older than the compaction window gets an ERROR event with a 410
  Status, as kube-apiserver sends it.
- GET, PATCH (JSON patch, merge patch) and PUT of one object; POST of TokenReviews (answered
  from `tokens`).
- Bearer-token authentication (401 without it), plain HTTP or TLS.

Faults for the tests: `drop_watches()` cuts every open watch connection, `fail_next(n, status)`
answers the next n requests with an error, `compact()` forgets the history (so resuming
watches get 410), `watch_delay` slows every event write.

Objects are put and deleted through the Python API (`put`, `delete`), as a controller would.
"""

import base64
import bisect
import copy
import json
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonpatch
import yaml

# kind -> (API prefix, plural, namespaced)
TYPES = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "Service": ("/api/v1", "services", True),
    "Pod": ("/api/v1", "pods", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "EndpointSlice": ("/apis/discovery.k8s.io/v1", "endpointslices", True),
    "VirtualService": ("/apis/networking.istio.io/v1", "virtualservices", True),
    "DestinationRule": ("/apis/networking.istio.io/v1", "destinationrules", True),
    "ServiceEntry": ("/apis/networking.istio.io/v1", "serviceentries", True),
    "WorkloadEntry": ("/apis/networking.istio.io/v1", "workloadentries", True),
    "Sidecar": ("/apis/networking.istio.io/v1", "sidecars", True),
    "PeerAuthentication": ("/apis/security.istio.io/v1", "peerauthentications", True),
    "AuthorizationPolicy": ("/apis/security.istio.io/v1", "authorizationpolicies", True),
    "RequestAuthentication": ("/apis/security.istio.io/v1", "requestauthentications", True),
    "Telemetry": ("/apis/telemetry.istio.io/v1", "telemetries", True),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "MutatingWebhookConfiguration": ("/apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", False),
    "ValidatingWebhookConfiguration": ("/apis/admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
                                       False),
}
PLURALS = {(prefix, plural): kind for kind, (prefix, plural, _) in TYPES.items()}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def parse_path(path):
    """'/apis/g/v/namespaces/ns/plural/name' -> (kind, namespace or None, name or None, subresource)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"]:
        prefix, rest = "/api/" + parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        prefix, rest = "/apis/%s/%s" % (parts[1], parts[2]), parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest:
        return None
    kind = PLURALS.get((prefix, rest[0]))
    if kind is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return kind, ns, name, sub


class KubeApiServer:
    def __init__(self, token="test-token", tls_cert=None, tls_key=None, bookmark_interval=1.0):
        self.token = token
        self.tokens = {}  # TokenReview: token -> {"username": ..., "audiences": [...]} (else unauthenticated)
        self.bookmark_interval = bookmark_interval
        self.watch_delay = 0.0
        self.lock = threading.Condition()
        self.rv = 1000
        self.objects = {}  # (kind, ns, name) -> object
        self.history = []  # (rv, type, kind, ns, line bytes)
        self.history_rvs = []  # their rvs, for bisect
        self.compacted = 0  # watches from a version before this get 410
        self.requests = []  # (method, path) of every request
        self.applied = []  # (kind, namespace, name, query) of every server-side apply
        self._fail = []  # statuses for the next requests
        self._watch_socks = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls_cert else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.drop_watches()
        self.server.shutdown()
        self.server.server_close()

    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def kubeconfig(self, path, ca_file=None):
        cluster = {"server": self.url()}
        if ca_file:
            cluster["certificate-authority"] = str(ca_file)
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "test",
               "clusters": [{"name": "test", "cluster": cluster}],
               "users": [{"name": "test", "user": {"token": self.token}}],
               "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    # --- objects, as a controller writes them ------------------------------------------------
    def put(self, obj):
        """Creates or replaces an object (kind from the object); returns its resourceVersion."""
        obj = copy.deepcopy(obj)
        kind = obj["kind"]
        namespaced = TYPES[kind][2]
        md = obj.setdefault("metadata", {})
        ns = md.setdefault("namespace", "default") if namespaced else None
        if not namespaced:
            md.pop("namespace", None)
        with self.lock:
            key = (kind, ns, md["name"])
            event = "MODIFIED" if key in self.objects else "ADDED"
            return self._record(event, key, obj)

    def delete(self, kind, name, ns="default"):
        with self.lock:
            key = (kind, ns if TYPES[kind][2] else None, name)
            obj = self.objects.get(key)
            if obj is None:
                return None
            return self._record("DELETED", key, copy.deepcopy(obj))

    def get(self, kind, name, ns="default"):
        with self.lock:
            return copy.deepcopy(self.objects.get((kind, ns if TYPES[kind][2] else None, name)))

    def _record(self, event, key, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if event == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        line = (json.dumps({"type": event, "object": obj}) + "\n").encode()
        self.history.append((self.rv, event, key[0], key[1], line))
        self.history_rvs.append(self.rv)
        self.lock.notify_all()
        return self.rv

    def append_events(self, events):
        """Bulk (the benchmark): [(event, object)] with their lines made ahead; faster than put()."""
        with self.lock:
            for event, obj, line in events:
                self.rv += 1
                md = obj["metadata"]
                key = (obj["kind"], md.get("namespace"), md["name"])
                if event == "DELETED":
                    self.objects.pop(key, None)
                else:
                    self.objects[key] = obj
                self.history.append((self.rv, event, key[0], key[1], line))
                self.history_rvs.append(self.rv)
            self.lock.notify_all()

    # --- faults ------------------------------------------------------------------------------
    def compact(self):
        with self.lock:
            self.compacted = self.rv + 1
            self.history = []
            self.history_rvs = []
            self.lock.notify_all()

    def drop_watches(self):
        with self.lock:
            socks = list(self._watch_socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def fail_next(self, n, code=500):
        with self.lock:
            self._fail.extend([code] * n)

    def count(self, method, prefix):
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    # --- HTTP --------------------------------------------------------------------------------
    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_GET(self):
                self.route("GET")

            def do_POST(self):
                self.route("POST")

            def do_PATCH(self):
                self.route("PATCH")

            def do_PUT(self):
                self.route("PUT")

            def route(self, method):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with api.lock:
                    api.requests.append((method, self.path))
                    fail = api._fail.pop(0) if api._fail else None
                data = self.body()
                if fail:
                    return self.send_json(fail, status(fail, "InternalError", "injected failure"))
                if api.token and self.headers.get("Authorization") != "Bearer " + api.token:
                    return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
                if method == "POST" and url.path == "/apis/authentication.k8s.io/v1/tokenreviews":
                    return self.token_review(json.loads(data))
                if method == "GET" and discovery(url.path) is not None:
                    return self.send_json(200, discovery(url.path))
                parsed = parse_path(url.path)
                if parsed is None:
                    return self.send_json(404, status(404, "NotFound", "the server could not find the requested "
                                                                       "resource"))
                kind, ns, name, sub = parsed
                if name is None and method == "GET":
                    return self.watch(kind, ns, query) if query.get("watch") in ("1", "true") else \
                        self.list(kind, ns, query)
                if name is None:
                    return self.send_json(405, status(405, "MethodNotAllowed", method + " on a collection"))
                key = (kind, ns if TYPES[kind][2] else None, name)
                with api.lock:
                    current = copy.deepcopy(api.objects.get(key))
                ctype = self.headers.get("Content-Type", "")
                if method == "PATCH" and ctype == "application/apply-patch+yaml":
                    # Server-side apply, as far as tests need it: the applied object, created or
                    # replaced (no field ownership).
                    new = yaml.safe_load(data)
                    if new.get("kind") != kind or new.get("metadata", {}).get("name") != name:
                        return self.send_json(400, status(400, "BadRequest", "kind or name differ from the path"))
                    if TYPES[kind][2]:
                        new["metadata"]["namespace"] = ns
                    with api.lock:
                        api.applied.append((kind, ns, name, dict(query)))
                        api._record("MODIFIED" if current else "ADDED", key, new)
                    return self.send_json(200 if current else 201, new)
                if current is None:
                    return self.send_json(404, status(404, "NotFound", '%s "%s" not found' % (kind, name)))
                if method == "GET":
                    return self.send_json(200, current)
                if method == "PATCH" and ctype == "application/json-patch+json":
                    new = jsonpatch.apply_patch(current, json.loads(data))
                elif method == "PATCH" and ctype == "application/merge-patch+json":
                    new = merge_patch(current, json.loads(data))
                elif method == "PUT":
                    new = json.loads(data)
                else:
                    return self.send_json(415, status(415, "UnsupportedMediaType", ctype))
                new["kind"] = kind
                new["metadata"]["name"] = name
                with api.lock:
                    api._record("MODIFIED", key, new)
                return self.send_json(200, new)

            def token_review(self, review):
                token = review.get("spec", {}).get("token", "")
                wanted = review.get("spec", {}).get("audiences") or []
                known = api.tokens.get(token)
                st = {"authenticated": False, "error": "invalid bearer token"}
                if known and (not wanted or set(wanted) & set(known.get("audiences", []))):
                    st = {"authenticated": True, "user": {"username": known["username"]},
                          "audiences": sorted(set(wanted) & set(known.get("audiences", []))) or wanted}
                review["status"] = st
                self.send_json(201, review)

            def list(self, kind, ns, query):
                limit = int(query.get("limit", "0") or 0)
                with api.lock:
                    start, list_rv = 0, api.rv
                    if query.get("continue"):
                        token = json.loads(base64.b64decode(query["continue"]))
                        if token["rv"] < api.compacted:
                            return self.send_json(410, status(410, "Expired", "The provided continue parameter "
                                                                              "is too old to display a consistent "
                                                                              "list result."))
                        start, list_rv = token["start"], token["rv"]
                    items = sorted(((k, o) for k, o in api.objects.items() if k[0] == kind and (ns is None or
                                                                                                  k[1] == ns)),
                                   key=lambda kv: (kv[0][1] or "", kv[0][2]))
                    items = [copy.deepcopy(o) for _, o in items]
                page = items[start:start + limit] if limit else items[start:]
                meta = {"resourceVersion": str(list_rv)}
                if limit and start + limit < len(items):
                    meta["continue"] = base64.b64encode(json.dumps({"rv": list_rv, "start": start + limit})
                                                        .encode()).decode()
                for o in page:  # LIST items carry no kind/apiVersion, as kube-apiserver's
                    o.pop("kind", None)
                    o.pop("apiVersion", None)
                self.send_json(200, {"kind": kind + "List", "apiVersion": "v1", "metadata": meta, "items": page})

            def chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def watch(self, kind, ns, query):
                since = int(query.get("resourceVersion") or 0)
                deadline = time.time() + int(query.get("timeoutSeconds", "1800"))
                bookmarks = query.get("allowWatchBookmarks") == "true"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sock = self.connection
                with api.lock:
                    api._watch_socks.add(sock)
                try:
                    with api.lock:
                        too_old = since < api.compacted
                    if too_old:
                        self.chunk((json.dumps({"type": "ERROR", "object": status(
                            410, "Expired", "too old resource version: %d (%d)" % (since, api.compacted))}) + "\n")
                            .encode())
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    next_bookmark = time.time() + api.bookmark_interval
                    while time.time() < deadline:
                        with api.lock:
                            first = bisect.bisect_right(api.history_rvs, since)
                            pending = [line for _, _, k, n, line in api.history[first:]
                                       if k == kind and (ns is None or n == ns)]
                            since = api.rv
                            if not pending:
                                api.lock.wait(min(0.2, max(0.0, deadline - time.time())))
                        if pending:
                            if api.watch_delay:
                                time.sleep(api.watch_delay)
                            self.chunk(b"".join(pending))
                        if bookmarks and time.time() >= next_bookmark:
                            next_bookmark = time.time() + api.bookmark_interval
                            self.chunk((json.dumps({"type": "BOOKMARK", "object": {
                                "kind": kind, "apiVersion": "v1",
                                "metadata": {"resourceVersion": str(since)}}}) + "\n").encode())
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                finally:
                    with api.lock:
                        api._watch_socks.discard(sock)
                    self.close_connection = True

        return Handler


def discovery(path):
    """The legacy discovery documents (kubectl reads them to find a resource's path)."""
    groups = {}
    for kind, (prefix, plural, namespaced) in TYPES.items():
        groups.setdefault(prefix, []).append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced,
                                              "kind": kind, "verbs": ["get", "list", "watch", "patch", "update"]})
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        gl = []
        for prefix in groups:
            if prefix.startswith("/apis/"):
                g, v = prefix[len("/apis/"):].split("/")
                gv = {"groupVersion": g + "/" + v, "version": v}
                gl.append({"name": g, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": gl}
    if path in groups:
        gv = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": groups[path]}
    return None


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return patch
    target = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target
