"""The request and response bodies of the HTTP API, shared by every data layer."""

from datetime import datetime
from typing import Annotated, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)

# Largest id a client may name: ids are 32-bit integers in every database.
MAX_ID = 2**31 - 1


def _reject_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refuse it up front on every database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Email = Annotated[EmailStr, Field(max_length=255), AfterValidator(str.lower)]
FullName = Annotated[
    str, Field(min_length=1, max_length=255), AfterValidator(_reject_nul)
]
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_reject_nul)]
Description = Annotated[str, Field(max_length=2000), AfterValidator(_reject_nul)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class InputModel(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PartialUpdate(InputModel):
    """A PATCH body: only the fields sent change; `null` only where allowed."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _reject_null_for_required_fields(self) -> Self:
        for name in self.model_fields_set - self.nullable_fields:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class Message(BaseModel):
    """The body of every error response but 422."""

    detail: str


class UserCreate(InputModel):
    email: Email
    full_name: FullName


class UserUpdate(PartialUpdate):
    email: Email | None = None
    full_name: FullName | None = None
    is_active: bool | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    is_active: bool
    created_at: datetime


class ItemCreate(InputModel):
    title: Title
    description: Description | None = None
    is_completed: bool = False
    owner_id: Id


class ItemUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"description"})

    title: Title | None = None
    description: Description | None = None
    is_completed: bool | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    is_completed: bool
    owner_id: int
    created_at: datetime
    updated_at: datetime


class Health(BaseModel):
    status: str
    database: str
