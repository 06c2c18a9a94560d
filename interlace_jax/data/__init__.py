"""The dataframe boundary: user data in, NumPy columns out.

The only package that imports narwhals.
"""

from ._frame import Columns, n_rows, numeric_matrix, to_columns, with_columns, with_group_count
from ._ordered import ordered_codes

__all__ = ["Columns", "n_rows", "numeric_matrix", "ordered_codes", "to_columns", "with_columns",
           "with_group_count"]
