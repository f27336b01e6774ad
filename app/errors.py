"""Every error leaves the server as OpenAI's JSON: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from engine.async_engine import EngineBusy

log = logging.getLogger(__name__)

_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
          404: "invalid_request_error", 405: "invalid_request_error", 503: "server_error"}


class ErrorDetail(BaseModel):
    """What went wrong: ``param`` names the offending field when there is one."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error JSON (documented for the OpenAPI schema)."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for ``statuses``, all with the OpenAI error body."""
    return {status: {"model": ErrorBody, "description": "OpenAI error JSON"} for status in statuses}


class APIError(Exception):
    """An error with its HTTP status, shaped the way OpenAI clients expect."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        """The JSON body OpenAI's clients parse."""
        kind = _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        """This error as an HTTP response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str, param: str | None = None) -> APIError:
    """A 400 for a client mistake."""
    return APIError(400, message, param=param, code="invalid_value" if param else None)


def from_value_error(exc: ValueError) -> APIError:
    """A 400 from a ``ValueError`` whose message starts with the offending field (SamplingParams style)."""
    message = str(exc)
    first = message.split(" ", 1)[0]
    return bad_request(message, param=first if first.isidentifier() else None)


def model_not_found(name: str, known: list[str]) -> APIError:
    """A 404 naming the model asked for and the ones served."""
    return APIError(404, f"The model {name!r} does not exist; served models: {', '.join(known)}",
                    param="model", code="model_not_found")


def busy(exc: EngineBusy) -> APIError:
    """A 503 telling the client when to retry."""
    seconds = str(max(1, round(exc.retry_after)))
    return APIError(503, str(exc), code="engine_busy", headers={"Retry-After": seconds})


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    # a validator's own words beat the type mismatches of a union's other members
    first = next((e for e in errors if e.get("type") == "value_error"), errors[0])
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON: {first.get('ctx', {}).get('error', 'parse error')}", None
    # union members add tags such as "list[int]" to the location: they are no field names
    loc = [str(part) for part in first.get("loc", ()) if part != "body" and "[" not in str(part)]
    param = ".".join(loc) or None
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{param or 'body'}: {message}", param


def too_large(limit: int) -> APIError:
    """A 413 naming the body limit and the flag that sets it."""
    return APIError(413, f"the request body is larger than this server's limit of {limit} bytes "
                         "(--max-request-bytes)", code="request_too_large")


def _from_http(request: Request, exc: HTTPException) -> APIError:
    if exc.status_code == 413:
        return too_large(request.app.state.settings.max_request_bytes)
    return APIError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception the app can raise to OpenAI's error JSON (client mistakes never give 500)."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return bad_request(message, param).response()

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return _from_http(request, exc).response()

    @app.exception_handler(EngineBusy)
    async def _busy(_: Request, exc: EngineBusy) -> JSONResponse:
        return busy(exc).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return APIError(500, f"internal server error: {type(exc).__name__}").response()
