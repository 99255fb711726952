"""The warm kernel's reset frees what annexes leave behind (no kernel needed: the reset
runs in a plain Python process here, as it does inside the kernel)."""

import subprocess
import sys
import textwrap


def test_cycles_frozen_by_a_reset_are_freed_by_a_later_full_collection():
    # a reference cycle alive at one reset is moved to the permanent generation; once it
    # becomes garbage only an unfrozen collection frees it (matplotlib figures are such cycles)
    code = textwrap.dedent("""
        import gc, weakref
        from sipas.running import kernel_state as ks
        ks.prepare(preload=())

        class Node:
            pass

        a = Node(); a.self = a
        alive = weakref.ref(a)
        ks.reset()          # a is alive: frozen with the rest
        del a
        for _ in range(3):
            ks.reset()      # the frozen set hardly grew: no reset walks frozen objects
        kept = alive() is not None
        more = [Node() for _ in range(ks.FROZEN_GROWTH + 10)]
        ks.reset()          # freezes them: the frozen set has now grown past the bound
        ks.reset()          # which this reset sees: it unfreezes, and its collection frees a
        print(kept, alive() is None)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"], out.stdout + out.stderr


def test_the_kernel_preload_imports_neither_seaborn_nor_scipy():
    # about 1 s of CPU per kernel that rendering never needs (a fresh run boots two kernels on
    # two cores); the estimation modules the report imports load SciPy when they use it
    code = textwrap.dedent("""
        import sys
        from sipas.running import kernel_state as ks
        ks.prepare()
        from sipas.publishing import charts
        charts.set_theme()
        print(sorted(m for m in ("seaborn", "scipy", "statsmodels") if m in sys.modules),
              all(m in sys.modules for m in ks.PRELOAD))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"], out.stdout + out.stderr
