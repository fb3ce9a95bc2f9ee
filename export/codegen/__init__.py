"""Ahead-of-time C code generation for the dlink int8 runtime.

``generate_c(tflite_path, out_dir, name="student")`` writes ``<name>_model.h/.c``: the model's
weights and precomputed requantisation constants as aligned const data, a static activation
arena laid out by the liveness planner (:mod:`.planner`), and ``<name>_invoke``.
"""

from .generator import build_model_code, generate_c
from .ops import SUPPORTED_OPS, UnsupportedOperatorError
from .planner import Buffer, plan_arena
from .reader import ModelFormatError, read_tflite

__all__ = ["generate_c", "build_model_code", "UnsupportedOperatorError", "ModelFormatError",
           "SUPPORTED_OPS", "read_tflite", "plan_arena", "Buffer"]
