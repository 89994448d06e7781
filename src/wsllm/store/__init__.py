"""The results database."""

from wsllm.store.db import ResultStore, StoreError, default_db_path

__all__ = ["ResultStore", "StoreError", "default_db_path"]
