from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from app.database import DatabaseDep
from app.dependencies import (
    CALLER_RESPONSES,
    ITEM_NOT_FOUND,
    ItemDep,
    ItemOwners,
    NewItemDep,
    owner_not_found,
)
from app.schemas import ItemRead, ItemUpdate
from app.services import item_service
from app.services.exceptions import OwnerNotFoundError
from app.utils.pagination import Page, PageParamsDep

router = APIRouter(prefix="/items", tags=["items"], responses=CALLER_RESPONSES)


def item_not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "Item not found")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(item: NewItemDep, db: DatabaseDep) -> ItemRead:
    try:
        return await item_service.create_item(db, item)
    except OwnerNotFoundError as error:
        raise owner_not_found(error) from None


@router.get("")
async def list_items(
    db: DatabaseDep,
    page: PageParamsDep,
    owners: ItemOwners,
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
        db, page.offset, page.limit, owner_ids=owners, title_contains=q
    )


@router.get("/{item_id}", responses={status.HTTP_404_NOT_FOUND: ITEM_NOT_FOUND})
async def read_item(item: ItemDep) -> ItemRead:
    return item


@router.patch("/{item_id}", responses={status.HTTP_404_NOT_FOUND: ITEM_NOT_FOUND})
async def update_item(item: ItemDep, data: ItemUpdate, db: DatabaseDep) -> ItemRead:
    updated = await item_service.update_item(db, item.id, data)
    if updated is None:  # deleted meanwhile
        raise item_not_found()
    return updated


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={status.HTTP_404_NOT_FOUND: ITEM_NOT_FOUND},
)
async def delete_item(item: ItemDep, db: DatabaseDep) -> None:
    if not await item_service.delete_item(db, item.id):
        raise item_not_found()
