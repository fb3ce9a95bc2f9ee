"""`dlink flash RUN --board B`: run the app (QEMU for emulated boards, pyOCD + serial for real ones).

With ``--stream RECORDING`` it replays a recording through the streaming app instead (raw ADC frames
in, one decision per hop out) and compares every decision with the Python reference
(:mod:`dlink.firmware.stream`)."""

from __future__ import annotations

import argparse

from dlink.firmware.boards import BOARDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="<run>", help="run directory with a built app "
                        "(dlink firmware build)")
    parser.add_argument("--board", metavar="<board>", default=None,
                        help=f"one of {', '.join(BOARDS)} (default: the run's firmware.board, "
                             f"else mps2-an386)")
    parser.add_argument("--serial", metavar="<port>", default=None,
                        help="real boards: the serial port of the board's UART, e.g. /dev/ttyACM0")
    parser.add_argument("--timeout", metavar="<seconds>", type=float, default=None,
                        help="time-out for QEMU or for the result line over serial "
                             "(default: firmware.qemu_timeout_s / firmware.serial_timeout_s; with "
                             "--stream, more per hop)")
    stream = parser.add_argument_group(
        "streaming (runs with data.preprocessing: causal)",
        "Replay a recording through the board's streaming front end and model, one DLINK_DECISION "
        "line per hop, compared with the Python reference. Example:\n"
        "  dlink flash runs/s001 --board mps2-an386 --stream "
        "../shared/data/MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf")
    stream.add_argument("--stream", metavar="<recording>", default=None,
                        help="EDF/BDF/GDF recording at the board's ADC rate holding the board's channels "
                             "(more are ignored); its rate, channel names and units are checked")
    stream.add_argument("--embed", action="store_true",
                        help="embed the frames in flash instead of reading them through semihosting "
                             "(always for real boards)")
    stream.add_argument("--seconds", metavar="<s>", type=float, default=None,
                        help="stream only the first seconds of the recording")
    stream.add_argument("--dump-samples", metavar="<n>", type=int, default=32,
                        help="model-rate samples the app prints in full for the front-end comparison "
                             "(default 32)")


def run(args: argparse.Namespace) -> int:
    if args.stream is not None:
        return _run_stream(args)
    from dlink.firmware.flash import flash

    res = flash(args.run, args.board, serial=args.serial, timeout_s=args.timeout)
    unit = res["counter"]
    print(f"{res['board']} ({res['core']}): matched {res['matched']}/{res['total']} test vectors, "
          f"{res[f'{unit}_per_inference']} {unit}/inference, stack peak {res['stack_peak_bytes']} B, "
          f"arena {res['arena_bytes']} B, flash {res['flash_bytes']} B, RAM {res['ram_bytes']} B")
    if res["matched"] != res["total"] or res.get("invoke_errors"):
        detail = res.get("first_mismatch_detail") or f"first mismatch: vector {res['first_mismatch']}"
        print(f"dlink flash: {res['total'] - res['matched']} of {res['total']} test vectors did not "
              f"match the expected int8 outputs ({detail}).")
        return 1
    return 0


def _run_stream(args: argparse.Namespace) -> int:
    from dlink.firmware.stream import stream

    res = stream(args.run, args.stream, args.board, embed=args.embed, max_seconds=args.seconds,
                 timeout_s=args.timeout, serial=args.serial, dump_samples=args.dump_samples)
    c, b, d = res["comparison"], res["budget"], res["device"]
    fe = c["frontend_samples"]
    rec = res["recording"]
    print(f"{res['board']}: streamed {d['frames']} frames ({d['frames'] / rec['sfreq_hz']:.1f} s of "
          f"{rec['file']}, {len(rec['ch_names'])} of its {rec['recording_n_chans']} channels) through "
          f"the {'embedded excerpt' if res['embedded'] else 'semihosted frames file'}: {c['hops']} decisions")
    print(f"  agreement with the Python reference: class {c['class_agreement']:.1%} of hops, "
          f"{c['identical_hops']}/{c['hops']} hops identical (int8 output, window and front-end "
          f"checksums), probabilities within {c['max_prob_diff_e4']}e-4")
    print(f"  front end vs Python on the first {fe.get('n_samples', 0)} samples: "
          f"{fe.get('bit_identical', 0)}/{fe.get('n_values', 0)} float32 values bit-identical")
    first = c["first_disagreement"]
    if first:
        print(f"  first disagreement: hop {first['hop']} at {first['time_s']} s, differs in "
              f"{', '.join(first['differs_in'])}")
    unit = d["counter"]
    print(f"  budget ({b['bound']}): front end {b['frontend_per_sample']:.0f} {unit}/channel-sample, "
          f"model {b['model_per_inference']:,.0f} {unit}/inference, duty cycle "
          f"{b['duty_cycle_percent']:.1f}% at {b['cpu_mhz']:g} MHz for a {b['hop_s']:g}-s hop: "
          f"real time {b['verdict']}; front-end RAM {d['frontend_ram_bytes']} B")
    print(f"  details: {res['files']['stream_json']}, {res['files']['decisions']}")
    return 0 if first is None else 1
