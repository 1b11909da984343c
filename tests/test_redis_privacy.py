"""Redis holds no client address and no email, in any key or value, in any form.

Every Redis key and every value is read back after ingest, sign-up and login
traffic from one client, so a counter or cache added later is covered too.
"""

import hashlib
import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.accounts_helpers import LOG_IN
from tests.app_helpers import make_app
from tests.graphql_client import gql
from tests.ingest_helpers import send_recording, shop_events
from tests.world_fixtures import new_site

EMAIL = "owner@example.com"


def _forms(address: str) -> list[bytes]:
    """The address as text (compressed and exploded) and as its packed bytes."""
    ip = ipaddress.ip_address(address)
    texts = {ip.compressed, ip.exploded, ip.packed.hex()}
    return [t.encode() for t in texts] + [ip.packed]


def _email_forms() -> list[bytes]:
    # A plain hash of an email is a pseudonym anyone can reverse with a list of emails.
    return [EMAIL.encode(), hashlib.sha256(EMAIL.encode()).hexdigest().encode()]


async def _everything(redis: Redis) -> AsyncIterator[tuple[bytes, bytes]]:
    """Each key with its whole value, whatever the key's type."""
    async for key in redis.scan_iter(count=500):
        kind = (await redis.type(key)).decode()
        if kind == "string":
            values = [await redis.get(key) or b""]
        elif kind == "list":
            values = await redis.lrange(key, 0, -1)
        elif kind == "set":
            values = list(await redis.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in await redis.zrange(key, 0, -1, withscores=True)]
        elif kind == "hash":
            values = [b for pair in (await redis.hgetall(key)).items() for b in pair]
        else:
            values = [str(await redis.xrange(key)).encode()]
        yield key, b"\x00".join(values)


async def _visit(app_client: httpx.AsyncClient) -> None:
    """What one person does from one address: sign up, record a visit, log in (wrong, right)."""
    site = await new_site(app_client, EMAIL)
    await send_recording(app_client, site.tracking_key, shop_events(), batch_size=40)
    for password in ["not the password", "correct horse battery"]:
        await gql(app_client, LOG_IN, {"email": EMAIL, "password": password})
    await gql(app_client, LOG_IN, {"email": "nobody@example.com", "password": "x" * 12})


@pytest.mark.parametrize("address", ["203.0.113.77", "2001:db8:85a3::8a2e:370:7334"])
async def test_no_redis_key_or_value_holds_the_client_address_or_email(
    address: str, settings: Settings, db: Database, redis: Redis
) -> None:
    application = make_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=(address, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://sightline.test") as c:
            await _visit(c)

    needles = _forms(address) + _email_forms()
    found = [
        (key, needle)
        async for key, value in _everything(redis)
        for needle in needles
        if needle in key or needle in value
    ]
    assert await redis.dbsize() > 0, "the visit left nothing in Redis: nothing was checked"
    assert found == []
