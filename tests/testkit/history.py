"""The deterministic history generator, shared with the benchmarks (which cannot
import the tests): see `parley.tools.history`."""

from parley.tools.history import HistoryReport, HistoryWriter, write_history

__all__ = ["HistoryReport", "HistoryWriter", "write_history"]
