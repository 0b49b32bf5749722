"""Test and demo helpers: a local model server and the conventions conformance checker."""
