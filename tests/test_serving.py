"""`mlflow models serve` on the verified champion: a valid request is answered, bad payloads
get a 4xx with a reason, the server stays up, and it listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import mlflow
import pytest

from tai_project import serving
from tests.test_registry import register, release

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post(port: int, body: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _image(value: float = 100.0) -> list:
    return [[value] * 8 for _ in range(8)]


def test_server_answers_valid_requests_and_refuses_bad_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment("registry")   # not an experiment id left over from an earlier test
    register(release(), "served")
    folder = serving.prepare("champion", mlflow.MlflowClient(uri, uri), "served")
    port = _free_port()
    command, env = serving.serve_command(folder, port)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    server = subprocess.Popen(command, env=env, cwd=tmp_path, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        assert server.poll() is None, server.stderr.read().decode()[-2000:]

        status, body = _post(port, json.dumps({"inputs": [_image(), _image(0.0)]}))
        assert status == 200 and len(body["predictions"]) == 2
        assert {"label", "confidence", "referred", "decision"} <= set(body["predictions"][0])

        bad = {
            "wrong shape": json.dumps({"inputs": [[1.0, 2.0, 3.0]]}),
            "strings": json.dumps({"inputs": [[["x"] * 8] * 8]}),
            "empty": json.dumps({"inputs": []}),
            "NaN": json.dumps({"inputs": [_image(float("nan"))]}),
            "oversize": json.dumps({"inputs": [_image()] * 17}),   # max_batch_size 16
            "out of range": json.dumps({"inputs": [_image(999.0)]}),
            "not JSON": "not json",
        }
        for case, payload in bad.items():
            status, body = _post(port, payload)
            assert 400 <= status < 500, (case, status, body)
            assert body.get("message"), case
        assert "max_batch_size=16" in _post(port, bad["oversize"])[1]["message"]
        assert _post(port, json.dumps({"inputs": [_image()]}))[0] == 200   # still up
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
