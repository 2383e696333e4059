"""Utilities kept under the import paths of the original SDK."""
