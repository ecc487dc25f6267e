"""Options, output and error handling shared by every command."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditkit.errors import AuditkitError, InputError
from auditkit.report.period import Period
from auditkit.safety import clean_text

P = ParamSpec("P")
R = TypeVar("R")

# Exit codes: 0 success, 1 an error auditkit reports (bad input, workspace problem),
# 2 a usage error (click's own), 3 findings at or above --fail-on were found.
EXIT_ERROR = 1
EXIT_FINDINGS = 3

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="AUDITKIT_WORKSPACE",
        help="DuckDB workspace file.",
        show_default=True,
    ),
]
DEFAULT_WORKSPACE = Path("auditkit.duckdb")


def plain(value: Any) -> str:
    r"""Return ``value`` as text that is safe to write to a terminal.

    Control characters and escape sequences are dropped and secrets shortened, because
    log-derived text may carry both.

    Examples
    --------
    >>> plain("ok\x1b]0;owned\x07 done")
    'ok done'
    >>> plain(float("nan"))
    ''
    """
    if value is None or _is_missing(value):
        return ""
    return clean_text(str(value))


def _is_missing(value: Any) -> bool:
    # pandas fills empty cells with NaN, NaT or NA, which would print as "nan".
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def safe_text(value: Any, style: str | None = None) -> Text:
    """Return a rich Text that shows ``value`` literally (no markup, no controls)."""
    return Text(plain(value), style=style or "")


def fail(message: str, *, hint: str | None = None) -> NoReturn:
    """Print an error and its remedy to stderr and exit with status 1."""
    stderr.print(safe_text(f"error: {message}", style="bold red"))
    if hint:
        stderr.print(safe_text(f"hint: {hint}"))
    raise typer.Exit(EXIT_ERROR)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn auditkit's own errors into a message on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except AuditkitError as error:
            fail(str(error))

    return wrapper


def time_option(text: str | None, option: str) -> datetime | None:
    """Parse the value of a time option, or exit with status 1 naming the option.

    ISO 8601 with an offset is taken exactly; a time without an offset is UTC, and
    a date alone means midnight UTC, as in ``auditkit report``.
    """
    if text is None:
        return None
    try:
        return Period.of(text, None).since
    except InputError as error:
        fail(
            f"{option}: {error.reason}",
            hint="write a time such as 2026-03-02T09:00:00Z or a date: 2026-03-02",
        )


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print rows as a rich table, every cell shown literally.

    On a terminal the table fits the window. Piped into a file or another program,
    it takes the width its cells need, so no value is cut short.
    """
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(safe_text(cell) for cell in row))
    if stdout.is_terminal:
        stdout.print(table)
        return
    unbounded = stdout.options.update_width(100_000)
    width = max(stdout.width, stdout.measure(table, options=unbounded).maximum)
    # Console.print never goes wider than its console, so a wider one prints it.
    Console(highlight=False, soft_wrap=True, width=width).print(table)


def require_workspace(path: Path) -> None:
    """Exit with status 1 unless the workspace file exists.

    Commands that read a workspace would otherwise create an empty one at a
    mistyped path and report that it has no findings.
    """
    if not path.exists():
        fail(
            f"workspace {path} not found",
            hint="check --workspace (or AUDITKIT_WORKSPACE); "
            "'auditkit load' creates a workspace",
        )


def configure_logging(verbose: bool) -> None:
    """Send auditkit's log records to stderr; debug level with ``--verbose``."""
    level = logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("auditkit")
    root.handlers[:] = [handler]
    root.setLevel(level)


class _SafeFormatter(logging.Formatter):
    # Log messages quote file names and record values, which may carry control text.
    def format(self, record: logging.LogRecord) -> str:
        return plain(super().format(record))
