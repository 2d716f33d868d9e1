"""The guard in front of the served model: every malformed request gets a 4xx and one line.

A pure ASGI middleware wrapped around MLflow's own scoring app
(``mlflow.pyfunc.scoring_server.init``): MLflow keeps its protocol, its signature
enforcement and ``/ping``, but only a request the guard has checked reaches it. For
``POST /invocations`` the guard

1. refuses a missing or other Content-Type than ``application/json`` (415),
2. refuses a body larger than ``max_body_bytes``: from the ``Content-Length`` header before
   reading anything, and while streaming a body sent without one (413); a body not received
   within ``body_timeout_seconds`` gets 408,
3. refuses JSON nested deeper than ``max_nesting_depth`` before parsing it (a bracket count,
   so the parser never recurses deeply), then parses strictly: UTF-8, no ``NaN`` /
   ``Infinity`` constants, no duplicate keys (400),
4. checks the envelope: exactly one of ``inputs`` / ``instances``, no other field (400),
5. checks the pixels (``check_pixels``): a rectangular array of JSON numbers (no booleans,
   strings or nulls) of shape ``(n, *image_shape)``, ``1 <= n <= max_batch_size``, finite
   and inside ``pixel_range`` (400).

Every error answer, its own and the app's (404, 405, MLflow's 400 and 504), is rewritten as
``{"error_code": ..., "message": ...}`` with a one-line message of at most
``MAX_MESSAGE_CHARS`` characters, never a stack trace or the echoed payload; an unexpected
exception becomes a 500 with one line and the server stays up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_MESSAGE_CHARS = 300
"""Error messages are cut to this length: a reason, never the payload echoed back."""

INPUT_FIELDS = ("inputs", "instances")
"""The envelope fields that carry the pixel tensor (MLflow's TF-serving formats)."""

_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                408: "REQUEST_TIMEOUT", 413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
                422: "INVALID_PARAMETER_VALUE", 500: "INTERNAL_ERROR", 503: "UNAVAILABLE",
                504: "TIMEOUT"}


@dataclass(frozen=True)
class ServingLimits:
    """What the guard accepts (``deployment.serving`` parameters, and the model's own input
    limits recorded at registration: ``image_shape``, ``pixel_range``, ``max_batch_size``)."""

    max_body_bytes: int
    max_nesting_depth: int
    body_timeout_seconds: float
    image_shape: tuple[int, ...]
    pixel_range: tuple[float, float]
    max_batch_size: int


class RequestRefused(Exception):  # noqa: N818 - a refusal is the expected outcome, not a bug
    """A request the guard refuses: HTTP ``status``, MLflow-style ``error_code``, one line."""

    def __init__(self, status: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code or _ERROR_CODES.get(status, "BAD_REQUEST")


def error_body(error_code: str, message: str) -> bytes:
    """Return the JSON error answer: ``{"error_code", "message"}``, the message on one line."""
    line = " ".join(str(message).split())
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 3] + "..."
    return json.dumps({"error_code": error_code, "message": line}).encode()


def nesting_depth(body: bytes) -> int:
    """Return the deepest ``[``/``{`` nesting of ``body`` counted without parsing it.

    Brackets inside JSON strings count too, so the figure is an upper bound; a pixel
    payload holds no strings but its field names.
    """
    raw = np.frombuffer(body, dtype=np.uint8)
    brackets = raw[np.isin(raw, (0x5B, 0x7B, 0x5D, 0x7D))]
    if brackets.size == 0:
        return 0
    steps = np.where((brackets == 0x5B) | (brackets == 0x7B), 1, -1)
    return int(np.cumsum(steps).max())


def parse_json(body: bytes, max_depth: int) -> Any:
    """Return the parsed body, or raise ``RequestRefused`` (400) saying why it is not
    strict JSON: too deep, not UTF-8, not JSON, ``NaN``/``Infinity``, duplicate keys."""
    depth = nesting_depth(body)
    if depth > max_depth:
        raise RequestRefused(400, f"the JSON body is nested {depth} levels deep; at most "
                                  f"{max_depth} are accepted")
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except RequestRefused:
        raise
    except UnicodeDecodeError as error:
        raise RequestRefused(400, f"the body is not UTF-8 text ({error.reason} at byte "
                                  f"{error.start})") from None
    except json.JSONDecodeError as error:
        raise RequestRefused(400, f"the body is not valid JSON: {error.msg} at line "
                                  f"{error.lineno} column {error.colno}") from None
    except (ValueError, RecursionError) as error:   # e.g. an integer of more than 4300 digits
        raise RequestRefused(400, f"the body is not acceptable JSON: {error}") from None


