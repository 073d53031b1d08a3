import asyncio
import logging

from fastapi import APIRouter, Request, Response, status

from app.database import Database
from app.schemas import Health

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


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
        logger.warning("Health check failed: %r", error)
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        # The error's class tells an operator what failed without handing a
        # client the database's host names or messages.
        return Health(status="unavailable", database=type(error).__name__)
    return Health(status="ok", database="ok")
