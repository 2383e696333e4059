"""Types shared by the SDK and the platform: datasets, tags, and the job info record."""

from brevettiai.datamodel.types import Dataset, Tag

__all__ = ["Dataset", "Tag"]
