"""What the tables and figures share: a LaTeX cell (mean ± interval, bold, underline), LaTeX
escaping, the paired-gain columns and the bold they imply, and writing a table (CSV + LaTeX) or a
figure (PDF + PNG, byte-stable)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from evaluations import stats  # noqa: E402
from evaluations.results import write_csv  # noqa: E402
from ssl_core.io import atomic_path, write_text  # noqa: E402


def format_cell(mean: float, half: float = float("nan"), bold: bool = False, underline: bool = False,
                digits: int = 1, n: int | None = None) -> str:
    """A cell: mean ± the half-width of its 95 % interval; "(n = 1)" where one seed leaves it
    undefined (``n`` given), "--" where nothing was measured."""
    if pd.isna(mean):
        return "--"
    text = f"{mean:.{digits}f}" + (rf" $\pm$ {half:.2f}" if pd.notna(half) else
                                   f" (n = {n})" if n is not None and n < 2 else "")
    text = rf"\underline{{{text}}}" if underline else text
    return rf"\textbf{{{text}}}" if bold else text


def tex_escape(text: str) -> str:
    """Text in a LaTeX cell: underscores escaped (run, variant and profile names)."""
    return text.replace("_", r"\_")


def gain_columns(gains: pd.DataFrame, key: tuple | None) -> dict[str, float]:
    """The paired gain of one comparison as table columns (NaN where not both variants ran)."""
    g = gains.loc[key] if key is not None and key in gains.index else {}
    nan = float("nan")
    return {"gain": g.get("mean", nan), "gain_low": g.get("ci_low", nan), "gain_high": g.get("ci_high", nan),
            "gain_n": int(g.get("n", 0))}


def significant(df: pd.DataFrame) -> pd.Series:
    """Bold on our side: the row's variant is the one its paired interval shows to be better (never
    where the interval contains 0 or is undefined, n < 2)."""
    better = [stats.better_variant(r.gain_low, r.gain_high) for r in df.itertuples()]
    return pd.Series([b is not None and b == v for b, v in zip(better, df.variant)], index=df.index)


def _is_max(df: pd.DataFrame, column: str, keys: list[str]) -> pd.Series:
    """True where a row holds the highest ``column`` of its group (ties: all of them; NaN: never)."""
    return df[column] == df.groupby(keys)[column].transform("max")


def better_of_pair(df: pd.DataFrame, column: str, keys: list[str]) -> pd.Series:
    """True where a row holds the higher value of its baseline/rescued pair (the paper's bold)."""
    pair = df.groupby(keys)["variant"].transform("nunique") == 2
    return pair & _is_max(df, column, keys)


def save_figure(fig: plt.Figure, out_stem: str | Path, formats: tuple[str, ...] = ("pdf", "png")) -> None:
    """PDF + PNG, byte-stable across reruns (no creation date in the metadata)."""
    for ext, meta in (("pdf", {"CreationDate": None}), ("png", {"Software": None})):
        if ext not in formats:
            continue
        with atomic_path(f"{out_stem}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=150, metadata=meta)
    plt.close(fig)


def write_table(table: pd.DataFrame, latex: str, out_stem: str | Path) -> None:
    write_csv(table, f"{out_stem}.csv")
    write_text(f"{out_stem}.tex", latex)
