"""Coupons: a code typed on Add funds that adds a fixed amount or a percent to a deposit."""
