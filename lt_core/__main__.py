"""Command line: ``python -m lt_core {notebooks,run,runs,data,bench} ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError
from .data import DataError
from .packfile import PackError
from .papers.z19.maskfile import MaskFileError
from .store import RunStore, StoreError


def main(argv: list[str] | None = None) -> int:
    """The command line. Long: every subcommand's arguments are declared here, in one place,
    so that ``--help`` and the code read alike."""
    parser = argparse.ArgumentParser(prog="python -m lt_core", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("notebooks", help="execute the book's notebooks with papermill")
    p.add_argument("--scale", default="quick", choices=("tiny", "quick", "smoke", "paper"),
                   help="smoke: the paper's params shrunk, on synthetic data unless LT_DATA")
    p.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01")
    p.add_argument("--store", help="run-store root (default: the params' store, runs/)")
    p.add_argument("--executor", choices=("local", "ray"),
                   help="where populations train (default: the params', local)")
    p.add_argument("--ray-address", help="Ray cluster to use (default: $RAY_ADDRESS, else a "
                                         "local one)")

    p = sub.add_parser("run", help="run one experiment from a params file (progress bars)")
    p.add_argument("params", help="YAML file, e.g. params/quick/01_mask_criteria.yaml, "
                                  "params/quick/05_decoupling.yaml or "
                                  "params/paper/06_layerwise.yaml")
    p.add_argument("--scale", default="custom",
                   help="label for the printed description; smoke: run the file's experiment "
                        "shrunk by lt_core.scales.smoke, on synthetic data unless LT_DATA")

    p = sub.add_parser("runs", help="list the runs in a store")
    p.add_argument("--store", default="runs")

    p = sub.add_parser("metrics", help="show one run's metrics (a key or key prefix from runs)")
    p.add_argument("key")
    p.add_argument("--store", default="runs")

    p = sub.add_parser("data", help="download the full datasets (checksummed) into the data root")
    p.add_argument("--root", help="data root (default: $LT_DATA, else ./data)")
    p.add_argument("--cifar10", action="store_true", help="also CIFAR-10 (163 MB)")
    p.add_argument("--tiny-imagenet", action="store_true", help="also Tiny ImageNet (237 MB)")
    p.add_argument("--mirror", action="append", metavar="URL",
                   help="base URL to fetch the canonical file names from instead of the "
                        "canonical hosts (repeatable; or LT_DATA_MIRRORS)")
    p.add_argument("--smoke", metavar="DIR", help="write the smoke scale's synthetic data "
                   "(every dataset, in the canonical file layouts) to DIR instead")

    p = sub.add_parser("export", help="write a heuristic supermask of a stored run as a file")
    p.add_argument("key", help="a heuristic_supermask run key (or its dense run's), from runs")
    p.add_argument("--power", type=int, required=True, help="prune power (0..max_power)")
    p.add_argument("--criterion", default="large_final_same_sign")
    p.add_argument("--weights", default="signed_constant", choices=("initial", "signed_constant"))
    p.add_argument("--out", help="file to write (default: <key>-p<power>.supermask)")
    p.add_argument("--store", default="runs")

    p = sub.add_parser("import", help="rebuild a supermask file's network and evaluate it")
    p.add_argument("file")
    p.add_argument("--model", help="the architecture the file must be for (e.g. fc)")
    p.add_argument("--data", help="data root (default: $LT_DATA, else ./data)")

    p = sub.add_parser("scorecard", help="every claim's verdict as data (reads the runs the "
                                         "notebooks stored; trains whatever is missing)")
    p.add_argument("--scale", default="quick", choices=("tiny", "quick", "smoke", "paper"))
    p.add_argument("--store", help="run-store root (default: the params' store, runs/)")
    p.add_argument("--format", default="text", choices=("text", "csv", "json"))

    sub.add_parser("bench", help="engine vs plain-loop benchmark; options: see lt_core.bench")

    p = sub.add_parser("pack", help="run packs: finished runs with their provenance, in one "
                                    "file that travels (lt_core.pack)")
    ops = p.add_subparsers(dest="op", required=True)
    q = ops.add_parser("create", help="pack the runs an experiment has finished in a store")
    q.add_argument("params", help="its params file, e.g. params/paper/06_layerwise.yaml")
    q.add_argument("--scale", help="the scale it ran at (default: the params folder's name)")
    q.add_argument("--models", nargs="+", help="only these networks")
    q.add_argument("--seeds", nargs="+", type=int, help="only these seeds")
    q.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="replace a field of the params (VALUE in YAML), e.g. "
                        "learned.init_values=[] or 'overlap={seed: 1, reinit_seeds: []}'")
    q.add_argument("--store", help="run-store root (default: the params' store, runs/)")
    q.add_argument("--with-weights", action="store_true", help="ship the levels' weights too")
    q.add_argument("--out", default="book/results", help="folder to write the pack to")
    q = ops.add_parser("verify", help="check every entry's hash and every run's key")
    q.add_argument("packs", nargs="+")
    q = ops.add_parser("merge", help="one pack of the union of packs' runs")
    q.add_argument("packs", nargs="+")
    q.add_argument("--out", required=True, help="folder to write the merged pack to")
    q = ops.add_parser("ls", help="what packs hold: experiments, networks, runs, provenance")
    q.add_argument("packs", nargs="+")
    q = ops.add_parser("recompute", help="retrain sampled runs' level 0 and compare")
    q.add_argument("packs", nargs="+")
    q.add_argument("--sample", type=int, default=1, help="runs per pack (default 1)")
    q.add_argument("--data", help="data root (default: $LT_DATA, else ./data)")
    q.add_argument("--epochs", type=float, help="train only the first EPOCHS epochs of level "
                   "0 and compare the evaluations up to there (default: all of level 0)")

    args, rest = parser.parse_known_args(argv)
    if rest and args.cmd != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    try:
        return _dispatch(args)
    except (ConfigError, DataError, StoreError, MaskFileError, PackError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    """Run one subcommand. Long: one short branch per subcommand, in ``main``'s order."""
    if args.cmd == "notebooks":
        from .notebooks import execute

        return _failed(execute(args.scale, args.only, store=args.store, executor=args.executor,
                               ray_address=args.ray_address))
    if args.cmd == "run":
        return _run(args.params, args.scale)
    if args.cmd == "metrics":
        store = _store(args.store)
        keys = [k for k in store.keys(packs=True) if k.startswith(args.key)]
        if len(keys) != 1:
            print(f"error: {len(keys)} runs in {args.store} match {args.key!r}; "
                  f"list them with: python -m lt_core runs --store {args.store}", file=sys.stderr)
            return 2
        cfg = store.config(keys[0])
        print(cfg)
        if cfg.get("kind") == "heuristic_supermask":  # untrained masks: a table, no training
            print(_heuristic_table(store.level(keys[0], 0).table))
            return 0
        print(store.metrics(keys).pivot(  # pivot, not pivot_table: it keeps the NaN rows
            index=["level", "percent_remaining", "iteration"], columns=["split", "metric"],
            values="value").to_string())
        for level in store.levels(keys[0]):
            record = store.level(keys[0], level)
            if record.summary is not None:  # a learned supermask
                print(_learned_summary(cfg, record.summary))
            elif record.failed:
                print(f"level {level} diverged at iteration {int(record.failed_at)}: no "
                      "result from it (NaN from that evaluation on)")
        return 0
    if args.cmd == "runs":
        store = _store(args.store)
        if not store.keys():
            print(f"no runs in {args.store}", file=sys.stderr)
        for key in store.keys():
            cfg = store.config(key)
            what = cfg.get("criterion", cfg.get("kind"))
            actions = f"{cfg.get('mask1_action', '')} {cfg.get('mask0_action', '')}".strip()
            print(key, cfg.get("model", ""), cfg.get("data", ""), what, actions,
                  f"seed={cfg.get('seed')}", f"levels={len(store.levels(key))}")
        return 0
    if args.cmd == "data":
        from . import data

        if args.smoke:
            print(f"smoke data (synthetic) ready in {data.smoke.write(args.smoke)}")
            return 0
        root = data.data_root(args.root)
        print(f"MNIST ready in {data.download_mnist(root, args.mirror)}")
        if args.cifar10:
            print(f"CIFAR-10 ready in {data.download_cifar10(root, args.mirror)}")
        if args.tiny_imagenet:
            print(f"Tiny ImageNet ready in {data.download_tiny_imagenet(root, args.mirror)}")
        return 0
    if args.cmd == "export":
        from .papers.z19 import maskfile

        out = args.out or f"{args.key}-p{args.power}.supermask"
        sm, size = maskfile.export(args.store, args.key, args.power, out, args.criterion,
                                   args.weights)
        h = sm.header
        full = maskfile.float32_bytes(h["model"], tuple(h["input_shape"]))
        print(f"{out}: {size:,} bytes ({h['model']}, seed {h['seed']}, {args.criterion} at "
              f"power {args.power}, {args.weights}); as float32 parameters: {full:,} bytes; "
              f"test accuracy {100 * h['test_acc']:.2f}%")
        return 0
    if args.cmd == "import":
        from .papers.z19 import maskfile

        sm = maskfile.read(args.file, args.model)
        acc = sm.test_accuracy(args.data)
        same = "identical to" if acc == sm.header["test_acc"] else "DIFFERENT from"
        print(f"{args.file}: {sm.header['model']}, seed {sm.header['seed']}, "
              f"{sm.header['weights']}; test accuracy {100 * acc:.2f}%, {same} the "
              f"{100 * sm.header['test_acc']:.2f}% recorded when it was written")
        return 0 if acc == sm.header["test_acc"] else 1
    if args.cmd == "scorecard":
        from . import scorecard

        if args.store is not None:
            _store(args.store)  # a mistyped --store is not an empty store
        card = scorecard.build(args.scale, store=args.store)
        if args.format == "csv":
            card.to_csv(sys.stdout, index=False)
        elif args.format == "json":
            print(card.to_json(orient="records", indent=1, force_ascii=False))
        else:
            print(card.to_string(index=False))
        return 0
    if args.cmd == "pack":
        return _pack(args)
    if args.cmd == "bench":
        from .bench import main as bench_main

        bench_main(args.rest)
        return 0
    return 2


