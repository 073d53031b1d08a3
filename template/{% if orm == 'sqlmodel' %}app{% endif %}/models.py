"""Tables, declared as SQLModel table models.

No relationships: every query states what it loads, so nothing can lazy-load
(and fail with MissingGreenlet) under asyncio.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.utils.timestamps import UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    # None until the database assigns it on insert.
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255, unique=True)
    full_name: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Item(SQLModel, table=True):
    __tablename__ = "items"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_completed: bool = False
    owner_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
