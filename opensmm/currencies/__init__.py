"""Display currencies: prices and balances shown converted, approximately, at rates staff
type in or the worker fetches. The ledger, the orders and the API stay in the panel's own
currency (``OPENSMM_CURRENCY``)."""
