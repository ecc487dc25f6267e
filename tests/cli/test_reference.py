"""The generated command-line reference matches docs/cli.md and every command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from auditkit.cli.main import app
from auditkit.cli.reference import (
    HELP_WIDTH,
    REGENERATE_COMMAND,
    command_help,
    render_reference,
)

if TYPE_CHECKING:
    import pytest

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def nested_app() -> typer.Typer:
    """A small application with a subgroup and a hidden command."""
    root = typer.Typer(rich_markup_mode=None)
    grants = typer.Typer(rich_markup_mode=None, help="Manage grants.")

    @root.command("scan")
    def scan(limit: int = 3) -> None:
        """Scan the workspace."""

    @root.command("internal", hidden=True)
    def internal() -> None:
        """Not for users."""

    @grants.command("revoke")
    def revoke(grant_id: str) -> None:
        """Revoke one grant."""

    root.add_typer(grants, name="grants")
    return root


def test_cli_doc_is_current() -> None:
    expected = render_reference()
    actual = CLI_DOC.read_text(encoding="utf-8") if CLI_DOC.exists() else ""
    assert actual == expected, (
        f"docs/cli.md differs from the commands' --help; regenerate it with "
        f"`{REGENERATE_COMMAND}`"
    )


def test_reference_lists_every_command() -> None:
    paths = {entry.path for entry in command_help()}
    for command in app.registered_commands:
        assert f"auditkit {command.name}" in paths


def test_reference_ignores_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = render_reference()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert render_reference() == expected


def test_reference_is_plain_text() -> None:
    text = render_reference()
    assert "\x1b[" not in text
    assert "╭" not in text


def test_reference_wraps_at_fixed_width() -> None:
    drift = next(entry for entry in command_help() if entry.path == "auditkit drift")
    widths = [len(line) for line in drift.help_text.splitlines()]
    assert max(widths) <= HELP_WIDTH


def test_reference_walks_subgroups() -> None:
    paths = [entry.path for entry in command_help(nested_app())]
    assert paths == [
        "auditkit",
        "auditkit scan",
        "auditkit grants",
        "auditkit grants revoke",
    ]


def test_reference_shows_subcommand_usage() -> None:
    entries = {entry.path: entry for entry in command_help(nested_app())}
    revoke = entries["auditkit grants revoke"].help_text
    assert revoke.startswith("Usage: auditkit grants revoke [OPTIONS]")
    assert "Revoke one grant." in revoke
