"""Export stage: PyTorch -> ONNX -> int8 (ONNX QDQ, TFLite) -> C.

``dlink export RUN`` (:func:`dlink.export.pipeline.export_run`) writes into ``RUN/export/``:

- ``student.onnx`` (float, ``export.opset``) and ``student.int8.onnx`` (onnxruntime QDQ);
- ``student.int8.tflite`` (full int8 through onnx2tf; input ``[1, n_chans, 1, n_times]``, the
  bytes of an EEG window ``[n_chans, n_times]``), checked by
  :func:`dlink.export.tflite_check.check_tflite` against
  :data:`dlink.export.tflite_check.SUPPORTED_OPS`; ``ops.json`` lists its operators;
- ``tflm.json``: the arena measured by the TFLite-Micro interpreter;
- ``parity.json``: the validation report; ``calibration.npz``;
- ``test_vectors.npz/.h/.c`` and ``model_data.h/.c``.

Modules: one step each (``onnx_export``, ``quantize_ort``, ``tflite_convert``, ``tflite_check``,
``tflm_reference``, ``validate``, ``testvectors``, ``c_arrays``, ``quant``); ``pipeline`` chains
them; ``cli`` is the command. Heavy libraries are imported inside functions.
"""
