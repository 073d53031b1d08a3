from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError

from app.database import SessionDep
from app.schemas import MAX_ID, ItemCreate, ItemRead, ItemUpdate, Message
from app.services import item_service
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page, PageParamsDep

router = APIRouter(prefix="/items", tags=["items"])

ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]

NOT_FOUND = {"model": Message, "description": "No item with this id"}


def item_not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "Item not found")


def owner_not_found(error: OwnerNotFoundError) -> RequestValidationError:
    # The same 422 shape FastAPI gives any other invalid field.
    return RequestValidationError(
        [
            {
                "type": "owner_not_found",
                "loc": ("body", "owner_id"),
                "msg": str(error),
                "input": error.owner_id,
            }
        ]
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(data: ItemCreate, session: SessionDep) -> ItemRead:
    try:
        return await item_service.create_item(session, data)
    except OwnerNotFoundError as error:
        raise owner_not_found(error) from None


@router.get("")
async def list_items(
    session: SessionDep,
    page: PageParamsDep,
    owner_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[^\x00]*$",
            description="Case-insensitive substring of the title",
        ),
    ] = None,
) -> Page[ItemRead]:
    return await item_service.list_items(
        session, page.offset, page.limit, owner_id=owner_id, title_contains=q
    )


@router.get("/{item_id}", responses={status.HTTP_404_NOT_FOUND: NOT_FOUND})
async def read_item(item_id: ItemId, session: SessionDep) -> ItemRead:
    item = await item_service.get_item(session, item_id)
    if item is None:
        raise item_not_found()
    return item


@router.patch("/{item_id}", responses={status.HTTP_404_NOT_FOUND: NOT_FOUND})
async def update_item(
    item_id: ItemId, data: ItemUpdate, session: SessionDep
) -> ItemRead:
    item = await item_service.update_item(session, item_id, data)
    if item is None:
        raise item_not_found()
    return item


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={status.HTTP_404_NOT_FOUND: NOT_FOUND},
)
async def delete_item(item_id: ItemId, session: SessionDep) -> None:
    if not await item_service.delete_item(session, item_id):
        raise item_not_found()
