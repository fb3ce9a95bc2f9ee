"""`dlink data summary CONFIG`: per split, windows, classes with counts, sfreq, samples, subjects;
the channels once (they are the same in every split); the loader's notes (what it left out); as
JSON on stdout (building and caching the windows when they are not cached yet)."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="<config.yaml>", help="config file whose data: section to load")
    parser.add_argument("--cache-dir", metavar="<dir>", default=None,
                        help="cache folder (default: data.cache_dir, $DLINK_CACHE_DIR or ~/.cache/dlink/data)")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the windows and write no cache")
    parser.add_argument("-o", "--output", metavar="<file.json>", default=None,
                        help="also write the JSON to this file")


def run(args: argparse.Namespace) -> int:
    from dlink.config import load_config
    from dlink.data import load_dataset
    from dlink.data.cache import cache_file, default_cache_dir

    cfg = load_config(args.config)
    splits = load_dataset(cfg.data, cache_dir=args.cache_dir, verbose=args.verbose,
                          use_cache=not args.no_cache)
    cache_dir = args.cache_dir or cfg.data.cache_dir or default_cache_dir()
    per_split = {name: w.summary() for name, w in splits.items()}
    channels = next(iter(per_split.values()))["channels"]
    same = all(s["channels"] == channels for s in per_split.values())
    if same:  # printed once, not once per split
        for s in per_split.values():
            del s["channels"]
    out = {
        "dataset": cfg.data.name,
        "cache_file": None if args.no_cache else str(cache_file(cfg.data, cache_dir)),
        **({"channels": channels} if same else {}),
        "splits": per_split,
        "notes": list(getattr(splits, "notes", [])),
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.output:
        from dlink.io import atomic_write_text

        atomic_write_text(args.output, text + "\n")
    return 0
