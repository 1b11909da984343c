"""`create_app`: the one factory that turns configuration into the API."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from strawberry.schema import BaseSchema

from api.cors import DashboardCORSMiddleware, parse_origins
from api.errors import exception_handlers
from api.exports import download_export
from api.health import healthz
from api.heatmap_png import heatmap_png
from api.ingest.route import ingest
from api.middleware import RequestContextMiddleware
from api.query_bounds import QueryBoundsMiddleware
from api.replay import replay
from api.security_headers import SecurityHeadersMiddleware
from api.snippet import RRWEB_CSS_PATH, RRWEB_PATH, SNIPPET_PATH, rrweb_css, rrweb_js, snippet_js
from core.breaker import Breaker
from core.clients import parse_user_agent
from core.config import Settings
from core.logs import get_logger
from core.passwords import Passwords
from core.throttle import Throttle
from graph.limits import Limits
from graph.schema import build_schema
from graph.view import GraphQLView
from service.login_throttle import LoginThrottle
from service.resources import Resources
from storage.database import CommandListener, StorageLimits, close_client, database_of
from storage.engine import engine_of, open_client
from storage.indexes import ensure_indexes
from storage.site_cache import SiteCache
from workers.queue import JobQueue

log = get_logger("api")


def create_app(
    settings: Settings,
    *,
    schema: BaseSchema | None = None,
    listeners: Sequence[CommandListener] = (),
    passwords: Passwords | None = None,
) -> Starlette:
    """Build the Starlette app. `schema` replaces the GraphQL schema, `listeners` watch the
    database commands, `passwords` replaces argon2id at its production cost (tests only)."""
    graphql_schema = schema or build_schema(
        Limits(
            max_depth=settings.SIGHTLINE_GRAPHQL_MAX_DEPTH,
            max_tokens=settings.SIGHTLINE_GRAPHQL_MAX_TOKENS,
            max_aliases=settings.SIGHTLINE_GRAPHQL_MAX_ALIASES,
            max_cost=settings.SIGHTLINE_GRAPHQL_MAX_COST,
            introspection=settings.graphql_introspection_enabled,
        )
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        mongo = await open_client(
            settings.mongodb_url,
            app_name="sightline-api",
            setting=settings.SIGHTLINE_STORAGE_ENGINE,
            listeners=listeners,
            limits=StorageLimits.of(settings),
        )
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        throttle = Throttle(redis.connection_pool, settings.secret_key)
        resources = Resources(
            settings=settings,
            db=database_of(mongo, settings.MONGODB_DATABASE),
            redis=redis,
            queue=JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME),
            passwords=passwords or Passwords(),
            throttle=throttle,
            login_throttle=LoginThrottle(redis, settings),
            redis_breaker=Breaker(),
            site_cache=SiteCache(),
        )
        try:
            await ensure_indexes(resources.db)
            parse_user_agent("")  # loads the parser's rules now, not on the first batch
            app.state.resources = resources
            log.info(
                "api.started",
                database=settings.MONGODB_DATABASE,
                storage_engine=engine_of(resources.db).value,
            )
            yield
        finally:
            await redis.aclose()
            await close_client(mongo)

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/ingest", ingest, methods=["POST", "OPTIONS"]),
            Route("/replay/{session_id}", replay, methods=["GET"]),
            Route("/exports/{request_id}", download_export, methods=["GET"]),
            Route("/heatmaps/{site_id}.png", heatmap_png, methods=["GET"]),
            Route(
                "/graphql",
                GraphQLView(
                    graphql_schema,
                    graphiql=settings.graphiql_enabled,
                    max_body_bytes=settings.SIGHTLINE_GRAPHQL_MAX_BODY_BYTES,
                    max_variable_values=settings.SIGHTLINE_GRAPHQL_MAX_TOKENS,
                ),
            ),
            Route(SNIPPET_PATH, snippet_js, methods=["GET"]),
            Route(RRWEB_PATH, rrweb_js, methods=["GET"]),
            Route(RRWEB_CSS_PATH, rrweb_css, methods=["GET"]),
        ],
        # Security headers outermost, so the request middleware's own 500 carries them too.
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(RequestContextMiddleware),
            Middleware(QueryBoundsMiddleware),
            Middleware(DashboardCORSMiddleware, parse_origins(settings.SIGHTLINE_CORS_ORIGINS)),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    # Starlette would answer `/graphql/` with a redirect to an absolute URL built from the
    # Host header; links and redirects never come from the request (see graph/links.py).
    app.router.redirect_slashes = False
    return app
