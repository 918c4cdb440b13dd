"""The money ledger: balances and the append-only entries that explain them."""
