"""Recorded data: the Parquet tick store and its replay source."""

from tradecore.data.store import Partition, Replay, StoreWriter, TickStore, arrow_schema

__all__ = ["Partition", "Replay", "StoreWriter", "TickStore", "arrow_schema"]
