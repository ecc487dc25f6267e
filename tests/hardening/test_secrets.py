"""Credentials planted in log fields never appear whole in any output.

A bearer token, a JWT, an AWS access key id, an ``sk-`` API key and a password sit
in the tool name, the arguments, a resource, the event detail and the token id of a
small world. The world goes through load, evaluate, findings in every format,
explain, reconstruct and report, through the library and the CLI, with logging at
DEBUG. Every output file, every CLI output and every log line is then searched for
each secret.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditkit.api import AuditWorkspace
from auditkit.cli.main import app
from tests.hardening.worlds import CALL_IDS, write_world

if TYPE_CHECKING:
    from pathlib import Path

BEARER = "hK9sP2qL7vX4mN8rT3wZ6yB1cD5fG0jA"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJhbGljZSIsImV4cCI6MTc3MjQ0MjAwMH0"
    ".dGhpcy1pcy1ub3QtYS1yZWFsLXNpZ25hdHVyZQ"
)
AWS_KEY = "AKIAZ7QX3MPLEK2WQ9RT"
API_KEY = "sk-proj-4f9Qm2Lx8Vt1Rz7Nc3Hb6Yw0"
PASSWORD = "Tr0ub4dor-and-3-horses"
SECRETS = {
    "bearer token": BEARER,
    "JWT": JWT,
    "AWS key": AWS_KEY,
    "sk- key": API_KEY,
    "password": PASSWORD,
}

SECRET_WORLD = {
    "tool": f"llm.chat#{API_KEY}",
    "argument": f"password={PASSWORD}",
    "resource": f"s3://reports/{AWS_KEY}/q1.csv",
    "note": f"Authorization: Bearer {BEARER}",
    "token": JWT,
}
MONTH = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-04-01T00:00:00Z"]


def _leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def _file_text(path: Path) -> str:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas().to_csv()
    return path.read_bytes().decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def secret_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("secrets")
    write_world(folder / "inputs", **SECRET_WORLD)
    return folder


def test_world_carries_secrets(secret_inputs: Path) -> None:
    text = "".join(
        path.read_text(encoding="utf-8")
        for path in sorted((secret_inputs / "inputs").iterdir())
    )

    assert _leaks(text) == list(SECRETS)


def test_library_outputs_and_logs(
    secret_inputs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with AuditWorkspace.open(tmp_path / "audit.duckdb") as workspace:
        workspace.load(secret_inputs / "inputs")
        workspace.evaluate()
        explanations = [workspace.explain(call_id) for call_id in CALL_IDS]
        result = workspace.report(tmp_path / "report")

    texts = {path.name: _file_text(path) for path in result.out_dir.iterdir()}
    texts |= {f"explain {e.finding['call_id']}": e.to_text() for e in explanations}
    texts |= {
        f"explain html {e.finding['call_id']}": e._repr_html_() for e in explanations
    }
    texts["log"] = "\n".join(record.getMessage() for record in caplog.records)

    assert {name: _leaks(text) for name, text in texts.items() if _leaks(text)} == {}
    assert "findings.csv" in texts


def test_cli_outputs_and_logs(secret_inputs: Path, tmp_path: Path) -> None:
    workspace = str(tmp_path / "audit.duckdb")
    commands = [
        ["load", str(secret_inputs / "inputs")],
        ["evaluate"],
        ["findings"],
        ["findings", "--output-format", "csv"],
        ["findings", "--output-format", "json"],
        ["findings", "--output-format", "csv", "--output", str(tmp_path / "f.csv")],
        ["findings", "--output-format", "json", "--output", str(tmp_path / "f.json")],
        [
            "findings",
            "--output-format",
            "parquet",
            "--output",
            str(tmp_path / "f.parquet"),
        ],
        *[["explain", call_id] for call_id in CALL_IDS],
        ["explain", JWT],
        ["reconstruct", "--user", "alice", *MONTH],
        ["reconstruct", "--agent", "support-agent", *MONTH, "--at", MONTH[1]],
        ["report", "--out", str(tmp_path / "report")],
        ["check"],
    ]
    outputs = {}
    for command in commands:
        result = CliRunner().invoke(
            app, ["--verbose", *command, "--workspace", workspace]
        )
        outputs[" ".join(command[:2])] = result.stdout + result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)

    files = [*tmp_path.glob("f.*"), *(tmp_path / "report").iterdir()]
    outputs |= {path.name: _file_text(path) for path in files}

    assert {name: _leaks(text) for name, text in outputs.items() if _leaks(text)} == {}
    assert len(files) >= 8
