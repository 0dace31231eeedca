"""USCC (GB 32100-2015) against the shared vectors: every valid code accepted, every invalid
one refused, and the check character recomputed for each valid code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts.errors import ContractError
from contracts.uscc import ALPHABET, E_BAD_USCC, WEIGHTS, check_char, require_uscc, valid_uscc

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"
DATA: dict[str, Any] = json.loads((VECTORS / "uscc.json").read_text(encoding="utf-8"))


def test_alphabet_and_weights_match_the_vectors() -> None:
    assert DATA["alphabet"] == ALPHABET
    assert list(WEIGHTS) == DATA["weights"]


@pytest.mark.parametrize("code", DATA["valid"])
def test_valid_codes_are_accepted(code: str) -> None:
    assert valid_uscc(code)
    assert require_uscc(code) == code
    assert check_char(code[:17]) == code[17]


@pytest.mark.parametrize("case", DATA["invalid"], ids=lambda c: c["why"])
def test_invalid_codes_are_refused(case: dict[str, str]) -> None:
    assert not valid_uscc(case["code"])
    with pytest.raises(ContractError) as info:
        require_uscc(case["code"])
    assert info.value.code == E_BAD_USCC


def test_every_single_character_change_of_a_valid_code_is_caught() -> None:
    # mod-31 weights are all non-zero, so one wrong character always breaks the check
    code = DATA["valid"][0]
    for pos in range(18):
        for ch in ALPHABET:
            if ch != code[pos]:
                assert not valid_uscc(code[:pos] + ch + code[pos + 1 :])


def test_non_text_is_refused() -> None:
    assert not valid_uscc(None)
    assert not valid_uscc(b"91350100M000100Y43")
