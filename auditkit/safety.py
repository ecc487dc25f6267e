"""Neutralise log-derived text before any output shows it.

Tool names, resources, ids and arguments come from agent logs, so an attacker who can
make an agent call a tool controls them. Every string that a report, export or terminal
writes passes through these functions:

- :func:`redact_secrets` for every output (HTML, CSV, Parquet, JSON, OCSF, terminal);
- :func:`escape_html` (or Jinja's autoescape, which does the same) for HTML;
- :func:`neutralize_csv_cell` for CSV cells that a spreadsheet may open;
- :func:`strip_terminal_controls` for text printed to a terminal.
"""

from __future__ import annotations

import html
import re

REDACTION_MARK = "…[redacted]"

# Spreadsheets (Excel, LibreOffice, Google Sheets) treat a cell that starts with one of
# these as a formula; tab and carriage return are stripped by some of them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_KEY_NAMES = (
    r"password|passwd|pwd|secret|client_secret|api[_-]?key|token|access_token"
    r"|refresh_token|id_token|private_key"
)

# One pattern with ordered alternatives, so every span is redacted exactly once: a
# header or key=value prefix is kept and only the value after it is shortened. A
# match may follow "_" or "-" (DB_PASSWORD=, tool_sk-...), but not a letter or digit,
# so "task-management-service" is not taken for an sk- key.
_START = r"(?<![A-Za-z0-9])"
_SECRET_PATTERN = re.compile(
    rf"(?P<header>{_START}(?i:authorization\b)\"?\s*[:=]\s*\"?"
    r"(?:(?i:bearer|basic|token|digest|negotiate)\s+)?)(?P<header_value>[^\s,;\"']+)"
    rf"|(?P<bearer>{_START}(?i:bearer)\s+)(?P<bearer_value>[A-Za-z0-9._~+/=-]{{8,}})"
    rf"|(?P<assign>{_START}(?i:(?:{_KEY_NAMES}))\b\"?\s*[=:]\s*\"?)"
    r"(?P<assign_value>[^\s&\"',;]+)"
    rf"|(?P<jwt>{_START}eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?)"
    rf"|(?P<aws>{_START}(?:AKIA|ASIA)[A-Z0-9]{{16}}(?![A-Za-z0-9]))"
    rf"|(?P<api_key>{_START}sk-[A-Za-z0-9_-]{{16,}})"
)

# A superset of what the redaction and control-stripping patterns can touch, in RE2
# syntax for Arrow: every redaction needs one of these words or prefixes, and every
# stripped character lies in these ranges. Text that does not match passes through
# clean_text unchanged, so bulk exports test this first and clean only the matches.
# Python's case-insensitive matching also reads the dotted capital I (U+0130) and the
# dotless small i (U+0131) as "i", and RE2's does not, so text with either letter is
# always cleaned.
CLEANING_TRIGGER = (
    r"(?i:authorization|bearer|password|passwd|pwd|secret|api[_-]?key|token"
    r"|private_key)|eyJ|AKIA|ASIA|sk-|[\x00-\x08\x0b-\x1f\x7f-\x{9f}]"
    r"|[\x{130}\x{131}]"
)

_VALUE_GROUPS = {
    "header": "header_value",
    "bearer": "bearer_value",
    "assign": "assign_value",
}

# ESC sequences: CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), and the
# two-byte forms (ESC followed by one byte in @-Z, \, ], ^, _).
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\\]^_]?"
)

# C0 controls except tab (\x09) and newline (\x0a), DEL, and the C1 range.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def escape_html(text: str) -> str:
    """Escape ``&``, ``<``, ``>``, ``"`` and ``'`` so the text shows as text in HTML.

    Examples
    --------
    >>> escape_html('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape(text, quote=True)


def neutralize_csv_cell(text: str) -> str:
    r"""Prefix an apostrophe to a cell that a spreadsheet would run as a formula.

    The rule: a cell whose first character is ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets a leading ``'``. Spreadsheets show the apostrophe-prefixed
    cell as text. Other cells are returned unchanged, so a reader of the CSV that is
    not a spreadsheet sees the original value except for that prefix.

    Examples
    --------
    >>> neutralize_csv_cell('=HYPERLINK("http://x")')
    '\'=HYPERLINK("http://x")'
    >>> neutralize_csv_cell("crm.read")
    'crm.read'
    """
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _shorten(value: str) -> str:
    # At most four characters survive, and never more than half of a short value.
    keep = min(4, len(value) // 2)
    return value[:keep] + REDACTION_MARK


def _redact_match(match: re.Match[str]) -> str:
    for prefix_group, value_group in _VALUE_GROUPS.items():
        prefix = match.group(prefix_group)
        if prefix is not None:
            return prefix + _shorten(match.group(value_group))

    return _shorten(match.group(0))


def redact_secrets(text: str) -> str:
    """Shorten credentials in ``text`` to their first characters and a mark.

    Recognised: ``Authorization`` header values, bearer tokens, JWTs (``eyJ…``), AWS
    access key ids (``AKIA…``, ``ASIA…``), ``sk-…`` API keys, and the values of
    ``password=``, ``secret=``, ``token=``, ``api_key=`` and similar keys (also as JSON
    ``"key": "value"``). Each value keeps at most its first four characters, and at
    most half of a short value, followed by ``…[redacted]``.

    Examples
    --------
    >>> redact_secrets("Authorization: Bearer abcdef123456")
    'Authorization: Bearer abcd…[redacted]'
    >>> redact_secrets("key AKIAIOSFODNN7EXAMPLE used")
    'key AKIA…[redacted] used'
    >>> redact_secrets("https://h/x?user=ann&password=hunter2")
    'https://h/x?user=ann&password=hun…[redacted]'
    """
    return _SECRET_PATTERN.sub(_redact_match, text)


def strip_terminal_controls(text: str) -> str:
    r"""Remove ESC sequences and C0/C1 control characters except newline and tab.

    A log value printed raw could move the cursor, rewrite earlier lines, change the
    window title or emit hyperlinks; after this function it prints as plain text.

    Examples
    --------
    >>> strip_terminal_controls("ok\x1b[2J\x1b]0;owned\x07 done\r")
    'ok done'
    """
    without_sequences = _ESCAPE_SEQUENCE.sub("", text)
    return _CONTROL_CHARACTERS.sub("", without_sequences)


def clean_text(text: str) -> str:
    r"""Redact secrets and drop control characters, as every output does first.

    Examples
    --------
    >>> clean_text("token=s3cr3tvalue\x1b[31m")
    'token=s3cr…[redacted]'
    """
    return redact_secrets(strip_terminal_controls(text))