def _run(path: str, scale: str) -> int:
    """``run``: one experiment from a params file, its description and tables on stdout, one
    FAILED line per failed training on stderr (exit 1)."""
    from . import config, experiments, scales, scorecard

    values = config.read_yaml(path)
    if scale == "smoke":
        values = scales.smoke(values, str(scales.smoke_data_root()))
    elif not values and scale != "paper":
        raise ConfigError(f"{path} is empty: it would run {_defaults()}; pass "
                          "--scale paper to run that, or set fields (e.g. start from "
                          "params/quick/01_mask_criteria.yaml)")
    try:
        name, cfg = experiments.load(values)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    if name == "scorecard":
        print(scorecard.build(scale, store=values.get("store")).to_string(index=False))
        return 0
    if name == "index":
        print(scorecard.build_info(scale, store=values.get("store")).to_string(index=False))
        return 0
    result = experiments.run(cfg)
    print(result.describe(scale))
    print(result.report())
    return _failed(result.failures())


def _pack(args: argparse.Namespace) -> int:
    """``pack``: create, verify, merge, ls or recompute run packs."""
    from . import config, pack
    from .params_file import parse_yaml

    if args.op == "create":
        values = config.read_yaml(args.params)
        for item in args.set:
            field, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--set {item}: write FIELD=VALUE")
            _set(values, field, parse_yaml(value, f"--set {field}"))
        if args.models:
            values["models"] = args.models
        if args.seeds:
            values["seeds"] = args.seeds
        scale = args.scale or Path(args.params).resolve().parent.name
        path, n = pack.create(values, scale, Path(args.params).stem,
                              args.store or values.get("store", "runs"), args.out,
                              args.with_weights)
        print(f"{path}: {n} runs ({path.stat().st_size:,} bytes)")
        return 0
    if args.op == "verify":
        problems = pack.verify(args.packs)
        for line in problems:
            print(line, file=sys.stderr)
        if not problems:
            print(f"{len(args.packs)} pack(s) verified")
        return 1 if problems else 0
    if args.op == "merge":
        path, n = pack.merge(args.packs, args.out)
        print(f"{path}: {n} runs ({path.stat().st_size:,} bytes)")
        return 0
    if args.op == "ls":
        print("\n".join(pack.ls(p) for p in args.packs))
        return 0
    ok = True
    for p in args.packs:
        lines, good = pack.recompute(p, args.sample, args.data, epochs=args.epochs)
        print("\n".join(lines))
        ok &= good
    return 0 if ok else 1


