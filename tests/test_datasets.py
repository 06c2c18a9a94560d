"""Tests of interlace_jax.datasets: the example data exported from R (tests/fixtures/export_datasets.R)."""

import json
from importlib import resources

import pandas as pd
import pytest

from interlace_jax import datasets

EXPECTED = {
    "sleepstudy", "Penicillin", "Pastes", "Dyestuff", "Dyestuff2", "cake", "InstEval",
    "cbpp", "grouseticks", "VerbAgg", "wine", "soup", "rats", "kidney", "lung",
}


def _schema():
    ref = resources.files("interlace_jax.datasets").joinpath("data", "schema.json")
    return json.loads(ref.read_text(encoding="utf-8"))


def test_list_datasets():
    names = datasets.list_datasets()
    assert isinstance(names, list)
    assert set(names) == EXPECTED
    assert names == sorted(names)


def test_sleepstudy():
    df = datasets.load("sleepstudy")
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (180, 3)
    assert list(df.columns) == ["Reaction", "Days", "Subject"]
    assert isinstance(df["Subject"].dtype, pd.CategoricalDtype)
    assert not df["Subject"].cat.ordered
    assert len(df["Subject"].cat.categories) == 18
    assert list(df["Subject"].cat.categories[:3]) == ["308", "309", "310"]
    assert df["Reaction"].dtype == "float64"
    assert df["Reaction"].iloc[0] == 249.56
    assert df["Reaction"].sum() == pytest.approx(53731.4205, rel=1e-12)
    assert (df["Subject"].value_counts() == 10).all()


def test_insteval():
    df = datasets.load("InstEval")
    assert df.shape == (73421, 7)
    assert list(df.columns) == ["s", "d", "studage", "lectage", "service", "dept", "y"]
    assert df["y"].dtype == "int64"
    assert len(df["s"].cat.categories) == 2972
    assert len(df["d"].cat.categories) == 1128
    assert df["studage"].cat.ordered
    assert list(df["studage"].cat.categories) == ["2", "4", "6", "8"]
    assert not df["service"].cat.ordered


def test_ordered_factor_level_order():
    # R's level order, not alphabetical: ordinal::wine$rating is 1 < 2 < ... < 5, and
    # lme4::VerbAgg$resp is no < perhaps < yes.
    wine = datasets.load("wine")
    assert wine["rating"].cat.ordered
    assert list(wine["rating"].cat.categories) == ["1", "2", "3", "4", "5"]
    verb = datasets.load("VerbAgg")
    assert list(verb["resp"].cat.categories) == ["no", "perhaps", "yes"]
    assert verb["resp"].cat.ordered
    assert verb["Anger"].dtype == "int64"


def test_penicillin_pastes_cake():
    pen = datasets.load("Penicillin")
    assert pen.shape == (144, 3)
    assert len(pen["plate"].cat.categories) == 24
    assert len(pen["sample"].cat.categories) == 6
    pastes = datasets.load("Pastes")
    assert pastes.shape == (60, 4)
    cake = datasets.load("cake")
    assert cake.shape == (270, 5)
    assert cake["temperature"].cat.ordered
    assert list(cake["temperature"].cat.categories) == ["175", "185", "195", "205", "215", "225"]
    assert cake["temp"].dtype == "float64"


def test_missing_values_survive():
    lung = datasets.load("lung")
    assert lung.shape == (228, 10)
    assert lung["wt.loss"].isna().sum() == 14
    assert lung["time"].notna().all()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_dataset_matches_schema(name):
    info = _schema()[name]
    df = datasets.load(name)
    assert list(df.columns) == list(info["columns"])
    assert len(df) == info["nrow"]
    for col, spec in info["columns"].items():
        s = df[col]
        if spec["type"] == "factor":
            assert isinstance(s.dtype, pd.CategoricalDtype), col
            assert list(s.cat.categories) == spec["levels"], col
            assert s.cat.ordered == spec["ordered"], col
            # every label in the file is one of R's levels (no silent NaN from a mismatch)
            assert (s.cat.codes >= 0).all(), col
        elif spec["type"] == "integer":
            assert s.dtype == "int64", col
        elif spec["type"] == "numeric":
            assert s.dtype == "float64", col
        elif spec["type"] == "logical":
            assert s.dtype == "bool", col


def test_load_returns_fresh_copy():
    a = datasets.load("Dyestuff")
    a.loc[0, "Yield"] = -1.0
    b = datasets.load("Dyestuff")
    assert b.loc[0, "Yield"] != -1.0


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="sleepstudy"):
        datasets.load("no_such_dataset")


def test_numbers_are_exact():
    # The CSV holds 17 significant digits where needed (grouseticks$cHEIGHT is a centred
    # column); pandas must read back exactly the double that Python's float() gives.
    import csv
    import gzip

    ref = resources.files("interlace_jax.datasets").joinpath("data", "grouseticks.csv.gz")
    with ref.open("rb") as fh, gzip.open(fh, "rt", encoding="utf-8") as text:
        rows = list(csv.DictReader(text))
    exact = [float(r["cHEIGHT"]) for r in rows]
    df = datasets.load("grouseticks")
    assert df["cHEIGHT"].tolist() == exact
