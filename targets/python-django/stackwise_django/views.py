"""views.py: the contract endpoints (docs/contract.md) as plain Django function views. /io goes
through one requests.Session per worker thread (a pooled, keep-alive urllib3 connection pool). The
database views use the ORM (models.py) on the pooled psycopg 3 connection (settings.py): one query per
World row read (no caching, no IN), /updates writes with one bulk_update, /fortunes renders a Django
template. /vector is NumPy, vectorised.
"""

import hashlib
import json
import os
import random
import re
import threading

import requests
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from .models import Fortune, Item, World

UPSTREAM = os.environ.get("UPSTREAM_URL", "").rstrip("/")
_local = threading.local()


class BadParam(Exception):
    pass


def http() -> requests.Session:
    """This thread's requests.Session (created on first use)."""
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
    return s


def int_arg(request, key: str, limit: int) -> int:
    raw = request.GET.get(key, "")
    if not re.fullmatch(r"[0-9]{1,10}", raw) or int(raw) > limit:
        raise BadParam(f"{key} must be an integer from 0 to {limit}")
    return int(raw)


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


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


@require_GET
def plaintext(request):
    return HttpResponse("Hello, World!", content_type="text/plain")


@require_GET
def json_(request):
    return JsonResponse({"message": "Hello, World!"})


@require_GET
def io(request):
    try:
        ms = int_arg(request, "ms", 10000)
    except BadParam as e:
        return error(400, str(e))
    if not UPSTREAM:
        return error(503, "UPSTREAM_URL is not set")
    try:
        r = http().get(f"{UPSTREAM}/delay", params={"ms": ms}, timeout=30)
    except requests.RequestException as e:
        return error(502, f"upstream: {e}")
    if r.status_code != 200:
        return error(502, f"upstream answered {r.status_code}")
    return JsonResponse(r.json())


@require_GET
def cpu(request):
    try:
        n = int_arg(request, "n", 1_000_000_000)
    except BadParam as e:
        return error(400, str(e))
    return JsonResponse({"n": n, "result": cpu_loop(n)})


@require_GET
def hash_(request):
    try:
        n = int_arg(request, "n", 1_000_000)
    except BadParam as e:
        return error(400, str(e))
    return JsonResponse({"n": n, "sha256": sha256_chain(n)})


@require_GET
def vector(request):
    """The sum of squares of x_i = (i mod 1000) / 1000 for i in 0..n, vectorised by NumPy."""
    try:
        n = int_arg(request, "n", 10_000_000)
    except BadParam as e:
        return error(400, str(e))
    # NumPy is imported on first use, not at start: the cold start and idle memory of every
    # other workload stay those of the app without it (the first /vector request pays the import).
    import numpy as np

    x = (np.arange(n) % 1000) / 1000.0
    return JsonResponse({"n": n, "result": float(np.dot(x, x))})


MAX_BIGINT = 2**63 - 1


def needs_db(view):
    """503 when the run has no database (no DATABASE_URL)."""

    def wrapped(request, *args, **kwargs):
        if not settings.STACKWISE_HAS_DATABASE:
            return error(503, "DATABASE_URL is not set")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    return wrapped


def query_count(request) -> int:
    """The TechEmpower rule for q: missing, not an integer or < 1 → 1; > 500 → 500."""
    try:
        n = int(request.GET.get("q", ""))
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
    return World.objects.get(id=random.randint(1, 10000))


@require_GET
@needs_db
def single_query(request):
    return JsonResponse(world_json(random_world()))


@require_GET
@needs_db
def queries(request):
    return JsonResponse([world_json(random_world()) for _ in range(query_count(request))], safe=False)


@require_GET
@needs_db
def updates(request):
    rows: dict[int, World] = {}
    # One query per row read; a repeated id shares one object, so the answer shows what is stored.
    worlds = [rows.setdefault(w.id, w) for w in (random_world() for _ in range(query_count(request)))]
    for w in worlds:
        w.randomnumber = new_random_number(w.randomnumber)
    # One batched UPDATE (CASE WHEN id = ...) for all rows, in id order.
    World.objects.bulk_update(sorted(rows.values(), key=lambda w: w.id), ["randomnumber"])
    return JsonResponse([world_json(w) for w in worlds], safe=False)


@require_GET
@needs_db
def fortunes(request):
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=lambda f: f.message)
    return render(request, "fortunes.html", {"fortunes": rows})


def item_json(i: Item) -> dict:
    return {"id": i.id, "name": i.name, "price_cents": i.price_cents}


def item_body(request) -> tuple[str, int]:
    """The JSON body of POST and PUT /items, validated (BadParam names what is wrong)."""
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise BadParam('the body must be a JSON object {"name": string, "price_cents": integer}')
    name, price = body.get("name"), body.get("price_cents")
    if not isinstance(name, str) or len(name) > 200:
        raise BadParam("name must be a string of at most 200 characters")
    if type(price) is not int or not 0 <= price <= 2**31 - 1:
        raise BadParam("price_cents must be an integer from 0 to 2147483647")
    return name, price


@require_http_methods(["GET", "POST"])
@needs_db
def items(request):
    if request.method == "POST":
        try:
            name, price = item_body(request)
        except BadParam as e:
            return error(400, str(e))
        return JsonResponse(item_json(Item.objects.create(name=name, price_cents=price)), status=201)
    try:
        n = min(max(int(request.GET.get("limit", "")), 1), 100)
    except ValueError:
        n = 10
    return JsonResponse([item_json(i) for i in Item.objects.order_by("id")[:n]], safe=False)


@require_http_methods(["GET", "PUT", "DELETE"])
@needs_db
def item(request, item_id: int):
    if request.method == "PUT":
        try:
            name, price = item_body(request)
        except BadParam as e:
            return error(400, str(e))
    if item_id > MAX_BIGINT:
        return error(404, f"no item {item_id}")
    if request.method == "DELETE":
        deleted, _ = Item.objects.filter(id=item_id).delete()
        return HttpResponse(status=204) if deleted else error(404, f"no item {item_id}")
    try:
        it = Item.objects.get(id=item_id)
    except Item.DoesNotExist:
        return error(404, f"no item {item_id}")
    if request.method == "PUT":
        it.name, it.price_cents = name, price
        it.save(update_fields=["name", "price_cents"])
    return JsonResponse(item_json(it))
