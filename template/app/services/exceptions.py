"""What a service reports when a request cannot be carried out.

Every data layer raises these, so routes map them to HTTP statuses without
knowing which ORM style is underneath.
"""


class EmailTakenError(Exception):
    def __init__(self, email: str) -> None:
        super().__init__(f"A user with email {email} already exists")


class OwnerNotFoundError(Exception):
    def __init__(self, owner_id: int) -> None:
        super().__init__(f"No user with id {owner_id}")
        self.owner_id = owner_id
