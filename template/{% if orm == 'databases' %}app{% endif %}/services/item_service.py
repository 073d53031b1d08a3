"""Items, through encode/databases and SQLAlchemy Core.

Every write is one statement, so it is atomic on its own: it is committed when
the function returns, and a failure leaves nothing written.
"""

from collections.abc import Collection

from databases import Database
from sqlalchemy import ColumnElement, func, select

from app.database import IntegrityError
from app.models import items
from app.schemas import ItemCreate, ItemRead, ItemUpdate
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page
from app.utils.timestamps import utcnow


async def create_item(database: Database, data: ItemCreate) -> ItemRead:
    now = utcnow()
    query = (
        items.insert()
        .values(**data.model_dump(), created_at=now, updated_at=now)
        .returning(*items.c)
    )
    try:
        # The foreign key decides whether the owner exists, even if the owner
        # is being deleted at this very moment.
        row = await database.fetch_one(query)
    except IntegrityError:
        raise OwnerNotFoundError(data.owner_id) from None
    assert row is not None  # RETURNING gives the inserted row
    return ItemRead.model_validate(dict(row._mapping))


def _contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards escaped with "/".

    Not icontains(): it puts literal "%" signs in the SQL, and databases
    %-formats the SQL of some backends for its log, and fails on them.
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


async def list_items(
    database: Database,
    offset: int,
    limit: int,
    *,
    owner_ids: Collection[int] | None = None,
    title_contains: str | None = None,
) -> Page[ItemRead]:
    """A page of items in id order; `owner_ids`, when given, limits them to
    those owners' items (none at all, for an empty collection)."""
    conditions: list[ColumnElement[bool]] = []
    if owner_ids is not None:
        conditions.append(items.c.owner_id.in_(owner_ids))
    if title_contains:
        pattern = _contains_pattern(title_contains)
        conditions.append(items.c.title.ilike(pattern, escape="/"))
    # The page and its total in one statement: one round trip, one snapshot.
    query = (
        select(items, func.count().over().label("total"))
        .where(*conditions)
        .order_by(items.c.id)
        .offset(offset)
        .limit(limit)
    )
    rows = await database.fetch_all(query)
    if rows:
        total = rows[0]["total"]
    else:  # past the last page, no row carries the total
        count = select(func.count()).select_from(items).where(*conditions)
        total = await database.fetch_val(count)
    return Page(
        items=[ItemRead.model_validate(dict(row._mapping)) for row in rows],
        total=total,
        offset=offset,
        limit=limit,
    )


async def get_item(database: Database, item_id: int) -> ItemRead | None:
    row = await database.fetch_one(items.select().where(items.c.id == item_id))
    return None if row is None else ItemRead.model_validate(dict(row._mapping))


async def update_item(
    database: Database, item_id: int, data: ItemUpdate
) -> ItemRead | None:
    query = (
        items.update()
        .where(items.c.id == item_id)
        .values(**data.changes(), updated_at=utcnow())
        .returning(*items.c)
    )
    row = await database.fetch_one(query)
    return None if row is None else ItemRead.model_validate(dict(row._mapping))


async def delete_item(database: Database, item_id: int) -> bool:
    query = items.delete().where(items.c.id == item_id).returning(items.c.id)
    return await database.fetch_val(query) is not None
