"""Conformance cases written from Intuit's documentation (each cites its page), not from our client."""
