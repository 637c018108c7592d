"""datashader workload: points, lines and areas aggregated onto canvases with several
reductions (count, sum, mean, max, count_cat, by, first/last, where), then shaded.
datashader generates its aggregation kernels as source text, per reduction and glyph, and
jit-compiles them (``ngjit`` on exec'd code)."""
import _results
import numpy as np
import pandas as pd
import datashader as ds
import datashader.transfer_functions as tf


def main():
    rng = np.random.default_rng(11)
    n = 5000
    df = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n),
                       "v": rng.random(n), "i": rng.integers(0, 100, n),
                       "cat": pd.Categorical(rng.choice(list("abcd"), n))})
    cvs = ds.Canvas(plot_width=60, plot_height=40, x_range=(-3, 3), y_range=(-3, 3))
    out = {}
    out["count"] = cvs.points(df, "x", "y").values
    out["sum"] = cvs.points(df, "x", "y", agg=ds.sum("v")).values
    out["mean"] = cvs.points(df, "x", "y", agg=ds.mean("v")).values
    out["max"] = cvs.points(df, "x", "y", agg=ds.max("v")).values
    out["min_i"] = cvs.points(df, "x", "y", agg=ds.min("i")).values
    out["std"] = cvs.points(df, "x", "y", agg=ds.std("v")).values
    out["count_cat"] = cvs.points(df, "x", "y", agg=ds.count_cat("cat")).values
    out["by_sum"] = cvs.points(df, "x", "y", agg=ds.by("cat", ds.sum("v"))).values
    out["first"] = cvs.points(df, "x", "y", agg=ds.first("v")).values
    out["where_max"] = cvs.points(df, "x", "y", agg=ds.where(ds.max("v"), "i")).values
    line = pd.DataFrame({"x": np.linspace(-3, 3, 300), "y": np.sin(np.linspace(-9, 9, 300))})
    out["line"] = cvs.line(line, "x", "y").values
    out["line_aa"] = cvs.line(line, "x", "y", line_width=1).values
    out["area"] = cvs.area(line, "x", "y").values
    img = tf.shade(cvs.points(df, "x", "y"), how="eq_hist")
    out["shade"] = np.asarray(img.values)
    out["spread"] = np.asarray(tf.spread(img, px=1).values)
    return _results.show(out)


if __name__ == "__main__":
    _results.save(main())
