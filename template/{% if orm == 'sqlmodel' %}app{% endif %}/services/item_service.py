"""Items, through SQLModel.

Each function is one unit of work: it commits what it wrote before returning,
and a failure leaves nothing written.
"""

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, func, select, update
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
    owner_id: int | None = None,
    title_contains: str | None = None,
) -> Page[ItemRead]:
    query = select(Item)
    if owner_id is not None:
        query = query.where(Item.owner_id == owner_id)
    if title_contains:
        query = query.where(col(Item.title).icontains(title_contains, autoescape=True))
    total = (
        await session.exec(select(func.count()).select_from(query.subquery()))
    ).one()
    items = await session.exec(query.order_by(col(Item.id)).offset(offset).limit(limit))
    return Page(
        items=[ItemRead.model_validate(item) for item in items],
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
    # One UPDATE ... RETURNING rather than get() and sqlmodel_update(): an item
    # deleted in between is then simply not found.
    statement = (
        update(Item)
        .where(col(Item.id) == item_id)
        .values(**data.changes(), updated_at=utcnow())
        .returning(Item)
    )
    item = (await session.exec(statement)).scalar_one_or_none()
    await session.commit()
    return None if item is None else ItemRead.model_validate(item)


async def delete_item(session: AsyncSession, item_id: int) -> bool:
    statement = delete(Item).where(col(Item.id) == item_id).returning(col(Item.id))
    deleted = (await session.exec(statement)).scalar_one_or_none()
    await session.commit()
    return deleted is not None