def _set(values: dict, field: str, value) -> None:
    """Replace a dotted field of a params mapping."""
    *parents, last = field.split(".")
    for name in parents:
        values = values.setdefault(name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"--set {field}: {name} is not a section")
    values[last] = value


def _store(root: str) -> RunStore:
    """The run store at ``root``, which must exist: a mistyped --store is not an empty store."""
    if not Path(root).is_dir():
        raise StoreError(f"no run store at {root}; pass --store with the folder that a params "
                         "file's store: names (default runs/)")
    return RunStore(root)


def _heuristic_table(rows: list[dict]) -> str:
    """A heuristic-supermask run's table: test accuracy (%) of each criterion's untrained
    masked network, initial weights or signed constant, at each prune power."""
    import pandas as pd

    table = pd.DataFrame(rows)
    table["test_acc"] = (100 * table["test_acc"]).round(1)
    wide = table.pivot_table(index=["criterion", "weights"], columns="power", values="test_acc",
                             sort=False, dropna=False)
    remaining = table.groupby("power")["percent_remaining"].first()
    return (f"test accuracy (%) of the untrained masked network at each prune power; weights "
            f"remaining (%): {', '.join(f'{p}: {r:.3g}' for p, r in remaining.items())}\n"
            f"{wide.to_string()}")


def _learned_summary(cfg: dict, s: dict) -> str:
    if s["failed"]:
        return "diverged: no result from it (NaN from the evaluation where it did)"
    return (f"test accuracy {100 * s['final_acc']:.2f}% (mean over {cfg.get('samples')} mask "
            f"samples) at iteration {s['iteration']} of {s['iterations']}; "
            f"{s['pruned_pct']:.1f}% of the weights masked")


def _defaults() -> str:
    """What a params file with no fields runs: the defaults, at the paper's settings."""
    from .papers.z19 import Experiment

    exp = Experiment()
    train = exp.train_for(exp.models[0])
    return (f"{', '.join(exp.models)} at the paper's settings, {len(exp.pruning.arms)} arms x "
            f"{len(exp.seeds)} seed x {exp.pruning.levels + 1} trainings of "
            f"{train.iterations:,} iterations")


def _failed(failures: list[str]) -> int:
    """One line per failure on stderr; the exit status: 1 if anything failed."""
    for line in failures:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
