"""`GET /healthz`: whether MongoDB and Redis both answer."""

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.resources import Resources
from storage.database import ping

TIMEOUT_S = 2.0


async def _mongodb_up(resources: Resources) -> bool:
    try:
        await ping(resources.db, within_s=TIMEOUT_S)
    except Exception:
        return False
    return True


async def _redis_up(resources: Resources) -> bool:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await resources.redis.ping()
    except Exception:
        return False
    return True


async def healthz(request: Request) -> JSONResponse:
    resources: Resources = request.app.state.resources
    mongodb, redis = await asyncio.gather(_mongodb_up(resources), _redis_up(resources))
    services = {"mongodb": "up" if mongodb else "down", "redis": "up" if redis else "down"}
    down = [name for name, state in services.items() if state == "down"]
    body: dict[str, object] = {"status": "ok" if not down else "unavailable", "services": services}
    if down:
        body["down"] = down
    return JSONResponse(body, status_code=503 if down else 200)
