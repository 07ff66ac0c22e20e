"""The channel catalogue fluxa ships with (installed by migration 0002; operators then edit
channels in the admin). Token contracts and mints are the issuers' official ones. A channel
without a `token_contract_test` (the USDT ones: Tether publishes no test-network USDT) uses its
live contract in test mode as well (Channel.token_contract_for); an operator sets one in the
admin, as `manage.py devchain` does for usdt_erc20 with its local test token.

Confirmations are the defaults a careful operator would pick per chain: enough blocks that a
reorg deeper than that is not a practical risk (finality for Tron's solidified blocks, the
XRP Ledger's validated ledgers and Solana's finalized commitment).
"""

from decimal import Decimal

D = Decimal

CATALOGUE: list[dict] = [
    # code, name, network, asset, decimals, live contract, test contract, confs, min, max
    dict(code="usdt_trc20", name="USDT (TRC-20)", network="tron", asset="USDT", asset_decimals=6,
         token_contract="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", token_contract_test="",
         required_confirmations=19, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="trx", name="TRX (Tron)", network="tron", asset="TRX", asset_decimals=6,
         required_confirmations=19, min_amount=D("10"), max_amount=D("10000000")),
    dict(code="usdt_erc20", name="USDT (ERC-20)", network="ethereum", asset="USDT", asset_decimals=6,
         token_contract="0xdAC17F958D2ee523a2206206994597C13D831ec7",
         required_confirmations=12, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="usdc_erc20", name="USDC (ERC-20)", network="ethereum", asset="USDC", asset_decimals=6,
         token_contract="0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
         token_contract_test="0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238",
         required_confirmations=12, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="eth", name="Ether (Ethereum)", network="ethereum", asset="ETH", asset_decimals=18,
         required_confirmations=12, min_amount=D("0.0005"), max_amount=D("500")),
    dict(code="usdc_base", name="USDC (Base)", network="base", asset="USDC", asset_decimals=6,
         token_contract="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
         token_contract_test="0x036CbD53842c5426634e7929541eC2318f3dCF7e",
         required_confirmations=12, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="eth_base", name="Ether (Base)", network="base", asset="ETH", asset_decimals=18,
         required_confirmations=12, min_amount=D("0.0005"), max_amount=D("500")),
    dict(code="usdt_bsc", name="USDT (BEP-20)", network="bsc", asset="USDT", asset_decimals=18,
         token_contract="0x55d398326f99059fF775485246999027B3197955",
         required_confirmations=15, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="bnb", name="BNB (BNB Smart Chain)", network="bsc", asset="BNB", asset_decimals=18,
         required_confirmations=15, min_amount=D("0.002"), max_amount=D("2000")),
    dict(code="usdc_polygon", name="USDC (Polygon)", network="polygon", asset="USDC", asset_decimals=6,
         token_contract="0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
         token_contract_test="0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582",
         required_confirmations=64, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="usdc_arbitrum", name="USDC (Arbitrum)", network="arbitrum", asset="USDC", asset_decimals=6,
         token_contract="0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
         token_contract_test="0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
         required_confirmations=20, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="btc", name="Bitcoin", network="bitcoin", asset="BTC", asset_decimals=8,
         required_confirmations=2, min_amount=D("0.00005"), max_amount=D("50")),
    dict(code="ltc", name="Litecoin", network="litecoin", asset="LTC", asset_decimals=8,
         required_confirmations=6, min_amount=D("0.01"), max_amount=D("20000")),
    dict(code="sol", name="SOL (Solana)", network="solana", asset="SOL", asset_decimals=9,
         required_confirmations=32, min_amount=D("0.01"), max_amount=D("20000")),
    dict(code="usdc_sol", name="USDC (Solana)", network="solana", asset="USDC", asset_decimals=6,
         token_contract="EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
         token_contract_test="4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU",
         required_confirmations=32, min_amount=D("1"), max_amount=D("1000000")),
    dict(code="xrp", name="XRP (XRP Ledger)", network="xrpl", asset="XRP", asset_decimals=6,
         required_confirmations=1, min_amount=D("1"), max_amount=D("5000000")),
]


def install(Channel) -> None:
    """Create the catalogue's channels that do not exist yet (operators' edits are kept)."""
    for order, row in enumerate(CATALOGUE):
        Channel.objects.get_or_create(code=row["code"], defaults={**row, "sort_order": order * 10})
