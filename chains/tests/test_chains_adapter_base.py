"""What every chain adapter shares (chains/adapters/base.py)."""

import pytest

from chains.adapters.base import JsonRpcError, check_block_range


@pytest.mark.parametrize("from_block, to_block", [(0, 0), (5, 9), (100, 100)])
def test_a_block_range_from_low_to_high_is_accepted(from_block, to_block):
    check_block_range(from_block, to_block)


@pytest.mark.parametrize("from_block, to_block", [(-1, 3), (9, 5), (True, 4), (0, False)])
def test_a_negative_reversed_or_boolean_range_is_refused(from_block, to_block):
    with pytest.raises(ValueError, match="Bad block range"):
        check_block_range(from_block, to_block)


def test_a_json_rpc_error_keeps_its_code_and_names_the_method():
    error = JsonRpcError("getblockhash", {"code": -8, "message": "Block height out of range"})
    assert error.code == -8
    assert str(error) == "getblockhash: Block height out of range (code -8)"
    assert JsonRpcError("getBlock", "plain text").code is None
