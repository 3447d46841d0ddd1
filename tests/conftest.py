"""Shared pytest configuration: the real local servers every test tier may use."""

pytest_plugins = ["tests.servers"]
