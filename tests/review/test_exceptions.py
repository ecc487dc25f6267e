from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import pytest

from auditkit.errors import InputError
from auditkit.review.exceptions import (
    ExceptionMatch,
    ExceptionRule,
    apply_exceptions,
    load_exceptions,
)
from tests.review.worlds import finding_id_of

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb

GHOST_BOT_EXCEPTION = """\
exceptions:
  - id: EXC-001
    match:
      agent: ghost-*
      reason: no_matching_grant
    owner: platform-team@example.com
    justification: Pilot agent; grants are being provisioned.
    expires: 2026-03-20
  - id: EXC-002
    match:
      user: bob
      action: DOC:EXPORT
      resource: doc/?
    owner: data-owner@example.com
    justification: Weekly export approved in change CHG-7.
    expires: 2026-12-31
"""


@pytest.fixture
def exceptions_file(tmp_path: Path) -> Path:
    path = tmp_path / "exceptions.yaml"
    path.write_text(GHOST_BOT_EXCEPTION, encoding="utf-8")
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exceptions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_exceptions_reads_every_field(exceptions_file: Path):
    rules = load_exceptions(exceptions_file)
    assert [rule.id for rule in rules] == ["EXC-001", "EXC-002"]
    assert rules[0].match.agent == "ghost-*"
    assert rules[0].expires == date(2026, 3, 20)
    assert rules[1].owner == "data-owner@example.com"


def test_exception_matches_until_expiry(
    two_week_world: duckdb.DuckDBPyConnection, exceptions_file: Path
):
    rules = load_exceptions(exceptions_file)
    ghost = finding_id_of(two_week_world, "c-03")

    on_expiry_day = apply_exceptions(two_week_world, rules, date(2026, 3, 20))
    marked = on_expiry_day.findings.set_index("finding_id")
    assert bool(marked.loc[ghost, "excepted"])
    assert marked.loc[ghost, "exception_id"] == "EXC-001"
    assert on_expiry_day.expired == []


def test_exception_stops_after_expiry(
    two_week_world: duckdb.DuckDBPyConnection, exceptions_file: Path
):
    rules = load_exceptions(exceptions_file)
    ghost = finding_id_of(two_week_world, "c-03")

    next_day = apply_exceptions(two_week_world, rules, datetime(2026, 3, 21, 8))
    marked = next_day.findings.set_index("finding_id")
    assert not bool(marked.loc[ghost, "excepted"])
    assert marked.loc[ghost, "exception_id"] is None
    assert [rule.id for rule in next_day.expired] == ["EXC-001"]
    assert "EXC-001" not in next_day.matches


def test_exception_keeps_every_finding(
    two_week_world: duckdb.DuckDBPyConnection, exceptions_file: Path
):
    result = apply_exceptions(
        two_week_world, load_exceptions(exceptions_file), date(2026, 3, 20)
    )
    total = two_week_world.execute("SELECT count(*) FROM findings").fetchone()
    assert total is not None
    assert len(result.findings) == total[0]


def test_exception_needs_every_condition(
    two_week_world: duckdb.DuckDBPyConnection, exceptions_file: Path
):
    # EXC-002 matches doc/1 (one character after "doc/"), not the long resource.
    result = apply_exceptions(
        two_week_world, load_exceptions(exceptions_file), date(2026, 3, 20)
    )
    marked = result.findings.set_index("finding_id")
    assert (
        marked.loc[finding_id_of(two_week_world, "c-02"), "exception_id"] == "EXC-002"
    )
    assert (
        marked.loc[finding_id_of(two_week_world, "c-12"), "exception_id"] == "EXC-002"
    )
    assert not bool(marked.loc[finding_id_of(two_week_world, "c-14"), "excepted"])
    assert result.matches == {"EXC-001": 1, "EXC-002": 2}


