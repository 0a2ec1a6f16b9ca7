"""app.py: the python-fastapi target, FastAPI on uvicorn (uvloop + httptools), every endpoint an
`async def` as FastAPI users write them (contract: docs/contract.md).

/io goes through one aiohttp ClientSession per worker process, opened and closed by the app's lifespan.
/cpu and /hash run on the event loop, as an `async def` endpoint does: that blocking is what the lab
measures. /ws is FastAPI's WebSocket route, served by uvicorn's websockets (sans-I/O) implementation in
the same worker processes.

The database endpoints (/db, /queries, /fortunes, /updates, /items) use SQLAlchemy 2's asyncio ORM on
asyncpg: one AsyncEngine per worker process (created by the lifespan), its pool capped at DB_POOL
connections (pool_size=DB_POOL, no overflow), one AsyncSession per request. /fortunes renders a Jinja2
template (templates/fortunes.html, auto-escaped) through FastAPI's Jinja2Templates. Without
DATABASE_URL they answer 503 and everything else still serves. /vector is NumPy, vectorised.
"""

import hashlib
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import aiohttp
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UPSTREAM = os.environ.get("UPSTREAM_URL", "").rstrip("/")
session: aiohttp.ClientSession | None = None


def database_url() -> str | None:
    """DATABASE_URL for SQLAlchemy's asyncpg dialect (postgresql+asyncpg://...), or None if unset."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"error: DATABASE_URL='{url}' is not a postgresql:// URL")
    return f"postgresql+asyncpg://{rest}"


def db_pool_size() -> int:
    """DB_POOL: the most database connections this worker process opens (default 4 when unset)."""
    raw = os.environ.get("DB_POOL", "")
    if not raw:
        return 4
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"error: DB_POOL='{raw}' is not a positive integer")
    return int(raw)


DATABASE_URL = database_url()
DB_POOL = db_pool_size()
Sessions: async_sessionmaker[AsyncSession] | None = None
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class Base(DeclarativeBase):
    pass


class World(Base):
    __tablename__ = "world"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    randomnumber: Mapped[int] = mapped_column(Integer)


class Fortune(Base):
    __tablename__ = "fortune"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(Integer)


@asynccontextmanager
async def lifespan(_app: FastAPI):
    global session, Sessions
    # limit=0: no cap on pooled connections (aiohttp's default is 100), like undici's default agent.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    engine = None
    if DATABASE_URL:
        # At most DB_POOL connections per worker process, opened on demand and kept.
        engine = create_async_engine(DATABASE_URL, pool_size=DB_POOL, max_overflow=0)
        # expire_on_commit=False: a committed object's attributes stay readable without a reload
        # (SQLAlchemy's advice for asyncio).
        Sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await session.close()
    if engine is not None:
        await engine.dispose()


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
async def cpu(n: int = Query(ge=0, le=1_000_000_000)):
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


async def db() -> AsyncIterator[AsyncSession]:
    """One AsyncSession per request (FastAPI dependency), or 503 without a database."""
    if Sessions is None:
        raise HTTPException(503, "DATABASE_URL is not set")
    async with Sessions() as s:
        yield s


DB = Annotated[AsyncSession, Depends(db)]
MAX_BIGINT = 2**63 - 1


def query_count(q: str | None) -> int:
    """The TechEmpower rule: missing, not an integer or < 1 → 1; > 500 → 500."""
    try:
        n = int(q)
    except (TypeError, ValueError):
        return 1
    return min(max(n, 1), 500)


def new_random_number(old: int) -> int:
    """A random number 1..=10000 other than `old` (uniform), so that every row read is really written."""
    n = random.randint(1, 9999)
    return n if n < old else n + 1


def world_json(w: World) -> dict:
    return {"id": w.id, "randomNumber": w.randomnumber}


async def random_world(s: AsyncSession) -> World:
    # A SELECT per call: Session.get would answer a repeated id from the identity map without a query.
    return (await s.execute(select(World).where(World.id == random.randint(1, 10000)))).scalar_one()


@app.get("/db")
async def single_query(s: DB):
    return world_json(await random_world(s))


@app.get("/queries")
async def queries(s: DB, q: str | None = None):
    return [world_json(await random_world(s)) for _ in range(query_count(q))]


@app.get("/updates")
async def updates(s: DB, q: str | None = None):
    worlds = [await random_world(s) for _ in range(query_count(q))]
    for w in worlds:
        w.randomnumber = new_random_number(w.randomnumber)
    # The unit of work writes each changed row once (a repeated id is one object), in primary-key order.
    await s.commit()
    return [world_json(w) for w in worlds]


@app.get("/fortunes")
async def fortunes(request: Request, s: DB):
    rows = list((await s.execute(select(Fortune))).scalars())
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=lambda f: f.message)
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})


class ItemIn(BaseModel):
    """The body of POST and PUT /items; strict: no "12" for 12, no 1.0 for 1 (invalid → 422)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    name: str = Field(max_length=200)
    price_cents: int = Field(ge=0, le=2**31 - 1)


def item_json(i: Item) -> dict:
    return {"id": i.id, "name": i.name, "price_cents": i.price_cents}


async def item_or_404(s: AsyncSession, item_id: int) -> Item:
    item = await s.get(Item, item_id) if 0 <= item_id <= MAX_BIGINT else None
    if item is None:
        raise HTTPException(404, f"no item {item_id}")
    return item


@app.get("/items")
async def list_items(s: DB, limit: str | None = None):
    try:
        n = min(max(int(limit), 1), 100)
    except (TypeError, ValueError):
        n = 10
    return [item_json(i) for i in (await s.execute(select(Item).order_by(Item.id).limit(n))).scalars()]


@app.post("/items", status_code=201)
async def create_item(body: ItemIn, s: DB):
    item = Item(name=body.name, price_cents=body.price_cents)
    s.add(item)
    await s.commit()
    return item_json(item)


@app.get("/items/{item_id}")
async def read_item(item_id: int, s: DB):
    return item_json(await item_or_404(s, item_id))


@app.put("/items/{item_id}")
async def update_item(item_id: int, body: ItemIn, s: DB):
    item = await item_or_404(s, item_id)
    item.name, item.price_cents = body.name, body.price_cents
    await s.commit()
    return item_json(item)


@app.delete("/items/{item_id}", status_code=204)
async def delete_item(item_id: int, s: DB):
    await s.delete(await item_or_404(s, item_id))
    await s.commit()
    return Response(status_code=204)


@app.get("/vector")
async def vector(n: int = Query(ge=0, le=10_000_000)):
    """The sum of squares of x_i = (i mod 1000) / 1000 for i in 0..n, vectorised by NumPy."""
    # NumPy is imported on first use, not at start: the cold start and idle memory of every
    # other workload stay those of the app without it (the first /vector request pays the import).
    import numpy as np

    x = (np.arange(n) % 1000) / 1000.0
    return {"n": n, "result": float(np.dot(x, x))}
