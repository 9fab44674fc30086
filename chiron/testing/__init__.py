"""Test and benchmark helpers: a real OpenAI-compatible HTTP server that runs in its own process."""

from chiron.testing.fake_openai import ServerHandle, running_server

__all__ = ["ServerHandle", "running_server"]
