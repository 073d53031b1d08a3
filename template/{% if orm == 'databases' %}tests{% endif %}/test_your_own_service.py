"""A service of your own, written the way the databases docs write one, works
here as it is: `await database.fetch_all(query)` and `await database.execute()`
with SQLAlchemy Core statements, in `async with database.transaction():` when
its writes belong together. The request cycle around it is app.database's."""

from databases import Database
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient

from app.core.config import Settings
from app.database import DatabaseDep
from app.main import create_app
from app.models import items
from tests.helpers import ITEMS, create_item, create_user
from tests.schema import delete_all_rows


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


async def test_a_service_from_the_docs_reads_writes_and_commits(
    settings: Settings, migrated: None
) -> None:
    await delete_all_rows(settings.database_url)
    app = create_app(settings)
    app.include_router(router)
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        owner = await create_user(client)
        created = [await create_item(client, owner["id"]) for _ in range(3)]
        await client.patch(f"{ITEMS}/{created[0]['id']}", json={"is_completed": True})

        response = await client.post(f"/owners/{owner['id']}/complete-items")

        assert response.json() == {"completed": 2}
        items_now = (await client.get(ITEMS)).json()["items"]
        assert [item["is_completed"] for item in items_now] == [True, True, True]
