"""Tests of the API v2 client (opensmm.client) against a fake panel on a real socket."""
