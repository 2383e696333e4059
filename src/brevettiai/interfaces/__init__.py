"""Integrations with the platform's user interface: settings forms, charts, remote monitoring."""
