"""A service of your own, written straight from the docs of this project's
data library (tests/your_own_service.py), works here as it is: the request
cycle around it (the session, its connection, the commit before the response)
is app/database.py's, and asks nothing of the service."""

from httpx import ASGITransport, AsyncClient

from app.core.config import Settings
from app.main import create_app
from tests.helpers import ITEMS, create_item, create_user
from tests.schema import delete_all_rows
from tests.your_own_service import router


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
        items = (await client.get(ITEMS)).json()["items"]
        assert [item["is_completed"] for item in items] == [True, True, True]
