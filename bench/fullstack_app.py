"""The peer: the pattern of fastapi/full-stack-fastapi-template, the template teams
pick today, on this benchmark's routes and tables.

A synchronous SQLModel `Session` per request from `create_engine()` over psycopg
(its `get_db` and `SessionDep`), plain `def` endpoints that FastAPI runs in its
thread pool, `session.get()` and `select()` for reads, a separate COUNT for the
total, `Item.model_validate(...)`, `add`, `commit` and `refresh` to create
(its `app/api/routes/items.py`). BENCH_JWT=1 requires a bearer token and loads
its user with `session.get()`, as its `get_current_user` does. Tables come from
create_all at start-up; they match the template's migrations.
"""

import os
from collections.abc import Generator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import DateTime
from sqlmodel import Field, Session, SQLModel, col, create_engine, func, select

DATABASE_URL = os.environ["DATABASE_URL"].replace("+asyncpg", "+psycopg")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
JWT = os.environ.get("BENCH_JWT") == "1"

engine = create_engine(DATABASE_URL)
reusable_oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def now() -> datetime:
    return datetime.now(UTC)


class UserBase(SQLModel):
    email: str = Field(unique=True, max_length=255)
    full_name: str = Field(max_length=255)


class UserCreate(UserBase):
    pass


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    is_active: bool = True
    created_at: datetime = Field(default_factory=now, sa_type=DateTime(timezone=True))


class UserPublic(UserBase):
    id: int
    is_active: bool
    created_at: datetime


class ItemBase(SQLModel):
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_completed: bool = False


class ItemCreate(ItemBase):
    owner_id: int | None = None


class Item(ItemBase, table=True):
    __tablename__ = "items"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=now, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=now, sa_type=DateTime(timezone=True))


class ItemPublic(ItemBase):
    id: int
    owner_id: int
    created_at: datetime
    updated_at: datetime


class ItemsPublic(SQLModel):
    items: list[ItemPublic]
    total: int
    offset: int
    limit: int


@asynccontextmanager
async def lifespan(app: FastAPI) -> Any:
    SQLModel.metadata.create_all(engine)
    yield
    engine.dispose()


app = FastAPI(lifespan=lifespan)


def get_db() -> Generator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
TokenDep = Annotated[str | None, Depends(reusable_oauth2)]


def get_current_user(session: SessionDep, token: TokenDep) -> User | None:
    if not JWT:
        return None
    try:
        payload = jwt.decode(token or "", SECRET_KEY, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=403, detail="Could not validate credentials")
    user = session.get(User, int(payload["sub"]))
    if not user:
        raise HTTPException(status_code=404, detail="User not found")
    if not user.is_active:
        raise HTTPException(status_code=400, detail="Inactive user")
    return user


CurrentUser = Annotated[User | None, Depends(get_current_user)]


@app.post("/api/v1/users", response_model=UserPublic, status_code=201)
def create_user(*, session: SessionDep, user_in: UserCreate) -> Any:
    user = User.model_validate(user_in, update={"email": user_in.email.lower()})
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


@app.post("/api/v1/items", response_model=ItemPublic, status_code=201)
def create_item(
    *, session: SessionDep, current_user: CurrentUser, item_in: ItemCreate
) -> Any:
    update = {} if current_user is None else {"owner_id": current_user.id}
    item = Item.model_validate(item_in, update=update)
    session.add(item)
    session.commit()
    session.refresh(item)
    return item


@app.get("/api/v1/items", response_model=ItemsPublic)
def read_items(
    session: SessionDep, current_user: CurrentUser, offset: int = 0, limit: int = 50
) -> Any:
    count_statement = select(func.count()).select_from(Item)
    statement = select(Item)
    if current_user is not None:
        count_statement = count_statement.where(Item.owner_id == current_user.id)
        statement = statement.where(Item.owner_id == current_user.id)
    count = session.exec(count_statement).one()
    items = session.exec(statement.order_by(col(Item.id)).offset(offset).limit(limit)).all()
    return ItemsPublic(
        items=[ItemPublic.model_validate(item) for item in items],
        total=count,
        offset=offset,
        limit=limit,
    )


@app.get("/api/v1/items/{id}", response_model=ItemPublic)
def read_item(session: SessionDep, current_user: CurrentUser, id: int) -> Any:
    item = session.get(Item, id)
    if not item:
        raise HTTPException(status_code=404, detail="Item not found")
    if current_user is not None and item.owner_id != current_user.id:
        raise HTTPException(status_code=403, detail="Not enough permissions")
    return item
