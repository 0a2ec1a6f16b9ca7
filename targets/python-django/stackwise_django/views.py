"""views.py: the contract endpoints (docs/contract.md) as plain Django function views. /io goes
through one requests.Session per worker thread (a pooled, keep-alive urllib3 connection pool).
"""

import hashlib
import os
import re
import threading

import requests
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

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
        n = int_arg(request, "n", 100_000_000)
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
