"""The second security review's attacks on logging in, replayed over real HTTP
by attack_check.py: guesses spread over many addresses or many accounts, IPv6
rotation, forwarded values that are no address, and a login flood beside other
users' reads.

The server trusts X-Forwarded-For from 127.0.0.1 (uvicorn's default), where
this check calls from: each forwarded value stands for another client.
"""

import asyncio
import statistics
import time
from typing import Any

import httpx

from contract_api import expect

TOKEN = "/api/v1/auth/token"
USERS = "/api/v1/users"
# The rendered app's defaults, which the check's server keeps.
PER_CLIENT_AND_EMAIL = 5
PER_ACCOUNT = 20
PER_CLIENT = 50


def log(message: str) -> None:
    print(f"attack check: {message}", flush=True)


async def guess(
    client: httpx.AsyncClient, email: str, password: str, forwarded_for: str
) -> httpx.Response:
    form = {"username": email, "password": password}
    return await client.post(TOKEN, data=form, headers={"X-Forwarded-For": forwarded_for})


async def register(client: httpx.AsyncClient, email: str, password: str) -> None:
    body = {"email": email, "full_name": "U", "password": password}
    expect(await client.post(USERS, json=body), 201)


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


async def a_login_flood_beside_other_users(base_url: str, password: str) -> None:
    """13. 100 failing logins at once, at production hashing costs, while
    another user reads their account."""
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
    statuses = sorted({response.status_code for response in logins})
    assert set(statuses) <= {401, 503}, statuses
    busy = [response for response in logins if response.status_code == 503]
    assert all(response.headers.get("Retry-After") for response in busy)
    assert reads and {status for status, _ in reads} == {200}, reads
    seconds = sorted(duration for _, duration in reads)
    p95 = seconds[int(0.95 * (len(seconds) - 1))]
    log(
        f"13. 100 failing logins at once: {len(busy)} × 503 with Retry-After, the rest "
        f"401; another user's {len(reads)} reads all 200, median "
        f"{statistics.median(seconds) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )
