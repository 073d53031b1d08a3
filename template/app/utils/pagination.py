"""Offset pagination shared by every list endpoint."""

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

# The database takes OFFSET as a signed 64-bit integer.
MAX_OFFSET = 2**63 - 1

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of results; `total` counts every matching row."""

    items: list[T]
    total: int
    offset: int
    limit: int


class PageParams(BaseModel):
    offset: int
    limit: int


# async although it awaits nothing: FastAPI runs a plain `def` dependency in a
# worker thread, a thread hop on every request.
async def page_params(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


PageParamsDep = Annotated[PageParams, Depends(page_params)]
