"""The original SDK's import path for `Module` (plain-class settings)."""

from brevettiai.settings.module import Module

__all__ = ["Module"]
