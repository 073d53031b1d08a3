import asyncio

from fastapi import APIRouter, Request, Response, status

from app.database import Database
from app.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    responses={
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": Health,
            "description": "The database cannot be reached",
        }
    },
)
async def health(request: Request, response: Response) -> Health:
    """Report whether the service can reach its database, with a round trip."""
    database: Database = request.app.state.database
    try:
        await asyncio.wait_for(database.ping(), timeout=database.timeout)
    except Exception as error:  # any failure means "unavailable", never a 500
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        reason = str(error) or type(error).__name__
        return Health(status="unavailable", database=reason)
    return Health(status="ok", database="ok")
