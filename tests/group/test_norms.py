"""The shipped norms catalogue and norm search."""

from __future__ import annotations

import re

import pytest

from detente.errors import NotFoundError
from detente.group import catalogue, catalogue_norm, search_norms
from detente.group.norms import FRAMEWORKS
from detente.statements.kinds import _NORM


def test_catalogue_has_every_framework_in_full() -> None:
    ids = list(catalogue())
    assert [i for i in ids if i.startswith("UNGGE15-")] == [f"UNGGE15-13{c}" for c in "abcdefghijk"]
    assert [i for i in ids if i.startswith("OSCE-")] == [f"OSCE-CBM{n:02d}" for n in range(1, 17)]
    assert [i for i in ids if i.startswith("PARIS-")] == [f"PARIS-P{n}" for n in range(1, 10)]
    assert [i for i in ids if i.startswith("GCSC-")] == [f"GCSC-N{n}" for n in range(1, 9)]
    assert len(ids) == 11 + 16 + 9 + 8


def test_every_norm_is_complete_and_a_valid_norm_id() -> None:
    for norm in catalogue().values():
        assert re.fullmatch(_NORM, norm.id), norm.id
        assert norm.framework in FRAMEWORKS
        assert norm.status in {"consensus", "multistakeholder"}
        assert norm.title
        assert norm.paraphrase
        assert norm.source
        assert norm.number
        assert norm.provenance == ()


def test_facts_from_the_reference() -> None:
    assert catalogue_norm("UNGGE15-13f").title == "Do not damage critical infrastructure"
    assert "A/70/174" in catalogue_norm("UNGGE15-13f").source
    assert "1106" in catalogue_norm("OSCE-CBM08").source
    assert "1202" in catalogue_norm("OSCE-CBM13").source
    assert catalogue_norm("PARIS-P3").title == "Defend electoral processes"
    assert catalogue_norm("GCSC-N2").title == "Electoral infrastructure"


def test_catalogue_is_loaded_once_and_read_only() -> None:
    assert catalogue() is catalogue()
    with pytest.raises(TypeError):
        catalogue()["X-1"] = catalogue_norm("GCSC-N1")  # type: ignore[index]


def test_unknown_norm_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="PARIS-P10"):
        catalogue_norm("PARIS-P10")


def test_search_by_words_in_title_or_paraphrase() -> None:
    found = [n.id for n in search_norms("elect")]
    assert found == ["PARIS-P3", "GCSC-N2"]
    assert [n.id for n in search_norms("VULNERABILITY reporting")] == [
        "UNGGE15-13j",
        "OSCE-CBM16",
    ]
    assert search_norms("no such words anywhere") == ()
    assert len(search_norms("")) == len(catalogue())


def test_search_in_a_given_pool() -> None:
    pool = [catalogue_norm("GCSC-N1"), catalogue_norm("GCSC-N2")]
    assert [n.id for n in search_norms("public core", pool)] == ["GCSC-N1"]
