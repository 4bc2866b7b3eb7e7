"""The domain: link-flow and request-lifecycle state machines and their rules (pure Python)."""
