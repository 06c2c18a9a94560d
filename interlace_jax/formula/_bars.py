"""lme4's random-effects bar syntax, parsed from text without looking at any data.

``y ~ x + (1 + x | g) + (1 | h)`` is split into a response, a fixed-effects right-hand side for
formulaic and one :class:`BarSpec` per random-effects term, as lme4 (reformulas) does with
``findbars``, ``nobars`` and ``expandDoubleVerts``:

- ``(x | g)`` has an implicit intercept (its left side is the formulaic formula ``"x"``);
- ``(1 + x || g)`` becomes the uncorrelated terms ``(1 | g)`` and ``(0 + x | g)``, one per term of
  the left side;
- ``(1 | a/b)`` becomes ``(1 | b:a)`` and ``(1 | a)``, and ``(1 | a/b/c)`` becomes ``(1 | c:b:a)``,
  ``(1 | b:a)`` and ``(1 | a)``, in lme4's order and with lme4's names (innermost factor first).
- ``offset(expr)`` terms leave the fixed part and are returned as expressions.

Example
-------
>>> p = parse_formula("Reaction ~ Days + (Days || Subject)")
>>> p.response, p.fixed_rhs
('Reaction', 'Days')
>>> [(b.lhs, b.group) for b in p.bars]
[('1', 'Subject'), ('0 + Days', 'Subject')]
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace
from functools import lru_cache

from formulaic.errors import FormulaicError
from formulaic.parser.types import Factor

from .._errors import FormulaError
from ._formula_cache import cached_formula
from ._scan import is_wrapped, split_terms, top_level, unquoted, unwrap

_NAME = r"(?:[A-Za-z_.][A-Za-z0-9_.]*|`[^`]+`)"
_GROUP_PART = re.compile(rf"\s*{_NAME}(?:\s*:\s*{_NAME})*\s*")
_OFFSET = re.compile(r"offset\s*\(")


@dataclass(frozen=True)
class BarSpec:
    """One random-effects term ``(lhs | group)``.

    Attributes:
        lhs: formulaic right-hand side of the term's model matrix, e.g. ``"1"``, ``"1 + Days"``,
            ``"0 + x"``, ``"cond"`` (formulaic adds the intercept unless ``0`` or ``-1`` removes it,
            as R does).
        group: grouping expression, names joined by ``:``, e.g. ``"Subject"``, ``"cask:batch"``.
        source: the user's text of the bar it came from, for error messages, e.g.
            ``"(1 | batch/cask)"``.
    """

    lhs: str
    group: str
    source: str

    @property
    def label(self) -> str:
        """The term as lme4 writes it after expansion, e.g. ``"(0 + Days | Subject)"``."""
        return f"({self.lhs} | {self.group})"

    @property
    def factors(self) -> tuple[str, ...]:
        """Column names of the grouping factors, without backticks: ``("cask", "batch")``."""
        return tuple(p.strip().strip("`") for p in _split_outside_quotes(self.group, ":"))


@dataclass(frozen=True)
class ParsedFormula:
    """A model formula split into its fixed and random parts.

    Attributes:
        response: left side of ``~`` (``"Reaction"``, ``"np.log(y)"``), or None if one-sided.
        fixed_rhs: formulaic right-hand side of the fixed effects, without bars and offsets;
            ``"1"`` when nothing is left.
        offsets: the expressions inside ``offset(...)`` terms, in order.
        bars: random-effects terms after expanding ``||`` and ``/``, in the order written
            (inline bars first, then those from ``random=`` or ``groups=``).
    """

    response: str | None
    fixed_rhs: str
    offsets: tuple[str, ...]
    bars: tuple[BarSpec, ...]


def parse_formula(
    formula: str,
    *,
    random: list[str] | None = None,
    groups: str | list[str] | None = None,
) -> ParsedFormula:
    """Split an lme4-style formula into response, fixed part, offsets and random-effects terms.

    Args:
        formula: e.g. ``"y ~ x + offset(log(n)) + (1 + x | g) + (1 | h)"``.
        random: extra random-effects terms, e.g. ``["(1 + x | g1)", "(1 | g2)"]``.
        groups: shorthand for random intercepts: ``"g"`` means ``["(1 | g)"]``. Ignored, with a
            warning, when ``random`` is given (``random`` takes precedence).

    Returns:
        The :class:`ParsedFormula`. Having no random-effects term is not an error here.

    Raises:
        FormulaError: for malformed text, naming the problem and quoting the text.
    """
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be a string, got {type(formula).__name__}")
    parsed = _parse_text(formula)
    extra = _extra_bars(random, groups)
    return replace(parsed, bars=parsed.bars + tuple(extra)) if extra else parsed


@lru_cache(maxsize=512)
def _parse_text(formula: str) -> ParsedFormula:
    """:func:`parse_formula` of the formula text alone, cached (ParsedFormula is immutable,
    and parsing and checking the parts with formulaic cost a warm fit ~0.3 ms)."""
    tildes = top_level(formula, "~")
    if not tildes:
        raise FormulaError(f"formula has no '~': {formula!r}")
    if len(tildes) > 1:
        raise FormulaError(f"formula has more than one '~': {formula!r}")
    response = formula[: tildes[0]].strip() or None
    if response is not None and "|" in response:
        raise FormulaError(f"the response cannot contain '|': {formula!r}")
    fixed: list[tuple[str, str]] = []
    offsets: list[str] = []
    bars: list[BarSpec] = []
    for sign, term in split_terms(formula[tildes[0] + 1 :], formula):
        term = unwrap(term)
        offset = _offset_expr(term)
        if is_wrapped(term) and top_level(term[1:-1], "|"):
            _require_plus(sign, term, "random-effects terms")
            bars.extend(_parse_bar(term))
        elif offset is not None:
            _require_plus(sign, term, "offset terms")
            offsets.append(offset)
        else:
            _reject_nested_bar(term, formula)
            fixed.append((sign, term))
    fixed_rhs = _join(fixed)
    _check_formulaic(fixed_rhs, f"the fixed-effects part {fixed_rhs!r} of {formula!r}")
    for expr in (response, *offsets):
        if expr is not None:
            _check_formulaic(f"I({expr})", f"{expr!r} in {formula!r}")
    return ParsedFormula(response, fixed_rhs, tuple(offsets), tuple(bars))


def _extra_bars(random: list[str] | None, groups: str | list[str] | None) -> list[BarSpec]:
    """The bars given through ``random=`` or, failing that, ``groups=``."""
    if random is not None:
        if groups is not None:
            warnings.warn("groups= is ignored because random= is given", UserWarning, stacklevel=3)
        specs = [random] if isinstance(random, str) else list(random)
        return [bar for spec in specs for bar in _random_entry(spec)]
    if groups is None:
        return []
    names = [groups] if isinstance(groups, str) else list(groups)
    for g in names:
        if not isinstance(g, str):
            raise FormulaError(f"groups= must be column names (strings), got {g!r}")
    return [bar for g in names for bar in _parse_bar(f"(1 | {g})")]


def _random_entry(spec: str) -> list[BarSpec]:
    """The bars of one ``random=`` entry.

    Accepted forms: ``"(1 + x | g)"``, ``"1 + x | g"`` and ``"(1 | a) + (1 | b)"``.
    """
    if not isinstance(spec, str):
        raise FormulaError(f"random= entries must be strings like '(1 + x | g)', got {spec!r}")
    text = f"({spec})" if top_level(spec, "|") else spec
    out: list[BarSpec] = []
    for sign, term in split_terms(text, spec):
        term = unwrap(term)
        if not (is_wrapped(term) and top_level(term[1:-1], "|")):
            raise FormulaError(
                f"random= entries must be random-effects terms like '(1 + x | g)', got {spec!r}"
            )
        _require_plus(sign, term, "random-effects terms")
        out.extend(_parse_bar(term))
    return out


def _parse_bar(text: str) -> list[BarSpec]:
    """Expand one bracketed bar ``"(lhs | group)"`` or ``"(lhs || group)"`` into BarSpecs."""
    inner = text[1:-1]
    cuts = top_level(inner, "|")
    double = len(cuts) == 2 and cuts[1] == cuts[0] + 1
    if len(cuts) > 1 and not double:
        raise FormulaError(f"random-effects term {text!r} has more than one '|'")
    bar = "||" if double else "|"
    lhs = inner[: cuts[0]].strip()
    group = inner[cuts[-1] + 1 :].strip()
    if not lhs:
        raise FormulaError(f"random-effects term {text!r} has nothing on the left of {bar!r}")
    if not group:
        raise FormulaError(f"random-effects term {text!r} has no grouping factor after {bar!r}")
    lhs_terms = _lhs_terms(lhs, text)
    lhss = _split_uncorrelated(lhs_terms) if double else [lhs]
    return [BarSpec(a, g, text) for a in lhss for g in _expand_group(group, text)]


def _lhs_terms(lhs: str, source: str) -> list[str]:
    """The term labels of a bar's left side (``"1"`` for the intercept), checked to be non-empty."""
    terms = _check_formulaic(lhs, f"the left side of random-effects term {source!r}")
    if not terms:
        raise FormulaError(f"random-effects term {source!r} has no columns on the left of '|'")
    return terms


