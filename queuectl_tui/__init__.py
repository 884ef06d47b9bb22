"""queuectl-tui: the full-screen app and the headless CLI for the queuectl engine."""

__version__ = "0.1.0"
