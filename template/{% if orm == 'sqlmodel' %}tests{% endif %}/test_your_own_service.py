"""A service of your own, written the way the SQLModel docs write one, works
here as it is: `session.exec(select())`, `sqlmodel_update()`, `session.add()`
and `await session.commit()`. The request cycle around it is app.database's."""

from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.database import DatabaseDep
from app.main import create_app
from app.models import Item
from tests.helpers import ITEMS, create_item, create_user
from tests.schema import delete_all_rows


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
        checkouts: list[object] = []
        engine = app.state.database.engine.sync_engine
        event.listen(engine, "checkout", lambda *_: checkouts.append(1))

        response = await client.post(f"/owners/{owner['id']}/complete-items")

        assert response.json() == {"completed": 2}
        # The reads and the write of the request shared one pooled connection.
        assert len(checkouts) == 1
        items = (await client.get(ITEMS)).json()["items"]
        assert [item["is_completed"] for item in items] == [True, True, True]
