"""Runs *inside* a warm Jupyter kernel: pre-import, snapshot, and reset between annexes.

A warm kernel executes many annexes one after the other. Before each one the batch
executor calls :func:`reset` (silently, outside the notebook's history), which puts the
kernel back to the state :func:`prepare` recorded right after start-up:

* the user namespace, ``In``/``Out`` and the execution counter (IPython ``reset``,
  new session: the executed notebook numbers its cells from 1, as in a fresh kernel);
* matplotlib: every figure closed, every rcParam restored (``seaborn.set_theme`` and
  any ``rcParams[...] = ...`` of the previous annex undone), the inline backend's
  figure formats and options restored;
* pandas options, the global random states of ``random`` and ``numpy``, the working
  folder, environment variables, ``sys.path``, warning filters;
* the attributes of every ``sipas`` module (a monkeypatch of a ``sipas`` function by one
  annex does not reach the next).

What it does not undo: changes to the internals of third-party modules other than the
ones listed (a notebook that monkeypatches pandas itself). Against that, and against
anything a failing annex may leave behind, the executor starts a fresh kernel after
every failure and after a fixed number of annexes (``SIPAS_ANNEXES_PER_KERNEL``).

Speed: IPython's reset ends with a full ``gc.collect()``, which walks every object of the
kernel (pandas, matplotlib, the cached tables: about a quarter of a second of CPU per
annex). After :func:`prepare` and after each reset's collection the survivors are moved
to the permanent generation (``gc.freeze``), so the next collection walks only what the
last annex created. Frozen objects that become garbage later are still freed by
reference counting, but cycles among them are not (a matplotlib figure kept alive past a
reset is one), so a reset unfreezes first, and its collection walks and frees
everything, once the permanent generation has grown by :data:`FROZEN_GROWTH` objects
since the last such collection: the garbage it may hold stays within that bound (about
5 figures' worth), and annexes that leave little behind seldom pay for a full collection
(about 80 ms of CPU; one every 10 resets cost 8 ms per annex).

Speed, too: ipykernel flushes ``sys.stdout`` and ``sys.stderr`` after every cell and before
every display, each flush a round trip to its I/O thread even when nothing was written
(about 80 per annex, 12 ms of the kernel's CPU). :func:`prepare` lets a flush with nothing
to send return at once (:func:`_skip_empty_flushes`); a stream with text still flushes.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import warnings

# heavy imports the report notebooks need: imported once per kernel (not seaborn nor
# SciPy, about 1 s of CPU per kernel, which rendering never needs; a notebook that uses
# them imports them, once per kernel too)
PRELOAD = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "pyarrow.parquet",
           "sipas.publishing.report", "sipas.publishing.charts", "sipas.publishing.narrative", "sipas.base.formats", "sipas.estimation.indices")

IPYKERNEL_STREAM_API = "7."  # the ipykernel whose OutStream internals _skip_empty_flushes reads
_STREAM_STATE = ("_buffers", "_buffer_lock", "_flush_pending", "_subprocess_flush_pending", "echo")

_SNAP: dict = {}
FROZEN_GROWTH = 20_000  # objects frozen since the last full collection that trigger the next one


def _sipas_modules() -> dict[str, object]:
    return {n: m for n, m in sys.modules.items() if m is not None and (n == "sipas" or n.startswith("sipas."))
            and n != __name__}


def _inline_backend():
    try:
        from matplotlib_inline.backend_inline import InlineBackend

        return InlineBackend.instance()
    except Exception:  # pragma: no cover - not in a kernel
        return None


def _skip_empty_flushes() -> int:
    """Make ``flush()`` of the kernel's stdout and stderr return at once when there is
    nothing to send: no buffered text, no flush scheduled (by a write, or by output of a
    subprocess) and no echo stream. Anything written is flushed exactly as before, and the
    messages that do go out keep their order (they all pass through the one I/O thread).
    Only under the ipykernel whose internals this reads (:data:`IPYKERNEL_STREAM_API`);
    returns the number of streams changed."""
    try:
        import ipykernel
        from ipykernel.iostream import OutStream
    except ImportError:  # pragma: no cover - not in a kernel
        return 0
    if not ipykernel.__version__.startswith(IPYKERNEL_STREAM_API):
        return 0
    changed = 0
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, OutStream) or not all(hasattr(stream, a) for a in _STREAM_STATE):
            continue
        if getattr(stream.flush, "skips_empty", False):
            continue

        def flush(stream=stream, full=stream.flush):
            with stream._buffer_lock:
                empty = not any(b.tell() for b in stream._buffers.values())
            if not (empty and stream.echo is None and not stream._flush_pending
                    and not stream._subprocess_flush_pending):
                full()

        flush.skips_empty = True
        stream.flush = flush
        changed += 1
    return changed


def prepare(preload: tuple[str, ...] = PRELOAD) -> None:
    """Import the heavy libraries and record the state every annex starts from."""
    import importlib

    _skip_empty_flushes()

    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import matplotlib
    import numpy as np
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = dict(matplotlib.rcParams)
        pd_opts = {k: pd.get_option(k) for k in pd._config.config._registered_options
                   if k not in pd._config.config._deprecated_options}
    ib = _inline_backend()
    _SNAP.clear()
    _SNAP.update(
        rc=rc,
        pd=pd_opts,
        np_random=np.random.get_state(),
        random=random.getstate(),
        cwd=os.getcwd(),
        environ=dict(os.environ),
        path=list(sys.path),
        warnings=list(warnings.filters),
        modules={n: dict(vars(m)) for n, m in _sipas_modules().items()},
        inline={k: getattr(ib, k) for k in ("figure_formats", "print_figure_kwargs", "rc", "close_figures")}
        if ib is not None else {},
    )
    gc.collect()
    gc.freeze()
    _SNAP["frozen"] = gc.get_freeze_count()


def reset(cwd: str | None = None) -> None:
    """Back to the state recorded by :func:`prepare` (raises if prepare never ran);
    ``cwd``: the working folder of the next notebook (default: the one at start-up)."""
    if not _SNAP:
        raise RuntimeError("sipas.running.kernel_state.prepare() was not called in this kernel")
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        ip = None
    plt.close("all")
    full = gc.get_freeze_count() - _SNAP["frozen"] > FROZEN_GROWTH
    if full:
        gc.unfreeze()
    if ip is not None:
        ip.reset(new_session=True)  # ends with gc.collect()
        ip.execution_count = 1
    else:
        gc.collect()
    gc.freeze()
    if full:
        _SNAP["frozen"] = gc.get_freeze_count()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matplotlib.rcParams.update(_SNAP["rc"])
        for k, v in _SNAP["pd"].items():
            try:
                pd.set_option(k, v)
            except Exception:
                pass
    ib = _inline_backend()
    for k, v in _SNAP["inline"].items():
        if getattr(ib, k) != v:
            setattr(ib, k, v)
    np.random.set_state(_SNAP["np_random"])
    random.setstate(_SNAP["random"])
    os.chdir(cwd or _SNAP["cwd"])
    if dict(os.environ) != _SNAP["environ"]:
        os.environ.clear()
        os.environ.update(_SNAP["environ"])
    sys.path[:] = _SNAP["path"]
    warnings.filters[:] = _SNAP["warnings"]
    warnings._filters_mutated()
    for name, saved in _SNAP["modules"].items():
        mod = sys.modules.get(name)
        if mod is None:
            continue
        d = vars(mod)
        if len(d) != len(saved) or any(d.get(k, d) is not v for k, v in saved.items()):
            for extra in [k for k in d if k not in saved]:
                del d[extra]
            d.update(saved)
