"""`dlink export RUN`: student.pt -> ONNX -> int8 ONNX QDQ + int8 TFLite, validated; test vectors."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="<run>",
                        help="run directory holding student.pt and config.yaml (after `dlink distill`)")


def run(args: argparse.Namespace) -> int:
    from dlink.export.pipeline import export_run

    report = export_run(args.run, verbose=args.verbose)
    print(report["table"])
    tfl = report["tflite"]
    ops = ", ".join(f"{k} x{v}" for k, v in tfl["op_counts"].items())
    print(f"\nonnx: opset {report['onnx']['opset']}, max |onnxruntime - pytorch| = "
          f"{report['onnx']['max_abs_err']:.3g}")
    print(f"int8 .tflite ({tfl['model_bytes']} bytes, input {tfl['input_shape']}): {ops}; "
          f"{tfl['n_transposes']} transpose(s)")
    print(f"argmax agreement onnxruntime QDQ vs TFLite int8: "
          f"{report['argmax_agreement_qdq_vs_tflite_int8']:.3f}")
    tflm = report["tflite_micro_vs_tflite_int8"]
    rt = report["runtimes"]
    if rt["onnxruntime_qdq_u8s8"]["argmax_agreement"] < rt["onnxruntime_qdq"]["argmax_agreement"] - 0.01:
        print("note: onnxruntime's default x86 uint8 x int8 kernels disagree with the QDQ graph here; "
              "run the QDQ model with the session config "
              "dlink.export.onnx_export.INT8_KERNELS_CONFIG (session.qdqisint8allowed=1)")
    print(f"TFLite-Micro arena: {report['tflm_arena_bytes']:,} bytes; outputs bit-exact with TFLite "
          f"int8 on {tflm['bit_exact_fraction']:.1%} of windows")
    first = next((d for d in report["per_layer"]["tflite_micro_vs_tflite_int8"] if d["n_values_differ"]),
                 None)
    if first:
        print(f"TFLite-Micro vs TFLite first differs at {first['op']} {first['layer']!r} "
              f"(up to {first['max_abs_diff_steps']} step(s)); the test vectors follow TFLite-Micro")
    for rt, w in report["worst_layer"].items():
        if w:
            print(f"worst layer ({rt}): {w['op']} {w['layer']!r}: rel_rms {w['rel_rms']:.4f}, "
                  f"cosine {w['cosine']:.4f}")
    from dlink.firmware.fit import describe_fit

    fit = report["memory_fit"]
    print(f"on {fit['board']}: generated model (arena {fit['arena_bytes']:,} B + stack "
          f"{fit['stack_bytes']:,} B; weights {fit['weights_bytes']:,} B): {describe_fit(fit['model'])}")
    if "tflite_micro" in fit:
        print(f"on {fit['board']}: TFLite-Micro interpreter (arena {report['tflm_arena_bytes']:,} B + stack; "
              f".tflite): {describe_fit(fit['tflite_micro'])}")
    for w in fit["warnings"]:
        print(f"warning: {w}")
    print(f"model card: {args.run}/model_card.json, model_card.md (also in the ONNX files' metadata)")
    print(f"export took {report['export_time_s']:.1f} s -> {args.run}/export/")
    return 0
