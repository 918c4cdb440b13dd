"""The ``opensmm`` command line."""
