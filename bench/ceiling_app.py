"""The ceiling: FastAPI and raw asyncpg, hand-written for the benchmarked routes.

Same routes, status codes and JSON as a rendered variant, response models through
FastAPI's return-type serialisation like theirs, one asyncpg pool of the same size.
BENCH_JWT=1 requires a bearer token and looks its user up, as the JWT variants do.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

import asyncpg
import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
JWT = os.environ.get("BENCH_JWT") == "1"
POOL_SIZE = 10  # the variants' default DATABASE_POOL_SIZE
MAX_ID = 2**31 - 1

T = TypeVar("T")


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_completed: bool = False
    owner_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class UserCreate(BaseModel):
    email: str
    full_name: str


class ItemRead(BaseModel):
    id: int
    title: str
    description: str | None
    is_completed: bool
    owner_id: int
    created_at: datetime
    updated_at: datetime


class UserRead(BaseModel):
    id: int
    email: str
    full_name: str
    is_active: bool
    created_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


ITEM_COLUMNS = "id, title, description, is_completed, owner_id, created_at, updated_at"
GET_ITEM = f"SELECT {ITEM_COLUMNS} FROM items WHERE id = $1"
GET_USER = "SELECT id, is_active FROM users WHERE id = $1"
# The page and the total in one round trip; an offset past the end needs a count.
LIST_ITEMS = (
    f"SELECT {ITEM_COLUMNS}, count(*) OVER () AS total FROM items"
    " WHERE ($1::int IS NULL OR owner_id = $1) ORDER BY id OFFSET $2 LIMIT $3"
)
COUNT_ITEMS = "SELECT count(*) FROM items WHERE ($1::int IS NULL OR owner_id = $1)"
INSERT_ITEM = (
    "INSERT INTO items (title, description, is_completed, owner_id, created_at,"
    f" updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {ITEM_COLUMNS}"
)
INSERT_USER = (
    "INSERT INTO users (email, full_name, is_active, created_at)"
    " VALUES ($1, $2, true, $3) RETURNING id, email, full_name, is_active, created_at"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with asyncpg.create_pool(
        DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE
    ) as pool:
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


Connection = Annotated[asyncpg.Connection, Depends(connection, scope="function")]


async def current_user_id(
    conn: Connection, authorization: Annotated[str | None, Header()] = None
) -> int | None:
    if not JWT:
        return None
    unauthorized = HTTPException(401, "Could not validate credentials")
    if authorization is None or not authorization.startswith("Bearer "):
        raise unauthorized
    try:
        claims = jwt.decode(
            authorization[7:], SECRET_KEY, algorithms=["HS256"],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.InvalidTokenError:
        raise unauthorized from None
    user = await conn.fetchrow(GET_USER, int(claims["sub"]))
    if user is None or not user["is_active"]:
        raise unauthorized
    return int(user["id"])


CurrentUserId = Annotated[int | None, Depends(current_user_id)]


@app.post("/api/v1/users", status_code=201)
async def create_user(data: UserCreate, conn: Connection) -> UserRead:
    row = await conn.fetchrow(
        INSERT_USER, data.email.lower(), data.full_name, datetime.now(UTC)
    )
    return UserRead(**row)


@app.post("/api/v1/items", status_code=201)
async def create_item(data: ItemCreate, conn: Connection, user_id: CurrentUserId) -> ItemRead:
    owner_id = user_id if JWT else data.owner_id
    row = await conn.fetchrow(
        INSERT_ITEM, data.title, data.description, data.is_completed, owner_id,
        datetime.now(UTC),
    )
    return ItemRead(**row)


@app.get("/api/v1/items")
async def list_items(
    conn: Connection,
    user_id: CurrentUserId,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Page[ItemRead]:
    rows = await conn.fetch(LIST_ITEMS, user_id, offset, limit)
    if rows:
        total = rows[0]["total"]
    else:
        total = await conn.fetchval(COUNT_ITEMS, user_id)
    items = [ItemRead(**{k: v for k, v in row.items() if k != "total"}) for row in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)


@app.get("/api/v1/items/{item_id}")
async def read_item(
    item_id: Annotated[int, Path(ge=1, le=MAX_ID)], conn: Connection,
    user_id: CurrentUserId,
) -> ItemRead:
    row = await conn.fetchrow(GET_ITEM, item_id)
    if row is None or (JWT and row["owner_id"] != user_id):
        raise HTTPException(404, "Item not found")
    return ItemRead(**row)
