"""The workspace: one DuckDB file with the loaded inputs, load log and results."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import duckdb
from pydantic import ValidationError

from auditkit.errors import NotFoundError, WorkspaceError
from auditkit.models.timestamps import resolve_zone
from auditkit.settings import Settings
from auditkit.workspace.loading import ErrorPolicy, LoadResult, load_inputs
from auditkit.workspace.schema import all_ddl

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    import pandas as pd

    from auditkit.models import InputKind

logger = logging.getLogger(__name__)

IN_MEMORY = ":memory:"
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class Workspace:
    """A DuckDB workspace file with auditkit's tables.

    Open one with :meth:`Workspace.open` (or ``auditkit.open``), load inputs with
    :meth:`load`, and read tables as DataFrames or DuckDB relations.

    Examples
    --------
    >>> with Workspace.open(":memory:") as workspace:
    ...     workspace.sql("SELECT count(*) FROM calls").fetchall()
    [(0,)]
    """

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, settings: Settings, path: str
    ) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = connection
        self._settings = settings
        self._path = path

    @classmethod
    def open(cls, path: str | Path | None = None, **settings: Any) -> Self:
        """Open the workspace file at ``path``, creating it and its tables if needed.

        Parameters
        ----------
        path
            DuckDB file, or ``":memory:"`` for a workspace that lives in memory.
            Defaults to the ``workspace`` setting (``./auditkit.duckdb``).
        **settings
            Fields of :class:`auditkit.settings.Settings`, such as
            ``default_timezone="Europe/Paris"``, ``memory_limit="2GB"`` or
            ``threads=4``.

        Raises
        ------
        WorkspaceError
            If a setting is invalid, the file is not a DuckDB database, or another
            process has the file open.
        """
        resolved = _settings(path, settings)
        location = str(resolved.workspace)
        if location != IN_MEMORY and not resolved.workspace.parent.is_dir():
            message = (
                f"cannot create workspace {location}: folder "
                f"{resolved.workspace.parent} does not exist"
            )
            raise WorkspaceError(message)

        connection = _connect(location)
        try:
            _configure(connection, resolved)
            for statement in all_ddl():
                connection.execute(statement)
        except duckdb.Error as error:
            connection.close()
            message = f"cannot prepare workspace {location}: {error}"
            raise WorkspaceError(message) from error
        logger.debug("opened workspace %s", location)
        return cls(connection, resolved, location)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The open DuckDB connection, for queries the methods do not cover."""
        if self._connection is None:
            message = f"workspace {self._path} is closed; open it again"
            raise WorkspaceError(message)
        return self._connection

    @property
    def settings(self) -> Settings:
        """Settings the workspace was opened with."""
        return self._settings

    @property
    def path(self) -> str:
        """Location of the DuckDB file, or ``":memory:"``."""
        return self._path

    def load(
        self,
        path: str | Path,
        kind: InputKind | str | None = None,
        *,
        format: str | None = None,
        errors: ErrorPolicy = "quarantine",
        progress: Callable[[int, int], object] | None = None,
    ) -> LoadResult:
        """Load a file, or every file of a folder, in one transaction.

        Parameters
        ----------
        path
            File (JSONL, JSON, CSV or Parquet, plain or gzip) or folder. A folder is
            read in sorted order, subfolders included, except folders named
            ``snapshots`` and hidden files.
        kind
            Input kind (``calls``, ``grants``, ...). Omitted, it is taken from the
            start of each file name, or from the detected format.
        format
            Source format registered in :mod:`auditkit.sources.registry`. Omitted,
            it is detected from the first record, falling back to ``canonical``.
        errors
            ``"quarantine"`` loads the valid records and stores the others in the
            ``quarantine`` table. ``"raise"`` stops at the first invalid record.
            ``"collect"`` checks every record and, if any is invalid, raises one
            error listing them all and loads nothing.
        progress
            Called as ``progress(done_bytes, total_bytes)`` as files are read.

        Returns
        -------
        LoadResult
            Files loaded and skipped, and the row counts.

        Raises
        ------
        InputError
            If a path, kind or format is invalid, or a record is invalid under
            ``errors="raise"`` or ``"collect"``. The workspace is then unchanged,
            as it is after any exception raised during the load.
        """
        return load_inputs(
            self.connection,
            self._settings,
            path,
            kind,
            format=format,
            errors=errors,
            progress=progress,
        )

    def table(self, name: str) -> pd.DataFrame:
        """Return a whole table (or view) as a pandas DataFrame.

        Raises
        ------
        NotFoundError
            If the workspace has no such table.
        """
        frame: pd.DataFrame = self.relation(name).df()
        return frame

    def relation(self, name: str) -> duckdb.DuckDBPyRelation:
        """Return a table (or view) as a lazy DuckDB relation.

        Raises
        ------
        NotFoundError
            If the workspace has no such table.
        """
        names = self.table_names()
        if name not in names:
            message = (
                f"no table {name!r} in workspace {self._path}; "
                f"tables: {', '.join(names)}"
            )
            raise NotFoundError(message)
        return self.connection.table(_quoted(name))

    def sql(
        self, query: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation:
        """Run a query and return its result as a DuckDB relation.

        Pass values through ``params`` (``?`` or ``$name`` placeholders), never by
        formatting them into ``query``.
        """
        return self.connection.sql(query, params=params)

    def table_names(self) -> list[str]:
        """Return the names of the workspace's tables and views, sorted."""
        rows = self.connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
        return [row[0] for row in rows]

    def row_counts(self) -> dict[str, int]:
        """Return the number of rows of each table, by table name."""
        counts = {}
        for name in self.table_names():
            # S608: the name is read from the catalog and quoted as an identifier.
            query = f"SELECT count(*) FROM {_quoted(name)}"  # noqa: S608
            row = self.connection.execute(query).fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts

    def close(self) -> None:
        """Close the connection; the file stays as it is. Closing twice does nothing."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._connection is None:
            return f"Workspace(path={self._path!r}, closed)"
        counts = ", ".join(
            f"{name}={count}" for name, count in self.row_counts().items()
        )
        return f"Workspace(path={self._path!r}, {counts})"

    def _repr_html_(self) -> str:
        path = html.escape(self._path)
        title = f"<strong>auditkit workspace</strong> <code>{path}</code>"
        if self._connection is None:
            return f"<div>{title} (closed)</div>"
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{count}</td></tr>"
            for name, count in self.row_counts().items()
        )
        tables = f"<table><tr><th>table</th><th>rows</th></tr>{rows}</table>"
        return f"<div>{title}{tables}{self._load_summary_html()}</div>"

    def _load_summary_html(self) -> str:
        row = self.connection.execute(
            "SELECT count(*), coalesce(sum(rows_accepted), 0), "
            "coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_duplicate), 0), "
            "max(loaded_at) FROM load_log"
        ).fetchone()
        if row is None or row[0] == 0:
            return "<p>No files loaded yet.</p>"
        files, accepted, quarantined, duplicate, last = row
        text = (
            f"{files} files loaded: {accepted} rows accepted, "
            f"{quarantined} quarantined, {duplicate} duplicate; "
            f"last load at {last} UTC"
        )
        return f"<p>{html.escape(text)}</p>"


def _settings(path: str | Path | None, overrides: dict[str, Any]) -> Settings:
    if path is not None:
        overrides = {**overrides, "workspace": Path(path)}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        name = ".".join(str(part) for part in first["loc"])
        message = f"invalid setting {name!r}: {first['msg']}"
        raise WorkspaceError(message) from error

    if settings.default_timezone is not None:
        try:
            resolve_zone(settings.default_timezone)
        except ValueError as error:
            message = f"invalid setting 'default_timezone': {error}"
            raise WorkspaceError(message) from error
    return settings


def _connect(location: str) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(location)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            message = f"cannot open workspace {location}: {error}"
            raise WorkspaceError(message) from error
        match = _LOCK_PID.search(str(error))
        holder = f" (PID {match[1]})" if match else ""
        message = (
            f"workspace {location} is in use by another process{holder}; "
            "wait for it to finish or open a copy"
        )
        raise WorkspaceError(message) from error
    except duckdb.Error as error:
        message = f"cannot open workspace {location}: {error}"
        raise WorkspaceError(message) from error


def _configure(connection: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    _disable_progress_bar(connection)
    if settings.memory_limit is not None:
        connection.execute("SET memory_limit = ?", [settings.memory_limit])
    if settings.threads is not None:
        connection.execute("SET threads = ?", [settings.threads])


def _disable_progress_bar(connection: duckdb.DuckDBPyConnection) -> None:
    # DuckDB draws its own progress bar on stdout for long queries; library code
    # must not write to the caller's screen. In a Jupyter kernel without ipywidgets,
    # DuckDB 2.0 rejects any change to this setting, and draws no bar there either.
    try:
        connection.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException as error:
        logger.debug("DuckDB progress bar setting left unchanged: %s", error)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
