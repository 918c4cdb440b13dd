"""The customer pages: sign-up, log-in, orders, funds, API keys, in English and Arabic."""
