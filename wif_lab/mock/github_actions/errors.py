"""The refusals of the runner's token service, as one :class:`~wif_lab.mock.errors.MockRefusal` family.

GitHub documents no error bodies for this endpoint (``shared/reference/providers.md`` "Unknowns"); what
is documented is what clients read from one: ``@actions/core`` reports ``Error Code`` (the status) and
``Error Message`` (the body's ``message``), and ``id`` reports the status and body. So every refusal
here is ``{"message": …}`` with a status a service of this kind sends: 401 for a missing, wrong or
expired request token, 400 for a request the service cannot read, 403 for a job without the
permission, 404 for a job it does not know. The wording is the lab's own [inferred].
"""

from __future__ import annotations

from ..errors import MockRefusal

MISSING_BEARER = "The request has no bearer token: send Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>"
WRONG_BEARER = "The bearer token is not this job's request token"
JOB_COMPLETED = "The job has completed: its request token expired with it"
NO_PERMISSION = "The job's permissions do not include id-token: write"
UNKNOWN_JOB = "No running job matches this URL"
API_VERSION = ("The api-version query parameter is missing or not supported: use the URL the runner set "
               "(api-version=2.0)")
REPEATED = "The query parameter {name!r} is given more than once"
UNREADABLE = "The query string cannot be read: {reason}"


class TokenServiceRefusal(MockRefusal):
    """A refusal of the runner's token service: its status and ``{"message": …}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, {"message": message})
        self.message = message

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


class Unauthorized(TokenServiceRefusal):
    def __init__(self, message: str = WRONG_BEARER) -> None:
        super().__init__(401, message)


class BadRequest(TokenServiceRefusal):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class Forbidden(TokenServiceRefusal):
    def __init__(self, message: str = NO_PERMISSION) -> None:
        super().__init__(403, message)


class NotFound(TokenServiceRefusal):
    def __init__(self, message: str = UNKNOWN_JOB) -> None:
        super().__init__(404, message)
