"""Shared test helpers: the session's embedded database, and one database per test."""
