"""Write the tiny int8 .tflite models the runtime and code-generator tests use.

Each model is a few Keras layers converted with full-integer quantisation (int8 input and output,
per-channel weights, a fixed random representative dataset), so the tests exercise exactly what
the TFLite converter emits without importing TensorFlow. Run once after changing a model::

    .venv/bin/python tests/data/make_models.py          # writes tests/data/tflite/*.tflite

The files are small (a few KB each) and committed.

``mic_student.tflite`` is different: it is the real exporter's output (``dlink export``) for a
small MiC student (22 channels x 800 samples, mimic_width 2, hidden/final width 8, the run that
tests/export/test_export_run.py builds), so the runtime is tested on exactly the operator
sequence the exporter produces (TRANSPOSE, PAD, DEPTHWISE_CONV_2D, CONV_2D, MEAN,
FULLY_CONNECTED). Refresh it from an exported run with::

    .venv/bin/python tests/data/make_models.py --mic-from RUN_DIR
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "tflite"


def _models(tf):
    k = tf.keras
    L = k.layers

    def seq(input_shape, *layers):
        inp = k.Input(shape=input_shape, batch_size=1)
        x = inp
        for layer in layers:
            x = layer(x)
        return k.Model(inp, x)

    def two_branch(input_shape, merge):
        inp = k.Input(shape=input_shape, batch_size=1)
        a = L.Conv2D(4, 3, padding="same")(inp)
        b = L.Conv2D(4, 1, padding="same")(inp)
        return k.Model(inp, merge()([a, b]))

    def student_like():
        # [1, C, T] like the exported student: temporal conv, spatial depthwise, pooling, residual.
        n_chans, n_times = 4, 64
        inp = k.Input(shape=(n_chans, n_times), batch_size=1)
        x = L.Reshape((n_chans, n_times, 1))(inp)
        x = L.Conv2D(8, (1, 7), padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.DepthwiseConv2D((n_chans, 1), depth_multiplier=2, padding="valid")(x)
        x = L.ReLU()(x)
        x = L.AveragePooling2D((1, 4))(x)
        y = L.Conv2D(16, 1, activation="relu6")(x)
        x = L.Add()([x, y])
        x = L.Permute((2, 1, 3))(x)
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dense(4)(x)
        return k.Model(inp, x)

    return {
        "conv_same_relu": seq((9, 8, 3), L.Conv2D(5, 3, padding="same", activation="relu")),
        "conv_valid_s2": seq((11, 10, 3), L.Conv2D(4, (3, 2), strides=2, padding="valid")),
        "conv_same_s2_relu6": seq((7, 9, 2), L.Conv2D(3, 3, strides=(2, 1), padding="same",
                                                       activation="relu6")),
        "conv_nobias_1xk": seq((1, 32, 4), L.Conv2D(6, (1, 5), padding="same", use_bias=False)),
        "dwconv_same": seq((8, 8, 3), L.DepthwiseConv2D(3, padding="same", activation="relu")),
        "dwconv_mult2_s2": seq((9, 9, 3), L.DepthwiseConv2D(3, strides=2, depth_multiplier=2,
                                                             padding="valid")),
        "fc": seq((16,), L.Dense(5)),
        "fc_relu_2d": seq((3, 6), L.Flatten(), L.Dense(7, activation="relu")),
        "avgpool_valid": seq((8, 8, 3), L.AveragePooling2D(2)),
        "avgpool_same_s2": seq((7, 7, 2), L.AveragePooling2D(3, strides=2, padding="same")),
        "maxpool_valid": seq((8, 6, 3), L.MaxPooling2D((2, 3))),
        "maxpool_same": seq((7, 7, 2), L.MaxPooling2D(3, strides=2, padding="same")),
        "add": two_branch((6, 6, 3), L.Add),
        "mul": two_branch((6, 6, 3), L.Multiply),
        "mean_hw": seq((6, 5, 4), L.GlobalAveragePooling2D()),
        "mean_keepdims": seq((6, 5, 4), L.Lambda(lambda t: tf.reduce_mean(t, axis=2,
                                                                          keepdims=True))),
        "softmax": seq((12,), L.Dense(6), L.Softmax()),
        "relu": seq((4, 4, 3), L.ReLU()),
        "relu6": seq((4, 4, 3), L.ReLU(max_value=6.0)),
        "conv_grouped": seq((6, 5, 4), L.Conv2D(6, 3, groups=2, padding="same")),
        "conv_dilated": seq((10, 9, 2), L.Conv2D(3, 3, dilation_rate=2, padding="same")),
        "reshape_pad": seq((4, 6), L.Reshape((4, 6, 1)), L.ZeroPadding2D(((1, 2), (0, 1))),
                           L.Conv2D(2, 2)),
        "transpose": seq((3, 5, 4), L.Permute((2, 1, 3)), L.Conv2D(2, 1)),
        "student_like": student_like(),
        # An operator the runtime does not implement (the generator must name it and fail).
        "unsupported_tanh": seq((8,), L.Dense(4), L.Activation("tanh")),
    }


def convert(tf, model, *, seed: int = 0) -> bytes:
    """Full-int8 conversion (int8 in/out, per-channel weights) with a random calibration set."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = [1] + list(model.input_shape[1:])

    def representative():
        for _ in range(64):
            yield [rng.normal(0.0, 1.0, size=shape).astype("float32")]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def main(argv: list[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if argv[:1] == ["--mic-from"]:
        import shutil

        src = Path(argv[1]) / "export" / "student.int8.tflite"
        shutil.copyfile(src, OUT_DIR / "mic_student.tflite")
        print(f"mic_student: copied {src}")
        return 0
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(0)
    only = set(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, model in _models(tf).items():
        if only and name not in only:
            continue
        # Make BatchNorm statistics non-trivial so folding is exercised.
        for layer in model.layers:
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                n = layer.moving_mean.shape[0]
                layer.moving_mean.assign(tf.random.normal((n,), 0.0, 0.3))
                layer.moving_variance.assign(tf.random.uniform((n,), 0.5, 2.0))
        data = convert(tf, model)
        (OUT_DIR / f"{name}.tflite").write_bytes(data)
        print(f"{name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
