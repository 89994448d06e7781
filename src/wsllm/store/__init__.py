"""The results database."""

from wsllm.errors import StoreError
from wsllm.store.db import ResultStore, default_db_path
from wsllm.store.records import ResultRecord, RunEnd, RunRecord

__all__ = ["ResultRecord", "ResultStore", "RunEnd", "RunRecord", "StoreError", "default_db_path"]
