"""The Telegram adapter: settings, handlers, keyboards, rendering and the entry point."""