def _no_constant(name: str) -> Any:
    raise RequestRefused(400, f"the JSON holds {name}; pixel values must be finite numbers")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise RequestRefused(400, f"a JSON object repeats a key: {sorted(keys)}")
    return dict(pairs)


def envelope_pixels(payload: Any) -> Any:
    """Return the pixel array of ``{"inputs": ...}`` (or ``{"instances": ...}``), or raise
    ``RequestRefused`` (400) for any other envelope: a list, another field, two fields."""
    if not isinstance(payload, dict):
        raise RequestRefused(400, f'the body must be a JSON object {{"inputs": [...]}}, found '
                                  f"a JSON {type(payload).__name__}")
    fields = sorted(payload)
    if len(fields) != 1 or fields[0] not in INPUT_FIELDS:
        raise RequestRefused(400, f"the body must hold exactly one field, 'inputs' (or "
                                  f"'instances'): a batch of images; found {fields[:5]}")
    return payload[fields[0]]


def check_pixels(values: Any, limits: ServingLimits) -> np.ndarray:
    """Return ``values`` as a float32 batch of shape ``(n, *image_shape)``, or raise
    ``RequestRefused`` (400) naming the first problem: not an array of numbers (booleans,
    strings, nulls, objects), ragged or wrong shape, empty or larger than ``max_batch_size``,
    too large for a float, non-finite, or outside ``pixel_range``."""
    shape = "(n, " + ", ".join(map(str, limits.image_shape)) + ")"
    if not isinstance(values, list):
        raise RequestRefused(400, f"'inputs' must be a list of images of shape {shape}, found a "
                                  f"JSON {type(values).__name__}")
    if not values:
        raise RequestRefused(400, "the batch is empty; send at least one image")
    if len(values) > limits.max_batch_size:
        raise RequestRefused(400, f"the batch holds {len(values)} images, more than "
                                  f"max_batch_size={limits.max_batch_size}; split it")
    try:
        cells = np.array(values, dtype=object)
    except ValueError:
        cells = np.empty(0, dtype=object)
    if cells.shape != (len(values), *limits.image_shape):
        raise RequestRefused(400, f"expected a batch of shape {shape}, found "
                                  f"{_describe_shape(values)}")
    kinds = {type(cell) for cell in cells.flat} - {int, float}
    if kinds:
        names = ", ".join(sorted(_JSON_NAMES.get(kind, kind.__name__) for kind in kinds))
        raise RequestRefused(400, f"pixel values must be JSON numbers, found {names}")
    try:
        pixels = cells.astype(np.float64)
    except OverflowError:
        raise RequestRefused(400, "a pixel value is too large to be a number") from None
    if not np.isfinite(pixels).all():
        raise RequestRefused(400, "a pixel value is too large to be a finite number")
    low, high = limits.pixel_range
    if pixels.min() < low or pixels.max() > high:
        raise RequestRefused(400, f"pixel values must lie in [{low:g}, {high:g}], found "
                                  f"[{pixels.min():g}, {pixels.max():g}]")
    return pixels.astype(np.float32)


_JSON_NAMES = {bool: "true/false", str: "strings", type(None): "null", list: "nested lists",
               dict: "objects"}


def _describe_shape(values: Any) -> str:
    dims, level = [], values
    while isinstance(level, list) and len(dims) < 6:  # noqa: PLR2004 - enough to say what came
        dims.append(len(level))
        level = level[0] if level else None
    return "(" + ", ".join(map(str, dims)) + ")" + (" or ragged rows" if dims else "")


def check_content_type(headers: Mapping[str, str]) -> None:
    """Raise ``RequestRefused`` (415) unless the Content-Type is ``application/json``
    (``charset=utf-8`` allowed, nothing else)."""
    value = headers.get("content-type")
    if value is None:
        raise RequestRefused(415, "the request has no Content-Type; send "
                                  "'Content-Type: application/json'")
    mime, *options = (part.strip().lower() for part in value.split(";"))
    if mime != "application/json" or any(option not in ("", "charset=utf-8")
                                          for option in options):
        raise RequestRefused(415, f"Content-Type {value[:60]!r} is not accepted; send "
                                  "'application/json' (UTF-8)")


