"""Items, through SQLModel.

Each function that writes commits its work before it returns; a failure rolls
it back, leaving nothing written.
"""

from collections.abc import Collection

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Item
from app.schemas import ItemCreate, ItemRead, ItemUpdate
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page
from app.utils.timestamps import utcnow


async def create_item(session: AsyncSession, data: ItemCreate) -> ItemRead:
    now = utcnow()
    item = Item.model_validate(data, update={"created_at": now, "updated_at": now})
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
        conditions.append(col(Item.owner_id).in_(owner_ids))
    if title_contains:
        conditions.append(col(Item.title).icontains(title_contains, autoescape=True))
    # The page and its total in one statement: each row is an item and the
    # number of items that match.
    query = (
        select(Item, func.count().over())
        .where(*conditions)
        .order_by(col(Item.id))
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.exec(query)).all()
    if rows:
        total = rows[0][1]
    else:  # past the last page, no row carries the total
        count = select(func.count()).select_from(Item).where(*conditions)
        total = (await session.exec(count)).one()
    return Page(
        items=[ItemRead.model_validate(item) for item, _ in rows],
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
    item.sqlmodel_update(data.changes(), update={"updated_at": utcnow()})
    session.add(item)
    await session.commit()
    return ItemRead.model_validate(item)


async def delete_item(session: AsyncSession, item_id: int) -> bool:
    item = await session.get(Item, item_id)
    if item is None:
        return False
    await session.delete(item)
    await session.commit()
    return True
