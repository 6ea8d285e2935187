#!/usr/bin/env python3
"""The bookinfo-like sample's services (Python 3 standard library only), one process each:

  productpage  GET /productpage -> calls reviews, answers with which reviews version served it
  reviews      GET /reviews     -> v1: no ratings; v2, v3: calls ratings
  ratings      GET /ratings     -> a fixed rating

They call each other by Service name (http://reviews:9080/...) as apps in a mesh do: the
sidecar next to each one does the routing (the VirtualService's split), not the app.
"""
import argparse
import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def call(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        role, version = self.server.role, self.server.version
        try:
            if self.path.startswith("/healthz"):
                body = {"ok": True}
            elif role == "productpage":
                reviews = call("http://reviews:9080/reviews")
                body = {"service": "productpage", "reviews": reviews}
            elif role == "reviews":
                body = {"service": "reviews", "version": version}
                if version != "v1":
                    body["ratings"] = call("http://ratings:9080/ratings")
            else:
                body = {"service": "ratings", "stars": 4}
            self.reply(200, body)
        except Exception as e:  # an upstream failure is the page's answer, not a crash
            self.reply(502, {"service": role, "error": str(e)})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", required=True, choices=["productpage", "reviews", "ratings"])
    ap.add_argument("--version", default=os.environ.get("VERSION", "v1"))
    ap.add_argument("--port", type=int, default=9080)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("0.0.0.0", a.port), Handler)
    srv.role, srv.version = a.role, a.version
    srv.serve_forever()


if __name__ == "__main__":
    main()
