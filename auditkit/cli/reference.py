"""Generate the command-line reference (``docs/cli.md``) from every command's help.

Run ``python -m auditkit.cli.reference > docs/cli.md`` after changing a command. The
test suite compares the file with :func:`render_reference` and fails when they differ.

The help is rendered by the plain formatter that typer takes from click (the
application sets ``rich_markup_mode=None``), at a fixed width and without colour, so
the text does not depend on the terminal that runs the generator.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import typer
from typer.core import TyperCommand, TyperGroup

# Width of the rendered help, in characters, whatever the terminal is.
HELP_WIDTH = 88

REGENERATE_COMMAND = "python -m auditkit.cli.reference > docs/cli.md"

_HEADER = f"""# Command-line reference

This page is generated from the `--help` of every `auditkit` command. Do not edit it by
hand: after changing a command, run

    {REGENERATE_COMMAND}

`auditkit COMMAND --help` shows the same text, wrapped to the width of the terminal.
"""


@dataclass(frozen=True)
class CommandHelp:
    """The full name of one command and its rendered help text."""

    path: str
    help_text: str


def command_help(app: typer.Typer | None = None) -> list[CommandHelp]:
    """Render the help of a command tree, parents before their subcommands.

    Parameters
    ----------
    app
        The typer application; the ``auditkit`` application when None.

    Returns
    -------
    list of CommandHelp
        One entry per command, in the order ``--help`` lists them.
    """
    if app is None:
        from auditkit.cli.main import app as auditkit_app

        app = auditkit_app
    root = typer.main.get_command(app)
    if not isinstance(root, TyperCommand | TyperGroup):
        message = f"the application is a {type(root).__name__}, not a typer command"
        raise TypeError(message)
    context = _context(root, "auditkit", None)
    return list(_walk(root, context))


def render_reference(app: typer.Typer | None = None) -> str:
    """Render the Markdown page of the command-line reference.

    Parameters
    ----------
    app
        The typer application; the ``auditkit`` application when None.

    Returns
    -------
    str
        The text of ``docs/cli.md``.
    """
    sections = [_HEADER]
    for entry in command_help(app):
        sections.append(f"## `{entry.path}`\n\n```text\n{entry.help_text}\n```\n")
    return "\n".join(sections)


def _context(
    command: TyperCommand | TyperGroup, name: str, parent: typer.Context | None
) -> typer.Context:
    # resilient_parsing keeps the context from running callbacks such as --version.
    return typer.Context(
        command,
        info_name=name,
        parent=parent,
        terminal_width=HELP_WIDTH,
        max_content_width=HELP_WIDTH,
        color=False,
        resilient_parsing=True,
    )


def _walk(
    command: TyperCommand | TyperGroup, context: typer.Context
) -> list[CommandHelp]:
    entries = [CommandHelp(context.command_path, _help_text(command, context))]
    if not isinstance(command, TyperGroup):
        return entries

    for name in command.list_commands(context):
        subcommand = command.get_command(context, name)
        if subcommand is None or subcommand.hidden:
            continue
        if not isinstance(subcommand, TyperCommand | TyperGroup):
            kind = type(subcommand).__name__
            message = f"command {name!r} is a {kind}, not a typer command"
            raise TypeError(message)
        entries.extend(_walk(subcommand, _context(subcommand, name, context)))
    return entries


def _help_text(command: TyperCommand | TyperGroup, context: typer.Context) -> str:
    formatter = context.make_formatter()
    command.format_help(context, formatter)
    lines = [line.rstrip() for line in formatter.getvalue().splitlines()]
    return "\n".join(lines).strip("\n")


def main() -> None:
    """Write the reference page to standard output."""
    sys.stdout.write(render_reference())


if __name__ == "__main__":
    main()
