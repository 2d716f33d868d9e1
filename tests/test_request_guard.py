"""The request guard as plain functions and as ASGI middleware, called in-process (the
served end-to-end fuzz test is tests/test_serving.py)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import yaml

from tai_project.errors import ParameterError
from tai_project.request_guard import (
    RequestGuard,
    RequestRefused,
    ServingLimits,
    check_content_type,
    check_pixels,
    declared_length,
    error_body,
    nesting_depth,
    parse_json,
)
from tai_project.serving import check_serving_parameters
from tests.conftest import PROJECT_ROOT

LIMITS = ServingLimits(max_body_bytes=2000, max_nesting_depth=5, body_timeout_seconds=0.2,
                       image_shape=(2, 2, 3), pixel_range=(0.0, 1.0), max_batch_size=3)
GOOD = [[[[0.5, 0.5, 0.5]] * 2] * 2]


def _status(call, *args) -> int:
    with pytest.raises(RequestRefused) as refused:
        call(*args)
    return refused.value.status


def test_nesting_depth_is_counted_without_parsing():
    assert nesting_depth(b"1") == 0
    assert nesting_depth(b'{"inputs": [[1, 2], [3]]}') == 3
    assert nesting_depth(b"[" * 100_000) == 100_000   # no recursion, no parse
    assert _status(parse_json, b"[" * 6 + b"]" * 6, 5) == 400
    assert parse_json(b"[[[[1]]]]", 5) == [[[[1]]]]


@pytest.mark.parametrize("body", [b"NaN", b"[Infinity]", b'{"a": 1, "a": 2}', b"\xff", b"{",
                                  b"9" * 5000, b"\xef\xbb\xbf{}"])
def test_strict_json(body):
    assert _status(parse_json, body, 5) == 400


def test_pixels_rgb_shape_types_batch_and_range():
    assert check_pixels(GOOD, LIMITS).shape == (1, 2, 2, 3)
    assert check_pixels(GOOD * 3, LIMITS).dtype == np.float32
    bad = {
        "bool": [[[[True, 0.5, 0.5]] * 2] * 2],
        "string": [[[["0.5", 0.5, 0.5]] * 2] * 2],
        "null": [[[[None, 0.5, 0.5]] * 2] * 2],
        "channels first": [[[[0.5, 0.5]] * 2] * 3],
        "ragged": [[[[0.5, 0.5, 0.5], [0.5, 0.5]]] * 2],
        "batch": GOOD * 4,
        "empty": [],
        "range": [[[[1.5, 0.5, 0.5]] * 2] * 2],
        "overflow": [[[[10**400, 0.5, 0.5]] * 2] * 2],
        "inf": [[[[1e400, 0.5, 0.5]] * 2] * 2],
        "not a list": {"a": 1},
    }
    for case, values in bad.items():
        assert _status(check_pixels, values, LIMITS) == 400, case


def test_headers():
    check_content_type({"content-type": "application/json; charset=UTF-8"})
    for value in (None, "text/csv", "application/json; charset=latin-1", "application/jsonx"):
        headers = {} if value is None else {"content-type": value}
        assert _status(check_content_type, headers) == 415
    assert declared_length({"content-length": "2000"}, 2000) == 2000
    assert _status(declared_length, {"content-length": "2001"}, 2000) == 413
    assert _status(declared_length, {"content-length": "-1"}, 2000) == 400


def test_error_body_is_one_short_line():
    answer = json.loads(error_body("X", "line one\nline two " + "y" * 1000))
    assert "\n" not in answer["message"] and len(answer["message"]) <= 300


async def _inner(scope, receive, send):
    """A stand-in for MLflow's app: echoes, fails with MLflow's multi-line message, or crashes."""
    body = (await receive())["body"]
    if scope["path"] == "/crash":
        raise RuntimeError("boom")
    status, text = (200, body) if scope["path"] == "/invocations" else (
        400, json.dumps({"error_code": "INVALID_PARAMETER_VALUE",
                         "message": f"Failed to predict data '{'x' * 5000}'. \nError: bad input."}).encode())
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": text, "more_body": False})


def _call(path, chunks, headers=None, pause=0.0):
    """Run one request through the guard; return (status, body)."""
    headers = {"content-type": "application/json", **(headers or {})}
    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    pending = list(chunks)
    sent = []

    async def receive():
        await asyncio.sleep(pause)
        chunk = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    asyncio.run(RequestGuard(_inner, LIMITS)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_middleware_passes_a_valid_request_and_rewrites_every_error():
    body = json.dumps({"inputs": GOOD}).encode()
    assert _call("/invocations", [body[:10], body[10:]]) == (200, body)
    status, answer = _call("/invocations", [b"x" * 1500, b"x" * 1500])   # streamed past the limit
    assert status == 413 and json.loads(answer)["error_code"] == "REQUEST_TOO_LARGE"
    status, answer = _call("/invocations", [b"{", b"}"], pause=0.15)   # too slow
    assert status == 408
    status, answer = _call("/other", [body])   # the app's own multi-line error, payload echoed
    assert status == 400 and json.loads(answer) == {"error_code": "INVALID_PARAMETER_VALUE",
                                                    "message": "bad input."}
    status, answer = _call("/crash", [body])
    assert status == 500 and json.loads(answer)["error_code"] == "INTERNAL_ERROR"


def test_serving_parameters_are_checked():
    good = {"max_body_bytes": 10, "max_nesting_depth": 5, "body_timeout_seconds": 1.5}
    assert check_serving_parameters(good, 16)["max_batch_size"] == 16  # noqa: PLR2004
    with pytest.raises(ParameterError, match=r"serving.max_body_bytes: Input should be greater than"):
        check_serving_parameters({**good, "max_body_bytes": -1}, 16)
    with pytest.raises(ParameterError, match=r"deployment.serving.max_body_byte: unknown key"):
        check_serving_parameters({**good, "max_body_byte": 1}, 16)
    with pytest.raises(ParameterError, match=r"deployment.release.max_batch_size"):
        check_serving_parameters(good, True)
    with pytest.raises(ParameterError, match=r"serving.max_nesting_depth: Input should be a valid int"):
        check_serving_parameters({**good, "max_nesting_depth": "8"}, 16)
    assert check_serving_parameters({**good, "body_timeout_seconds": 30}, 16)   # an int is fine
    shipped = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters/deployment.yml").read_text())
    check_serving_parameters(shipped["deployment"]["serving"],
                             shipped["deployment"]["release"]["max_batch_size"])