def test_exception_first_match_wins(two_week_world: duckdb.DuckDBPyConnection):
    def rule(rule_id: str) -> ExceptionRule:
        return ExceptionRule(
            id=rule_id,
            match=ExceptionMatch(user="bob"),
            owner="ops",
            justification="test",
            expires=date(2026, 12, 31),
        )

    result = apply_exceptions(two_week_world, [rule("A"), rule("B")], date(2026, 3, 1))
    excepted = result.excepted
    assert set(excepted["exception_id"]) == {"A"}


def test_exception_glob_literal_characters(two_week_world: duckdb.DuckDBPyConnection):
    # "_" and "%" are literal in a glob, though LIKE treats them as wildcards.
    rule = ExceptionRule(
        id="LITERAL",
        match=ExceptionMatch(tool="read%doc"),
        owner="ops",
        justification="test",
        expires=date(2026, 12, 31),
    )
    result = apply_exceptions(two_week_world, [rule], date(2026, 3, 1))
    assert result.matches == {"LITERAL": 0}


def test_exception_result_to_dict(
    two_week_world: duckdb.DuckDBPyConnection, exceptions_file: Path
):
    result = apply_exceptions(
        two_week_world, load_exceptions(exceptions_file), date(2026, 3, 21)
    )
    summary = result.to_dict()
    assert summary["excepted_findings"] == 2
    assert summary["expired"] == [
        {"id": "EXC-001", "owner": "platform-team@example.com", "expired": "2026-03-20"}
    ]


def test_missing_expiry_names_file_entry_field(tmp_path: Path):
    path = write(
        tmp_path,
        "exceptions:\n"
        "  - id: EXC-9\n"
        "    match: {agent: bot}\n"
        "    owner: ops\n"
        "    justification: test\n",
    )
    with pytest.raises(
        InputError, match=r"exceptions\.yaml:2: field 'expires'"
    ) as info:
        load_exceptions(path)
    assert "entry 1 (id 'EXC-9')" in str(info.value)
    assert info.value.field == "expires"
    assert info.value.line == 2


def test_unknown_reason_code_rejected(tmp_path: Path):
    path = write(
        tmp_path,
        "exceptions:\n"
        "  - id: EXC-1\n"
        "    match: {reason: not_a_reason}\n"
        "    owner: ops\n"
        "    justification: test\n"
        "    expires: 2026-12-31\n",
    )
    with pytest.raises(
        InputError, match=r"field 'match\.reason'.*entry 1 \(id 'EXC-1'\)"
    ):
        load_exceptions(path)


def test_unknown_match_field_rejected(tmp_path: Path):
    path = write(
        tmp_path,
        "exceptions:\n"
        "  - id: EXC-1\n"
        "    match: {agnet: bot}\n"
        "    owner: ops\n"
        "    justification: test\n"
        "    expires: 2026-12-31\n",
    )
    with pytest.raises(InputError, match=r"field 'match\.agnet'.*Extra inputs"):
        load_exceptions(path)


def test_empty_match_rejected(tmp_path: Path):
    path = write(
        tmp_path,
        "exceptions:\n"
        "  - id: EXC-1\n"
        "    match: {}\n"
        "    owner: ops\n"
        "    justification: test\n"
        "    expires: 2026-12-31\n",
    )
    with pytest.raises(InputError, match="would except every finding"):
        load_exceptions(path)


def test_duplicate_id_rejected(tmp_path: Path):
    entry = (
        "  - id: EXC-1\n"
        "    match: {agent: bot}\n"
        "    owner: ops\n"
        "    justification: test\n"
        "    expires: 2026-12-31\n"
    )
    path = write(tmp_path, "exceptions:\n" + entry + entry)
    with pytest.raises(
        InputError, match=r"exceptions\.yaml:7: field 'id'.*duplicate id"
    ):
        load_exceptions(path)


def test_invalid_yaml_names_line(tmp_path: Path):
    path = write(tmp_path, "exceptions:\n  - id: [unclosed\n")
    with pytest.raises(InputError, match=r"exceptions\.yaml:3"):
        load_exceptions(path)


def test_missing_file_rejected(tmp_path: Path):
    with pytest.raises(InputError, match="cannot read file"):
        load_exceptions(tmp_path / "absent.yaml")
