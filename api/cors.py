"""CORS for a dashboard served from another origin: GraphQL, replay links, heatmap PNGs.

Only the origins listed in `SIGHTLINE_CORS_ORIGINS` are answered, each matched
exactly; with none listed (the default) these endpoints send no CORS headers and
browsers keep other origins out. Never `*` and never credentials: callers
authenticate with an `Authorization` header, which a page cannot borrow from
another origin the way it can borrow cookies. `/ingest` and the snippet have their
own rules (`api.ingest.cors`, `api.snippet`).
"""

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

DASHBOARD_PATHS = ("/graphql", "/replay/", "/heatmaps/")
PREFLIGHT_MAX_AGE_S = 600


def parse_origins(setting: str) -> list[str]:
    """`"https://a.example, http://localhost:3000"` as a list (validated by `Settings`)."""
    return [origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip()]


class DashboardCORSMiddleware:
    """Starlette's CORS middleware, for the dashboard's endpoints only."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = (
            CORSMiddleware(
                app,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                expose_headers=["X-Request-ID"],
                allow_credentials=False,
                max_age=PREFLIGHT_MAX_AGE_S,
            )
            if origins
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cors is not None and scope["type"] == "http" and _is_dashboard(scope["path"]):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_dashboard(path: str) -> bool:
    return path == "/graphql" or path.startswith(DASHBOARD_PATHS[1:])
