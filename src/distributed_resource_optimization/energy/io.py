"""Former home of the table reader; kept so that existing imports keep working.

Everything lives in :mod:`.tables` now (schemas, reading, shared checks).
"""

from .tables import DEFAULT_DATA_DIR, DataFileError, parse_number, read_table

__all__ = ["DEFAULT_DATA_DIR", "DataFileError", "parse_number", "read_table"]
