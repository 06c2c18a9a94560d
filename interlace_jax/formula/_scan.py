"""Balanced-bracket scanning of formula text.

lme4's bar syntax cannot be split with regular expressions: ``np.log(x)``, ``I((a + b) * 2)`` and
``C(g, levels=['a|b'])`` all hold brackets, operators or quotes that belong to an inner expression.
These helpers find the characters that sit at the *top level* of a piece of text, outside every
bracket and every quoted string (``'...'``, ``"..."``, and formulaic's backtick-quoted names).
"""

from __future__ import annotations

from .._errors import FormulaError

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_QUOTES = "'\"`"


def scan(text: str) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Bracket depth and quoting of every character of ``text``.

    Args:
        text: formula text, length ``m``.

    Returns:
        ``(depth, quoted)``, each of length ``m``: the number of brackets enclosing each character,
        where a bracket itself counts at the outer level (in ``"(1|g)"`` the depths are
        ``0, 1, 1, 1, 0``), and whether the character is inside a quoted string (quote marks
        included). Brackets inside quotes do not count.

    Raises:
        FormulaError: if brackets are unbalanced or mismatched, or a quote is not closed.
    """
    depth: list[int] = []
    quoted: list[bool] = []
    stack: list[tuple[str, int]] = []
    quote = ""
    for i, ch in enumerate(text):
        depth.append(len(stack))
        quoted.append(bool(quote) or ch in _QUOTES)
        if quote:
            quote = "" if ch == quote else quote
        elif ch in _QUOTES:
            quote = ch
        elif ch in _OPEN:
            stack.append((ch, i))
        elif ch in _CLOSE:
            if not stack or stack[-1][0] != _CLOSE[ch]:
                raise FormulaError(
                    f"unbalanced parentheses: unexpected {ch!r} at position {i} in {text!r}"
                )
            stack.pop()
            depth[-1] = len(stack)
    if quote:
        raise FormulaError(f"unclosed quote {quote} in {text!r}")
    if stack:
        ch, i = stack[-1]
        raise FormulaError(
            f"unbalanced parentheses: {ch!r} at position {i} is never closed in {text!r}"
        )
    return tuple(depth), tuple(quoted)


def unquoted(text: str) -> str:
    """``text`` without its quoted strings."""
    return "".join(ch for ch, q in zip(text, scan(text)[1], strict=True) if not q)


def top_level(text: str, chars: str) -> list[int]:
    """Positions of the characters in ``chars`` that are outside all brackets and quotes."""
    depth, quoted = scan(text)
    return [i for i, ch in enumerate(text) if ch in chars and depth[i] == 0 and not quoted[i]]


def is_wrapped(text: str) -> bool:
    """Whether ``text`` (already stripped) is one bracketed group, such as ``"(1 + x | g)"``."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    return all(d > 0 for d in scan(text)[0][1:-1])


def unwrap(text: str) -> str:
    """``text`` stripped, with redundant outer parentheses removed: ``"((1|g))"`` -> ``"(1|g)"``."""
    text = text.strip()
    while is_wrapped(text) and is_wrapped(text[1:-1].strip()):
        text = text[1:-1].strip()
    return text


def split_terms(text: str, source: str | None = None) -> list[tuple[str, str]]:
    """Split a right-hand side at its top-level ``+`` and ``-`` signs.

    Args:
        text: right-hand side of a formula, e.g. ``"x - 1 + (1 | g)"``.
        source: the text to quote in error messages (default ``text``), e.g. the whole formula.

    Returns:
        ``(sign, term)`` pairs in order, where ``sign`` is ``"+"`` or ``"-"`` (``"+"`` for a first
        term without sign) and ``term`` is stripped: ``[("+", "x"), ("-", "1"), ("+", "(1 | g)")]``.
        Joining them back gives an equivalent formula.

    Raises:
        FormulaError: if a sign has no term after it (``"x + "``, ``"x + + y"``).
    """
    cuts = top_level(text, "+-")
    starts = [0, *cuts]
    ends = [*cuts, len(text)]
    out: list[tuple[str, str]] = []
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        sign = "+" if k == 0 else text[a]
        term = text[a if k == 0 else a + 1 : b].strip()
        if term:
            out.append((sign, term))
        elif k > 0:
            raise FormulaError(f"missing term after {sign!r} in {source or text!r}")
    return out
