"""Payment URIs that wallets understand, one per network family.

==========  ====================================================================
family      form
==========  ====================================================================
utxo        BIP21  ``bitcoin:<addr>?amount=<decimal>`` (``litecoin:`` for LTC)
evm         EIP-681 native ``ethereum:<addr>@<chainId>?value=<wei>``;
            token ``ethereum:<token>@<chainId>/transfer?address=<addr>&uint256=<units>``
solana      Solana Pay ``solana:<addr>?amount=<decimal>[&spl-token=<mint>]``
tron        ``tron:<addr>?amount=<decimal>[&token=<contract>]``
xrpl        ``ripple:<classic>?amount=<decimal>&dt=<tag>``
==========  ====================================================================

XRPL: there is no formal URI standard; ``ripple:`` with ``amount`` (in XRP)
and ``dt`` (destination tag) is the form most wallets (Xaman/XUMM, exchange
apps) parse, so we use it.  X-addresses are converted to classic + ``dt``.
XRPL issued tokens are not supported here.

Amounts are ``Decimal`` in asset units, strictly positive, and may not have
more fractional digits than the asset has (refused, never rounded).
Addresses and token contracts are validated for the network and mode.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from xrpl.core.addresscodec import is_valid_xaddress, xaddress_to_classic_address

from chains.addresses import validate_address
from chains.networks import Network, check_mode, get_network
from core.money import format_amount, to_base_units

MAX_DESTINATION_TAG = 2**32 - 1


def _positive(amount: Decimal) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(
            f"amount must be a Decimal, not {type(amount).__name__}; money is never a float."
        )
    value = Decimal(amount)
    if not value.is_finite() or value <= 0:
        raise ValueError(f"A payment URI needs a positive amount, got {value}.")
    return value


def _decimals(net: Network, token: str | None, token_decimals: int | None) -> int:
    if token is None:
        if token_decimals is not None:
            raise ValueError("token_decimals given without a token.")
        return net.native_decimals
    if token_decimals is None:
        raise ValueError("token_decimals is required for a token payment.")
    return token_decimals


def _no_tag(net: Network, destination_tag: int | None) -> None:
    if destination_tag is not None:
        raise ValueError(f"{net.display_name} payments have no destination tag.")


def _utxo_uri(net: Network, address: str, amount: Decimal, token: str | None) -> str:
    if token is not None:
        raise ValueError(f"{net.display_name} has no tokens.")
    return f"{net.uri_scheme}:{address}?amount={format_amount(amount, net.native_decimals)}"


def _evm_uri(
    net: Network, mode: str, address: str, amount: Decimal, token: str | None, decimals: int
) -> str:
    chain_id = net.chain_id_for(mode)
    units = to_base_units(amount, decimals)
    if token is None:
        return f"ethereum:{address}@{chain_id}?value={units}"
    return f"ethereum:{token}@{chain_id}/transfer?address={address}&uint256={units}"


def _solana_uri(address: str, amount: Decimal, token: str | None, decimals: int) -> str:
    uri = f"solana:{address}?amount={format_amount(amount, decimals)}"
    return uri if token is None else f"{uri}&spl-token={token}"


def _tron_uri(address: str, amount: Decimal, token: str | None, decimals: int) -> str:
    uri = f"tron:{address}?amount={format_amount(amount, decimals)}"
    return uri if token is None else f"{uri}&token={token}"


def _xrpl_uri(net: Network, address: str, amount: Decimal, tag: int | None) -> str:
    if is_valid_xaddress(address):
        classic, embedded, _ = xaddress_to_classic_address(address)
        if embedded is not None and tag is not None and embedded != tag:
            raise ValueError("The X-address carries a different destination tag.")
        address, tag = classic, tag if tag is not None else embedded
    uri = f"{net.uri_scheme}:{address}?amount={format_amount(amount, net.native_decimals)}"
    if tag is None:
        return uri
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= MAX_DESTINATION_TAG:
        raise ValueError(f"destination tag must be an int between 0 and {MAX_DESTINATION_TAG}.")
    return f"{uri}&dt={tag}"


@lru_cache(maxsize=512)
def _valid_token(network: str, mode: str, token: str) -> str:
    """Token contracts and mints come from the channel catalogue, a handful per deployment:
    each is validated once per process (an invalid one raises, and is not cached)."""
    return validate_address(network=network, mode=mode, address=token)


def payment_uri(
    *,
    network: str,
    mode: str,
    address: str,
    amount: Decimal,
    token: str | None = None,
    token_decimals: int | None = None,
    destination_tag: int | None = None,
) -> str:
    """Payment URI for paying ``amount`` to ``address`` (see module doc for forms).

    ``token`` is an ERC-20/TRC-20 contract or SPL mint, with its
    ``token_decimals``; ``destination_tag`` is for XRPL only.
    Raises ``ValueError`` (``InvalidAddress`` for bad addresses) on bad input.
    """
    net = get_network(network)
    check_mode(mode)
    value = _positive(amount)
    decimals = _decimals(net, token, token_decimals)
    address = validate_address(network=net.label, mode=mode, address=address)
    if token is not None:
        if net.family in ("utxo", "xrpl"):
            raise ValueError(f"Token payment URIs are not supported on {net.display_name}.")
        token = _valid_token(net.label, mode, token)
    if net.family == "xrpl":
        return _xrpl_uri(net, address, value, destination_tag)
    _no_tag(net, destination_tag)
    if net.family == "utxo":
        return _utxo_uri(net, address, value, token)
    if net.family == "evm":
        return _evm_uri(net, mode, address, value, token, decimals)
    if net.family == "solana":
        return _solana_uri(address, value, token, decimals)
    return _tron_uri(address, value, token, decimals)
