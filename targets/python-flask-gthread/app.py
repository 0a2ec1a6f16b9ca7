"""app.py: the python-flask-gthread target, Flask on gunicorn (gthread workers), plain functions as Flask
users write them (contract: docs/contract.md). /io goes through one requests.Session per worker thread
(a pooled, keep-alive urllib3 connection pool). /ws is flask-sock (simple-websocket): each open
WebSocket holds a gunicorn thread for as long as it is open.

The database endpoints (/db, /queries, /fortunes, /updates, /items) use Flask-SQLAlchemy (SQLAlchemy 2
ORM) on psycopg 3: one engine per worker process, its pool capped at DB_POOL connections
(pool_size=DB_POOL, no overflow), the request's scoped session removed at teardown. /fortunes renders
templates/fortunes.html with Flask's Jinja2 (auto-escaped). Without DATABASE_URL they answer 503 and
everything else still serves. /vector is NumPy, vectorised.
"""

import hashlib
import os
import random
import re
import threading

import requests
from flask import Flask, Response, abort, jsonify, render_template, request
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

UPSTREAM = os.environ.get("UPSTREAM_URL", "").rstrip("/")
_local = threading.local()


def database_url() -> str | None:
    """DATABASE_URL for SQLAlchemy's psycopg (3) dialect (postgresql+psycopg://...), or None if unset."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"error: DATABASE_URL='{url}' is not a postgresql:// URL")
    return f"postgresql+psycopg://{rest}"


def db_pool_size() -> int:
    """DB_POOL: the most database connections this worker process opens (default 4 when unset)."""
    raw = os.environ.get("DB_POOL", "")
    if not raw:
        return 4
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"error: DB_POOL='{raw}' is not a positive integer")
    return int(raw)


DATABASE_URL = database_url()
app = Flask(__name__)
sock = Sock(app)
# expire_on_commit=False: committed objects stay readable without a reload (a SELECT per row), so
# /updates and POST/PUT /items answer from what they wrote.
db = SQLAlchemy(session_options={"expire_on_commit": False})
if DATABASE_URL:
    app.config["SQLALCHEMY_DATABASE_URI"] = DATABASE_URL
    # At most DB_POOL connections per worker process, opened on demand and kept.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": db_pool_size(), "max_overflow": 0}
    db.init_app(app)


class World(db.Model):
    __tablename__ = "world"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    randomnumber: Mapped[int] = mapped_column(Integer)


class Fortune(db.Model):
    __tablename__ = "fortune"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


class Item(db.Model):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(Integer)


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
    n = int_arg("n", 1_000_000_000)
    return jsonify(n=n, result=cpu_loop(n))


@app.get("/hash")
def hash_():
    n = int_arg("n", 1_000_000)
    return jsonify(n=n, sha256=sha256_chain(n))


@app.get("/vector")
def vector():
    """The sum of squares of x_i = (i mod 1000) / 1000 for i in 0..n, vectorised by NumPy."""
    n = int_arg("n", 10_000_000)
    # NumPy is imported on first use, not at start: the cold start and idle memory of every
    # other workload stay those of the app without it (the first /vector request pays the import).
    import numpy as np

    x = (np.arange(n) % 1000) / 1000.0
    return jsonify(n=n, result=float(np.dot(x, x)))


MAX_BIGINT = 2**63 - 1


def need_db() -> None:
    if not DATABASE_URL:
        abort(503, "DATABASE_URL is not set")


def query_count() -> int:
    """The TechEmpower rule for q: missing, not an integer or < 1 → 1; > 500 → 500."""
    try:
        n = int(request.args.get("q", ""))
    except ValueError:
        return 1
    return min(max(n, 1), 500)


def new_random_number(old: int) -> int:
    """A random number 1..=10000 other than `old` (uniform), so that every row read is really written."""
    n = random.randint(1, 9999)
    return n if n < old else n + 1


def world_json(w: World) -> dict:
    return {"id": w.id, "randomNumber": w.randomnumber}


def random_world() -> World:
    # A SELECT per call: Session.get would answer a repeated id from the identity map without a query.
    return db.session.execute(db.select(World).filter_by(id=random.randint(1, 10000))).scalar_one()


@app.get("/db")
def single_query():
    need_db()
    return jsonify(world_json(random_world()))


@app.get("/queries")
def queries():
    need_db()
    return jsonify([world_json(random_world()) for _ in range(query_count())])


@app.get("/updates")
def updates():
    need_db()
    worlds = [random_world() for _ in range(query_count())]
    for w in worlds:
        w.randomnumber = new_random_number(w.randomnumber)
    # The unit of work writes each changed row once (a repeated id is one object), in primary-key order.
    db.session.commit()
    return jsonify([world_json(w) for w in worlds])


@app.get("/fortunes")
def fortunes():
    need_db()
    rows = list(db.session.execute(db.select(Fortune)).scalars())
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=lambda f: f.message)
    return render_template("fortunes.html", fortunes=rows)


def item_json(i: Item) -> dict:
    return {"id": i.id, "name": i.name, "price_cents": i.price_cents}


def item_or_404(item_id: int) -> Item:
    if item_id > MAX_BIGINT:
        abort(404, f"no item {item_id}")
    return db.get_or_404(Item, item_id, description=f"no item {item_id}")


def item_body() -> tuple[str, int]:
    """The JSON body of POST and PUT /items, validated: a 400 answer names what is wrong."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object {\"name\": string, \"price_cents\": integer}")
    name, price = body.get("name"), body.get("price_cents")
    if not isinstance(name, str) or len(name) > 200:
        abort(400, "name must be a string of at most 200 characters")
    if type(price) is not int or not 0 <= price <= 2**31 - 1:
        abort(400, "price_cents must be an integer from 0 to 2147483647")
    return name, price


@app.get("/items")
def list_items():
    need_db()
    try:
        n = min(max(int(request.args.get("limit", "")), 1), 100)
    except ValueError:
        n = 10
    return jsonify([item_json(i) for i in db.session.execute(db.select(Item).order_by(Item.id).limit(n)).scalars()])


@app.post("/items")
def create_item():
    need_db()
    name, price = item_body()
    item = Item(name=name, price_cents=price)
    db.session.add(item)
    db.session.commit()
    return jsonify(item_json(item)), 201


@app.get("/items/<int:item_id>")
def read_item(item_id: int):
    need_db()
    return jsonify(item_json(item_or_404(item_id)))


@app.put("/items/<int:item_id>")
def update_item(item_id: int):
    need_db()
    name, price = item_body()
    item = item_or_404(item_id)
    item.name, item.price_cents = name, price
    db.session.commit()
    return jsonify(item_json(item))


@app.delete("/items/<int:item_id>")
def delete_item(item_id: int):
    need_db()
    db.session.delete(item_or_404(item_id))
    db.session.commit()
    return "", 204


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
