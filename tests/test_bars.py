"""Tests of interlace_jax.formula.parse_formula: lme4's bar syntax, parsed without data.

Expected expansions follow lme4/reformulas (``findbars``, ``expandDoubleVerts``, ``expandSlash``).
"""

import pytest

from interlace_jax._errors import FormulaError
from interlace_jax.formula import BarSpec, ParsedFormula, parse_formula


def bars(formula, **kw):
    return [(b.lhs, b.group) for b in parse_formula(formula, **kw).bars]


# --- fixed part, response, offsets -------------------------------------------------------------


def test_split_fixed_and_bars():
    p = parse_formula("y ~ x + (1 + x | g) + (1 | h)")
    assert p == ParsedFormula(
        "y",
        "x",
        (),
        (BarSpec("1 + x", "g", "(1 + x | g)"), BarSpec("1", "h", "(1 | h)")),
    )


def test_parentheses_in_the_fixed_part_survive():
    p = parse_formula("np.log(y) ~ np.log(x) + I((a + b) * 2) + (1 | g) + (a + b):c")
    assert p.response == "np.log(y)"
    assert p.fixed_rhs == "np.log(x) + I((a + b) * 2) + (a + b):c"
    assert bars("y ~ np.log(x) + (1 | g)") == [("1", "g")]


def test_bar_between_fixed_terms_and_minus_one():
    p = parse_formula("y ~ x + (1 | g) - 1 + z")
    assert p.fixed_rhs == "x - 1 + z"
    assert bars("y ~ x + (1 | g) - 1 + z") == [("1", "g")]


def test_empty_fixed_part_is_intercept():
    assert parse_formula("y ~ (1 | g)").fixed_rhs == "1"
    assert parse_formula("y ~ (1 | g) + offset(o)").fixed_rhs == "1"


def test_no_intercept_fixed_part_is_kept():
    assert parse_formula("y ~ 0 + x + (1|g)").fixed_rhs == "0 + x"
    assert parse_formula("y ~ -1 + x + (1|g)").fixed_rhs == "- 1 + x"


def test_offsets_leave_the_fixed_part():
    p = parse_formula("y ~ x + offset(log(n)) + offset( o ) + (1 | g)")
    assert p.fixed_rhs == "x"
    assert p.offsets == ("log(n)", "o")


def test_one_sided_formula_has_no_response():
    p = parse_formula("~ x + (1 | g)")
    assert p.response is None and p.fixed_rhs == "x"


def test_zero_bars_is_not_an_error():
    p = parse_formula("y ~ x")
    assert p.bars == () and p.fixed_rhs == "x"


def test_quoted_bar_inside_a_string_is_not_a_bar():
    p = parse_formula("y ~ C(g, levels=['a|b', 'c']) + (1 | g)")
    assert p.fixed_rhs == "C(g, levels=['a|b', 'c'])"
    assert len(p.bars) == 1


# --- bar forms ------------------------------------------------------------------------------


def test_bar_forms():
    assert bars("y ~ (x | g)") == [("x", "g")]  # implicit intercept (formulaic adds it)
    assert bars("y ~ (0 + x | g)") == [("0 + x", "g")]
    assert bars("y ~ (-1 + x | g)") == [("-1 + x", "g")]
    assert bars("y ~ (cond | g)") == [("cond", "g")]
    assert bars("y ~ (1 | g1:g2)") == [("1", "g1:g2")]
    assert bars("y ~ (1|g1 : g2)") == [("1", "g1:g2")]
    assert bars("y ~ ((1 | g))") == [("1", "g")]


def test_source_is_the_users_text_and_label_the_expanded_term():
    p = parse_formula("y ~ (1 + x || g) + (1|a/b)")
    assert [b.source for b in p.bars] == ["(1 + x || g)"] * 2 + ["(1|a/b)"] * 2
    assert [b.label for b in p.bars] == ["(1 | g)", "(0 + x | g)", "(1 | b:a)", "(1 | a)"]


def test_several_bars_on_the_same_factor():
    assert bars("y ~ (1 | g) + (0 + x | g)") == [("1", "g"), ("0 + x", "g")]


def test_double_bar_expands_into_uncorrelated_terms():
    assert bars("y ~ (1 + x || g)") == [("1", "g"), ("0 + x", "g")]
    assert bars("y ~ (x || g)") == [("1", "g"), ("0 + x", "g")]
    assert bars("y ~ (0 + x + z || g)") == [("0 + x", "g"), ("0 + z", "g")]
    assert bars("y ~ (-1 + x || g)") == [("0 + x", "g")]


def test_double_bar_expands_interactions_and_functions():
    assert bars("y ~ (x * z || g)") == [
        ("1", "g"),
        ("0 + x", "g"),
        ("0 + z", "g"),
        ("0 + x:z", "g"),
    ]
    assert bars("y ~ (1 + np.log(x) || g)") == [("1", "g"), ("0 + np.log(x)", "g")]


def test_double_bar_keeps_backticked_names_quoted():
    assert bars("y ~ (1 + `my x` || `my g`)") == [("1", "`my g`"), ("0 + `my x`", "`my g`")]
    assert parse_formula("y ~ (1 | `my g`:h)").bars[0].factors == ("my g", "h")


