"""app.py: the python-flask-gthread target, Flask on gunicorn (gthread workers), plain functions as Flask
users write them (contract: docs/contract.md). /io goes through one requests.Session per worker thread
(a pooled, keep-alive urllib3 connection pool). /ws is flask-sock (simple-websocket): each open
WebSocket holds a gunicorn thread for as long as it is open.
"""

import hashlib
import os
import re
import threading

import requests
from flask import Flask, Response, abort, jsonify, request
from flask_sock import Sock

UPSTREAM = os.environ.get("UPSTREAM_URL", "").rstrip("/")
_local = threading.local()

app = Flask(__name__)
sock = Sock(app)


@app.after_request
def server_header(response):
    # gunicorn sends its own Server header; this only covers other WSGI servers.
    response.headers.setdefault("Server", "flask")
    return response


def http() -> requests.Session:
    """This thread's requests.Session (created on first use)."""
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
    return s


def int_arg(key: str, limit: int) -> int:
    """The query parameter `key` as an integer from 0 to `limit`, or a 400 answer."""
    raw = request.args.get(key, "")
    if not re.fullmatch(r"[0-9]{1,10}", raw) or int(raw) > limit:
        abort(400, f"{key} must be an integer from 0 to {limit}")
    return int(raw)


def cpu_loop(n: int) -> int:
    """The contract's loop in Python itself: x = (x * 31 + i) mod 2^32 for i in 0..n-1."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


def sha256_chain(n: int) -> str:
    """n chained SHA-256 digests of a 1 KiB buffer through hashlib (OpenSSL), as lowercase hex."""
    if n == 0:
        return "0" * 64
    b = bytearray(i % 251 for i in range(1024))
    d = b""
    for _ in range(n):
        d = hashlib.sha256(b).digest()
        b[0:32] = d
    return d.hex()


@app.get("/plaintext")
def plaintext():
    return Response("Hello, World!", mimetype="text/plain")


@app.get("/json")
def json_():
    return jsonify(message="Hello, World!")


@app.get("/io")
def io():
    ms = int_arg("ms", 10000)
    if not UPSTREAM:
        abort(503, "UPSTREAM_URL is not set")
    try:
        r = http().get(f"{UPSTREAM}/delay", params={"ms": ms}, timeout=30)
    except requests.RequestException as e:
        abort(502, f"upstream: {e}")
    if r.status_code != 200:
        abort(502, f"upstream answered {r.status_code}")
    return jsonify(r.json())


@app.get("/cpu")
def cpu():
    n = int_arg("n", 100_000_000)
    return jsonify(n=n, result=cpu_loop(n))


@app.get("/hash")
def hash_():
    n = int_arg("n", 1_000_000)
    return jsonify(n=n, sha256=sha256_chain(n))


@sock.route("/ws")
def ws(socket):
    """Every text (str) or binary (bytes) message is sent back as it came, until the client closes."""
    try:
        while True:
            socket.send(socket.receive())
    finally:
        # simple-websocket 1.1 answers the client's Close on its reader thread, but wakes this one
        # (receive raises ConnectionClosed) before it sends the answer; returning at once lets
        # gunicorn close the socket first and the answer is lost (about half of the closes on the
        # sync worker). Waiting for the reader thread, which sends the answer and then closes the
        # socket, completes the close handshake.
        socket.thread.join(timeout=5)
