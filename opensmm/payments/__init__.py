"""Payments: customers fund their own balance through gateways (issue 11).

This package holds, for now, the gateway layer (``opensmm.payments.gateways``) and the
credentials helper (``opensmm.payments.secrets``); the tables, pages and CLI build on them.
"""
