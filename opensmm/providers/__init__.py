"""Providers: upstream panels that fulfill our orders, and the services imported from them."""
