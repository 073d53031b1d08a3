"""Items, through encode/databases and SQLAlchemy Core.

Every write is one statement, so it is atomic on its own: it is committed when
the function returns, and a failure leaves nothing written.
"""

from databases.core import Connection
from sqlalchemy import ColumnElement, delete, func, insert, select, update

from app.database import IntegrityError, writing
from app.models import items
from app.schemas import ItemCreate, ItemRead, ItemUpdate
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page
from app.utils.timestamps import utcnow


async def create_item(session: Connection, data: ItemCreate) -> ItemRead:
    now = utcnow()
    statement = (
        insert(items)
        .values(**data.model_dump(), created_at=now, updated_at=now)
        .returning(items)
    )
    try:
        # The foreign key decides whether the owner exists, even if the owner
        # is being deleted at this very moment.
        async with writing(session):
            row = await session.fetch_one(statement)
    except IntegrityError:
        raise OwnerNotFoundError(data.owner_id) from None
    assert row is not None  # RETURNING gives the inserted row
    return ItemRead.model_validate(dict(row._mapping))


def _contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards escaped with "/".

    Not icontains(): it puts literal "%" signs in the SQL, and databases'
    SQLite backend fails on them (it %-formats the SQL for its log).
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


async def list_items(
    session: Connection,
    offset: int,
    limit: int,
    *,
    owner_id: int | None = None,
    title_contains: str | None = None,
) -> Page[ItemRead]:
    conditions: list[ColumnElement[bool]] = []
    if owner_id is not None:
        conditions.append(items.c.owner_id == owner_id)
    if title_contains:
        pattern = _contains_pattern(title_contains)
        conditions.append(items.c.title.ilike(pattern, escape="/"))
    # The page and the total in one statement, so one round trip and one snapshot.
    rows = await session.fetch_all(
        select(items, func.count().over().label("total"))
        .where(*conditions)
        .order_by(items.c.id)
        .offset(offset)
        .limit(limit)
    )
    if rows:
        total = rows[0]._mapping["total"]
    else:
        # Past the last page there is no row to carry the total.
        total = await session.fetch_val(
            select(func.count()).select_from(items).where(*conditions)
        )
    return Page(
        items=[ItemRead.model_validate(dict(row._mapping)) for row in rows],
        total=total,
        offset=offset,
        limit=limit,
    )


async def get_item(session: Connection, item_id: int) -> ItemRead | None:
    row = await session.fetch_one(select(items).where(items.c.id == item_id))
    return None if row is None else ItemRead.model_validate(dict(row._mapping))


async def update_item(
    session: Connection, item_id: int, data: ItemUpdate
) -> ItemRead | None:
    statement = (
        update(items)
        .where(items.c.id == item_id)
        .values(**data.changes(), updated_at=utcnow())
        .returning(items)
    )
    async with writing(session):
        row = await session.fetch_one(statement)
    return None if row is None else ItemRead.model_validate(dict(row._mapping))


async def delete_item(session: Connection, item_id: int) -> bool:
    async with writing(session):
        deleted = await session.fetch_val(
            delete(items).where(items.c.id == item_id).returning(items.c.id)
        )
    return deleted is not None
