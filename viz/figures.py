"""What every plot shares: a matplotlib figure, fonts that draw the chapter's Chinese words, and
saving by suffix.

Figures are ``matplotlib.figure.Figure`` objects made directly, never through pyplot, and no
backend is chosen: importing viz changes nothing process-wide, a notebook shows the figure a plot
returns, and a user restyles it as any other figure. matplotlib is imported on first use.
"""
import functools
import io
import os
import textwrap

import numpy as np

from autograph.files import write_atomic

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
# Each character is drawn in the first of these fonts that has it (matplotlib >= 3.6): DejaVu Sans,
# which matplotlib ships, for Latin, Greek and the math signs, then a CJK font where one is
# installed, so that 我 在 华联 购物 is not drawn as boxes.
FONTS = ("DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC",
         "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
         "AR PL UMing CN", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "SimHei",
         "Arial Unicode MS")
LABEL_WIDTH = 40        # characters per line of a legend entry


def format_of(path, what):
    """The format ``path``'s suffix asks for; a ValueError naming ``what`` otherwise."""
    fmt = FORMATS.get(os.path.splitext(str(path))[1].lower())
    if fmt is None:
        raise ValueError("%s: cannot tell the format of %r from its suffix; use one of %s"
                         % (what, str(path), ", ".join(FORMATS)))
    return fmt


def new_figure(width=7.5, height=4.2):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


@functools.lru_cache(maxsize=1)
def font_family():
    """The fonts of FONTS that are installed (matplotlib warns about each missing one)."""
    from matplotlib import font_manager
    have = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in FONTS if f in have] or ["sans-serif"]


def curves(series, default, ndim, what):
    """(label, float64 array of ``ndim`` dimensions) pairs from one array, {label: array} or
    {label: {track: array}} (what ``grad_norms`` and ``jacobian_spectrum`` return for several
    tracks, gathered for several models)."""
    if not isinstance(series, dict):
        pairs = [(default, series)]
    else:
        pairs = []
        for label, v in series.items():
            if isinstance(v, dict):
                pairs.extend(("%s · %s" % (label, track), a) for track, a in v.items())
            else:
                pairs.append((str(label), v))
    out = []
    for label, a in pairs:
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != ndim:
            raise ValueError("%s: the series %r has shape %s; expected an array of %d dimension%s"
                             % (what, label, a.shape, ndim, "s" if ndim > 1 else ""))
        out.append((label, a))
    return out


def plain(label):
    """A label drawn as it is written: "$" would start matplotlib's math mode."""
    return str(label).replace("$", r"\$")


def legend(owner, lines, labels, above=False):
    """A legend right of the axes ``owner`` (or, ``above``, across the top of the figure
    ``owner``), with every label (even one starting with "_", which matplotlib would leave out)
    wrapped to LABEL_WIDTH characters."""
    where = dict(loc="outside upper center", ncols=min(len(labels), 4)) if above else dict(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    owner.legend(lines, [textwrap.fill(plain(x), LABEL_WIDTH) for x in labels], fontsize=9,
                 frameon=False, **where)


def finish(fig, path, what):
    """Give every text of ``fig`` the fallback fonts, save it when ``path`` is given (atomically;
    .png .svg or .pdf) and return it."""
    from matplotlib.text import Text
    family = font_family()
    for text in fig.findobj(Text):
        text.set_fontfamily(family)
    if path is not None:
        save(fig, path, what)
    return fig


def save(fig, path, what):
    import matplotlib
    fmt = format_of(path, what)
    buf = io.BytesIO()
    # the same figure gives the same bytes: no date, and SVG ids from a fixed salt instead of
    # a random one (rcParams are the only way to set it; restored on leaving the block)
    with matplotlib.rc_context({"svg.hashsalt": "autograph"}):
        fig.savefig(buf, format=fmt, dpi=150,
                    metadata={"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt))
    write_atomic(path, buf.getvalue())
