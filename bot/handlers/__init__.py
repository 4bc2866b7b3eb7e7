"""Handlers, one module per feature; `bot.app` registers them in order."""
