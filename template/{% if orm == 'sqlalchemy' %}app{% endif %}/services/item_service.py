"""Items, through the SQLAlchemy 2.0 async ORM.

Each function that writes is one unit of work (`writing()`): it commits what
it wrote before returning, and a failure leaves nothing written.
"""

from sqlalchemy import (
    ColumnElement,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import reading, writing
from app.models import Item, metadata
from app.schemas import ItemCreate, ItemRead, ItemUpdate
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page
from app.utils.timestamps import utcnow

# Reads select Item's columns rather than Item objects: the rows go straight
# into the response model, without the session's identity map and change
# tracking, which a read that returns at once has no use for.
ITEM_COLUMNS = tuple(Item.__table__.columns)
SELECT_ITEM = select(*ITEM_COLUMNS).where(Item.id == bindparam("item_id"))
# Built once: a statement made per request costs more than its round trip.
INSERT_ITEM = insert(metadata.tables["items"]).returning(*ITEM_COLUMNS)


async def create_item(session: AsyncSession, data: ItemCreate) -> ItemRead:
    now = utcnow()
    # One INSERT ... RETURNING rather than add() and a flush: the new row comes
    # back as a row, without building an Item for the session to track.
    values = {**data.model_dump(), "created_at": now, "updated_at": now}
    try:
        # The foreign key decides whether the owner exists, even if the owner
        # is being deleted at this very moment.
        async with writing(session):
            row = (await session.execute(INSERT_ITEM, values)).one()
    except IntegrityError:
        raise OwnerNotFoundError(data.owner_id) from None
    return ItemRead.model_validate(row)


async def list_items(
    session: AsyncSession,
    offset: int,
    limit: int,
    *,
    owner_id: int | None = None,
    title_contains: str | None = None,
) -> Page[ItemRead]:
    conditions: list[ColumnElement[bool]] = []
    if owner_id is not None:
        conditions.append(Item.owner_id == owner_id)
    if title_contains:
        conditions.append(Item.title.icontains(title_contains, autoescape=True))
    # The page and the total in one statement, so one round trip and one snapshot.
    query = (
        select(*ITEM_COLUMNS, func.count().over().label("total"))
        .where(*conditions)
        .order_by(Item.id)
        .offset(offset)
        .limit(limit)
    )
    async with reading(session) as connection:
        rows = (await connection.execute(query)).all()
        if rows:
            total = rows[0].total
        else:
            # Past the last page there is no row to carry the total.
            count = select(func.count()).select_from(Item).where(*conditions)
            total = await connection.scalar(count) or 0
    return Page(
        items=[ItemRead.model_validate(row) for row in rows],
        total=total,
        offset=offset,
        limit=limit,
    )


async def get_item(session: AsyncSession, item_id: int) -> ItemRead | None:
    async with reading(session) as connection:
        result = await connection.execute(SELECT_ITEM, {"item_id": item_id})
        row = result.one_or_none()
    return None if row is None else ItemRead.model_validate(row)


async def update_item(
    session: AsyncSession, item_id: int, data: ItemUpdate
) -> ItemRead | None:
    statement = (
        update(Item)
        .where(Item.id == item_id)
        .values(**data.changes(), updated_at=utcnow())
        .returning(Item)
    )
    async with writing(session):
        item = (await session.scalars(statement)).one_or_none()
    return None if item is None else ItemRead.model_validate(item)


async def delete_item(session: AsyncSession, item_id: int) -> bool:
    async with writing(session):
        deleted = await session.scalar(
            delete(Item).where(Item.id == item_id).returning(Item.id)
        )
    return deleted is not None
