"""dlink.io: reproducible artifact bytes, and torch files whose errors name the file and the fix."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_torch_save_bytes_do_not_depend_on_the_file_name_or_time(tmp_path):
    from dlink.io import atomic_torch_save

    obj = {"state_dict": {"w": torch.arange(10.0)}, "arch": "mic"}
    a = atomic_torch_save(obj, tmp_path / "a" / "student.pt").read_bytes()
    b = atomic_torch_save(obj, tmp_path / "b" / "other.pt").read_bytes()
    assert a == b
    assert torch.equal(torch.load(tmp_path / "a" / "student.pt", weights_only=True)
                       ["state_dict"]["w"], obj["state_dict"]["w"])


def test_savez_bytes_are_reproducible_and_load_with_numpy(tmp_path):
    import time

    from dlink.io import atomic_savez

    x = np.arange(12, dtype=np.int8).reshape(3, 4)
    a = atomic_savez(tmp_path / "a.npz", x=x, scale=np.float32(0.5)).read_bytes()
    time.sleep(2.1)  # zip time stamps have a 2-second resolution
    b = atomic_savez(tmp_path / "b.npz", x=x, scale=np.float32(0.5)).read_bytes()
    assert a == b
    with np.load(tmp_path / "a.npz") as z:
        np.testing.assert_array_equal(z["x"], x)
        assert z["scale"] == np.float32(0.5)


@pytest.mark.parametrize("keep", [0, 100, 0.5, -10])
def test_a_truncated_student_pt_names_the_file_and_the_fix(tmp_path, keep):
    from dlink.distill.students import build_student, load_student_file, student_payload
    from dlink.io import CheckpointReadError, atomic_torch_save

    kw = {"n_chans": 4, "n_times": 400, "n_outputs": 2, "sfreq": 200.0, "mimic_width": 2,
          "hidden_width": 4, "final_width": 4}
    model = build_student("mic", **kw)
    path = tmp_path / "student.pt"
    atomic_torch_save(student_payload(model, arch="mic", kwargs=kw, n_chans=4, n_times=400,
                                      sfreq=200.0, ch_names=list("abcd"), class_names=["l", "r"]),
                      path)
    raw = path.read_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else \
        (int(len(raw) * keep) if isinstance(keep, float) else len(raw) + keep)
    path.write_bytes(raw[:n])
    with pytest.raises(CheckpointReadError, match=r"student checkpoint '.*student\.pt' is truncated"
                                                  r" or corrupted.*dlink distill CONFIG --run RUN"):
        load_student_file(path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickle_with_code_is_refused_without_torchs_unsafe_advice(tmp_path):
    from dlink.distill.students import load_student_file
    from dlink.distill.teachers import load_teacher_file
    from dlink.io import CheckpointReadError

    path = tmp_path / "student.pt"
    torch.save({"arch": "mic", "x": _Evil()}, path)
    for load in (load_student_file, load_teacher_file):
        with pytest.raises(CheckpointReadError) as e:
            load(path)
        msg = str(e.value)
        assert "student.pt" in msg and "never runs code from a file" in msg
        assert "weights_only=False" not in msg and "weights_only" not in msg.replace(
            "weights_only=True", "")


def test_only_the_named_safe_globals_load(tmp_path):
    import argparse

    from dlink.io import CheckpointReadError, load_torch_file

    path = tmp_path / "release.pth"
    torch.save({"model": {"w": torch.ones(2)}, "args": argparse.Namespace(lr=5e-4)}, path)
    with pytest.raises(CheckpointReadError, match="release.pth"):
        load_torch_file(path, what="checkpoint", fix="")
    obj = load_torch_file(path, what="checkpoint", fix="", safe_globals=(argparse.Namespace,))
    assert obj["args"].lr == 5e-4 and torch.equal(obj["model"]["w"], torch.ones(2))
    torch.save({"model": {}, "args": _Evil()}, path)
    with pytest.raises(CheckpointReadError, match="never runs code"):
        load_torch_file(path, what="checkpoint", fix="", safe_globals=(argparse.Namespace,))
