"""Items, through the SQLAlchemy 2.0 async ORM.

Each function that writes commits its work before it returns; a failure rolls
it back, leaving nothing written.
"""

from collections.abc import Collection

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Item
from app.schemas import ItemCreate, ItemRead, ItemUpdate
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page


async def create_item(session: AsyncSession, data: ItemCreate) -> ItemRead:
    item = Item(**data.model_dump())
    session.add(item)
    try:
        # The foreign key decides whether the owner exists, even if the owner
        # is being deleted at this very moment.
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise OwnerNotFoundError(data.owner_id) from None
    return ItemRead.model_validate(item)


async def list_items(
    session: AsyncSession,
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
        conditions.append(Item.owner_id.in_(owner_ids))
    if title_contains:
        conditions.append(Item.title.icontains(title_contains, autoescape=True))
    # Item's columns rather than Item objects, as the ORM docs show for data
    # that is only read: the rows go straight into the response. The page and
    # its total come in one statement.
    query = (
        select(*Item.__table__.columns, func.count().over().label("total"))
        .where(*conditions)
        .order_by(Item.id)
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    if rows:
        total = rows[0].total
    else:  # past the last page, no row carries the total
        count = select(func.count()).select_from(Item).where(*conditions)
        total = await session.scalar(count) or 0
    return Page(
        items=[ItemRead.model_validate(row) for row in rows],
        total=total,
        offset=offset,
        limit=limit,
    )


async def get_item(session: AsyncSession, item_id: int) -> ItemRead | None:
    item = await session.get(Item, item_id)
    return None if item is None else ItemRead.model_validate(item)


async def update_item(
    session: AsyncSession, item_id: int, data: ItemUpdate
) -> ItemRead | None:
    item = await session.get(Item, item_id)
    if item is None:
        return None
    for field, value in data.changes().items():
        setattr(item, field, value)
    await session.commit()
    return ItemRead.model_validate(item)


async def delete_item(session: AsyncSession, item_id: int) -> bool:
    item = await session.get(Item, item_id)
    if item is None:
        return False
    await session.delete(item)
    await session.commit()
    return True
