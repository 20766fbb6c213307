"""The ``lakehouse`` command line: each command is one call into the Python API."""
