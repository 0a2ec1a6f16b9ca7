"""app.py: the python-fastapi target, FastAPI on uvicorn (uvloop + httptools), every endpoint an
`async def` as FastAPI users write them (contract: docs/contract.md).

/io goes through one aiohttp ClientSession per worker process, opened and closed by the app's lifespan.
/cpu and /hash run on the event loop, as an `async def` endpoint does: that blocking is what the lab
measures. /ws is FastAPI's WebSocket route, served by uvicorn's websockets (sans-I/O) implementation in
the same worker processes.
"""

import hashlib
import os
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI, HTTPException, Query, WebSocket
from fastapi.responses import PlainTextResponse

UPSTREAM = os.environ.get("UPSTREAM_URL", "").rstrip("/")
session: aiohttp.ClientSession | None = None


@asynccontextmanager
async def lifespan(_app: FastAPI):
    global session
    # limit=0: no cap on pooled connections (aiohttp's default is 100), like undici's default agent.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    yield
    await session.close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


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


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return "Hello, World!"


@app.get("/json")
async def json_():
    return {"message": "Hello, World!"}


@app.get("/io")
async def io(ms: int = Query(ge=0, le=10000)):
    if not UPSTREAM:
        raise HTTPException(503, "UPSTREAM_URL is not set")
    try:
        async with session.get(f"{UPSTREAM}/delay", params={"ms": ms}) as r:
            if r.status != 200:
                raise HTTPException(502, f"upstream answered {r.status}")
            return await r.json()
    except aiohttp.ClientError as e:
        raise HTTPException(502, f"upstream: {e}") from e


@app.get("/cpu")
async def cpu(n: int = Query(ge=0, le=100_000_000)):
    return {"n": n, "result": cpu_loop(n)}


@app.get("/hash")
async def hash_(n: int = Query(ge=0, le=1_000_000)):
    return {"n": n, "sha256": sha256_chain(n)}


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    """Every text or binary message is sent back as it came, until the client closes."""
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"])
        elif message.get("bytes") is not None:
            await websocket.send_bytes(message["bytes"])
