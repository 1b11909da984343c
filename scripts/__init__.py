"""Developer tooling: local services for `make run` and the test suite."""
