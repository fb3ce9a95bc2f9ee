"""DLink toolchain: distill an EEG foundation model into an int8 student for a Cortex-M board.

Stages (one sub-package each): :mod:`dlink.data`, :mod:`dlink.distill`, :mod:`dlink.export`,
:mod:`dlink.firmware`, :mod:`dlink.bench`. They talk through files in a run directory
(:mod:`dlink.rundir`), never through Python objects.
"""

__version__ = "0.1.0"
