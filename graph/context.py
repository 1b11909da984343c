"""What every resolver can reach: the process's resources and the request."""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from service.identity import Principal, identified
from service.resources import Resources
from storage.database import Database


@dataclass
class Context:
    resources: Resources
    request: Request
    response: Response
    principal: Principal | None = None
    auth_failure: str | None = None

    @property
    def db(self) -> Database:
        return self.resources.db

    @property
    def caller(self) -> Principal:
        """Who is calling. Read by resolvers behind a rule that needs a caller (every rule
        but `Audience.ANYONE`, graph/access.py), which refuses the request before they run."""
        return identified(self.principal, self.auth_failure)

    @property
    def client_address(self) -> str:
        return self.request.client.host if self.request.client else "unknown"
