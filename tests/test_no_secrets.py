"""conf/base is committed: no secret may sit in it (they belong in conf/local, git-ignored)."""

import re

import pytest

from tests.conftest import PROJECT_ROOT

CONF_BASE = PROJECT_ROOT / "conf" / "base"
# a key that names a secret with a literal value (null / empty / a ${...} reference are fine)
SECRET_KEY = re.compile(
    r"^\s*[\w.-]*(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[\w.-]*"
    r"\s*:\s*(?!null\b|~|\"\"|''|\$\{)(\S+)", re.IGNORECASE | re.MULTILINE)
SECRET_VALUE = [
    re.compile(r"AKIA[0-9A-Z]{16}"),                                  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{36}"),                         # GitHub token
    re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"),                      # Slack token
    re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),         # user:password@ in a URL
]


def _files():
    return sorted(p for p in CONF_BASE.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(CONF_BASE)))
def test_no_secret_in_conf_base(path):
    text = path.read_text(encoding="utf-8")
    found = [m.group(0).strip() for m in SECRET_KEY.finditer(text)]
    found += [m.group(0) for pattern in SECRET_VALUE for m in pattern.finditer(text)]
    assert not found, f"{path}: move these to conf/local/credentials.yml: {found}"


@pytest.mark.parametrize("line", ["password: hunter2", "  api_key: abc123",
                                  "uri: postgresql://admin:s3cret@db:5432/x",
                                  "aws: AKIAABCDEFGHIJKLMNOP"])
def test_scanner_finds_planted_secrets(line):
    hits = list(SECRET_KEY.finditer(line)) + [m for p in SECRET_VALUE for m in p.finditer(line)]
    assert hits


def test_services_bind_loopback_only():
    mlflow_yml = (CONF_BASE / "mlflow.yml").read_text()
    assert 'host: "127.0.0.1"' in mlflow_yml
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "0.0.0.0" not in makefile and "0.0.0.0" not in mlflow_yml
    from tai_project.serving import HOST  # noqa: PLC0415
    assert HOST == "127.0.0.1"