def test_nested_slash_expands_as_lme4():
    # lme4 names the inner factor first: (1 | batch/cask) -> (1 | cask:batch) + (1 | batch).
    assert bars("y ~ (1 | g1/g2)") == [("1", "g2:g1"), ("1", "g1")]
    assert bars("y ~ (1 | g1/g2/g3)") == [("1", "g3:g2:g1"), ("1", "g2:g1"), ("1", "g1")]
    assert bars("y ~ (1 | a:b/c)") == [("1", "c:a:b"), ("1", "a:b")]
    assert parse_formula("y ~ (1 | g1/g2)").bars[0].factors == ("g2", "g1")


def test_double_bar_with_nesting():
    assert bars("y ~ (1 + x || a/b)") == [
        ("1", "b:a"),
        ("1", "a"),
        ("0 + x", "b:a"),
        ("0 + x", "a"),
    ]


# --- random= and groups= -----------------------------------------------------------------------


def test_random_argument_adds_bars_after_inline_ones():
    got = bars("y ~ x + (1 | h)", random=["(1 + x | g1)", "(1 | g2)"])
    assert got == [("1", "h"), ("1 + x", "g1"), ("1", "g2")]


def test_random_argument_forms():
    assert bars("y ~ x", random=["1 + x | g"]) == [("1 + x", "g")]
    assert bars("y ~ x", random=["(1 | a) + (1 | b)"]) == [("1", "a"), ("1", "b")]
    assert bars("y ~ x", random=["(1 + x || g)"]) == [("1", "g"), ("0 + x", "g")]
    assert bars("y ~ x", random="(1 | g)") == [("1", "g")]


def test_groups_shorthand():
    assert bars("y ~ x", groups="g") == [("1", "g")]
    assert bars("y ~ x", groups=["g1", "g2"]) == [("1", "g1"), ("1", "g2")]
    assert bars("y ~ x", groups="a/b") == [("1", "b:a"), ("1", "a")]


def test_random_takes_precedence_over_groups():
    with pytest.warns(UserWarning, match="groups= is ignored because random= is given"):
        got = bars("y ~ x", random=["(1 | g1)"], groups=["g2"])
    assert got == [("1", "g1")]


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y x + (1 | g)", "formula has no '~'"),
        ("y ~ x ~ z", "more than one '~'"),
        ("y ~ x + (1 | g", "'(' at position 8 is never closed in 'y ~ x + (1 | g'"),
        ("y ~ x) + (1 | g)", "unexpected ')' at position 5"),
        ("y ~ x + ( | g)", "random-effects term '( | g)' has nothing on the left of '|'"),
        ("y ~ x + (1 | )", "random-effects term '(1 | )' has no grouping factor after '|'"),
        ("y ~ x + (1 + x || )", "'(1 + x || )' has no grouping factor after '||'"),
        ("y ~ (0 | g)", "'(0 | g)' has no columns on the left of '|'"),
        ("y ~ (1 | g | h)", "'(1 | g | h)' has more than one '|'"),
        ("y ~ log((1 | g))", "cannot be nested inside another function: 'log((1 | g))'"),
        ("y ~ I(1 | g)", "cannot be nested inside another function: 'I(1 | g)'"),
        ("y ~ x:(1 | g)", "must be separate terms joined with '+': 'x:(1 | g)'"),
        ("y ~ x + 1 | g", "random-effects term '1 | g' must be in parentheses"),
        ("y ~ x - (1 | g)", "must be added with '+', not removed with '-': '- (1 | g)'"),
        ("y ~ x - offset(o)", "offset terms must be added with '+'"),
        ("y ~ (1 | log(g))", "grouping factor 'log(g)' in random-effects term '(1 | log(g))'"),
        ("y ~ (1 | g + h)", "grouping factor 'g + h'"),
        ("y ~ (1 | (g))", "grouping factor '(g)'"),
        ("y ~ x + ", "missing term after '+' in 'y ~ x + '"),
        ("y ~ a b + (1 | g)", "cannot parse the fixed-effects part 'a b'"),
        ("y ~ (x + | g)", "cannot parse the left side of random-effects term '(x + | g)'"),
        ("y ~ x + offset()", "empty offset term 'offset()'"),
        ("y ~ x + offset(a b)", "cannot parse 'a b' in 'y ~ x + offset(a b)'"),
        ("log(a b) ~ x", "cannot parse 'log(a b)' in 'log(a b) ~ x'"),
        ("y | g ~ x", "the response cannot contain '|'"),
    ],
)
def test_malformed_formulas(formula, message):
    with pytest.raises(FormulaError) as info:
        parse_formula(formula)
    assert message in str(info.value)


def test_malformed_random_and_groups():
    with pytest.raises(FormulaError, match="random= entries must be random-effects terms"):
        parse_formula("y ~ x", random=["x + z"])
    with pytest.raises(FormulaError, match="random= entries must be strings"):
        parse_formula("y ~ x", random=[3])
    with pytest.raises(FormulaError, match=r"groups= must be column names \(strings\), got 3"):
        parse_formula("y ~ x", groups=["g", 3])
    with pytest.raises(FormulaError, match="grouping factor 'log\\(g\\)'"):
        parse_formula("y ~ x", groups="log(g)")
    with pytest.raises(FormulaError, match="formula must be a string"):
        parse_formula(None)
