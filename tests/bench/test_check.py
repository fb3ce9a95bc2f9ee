"""`dlink check`: the CI gate passes a good model and fails a bad one, naming threshold and value;
reads gate bundles (and refuses changed or malformed ones), refuses non-finite windows, and sets its
default threshold relative to chance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlink.bench.check import load_windows_npz, run_check
from dlink.cli import main
from dlink.rundir import StageError
from tests.bench.standin import make_windows, write_standin_bundle


def _json_line(out: str) -> dict:
    line = next(l for l in out.splitlines() if l.startswith('{"dlink_check"'))
    return json.loads(line)["dlink_check"]


def test_check_passes_on_a_good_model(good_run, windows_npz, capsys):
    rc = main(["check", str(good_run.path), "--npz", str(windows_npz)])
    out = capsys.readouterr().out
    result = _json_line(out)
    assert rc == 0
    assert result["passed"] is True and result["failures"] == []
    assert result["balanced_accuracy"] >= result["min_balanced_accuracy"]
    assert result["agreement"] >= result["min_agreement"]
    assert "PASSED" in out and "balanced accuracy (int8)" in out
    # the gate runs the QDQ model on int8 x int8 kernels, as export validates it
    assert result["session_config"] == {"session.qdqisint8allowed": "1"}


def test_check_fails_on_a_bad_model(bad_run, windows_npz, capsys):
    rc = main(["check", str(bad_run.path), "--npz", str(windows_npz), "--min-balanced-accuracy", "0.5"])
    cap = capsys.readouterr()
    result = _json_line(cap.out)
    assert rc != 0
    assert result["passed"] is False
    measured = f"{result['balanced_accuracy']:.4f}"
    assert f"balanced accuracy {measured} < threshold 0.5000" in cap.err
    assert "--min-balanced-accuracy" in cap.err


def test_check_fails_when_threshold_is_too_high(good_run, windows_npz, capsys):
    rc = main(["check", str(good_run.path), "--npz", str(windows_npz),
               "--min-balanced-accuracy", "1.0", "--min-agreement", "1.0"])
    cap = capsys.readouterr()
    result = _json_line(cap.out)
    assert rc != 0
    assert result["min_balanced_accuracy"] == 1.0
    assert result["balanced_accuracy"] < 1.0  # the stand-in task has a few errors by design
    assert f"balanced accuracy {result['balanced_accuracy']:.4f} < threshold 1.0000" in cap.err


def test_check_fails_on_low_agreement(good_run, bad_run, windows_npz, tmp_path):
    # int8 model of the good run against the float model of the bad one: they disagree.
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(good_run.export_dir / "student.int8.onnx", src / "student.int8.onnx")
    shutil.copy(bad_run.export_dir / "student.onnx", src / "student.onnx")
    write_standin_bundle(tmp_path / "mixed", src, n_windows=0)
    result = run_check(tmp_path / "mixed", npz=windows_npz, min_balanced_accuracy=0.0, min_agreement=0.9)
    assert result["passed"] is False
    assert result["agreement"] < 0.9
    assert any("agreement" in f and "(--min-agreement)" in f for f in result["failures"])


def test_check_npz_missing_key_names_file_and_key(good_run, tmp_path):
    x, _ = make_windows(6)
    bad = tmp_path / "no_labels.npz"
    np.savez(bad, X=x)
    with pytest.raises(ValueError, match=r"no_labels\.npz.*no key 'y'"):
        run_check(good_run.path, npz=bad)
    rc = main(["check", str(good_run.path), "--npz", str(bad)])
    assert rc != 0


@pytest.mark.parametrize("arrays, match", [
    ({"X": np.zeros((4, 32), np.float32), "y": np.zeros(4, np.int64)}, r"'X' must be a float array"),
    ({"X": np.zeros((4, 4, 32), np.float32), "y": np.zeros(4, np.float32)}, r"'y' must be an integer"),
    ({"X": np.zeros((4, 4, 32), np.float32), "y": np.zeros(3, np.int64)}, r"4 windows and 'y' 3 labels"),
])
def test_load_windows_npz_rejects_malformed(tmp_path, arrays, match):
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        load_windows_npz(path)


def test_load_windows_npz_accepts_test_vector_keys(tmp_path):
    x, y = make_windows(5)
    path = tmp_path / "tv.npz"
    np.savez(path, x_float=x, y_true=y)
    x2, y2 = load_windows_npz(path)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)


def test_check_missing_npz_file(good_run, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz"):
        run_check(good_run.path, npz=tmp_path / "nope.npz")


def test_check_rejects_threshold_out_of_range(good_run, windows_npz):
    with pytest.raises(ValueError, match=r"--min-agreement must be a number between 0 and 1, got 1\.5"):
        run_check(good_run.path, npz=windows_npz, min_agreement=1.5)


def test_check_needs_the_export_stage(tmp_path):
    with pytest.raises(StageError, match=r"dlink export"):
        run_check(tmp_path)


# -- gate bundles ----------------------------------------------------------------------------------
def test_check_runs_a_copied_bundle_on_its_own_windows(good_run, tmp_path, capsys):
    import shutil

    bundle = tmp_path / "ci" / "gate"
    shutil.copytree(good_run.export_dir / "gate", bundle)  # what a user commits, without the run
    rc = main(["check", str(bundle)])
    out = capsys.readouterr().out
    result = _json_line(out)
    assert rc == 0, out
    assert result["n"] == 30 and result["run"] is None
    assert result["data"].startswith(str(bundle / "windows.npz"))
    assert result["class_names"] == ["class0", "class1", "class2"]
    # no absolute threshold in the bundle: chance for 3 classes + 0.1
    assert result["min_balanced_accuracy"] == pytest.approx(1 / 3 + 0.1)
    assert result["threshold_source"] == "chance 0.3333 + 0.1000"


def test_check_on_a_run_directory_uses_its_bundle(good_run, capsys):
    assert main(["check", str(good_run.path)]) == 0
    result = _json_line(capsys.readouterr().out)
    assert result["bundle"] == str(good_run.export_dir / "gate") and result["n"] == 30


def test_check_refuses_a_bundle_whose_model_changed(good_run, tmp_path):
    import shutil

    from dlink.bench.gate_bundle import BundleError

    bundle = tmp_path / "gate"
    shutil.copytree(good_run.export_dir / "gate", bundle)
    model = bundle / "student.int8.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"student\.int8\.onnx.*does not match the SHA-256.*dlink export"):
        run_check(bundle)


@pytest.mark.parametrize("field, value, match", [
    ("format", "something-else", r"field 'format' must be 'dlink-gate-bundle'"),
    ("format_version", 99, r"format_version 99 is newer"),
    ("input", {"n_chans": 4, "n_times": 0}, r"field 'input\.n_times' must be a positive integer"),
    ("classes", ["only"], r"field 'classes' must be a list of at least two"),
    ("thresholds", {"min_agreement": 1.5}, r"field 'thresholds\.min_agreement' must be a number"),
    ("model", {"int8": "../x.onnx", "float": "student.onnx"}, r"field 'model\.int8' must be a file name"),
])
def test_check_rejects_a_malformed_gate_json(good_run, tmp_path, field, value, match):
    import shutil

    from dlink.bench.gate_bundle import BundleError

    bundle = tmp_path / "gate"
    shutil.copytree(good_run.export_dir / "gate", bundle)
    meta = json.loads((bundle / "gate.json").read_text())
    meta[field] = value
    (bundle / "gate.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"gate\.json.*" + match):
        run_check(bundle)


def test_check_bundle_without_windows_needs_npz(good_run, tmp_path, windows_npz):
    write_standin_bundle(tmp_path / "gate", good_run.export_dir, n_windows=0)
    with pytest.raises(ValueError, match=r"holds no windows: pass --npz"):
        run_check(tmp_path / "gate")
    assert run_check(tmp_path / "gate", npz=windows_npz)["n"] == 60


def test_check_names_a_window_shape_mismatch(good_run, tmp_path):
    path = tmp_path / "short.npz"
    x, y = make_windows(6)
    np.savez(path, X=x[:, :, :16], y=y)
    with pytest.raises(ValueError, match=r"short\.npz.*\(4, 16\).*\(4, 32\).*'input\.n_chans'"):
        run_check(good_run.path, npz=path)


# -- non-finite input ------------------------------------------------------------------------------
def test_check_refuses_nan_windows_and_names_the_file(good_run, tmp_path, capsys):
    x, y = make_windows(60, seed=3)
    x[y == 0] = np.nan  # the case: every class-0 window NaN once made the gate pass
    path = tmp_path / "nan_class0.npz"
    np.savez(path, X=x, y=y)
    with pytest.raises(ValueError, match=r"nan_class0\.npz.*20 of 60 windows hold non-finite values"):
        run_check(good_run.path, npz=path)
    rc = main(["check", str(good_run.path), "--npz", str(path), "--min-balanced-accuracy", "0"])
    cap = capsys.readouterr()
    assert rc == 1 and "PASSED" not in cap.out
    assert "20 of 60 windows hold non-finite values (NaN or infinity)" in cap.err


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_refuses_a_single_non_finite_sample(tmp_path, bad):
    x, y = make_windows(8)
    x[5, 2, 7] = bad
    path = tmp_path / "one_bad.npz"
    np.savez(path, X=x, y=y)
    with pytest.raises(ValueError, match=r"one_bad\.npz.*1 of 8 windows.*window index \[5\]"):
        load_windows_npz(path)


def test_check_fails_when_the_model_gives_non_finite_outputs(good_run, tmp_path, windows_npz):
    """A float model with an infinite weight: the gate fails, it does not pass on NaN/inf logits."""
    import shutil

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tests.bench.standin import N_CHANS, N_CLASSES, N_TIMES

    w = np.eye(N_CHANS, N_CLASSES, dtype=np.float32)
    w[0, 0] = np.inf
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["m"], axes=[2], keepdims=0),
         helper.make_node("MatMul", ["m", "w"], ["logits"])],
        "inf_model", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", N_CHANS, N_TIMES])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", N_CLASSES])],
        initializer=[numpy_helper.from_array(w, "w")])
    src = tmp_path / "src"
    src.mkdir()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.23 reads
    onnx.save(model, src / "student.onnx")
    shutil.copy(good_run.export_dir / "student.int8.onnx", src / "student.int8.onnx")
    write_standin_bundle(tmp_path / "gate", src, n_windows=0)
    result = run_check(tmp_path / "gate", npz=windows_npz, min_balanced_accuracy=0.0, min_agreement=0.0)
    assert result["passed"] is False
    assert any("float model gave non-finite outputs" in f for f in result["failures"])


# -- thresholds relative to chance -----------------------------------------------------------------
@pytest.mark.parametrize("n_classes, expected", [(2, 0.6), (3, 1 / 3 + 0.1), (4, 0.35)])
def test_default_threshold_is_chance_plus_margin(n_classes, expected):
    from dlink.bench.check import _thresholds
    from dlink.bench.gate_bundle import GateBundle

    bundle = GateBundle(None, {"thresholds": {"min_balanced_accuracy": None, "min_above_chance": 0.1}})
    thr = _thresholds(bundle, n_classes, None, None)
    assert thr["min_balanced_accuracy"] == pytest.approx(expected)
    assert thr["chance"] == pytest.approx(1 / n_classes)
    # an absolute threshold in the bundle (bench.min_balanced_accuracy) or on the command line wins
    bundle.meta["thresholds"]["min_balanced_accuracy"] = 0.4
    assert _thresholds(bundle, n_classes, None, None)["min_balanced_accuracy"] == 0.4
    assert _thresholds(bundle, n_classes, 0.7, None)["min_balanced_accuracy"] == 0.7


def test_a_guessing_model_fails_the_default_gate(good_run, tmp_path):
    """Labels unrelated to the windows: balanced accuracy near chance (1/3) fails at chance + 0.1."""
    x, _ = make_windows(90, seed=5)
    y = np.random.default_rng(0).integers(0, 3, len(x))
    path = tmp_path / "random_labels.npz"
    np.savez(path, X=x, y=y)
    result = run_check(good_run.path, npz=path)
    assert result["balanced_accuracy"] < result["min_balanced_accuracy"] == pytest.approx(1 / 3 + 0.1)
    assert result["passed"] is False
    assert any("(chance 0.3333 + 0.1000)" in f for f in result["failures"])


def test_a_threshold_at_chance_is_warned_about(good_run, windows_npz, capsys):
    assert main(["check", str(good_run.path), "--npz", str(windows_npz),
                 "--min-balanced-accuracy", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "warning: the balanced-accuracy threshold 0.3000 is at or below chance (0.3333 for 3 classes)" in out


# -- metrics without scikit-learn ------------------------------------------------------------------
@pytest.mark.parametrize("seed, n_classes, n", [(0, 2, 40), (1, 3, 7), (2, 4, 100), (3, 4, 5)])
def test_gate_metrics_match_scikit_learn(seed, n_classes, n):
    from sklearn import metrics as skm

    from dlink.bench.check import gate_metrics

    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes - 1 if seed == 3 else n_classes, n)  # seed 3: a class never occurs
    logits = rng.standard_normal((n, n_classes))
    pred = logits.argmax(1)
    m = gate_metrics(y, logits)
    labels = list(range(n_classes))
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["kappa"] == pytest.approx(skm.cohen_kappa_score(y, pred, labels=labels))
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, labels=labels, average="weighted",
                                                          zero_division=0))
    assert m["confusion"] == skm.confusion_matrix(y, pred, labels=labels).tolist()


def test_example_workflow_uses_the_base_install_and_a_committed_bundle():
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[2]
    wf = yaml.safe_load((repo / "examples" / "github-actions-dlink-check.yml").read_text())
    runs = [s.get("run", "") for s in wf["jobs"]["gate"]["steps"]]
    install = next(r for r in runs if "pip install" in r)
    assert "pip install dlink" in install and "[" not in install  # no extra: the base install
    assert not any("dlink export" in r or "dlink distill" in r for r in runs)  # no re-export in CI
    assert any('dlink check "$GATE"' in r for r in runs)
    assert wf["jobs"]["gate"]["env"]["GATE"] == "ci/gate"


def test_a_bundle_rewritten_without_windows_drops_the_old_ones(good_run, tmp_path):
    from dlink.bench.gate_bundle import load_gate_bundle

    write_standin_bundle(tmp_path / "gate", good_run.export_dir, n_windows=12)
    assert load_gate_bundle(tmp_path / "gate").windows is not None
    write_standin_bundle(tmp_path / "gate", good_run.export_dir, n_windows=0)
    assert not (tmp_path / "gate" / "windows.npz").exists()
    assert load_gate_bundle(tmp_path / "gate").windows is None


def test_export_refuses_to_bundle_non_finite_windows(good_run, tmp_path):
    from dlink.bench.gate_bundle import write_gate_bundle

    x, y = make_windows(6)
    x[2] = np.inf
    with pytest.raises(ValueError, match=r"1 of 6 windows hold NaN or infinity"):
        write_gate_bundle(tmp_path / "gate", int8_model=good_run.export_dir / "student.int8.onnx",
                          float_model=good_run.export_dir / "student.onnx", class_names=["a", "b", "c"],
                          channel_names=["c0", "c1", "c2", "c3"], sfreq_hz=32.0, n_chans=4, n_times=32,
                          session_config={}, thresholds={}, windows=(x, y))
