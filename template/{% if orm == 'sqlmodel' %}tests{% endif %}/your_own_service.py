"""A service of your own, written the way the SQLModel docs write one:
`session.exec(select())`, `sqlmodel_update()`, `session.add()`,
`await session.commit()`. tests/test_your_own_service.py serves it through a
route of its own."""

from fastapi import APIRouter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.database import DatabaseDep
from app.models import Item


async def complete_items(session: AsyncSession, owner_id: int) -> int:
    """Mark every open item of an owner completed; how many there were."""
    query = select(Item).where(
        Item.owner_id == owner_id, col(Item.is_completed).is_(False)
    )
    items = (await session.exec(query)).all()
    for item in items:
        item.sqlmodel_update({"is_completed": True})
        session.add(item)
    await session.commit()
    return len(items)


router = APIRouter()


@router.post("/owners/{owner_id}/complete-items")
async def complete(owner_id: int, db: DatabaseDep) -> dict[str, int]:
    return {"completed": await complete_items(db, owner_id)}
