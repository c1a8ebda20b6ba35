#!/usr/bin/env python3
"""Example model service for NovaCron's pba bridge (docs/protocol/pba-bridge.md).

Standard library only. POST /v1/predict takes named numeric features and
answers named numeric outputs; this example's "throughput" model forecasts
a link's throughput from its recent samples x0 (oldest) .. x{n-1} (latest)
with an exponentially weighted mean, and an interval of +/-25%.

    python3 server.py --port 8500            # serve
    python3 server.py --port 0               # pick a free port; prints "listening <port>"
    python3 server.py --mode slow --delay-ms 500   # misbehave, for tests:
                                             # slow | malformed | error | normal
    python3 server.py --self-test            # start, call itself once, exit 0 on success
"""
import argparse
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024
HORIZONS = (1, 5, 30)


def forecast(features):
    """Outputs of the "throughput" model for features x0..x{n-1}."""
    xs = []
    i = 0
    while f"x{i}" in features:
        xs.append(float(features[f"x{i}"]))
        i += 1
    if not xs:
        raise ValueError("no samples x0..")
    level = xs[0]
    for x in xs[1:]:
        level = 0.3 * x + 0.7 * level
    out = {}
    for h in HORIZONS:
        out[f"mean_h{h}"] = level
        out[f"lower_h{h}"] = level * 0.75
        out[f"upper_h{h}"] = level * 1.25
    return out


class Handler(BaseHTTPRequestHandler):
    mode = "normal"
    delay_ms = 0

    def log_message(self, fmt, *args):  # keep test output clean
        pass

    def send_json(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/health":
            self.send_json(200, {"ok": True, "version": 1})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/v1/predict":
            self.send_json(404, {"error": "not found"})
            return
        length = int(self.headers.get("content-length", "0"))
        if length > MAX_BODY:
            self.send_json(413, {"error": "too large"})
            return
        try:
            req = json.loads(self.rfile.read(length))
            if req.get("version") != 1 or req.get("model") != "throughput":
                raise ValueError("unsupported version or model")
            outputs = forecast(req["features"])
        except (ValueError, KeyError, TypeError) as err:
            self.send_json(400, {"error": str(err)})
            return
        if self.mode == "slow":
            time.sleep(self.delay_ms / 1000)
        if self.mode == "error":
            self.send_json(503, {"error": "overloaded"})
        elif self.mode == "malformed":
            self.send_json(200, b'{"version": 1, "outputs": {"mean_h1": "fast"')
        else:
            self.send_json(200, {"version": 1, "outputs": outputs})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8500)
    ap.add_argument("--mode", choices=["normal", "slow", "malformed", "error"], default="normal")
    ap.add_argument("--delay-ms", type=int, default=500)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    Handler.mode = args.mode
    Handler.delay_ms = args.delay_ms
    server = ThreadingHTTPServer((args.host, 0 if args.self_test else args.port), Handler)
    port = server.server_address[1]
    if args.self_test:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        body = json.dumps({"version": 1, "model": "throughput", "features": {"x0": 10, "x1": 20}}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", data=body,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as res:
            out = json.loads(res.read())["outputs"]
        assert abs(out["mean_h1"] - 13.0) < 1e-9, out
        print("self-test ok:", out["mean_h1"])
        server.shutdown()
        return
    print(f"listening {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
