"""Public block explorers: where a merchant can look at a transaction (the portal links them).

Pure data, no I/O. Test mode links the network's public testnet explorer; a transaction of a
local node (anvil, regtest) or a simulated one is on no public explorer, and gets no link.
"""

from __future__ import annotations

# network -> mode -> URL template with {tx}
TX_URLS: dict[str, dict[str, str]] = {
    "ethereum": {"live": "https://etherscan.io/tx/{tx}", "test": "https://sepolia.etherscan.io/tx/{tx}"},
    "base": {"live": "https://basescan.org/tx/{tx}", "test": "https://sepolia.basescan.org/tx/{tx}"},
    "bsc": {"live": "https://bscscan.com/tx/{tx}", "test": "https://testnet.bscscan.com/tx/{tx}"},
    "polygon": {"live": "https://polygonscan.com/tx/{tx}", "test": "https://amoy.polygonscan.com/tx/{tx}"},
    "arbitrum": {"live": "https://arbiscan.io/tx/{tx}", "test": "https://sepolia.arbiscan.io/tx/{tx}"},
    "bitcoin": {"live": "https://mempool.space/tx/{tx}", "test": "https://mempool.space/testnet/tx/{tx}"},
    "litecoin": {"live": "https://litecoinspace.org/tx/{tx}", "test": "https://litecoinspace.org/testnet/tx/{tx}"},
    "tron": {"live": "https://tronscan.org/#/transaction/{tx}", "test": "https://nile.tronscan.org/#/transaction/{tx}"},
    "solana": {"live": "https://explorer.solana.com/tx/{tx}",
               "test": "https://explorer.solana.com/tx/{tx}?cluster=devnet"},
    "xrpl": {"live": "https://livenet.xrpl.org/transactions/{tx}",
             "test": "https://testnet.xrpl.org/transactions/{tx}"},
}


def tx_url(*, network: str, mode: str, tx_hash: str, simulated: bool = False) -> str | None:
    """The explorer page of a transaction, or None (unknown network, simulated transfer)."""
    if simulated or not tx_hash:
        return None
    template = TX_URLS.get(network, {}).get(mode)
    return template.format(tx=tx_hash) if template else None