def _split_uncorrelated(terms: list[str]) -> list[str]:
    """lme4's ``expandDoubleVert``: the intercept stays ``"1"``, other terms become ``"0 + t"``."""
    return [t if t == "1" else f"0 + {t}" for t in terms]


def _expand_group(group: str, source: str) -> list[str]:
    """lme4's ``expandSlash``: ``"a/b/c"`` -> ``["c:b:a", "b:a", "a"]``, ``"a:b"`` -> ``["a:b"]``.

    Raises:
        FormulaError: if a part is not plain names joined by ``:`` (e.g. ``log(g)``).
    """
    parts = _split_outside_quotes(group, "/")
    if not all(_GROUP_PART.fullmatch(p) for p in parts):
        raise FormulaError(
            f"grouping factor {group!r} in random-effects term {source!r} must be variable "
            "names joined by ':' or '/' (e.g. 'g', 'g1:g2', 'g1/g2'); compute other "
            "expressions as a column first"
        )
    names = [":".join(n.strip() for n in p.split(":")) for p in parts]
    nested = [":".join(reversed(names[: k + 1])) for k in range(len(names))]
    return nested[::-1]


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split ``text`` at top-level ``sep`` characters (not inside brackets or backticks)."""
    cuts = top_level(text, sep)
    return [text[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(text)], strict=True)]


def _offset_expr(term: str) -> str | None:
    """The expression inside ``offset(...)`` when the whole term is one offset call."""
    m = _OFFSET.match(term)
    if m is None or not is_wrapped(term[m.end() - 1 :]):
        return None
    expr = term[m.end() : -1].strip()
    if not expr:
        raise FormulaError(f"empty offset term {term!r}")
    return expr


def _require_plus(sign: str, term: str, what: str) -> None:
    if sign != "+":
        raise FormulaError(f"{what} must be added with '+', not removed with '-': '- {term}'")


def _reject_nested_bar(term: str, formula: str) -> None:
    """A fixed term must not contain a bar anywhere (``log((1 | g))``, ``x:(1 | g)``, ``1 | g``)."""
    if "|" not in unquoted(term):
        return
    if top_level(term, "|"):
        raise FormulaError(
            f"random-effects term {term!r} must be in parentheses, e.g. '(1 | g)', in {formula!r}"
        )
    if re.search(r"[A-Za-z0-9_.\]]\s*\(", term):
        raise FormulaError(
            f"a random-effects bar cannot be nested inside another function: {term!r} in "
            f"{formula!r}"
        )
    raise FormulaError(
        f"random-effects terms must be separate terms joined with '+': {term!r} in {formula!r}"
    )


def _check_formulaic(rhs: str, what: str) -> list[str]:
    """Parse ``rhs`` with formulaic and return its term labels (``"1"`` for the intercept).

    Term labels are written so that formulaic parses them back: names that need quoting are
    quoted with backticks.
    """
    try:
        formula = cached_formula(rhs)
        labels = [":".join(_factor_text(f) for f in term.factors) for term in formula]
    except (FormulaicError, SyntaxError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FormulaError(f"cannot parse {what}: {first}") from None
    return labels


def _factor_text(factor: Factor) -> str:
    if factor.eval_method is Factor.EvalMethod.LOOKUP and not factor.expr.isidentifier():
        return f"`{factor.expr}`"
    return factor.expr


def _join(terms: list[tuple[str, str]]) -> str:
    """Rejoin signed terms into a right-hand side; ``"1"`` when there are none."""
    if not terms:
        return "1"
    text = " ".join(f"{s} {t}" for s, t in terms)
    return text[2:] if text.startswith("+ ") else text
