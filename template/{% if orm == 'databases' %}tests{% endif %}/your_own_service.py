"""A service of your own, written the way the databases docs write one:
`await database.fetch_all(query)` and `await database.execute(query)` with
SQLAlchemy Core statements, in `async with database.transaction():` since its
writes belong together. tests/test_your_own_service.py serves it through a
route of its own."""

from databases import Database
from fastapi import APIRouter

from app.database import DatabaseDep
from app.models import items


async def complete_items(database: Database, owner_id: int) -> int:
    """Mark every open item of an owner completed; how many there were."""
    query = items.select().where(
        items.c.owner_id == owner_id, items.c.is_completed.is_(False)
    )
    async with database.transaction():
        rows = await database.fetch_all(query)
        for row in rows:
            done = (
                items.update().where(items.c.id == row["id"]).values(is_completed=True)
            )
            await database.execute(done)
    return len(rows)


router = APIRouter()


@router.post("/owners/{owner_id}/complete-items")
async def complete(owner_id: int, db: DatabaseDep) -> dict[str, int]:
    return {"completed": await complete_items(db, owner_id)}
