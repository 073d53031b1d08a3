"""schemathesis hooks for fuzz_check.py: the fuzzer may do anything to the API
but lock its own accounts out for good.

A logout or a password change only revokes tokens, and schemathesis logs in
again and replays; deleting or deactivating an account, or setting its
password, it could not come back from. FUZZ_ACCOUNT_IDS names the accounts.
"""

import os
import string
from typing import Any

import schemathesis
from hypothesis import strategies
from pydantic import EmailStr, TypeAdapter, ValidationError

ACCOUNT_IDS = {int(found) for found in os.environ["FUZZ_ACCOUNT_IDS"].split(",")}
ONE_USER = "/api/v1/users/{user_id}"


def locks_an_account_out(case: Any) -> bool:
    if case.operation.path != ONE_USER:
        return False
    try:
        user_id = int(case.path_parameters.get("user_id"))
    except (TypeError, ValueError):
        return False
    if user_id not in ACCOUNT_IDS:
        return False
    if case.method.upper() == "DELETE":
        return True
    body = case.body
    return (
        case.method.upper() == "PATCH"
        and isinstance(body, dict)
        and (body.get("is_active") is False or "password" in body or "email" in body)
    )


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    return not locks_an_account_out(case)


def is_accepted_email(address: str) -> bool:
    try:
        EMAIL.validate_python(address)
    except ValidationError:
        return False
    return True


# Domains as hypothesis's emails() draws them by default (every IANA TLD,
# labels from a regular expression) were half the fuzzing's time: its coverage
# phase draws a fresh address for each case. These vary what the API handles
# (letter case, label count and length, long and punycode TLDs) for far less.
LABEL = strategies.text(string.ascii_letters + string.digits, min_size=1, max_size=20)
DOMAINS = strategies.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    strategies.lists(LABEL, min_size=1, max_size=3),
    strategies.sampled_from(["com", "org", "IO", "de", "museum", "xn--p1ai"]),
)
# What "format: email" means to the API: an address email-validator accepts,
# which refuses the special-use domains (.test, .local, ...).
EMAIL = TypeAdapter(EmailStr)
schemathesis.openapi.format(
    "email", strategies.emails(domains=DOMAINS).filter(is_accepted_email)
)
