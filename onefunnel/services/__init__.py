"""Use cases: one function per command, one transaction each."""
