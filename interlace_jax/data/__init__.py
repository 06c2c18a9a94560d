"""The dataframe boundary: user data in, NumPy columns out.

The only package that imports narwhals.
"""

from ._frame import Columns, n_rows, to_columns, with_columns, with_group_count

__all__ = ["Columns", "n_rows", "to_columns", "with_columns", "with_group_count"]
