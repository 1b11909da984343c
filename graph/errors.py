"""Errors a client is meant to read.

A resolver raises a `UserError` (or a subclass) for anything the caller can
fix; its message and code reach the client. Every other exception is masked
to "Unexpected error." and logged with its trace on the server.
"""

from typing import ClassVar


class UserError(Exception):
    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": self.code}
