"""Items, through the SQLAlchemy 2.0 async ORM.

Each function is one unit of work: it commits what it wrote before returning,
and a failure leaves nothing written.
"""

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Item
from app.schemas import ItemCreate, ItemRead, ItemUpdate
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page
from app.utils.timestamps import utcnow


async def create_item(session: AsyncSession, data: ItemCreate) -> ItemRead:
    now = utcnow()
    item = Item(**data.model_dump(), created_at=now, updated_at=now)
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
    owner_id: int | None = None,
    title_contains: str | None = None,
) -> Page[ItemRead]:
    query = select(Item)
    if owner_id is not None:
        query = query.where(Item.owner_id == owner_id)
    if title_contains:
        query = query.where(Item.title.icontains(title_contains, autoescape=True))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    items = await session.scalars(query.order_by(Item.id).offset(offset).limit(limit))
    return Page(
        items=[ItemRead.model_validate(item) for item in items],
        total=total or 0,
        offset=offset,
        limit=limit,
    )


async def get_item(session: AsyncSession, item_id: int) -> ItemRead | None:
    item = await session.get(Item, item_id)
    return None if item is None else ItemRead.model_validate(item)


async def update_item(
    session: AsyncSession, item_id: int, data: ItemUpdate
) -> ItemRead | None:
    statement = (
        update(Item)
        .where(Item.id == item_id)
        .values(**data.changes(), updated_at=utcnow())
        .returning(Item)
    )
    item = (await session.scalars(statement)).one_or_none()
    await session.commit()
    return None if item is None else ItemRead.model_validate(item)


async def delete_item(session: AsyncSession, item_id: int) -> bool:
    deleted = await session.scalar(
        delete(Item).where(Item.id == item_id).returning(Item.id)
    )
    await session.commit()
    return deleted is not None
