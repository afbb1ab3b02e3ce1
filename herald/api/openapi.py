"""The error answers in the OpenAPI document, from one place: the ``Problem`` schemas, and
the ``responses=`` of each route built from the answers it can give.

FastAPI puts a response model under the route's own media type (``application/json``), so
the answers refer to the schemas by ``$ref`` under ``application/problem+json`` and
:func:`with_problem_schemas` adds those schemas to the document's components.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from herald.api.problems import PROBLEM_JSON
from herald.core.contract import MessageStatus

__all__ = [
    "FORBIDDEN",
    "INVALID",
    "NOT_FOUND",
    "NOT_READY",
    "RATE_LIMITED",
    "READING_A_BODY",
    "STATUS_CONFLICT",
    "TOO_LARGE",
    "UNAUTHORIZED",
    "UNAVAILABLE",
    "UNREADABLE",
    "FieldError",
    "NotReady",
    "Problem",
    "ProblemAnswer",
    "StatusConflictProblem",
    "ValidationProblem",
    "problem_responses",
    "with_problem_schemas",
]

REF_TEMPLATE = "#/components/schemas/{model}"


class FieldError(BaseModel):
    location: str = Field(description="`body`, `query`, `path` or `header`")
    field: str = Field(description="e.g. `messages[3].recipient`; empty for the whole body")
    index: int | None = Field(
        default=None, description="For a field inside a list: the item's position, from 0"
    )
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(description="`about:blank`: the status says what kind of error it is")
    title: str = Field(description="The status's name")
    status: int
    detail: str = Field(description="What went wrong, and what to do about it")
    instance: str | None = Field(description="The path of the request")


class ValidationProblem(Problem):
    errors: list[FieldError] = Field(description="Each invalid parameter or field")


class StatusConflictProblem(Problem):
    current_status: MessageStatus = Field(description="The message's status, which refused")


class NotReady(Problem):
    checks: dict[str, str] = Field(description="Each dependency: `ok` or `error: ...`")


PROBLEM_MODELS: tuple[type[Problem], ...] = (
    Problem,
    ValidationProblem,
    StatusConflictProblem,
    NotReady,
)


@dataclass(frozen=True)
class ProblemAnswer:
    """An error a route can answer: its status, what it means there, and its schema."""

    status: int
    description: str
    model: type[Problem] = Problem
    header: tuple[str, str] | None = None
    """A header it always carries: name and description."""

    def meaning(self, description: str) -> ProblemAnswer:
        """The same answer, described for one route."""
        return replace(self, description=description)

    def openapi(self) -> dict[str, Any]:
        schema = {"$ref": REF_TEMPLATE.format(model=self.model.__name__)}
        response: dict[str, Any] = {
            "description": self.description,
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        if self.header is not None:
            name, description = self.header
            response["headers"] = {
                name: {"description": description, "required": True, "schema": {"type": "string"}}
            }
        return response


RETRY_AFTER = ("Retry-After", "Whole seconds to wait before trying again")

UNAUTHORIZED = ProblemAnswer(
    401,
    "No valid API key in `Authorization: Bearer <key>`; the body was not read",
    header=("WWW-Authenticate", "`Bearer`"),
)
FORBIDDEN = ProblemAnswer(
    403,
    "The API key lacks the scope this route needs (`detail` names it), or acts for another "
    "tenant without being an admin key",
)
UNREADABLE = ProblemAnswer(400, "The body is not JSON in UTF-8, or is nested too deeply to read")
NOT_FOUND = ProblemAnswer(404, "There is no message with this id")
STATUS_CONFLICT = ProblemAnswer(
    409, "The message's status does not allow this", model=StatusConflictProblem
)
TOO_LARGE = ProblemAnswer(
    413, "The body is over `HERALD_MAX_REQUEST_BYTES`; it was not read past the limit"
)
INVALID = ProblemAnswer(
    422, "An invalid parameter or field, each listed in `errors`", model=ValidationProblem
)
RATE_LIMITED = ProblemAnswer(
    429,
    "The tenant is over its rate limit (`high` priority has a budget of its own); nothing was "
    "stored",
    header=RETRY_AFTER,
)
UNAVAILABLE = ProblemAnswer(
    503,
    "PostgreSQL, or Temporal for an action on a workflow, did not answer; nothing was done",
    header=RETRY_AFTER,
)
NOT_READY = ProblemAnswer(
    503,
    "A dependency did not answer in time: `detail` names it, `checks` holds each one's outcome",
    model=NotReady,
    header=RETRY_AFTER,
)


READING_A_BODY = (UNREADABLE, TOO_LARGE, INVALID)
"""What a route that reads a JSON body can answer about it."""


def problem_responses(*answers: ProblemAnswer) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route (or router) that can give these answers; of two with
    one status, the later wins (a route's own description of a shared answer)."""
    return {answer.status: answer.openapi() for answer in answers}


def with_problem_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the problem schemas among its components (as the answers refer)."""
    _, schemas = models_json_schema(
        [(model, "serialization") for model in PROBLEM_MODELS], ref_template=REF_TEMPLATE
    )
    document.setdefault("components", {}).setdefault("schemas", {}).update(schemas["$defs"])
    return document