def declared_length(headers: Mapping[str, str], limit: int) -> int | None:
    """Return the Content-Length (``None`` when absent), or raise ``RequestRefused``: 400 if
    it is not a number, 413 if it is above ``limit`` (nothing of the body is read)."""
    value = headers.get("content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise RequestRefused(400, f"Content-Length {value[:30]!r} is not a number of bytes")
    length = int(value)
    if length > limit:
        raise RequestRefused(413, f"the body declares {length} bytes, more than "
                                  f"max_body_bytes={limit}; send smaller batches")
    return length


class RequestGuard:
    """ASGI middleware: check ``POST /invocations`` before ``app`` sees it (module docstring),
    rewrite every error answer as one JSON line, and keep the server up on any exception."""

    def __init__(self, app: App, limits: ServingLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer = _ErrorRewriter(send)
        try:
            if scope["path"] == "/invocations" and scope["method"] == "POST":
                body = await self._checked_body(scope, receive)
                receive = _replay(body)
            await self.app(scope, receive, answer)
        except RequestRefused as refusal:
            await _send_error(send, refusal.status, refusal.error_code, str(refusal))
        except Exception as error:  # noqa: BLE001 - the server must answer and stay up
            logger.exception("unexpected error while serving %s", scope.get("path"))
            if not answer.started:
                await _send_error(send, 500, "INTERNAL_ERROR",
                                  f"unexpected {type(error).__name__} in the server; see its log")

    async def _checked_body(self, scope: Scope, receive: Receive) -> bytes:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1")
                   for key, value in scope.get("headers", [])}
        check_content_type(headers)
        declared_length(headers, self.limits.max_body_bytes)
        try:
            body = await asyncio.wait_for(self._read(receive), self.limits.body_timeout_seconds)
        except TimeoutError:
            raise RequestRefused(408, f"the body was not received within "
                                      f"{self.limits.body_timeout_seconds:g} s") from None
        check_pixels(envelope_pixels(parse_json(body, self.limits.max_nesting_depth)),
                     self.limits)
        return body

    async def _read(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestRefused(400, "the client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise RequestRefused(413, f"the body is larger than max_body_bytes="
                                          f"{self.limits.max_body_bytes}; send smaller batches")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """Return a ``receive`` that hands ``body`` to the app once, then waits for disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()   # like a real connection: nothing more until it closes
        return {"type": "http.disconnect"}

    return receive


async def _send_error(send: Send, status: int, error_code: str, message: str) -> None:
    body = error_body(error_code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _ErrorRewriter:
    """A ``send`` that passes answers below 400 through and rewrites error answers (MLflow's
    multi-line messages that echo the payload, FastAPI's ``{"detail"}``, plain text) as one
    JSON line with the app's status."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._status: int | None = None
        self._chunks: list[bytes] = []
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if message["status"] < 400:  # noqa: PLR2004 - HTTP error statuses start at 400
                await self._send(message)
            else:
                self._status = message["status"]
            return
        if self._status is None:
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            code, text = _summarise(self._status, b"".join(self._chunks))
            await _send_error(self._send, self._status, code, text)


def _summarise(status: int, body: bytes) -> tuple[str, str]:
    """Return (error_code, one-line message) of an error answer of the wrapped app."""
    code = _ERROR_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")  # noqa: PLR2004
    try:
        content = json.loads(body)
    except ValueError:
        return code, body.decode("utf-8", "replace") or f"HTTP {status}"
    if not isinstance(content, dict):
        return code, f"HTTP {status}"
    message = str(content.get("message", content.get("detail", f"HTTP {status}")))
    # MLflow prefixes the model's reason with "Failed to predict data '<the whole payload>'"
    message = message.rsplit("Error:", 1)[-1] if "Error:" in message else message
    return str(content.get("error_code", code)), message


def limits_from(parameters: Mapping[str, Any], model_limits: Mapping[str, Any],
                signature_shape: Sequence[int]) -> ServingLimits:
    """Return the guard's limits: ``parameters`` are ``deployment.serving``; the image shape,
    pixel range and batch limit are the model's own (its ``policy`` artifact, written from
    ``deployment.release.max_batch_size`` and the data schema), the shape falling back to the
    MLflow signature's."""
    shape = model_limits.get("image_shape") or list(signature_shape)
    return ServingLimits(
        max_body_bytes=int(parameters["max_body_bytes"]),
        max_nesting_depth=int(parameters["max_nesting_depth"]),
        body_timeout_seconds=float(parameters["body_timeout_seconds"]),
        image_shape=tuple(int(size) for size in shape),
        pixel_range=tuple(float(v) for v in model_limits.get("pixel_range", (-np.inf, np.inf))),
        max_batch_size=int(model_limits.get("max_batch_size", parameters["max_batch_size"])),
    )
