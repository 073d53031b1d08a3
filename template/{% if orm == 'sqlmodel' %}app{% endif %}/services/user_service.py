"""Users, through SQLModel.

Each function is one unit of work: it commits what it wrote before returning,
and a failure leaves nothing written.
"""

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import User
from app.schemas import UserCreate, UserRead, UserUpdate
from app.services.exceptions import EmailTakenError
from app.utils.pagination import Page


async def create_user(session: AsyncSession, data: UserCreate) -> UserRead:
    user = User.model_validate(data)
    session.add(user)
    try:
        # The unique constraint decides races: no check-then-insert.
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise EmailTakenError(data.email) from None
    return UserRead.model_validate(user)


async def list_users(session: AsyncSession, offset: int, limit: int) -> Page[UserRead]:
    total = (await session.exec(select(func.count()).select_from(User))).one()
    users = await session.exec(
        select(User).order_by(col(User.id)).offset(offset).limit(limit)
    )
    return Page(
        items=[UserRead.model_validate(user) for user in users],
        total=total,
        offset=offset,
        limit=limit,
    )


async def get_user(session: AsyncSession, user_id: int) -> UserRead | None:
    user = await session.get(User, user_id)
    return None if user is None else UserRead.model_validate(user)


async def update_user(
    session: AsyncSession, user_id: int, data: UserUpdate
) -> UserRead | None:
    changes = data.changes()
    if not changes:
        return await get_user(session, user_id)
    # One UPDATE ... RETURNING rather than get() and sqlmodel_update(): a user
    # deleted in between is then simply not found.
    statement = (
        update(User).where(col(User.id) == user_id).values(changes).returning(User)
    )
    try:
        user = (await session.exec(statement)).scalar_one_or_none()
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise EmailTakenError(str(changes["email"])) from None
    return None if user is None else UserRead.model_validate(user)


async def delete_user(session: AsyncSession, user_id: int) -> bool:
    """Delete a user; the database cascades the delete to the user's items."""
    statement = delete(User).where(col(User.id) == user_id).returning(col(User.id))
    deleted = (await session.exec(statement)).scalar_one_or_none()
    await session.commit()
    return deleted is not None
