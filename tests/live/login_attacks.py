"""The second security review's attacks on logging in, replayed over real HTTP
by attack_check.py: guesses spread over many addresses or many accounts, IPv6
rotation, forwarded values that are no address, and a login flood beside other
users' reads; and forwarded addresses from a caller that is not the proxy.

The server of cases 9-13 trusts X-Forwarded-For from 127.0.0.1 (uvicorn's
default), where this check calls from: each forwarded value stands for another
client. Case 16's server trusts another address only.
"""

import asyncio
import statistics
import time
from collections import Counter
from typing import Any

import httpx

from attack_api import TOKEN, USERS, Attacker, log
from contract_api import expect

# The rendered app's defaults, which the check's server keeps.
PER_CLIENT_AND_EMAIL = 5
PER_ACCOUNT = 20
PER_CLIENT = 50
WRONG_PASSWORD = "Incorrect email or password"
HASHING_BUSY = "Too many password checks at once; try again shortly"
# What a saturated database answers (SQLite only, see case 13).
SATURATED = {(503, "Database unavailable")}


async def guess(
    client: httpx.AsyncClient, email: str, password: str, forwarded_for: str
) -> httpx.Response:
    form = {"username": email, "password": password}
    return await client.post(TOKEN, data=form, headers={"X-Forwarded-For": forwarded_for})


async def register(client: httpx.AsyncClient, email: str, password: str) -> None:
    await Attacker(client).register(email, password)


async def guesses_from_many_addresses(client: httpx.AsyncClient, password: str) -> None:
    """9. One account guessed at from 30 addresses, each within its own limit."""
    await register(client, "spread@x.io", password)
    statuses = [
        (await guess(client, "spread@x.io", "wrong", f"198.18.0.{n}")).status_code
        for n in range(1, 31)
    ]
    assert statuses == [401] * PER_ACCOUNT + [429] * 10, statuses
    right = await guess(client, "spread@x.io", password, "198.18.1.1")
    assert expect(right, 429) and int(right.headers["Retry-After"]) > 0
    log(f"9. 30 addresses at one account: {PER_ACCOUNT} × 401, then 429 for everyone")


async def spraying_many_accounts(client: httpx.AsyncClient) -> None:
    """10. One address, one guess at each of 60 accounts."""
    statuses = [
        (await guess(client, f"sprayed{n}@x.io", "wrong", "198.18.2.1")).status_code
        for n in range(60)
    ]
    assert statuses == [401] * PER_CLIENT + [429] * 10, statuses
    log(f"10. one address at 60 accounts: {PER_CLIENT} × 401, then 429")


async def rotating_ipv6(client: httpx.AsyncClient, password: str) -> None:
    """11. Every guess from another address of one IPv6 /64."""
    await register(client, "ipv6@x.io", password)
    statuses = [
        (await guess(client, "ipv6@x.io", "wrong", f"2001:db8:7:7::{n:x}")).status_code
        for n in range(1, 11)
    ]
    assert statuses == [401] * PER_CLIENT_AND_EMAIL + [429] * 5, statuses
    other_network = await guess(client, "ipv6@x.io", password, "2001:db8:7:8::1")
    expect(other_network, 200)
    log("11. ten addresses of one /64: 5 × 401, then 429; the next /64 logs in")


async def forwarded_values_that_are_no_address(
    client: httpx.AsyncClient, password: str
) -> None:
    """12. X-Forwarded-For values that name no address, 300 bytes to 8 KB long."""
    await register(client, "odd@x.io", password)
    values = [f"{n}" * 300 for n in range(PER_CLIENT_AND_EMAIL)]
    statuses = [(await guess(client, "odd@x.io", "wrong", v)).status_code for v in values]
    assert statuses == [401] * PER_CLIENT_AND_EMAIL, statuses
    # They are one client: another such value is held back with them.
    expect(await guess(client, "odd@x.io", password, "x" * 8000), 429)
    log("12. forwarded values of 300 B to 8 KB that are no address: one client, no 500")


async def rotating_forwarded_for(base_url: str, password: str) -> None:
    """16. Guesses from a caller that is not the server's proxy, each naming
    another address in X-Forwarded-For: all are this caller's."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await register(client, "rotated@x.io", password)
        statuses = [
            (await guess(client, "rotated@x.io", "wrong", f"198.51.100.{n}")).status_code
            for n in range(1, 11)
        ]
        assert statuses == [401] * PER_CLIENT_AND_EMAIL + [429] * 5, statuses
        expect(await guess(client, "rotated@x.io", password, "198.51.100.99"), 429)
    log("16. FORWARDED_ALLOW_IPS='*' refused in production; from a caller that is "
        "not the proxy, ten forwarded addresses: 5 × 401, then 429")


async def a_login_flood_beside_other_users(
    base_url: str, password: str, sqlite: bool
) -> None:
    """13. 100 failing logins at once, at production hashing costs, while
    another user reads their account. Hashing holds no connection, so on
    PostgreSQL every read is served. SQLite has one writer, and each login
    records its attempt before hashing: while the machine is busy with other
    work, 100 of those writes can outlast DATABASE_TIMEOUT, and then logins and
    reads alike get the database's 503; there the outcome is printed, not
    asserted (measured alone, every read is served)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await register(client, "reader@x.io", password)
        form = {"username": "reader@x.io", "password": password}
        token = expect(await client.post(TOKEN, data=form), 200)["access_token"]
        reads: list[tuple[int, float]] = []
        flooding = True

        async def read_along() -> None:
            while flooding:
                started = time.perf_counter()
                response = await client.get(
                    f"{USERS}/me", headers={"Authorization": f"Bearer {token}"}
                )
                reads.append((response.status_code, time.perf_counter() - started))

        reader = asyncio.create_task(read_along())
        logins: list[Any] = await asyncio.gather(
            *(guess(client, f"flood{n}@x.io", "wrong", f"198.18.3.{n}") for n in range(100))
        )
        flooding = False
        await reader
    answers = Counter(
        (response.status_code, response.json()["detail"]) for response in logins
    )
    busy = [response for response in logins if response.json()["detail"] == HASHING_BUSY]
    assert all(response.headers.get("Retry-After") == "1" for response in busy)
    assert set(answers) <= {(401, WRONG_PASSWORD), (503, HASHING_BUSY), *SATURATED}, answers
    readers = Counter(status for status, _ in reads)
    if not sqlite:
        assert set(answers) <= {(401, WRONG_PASSWORD), (503, HASHING_BUSY)}, answers
        assert reads and set(readers) == {200}, readers
    seconds = sorted(duration for _, duration in reads)
    p95 = seconds[int(0.95 * (len(seconds) - 1))]
    log(
        f"13. 100 failing logins at once: {dict(answers)}; another user's reads: "
        f"{dict(readers)}, median {statistics.median(seconds) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms"
    )
