"""Pusher Channels in Jupyter: an asyncio client, a local server, live DataFrames and widgets."""

__version__ = "0.1.0"
