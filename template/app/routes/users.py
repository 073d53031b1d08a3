from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from app.database import SessionDep
from app.schemas import MAX_ID, Message, UserCreate, UserRead, UserUpdate
from app.services import user_service
from app.services.exceptions import EmailTakenError
from app.utils.pagination import Page, PageParamsDep

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]

NOT_FOUND = {"model": Message, "description": "No user with this id"}
EMAIL_TAKEN = {"model": Message, "description": "The email is already taken"}


def user_not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "User not found")


def email_taken(error: EmailTakenError) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, str(error))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_409_CONFLICT: EMAIL_TAKEN},
)
async def create_user(data: UserCreate, session: SessionDep) -> UserRead:
    try:
        return await user_service.create_user(session, data)
    except EmailTakenError as error:
        raise email_taken(error) from None


@router.get("")
async def list_users(session: SessionDep, page: PageParamsDep) -> Page[UserRead]:
    return await user_service.list_users(session, page.offset, page.limit)


@router.get("/{user_id}", responses={status.HTTP_404_NOT_FOUND: NOT_FOUND})
async def read_user(user_id: UserId, session: SessionDep) -> UserRead:
    user = await user_service.get_user(session, user_id)
    if user is None:
        raise user_not_found()
    return user


@router.patch(
    "/{user_id}",
    responses={
        status.HTTP_404_NOT_FOUND: NOT_FOUND,
        status.HTTP_409_CONFLICT: EMAIL_TAKEN,
    },
)
async def update_user(
    user_id: UserId, data: UserUpdate, session: SessionDep
) -> UserRead:
    try:
        user = await user_service.update_user(session, user_id, data)
    except EmailTakenError as error:
        raise email_taken(error) from None
    if user is None:
        raise user_not_found()
    return user


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={status.HTTP_404_NOT_FOUND: NOT_FOUND},
)
async def delete_user(user_id: UserId, session: SessionDep) -> None:
    """Delete the user and, with it, every item the user owns."""
    if not await user_service.delete_user(session, user_id):
        raise user_not_found()
