"""scripts/gpu: the wheels a lent GPU machine lacks are cut into parts that each fit one device
call, checked and joined there, and installed ahead of the image's own packages; the
measurement refuses to start on a machine with no CUDA device instead of running for hours."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / "scripts/gpu"


def probe_wheel(folder: Path) -> Path:
    """A real (if small) wheel: pip installs it like any other."""
    files = {
        "newsclf_gpu_probe/__init__.py": b"VALUE = 7\n",
        "newsclf_gpu_probe/padding.bin": os.urandom(12_000),  # enough bytes for several parts
        "newsclf_gpu_probe-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: newsclf-gpu-probe\nVersion: 1.0\n"
        ),
        "newsclf_gpu_probe-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("newsclf_gpu_probe-1.0.dist-info/RECORD,,")
    path = folder / "newsclf_gpu_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("newsclf_gpu_probe-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def bash(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable, **env},
        timeout=300,
    )


@pytest.fixture()
def bundle(tmp_path) -> Path:
    house = tmp_path / "house"
    house.mkdir()
    probe_wheel(house)
    out = tmp_path / "bundle"
    done = bash(
        f"scripts/gpu/bundle.sh {out}",
        NEWSCLF_GPU_WHEELHOUSE=str(house),
        NEWSCLF_GPU_PART_SIZE="4K",
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_parts_install_ahead_of_the_image_and_a_missing_part_is_refused(bundle, tmp_path):
    parts = sorted(p.name for p in bundle.glob("part-*"))
    assert len(parts) >= 3 and (bundle / "SHA256SUMS").is_file()
    assert not (bundle / "wheels").exists()  # only what travels is left

    site = tmp_path / "site"
    done = bash(
        f". scripts/gpu/install.sh {bundle} && "
        '"$PYTHON" -c "import newsclf_gpu_probe as p; print(p.VALUE, p.__file__)"',
        NEWSCLF_GPU_SITE=str(site),
    )
    assert done.returncode == 0, done.stderr
    value, where = done.stdout.strip().splitlines()[-1].split()
    assert value == "7" and Path(where).is_relative_to(site)

    (bundle / parts[1]).unlink()  # one call's part never arrived
    again = bash(f". scripts/gpu/install.sh {bundle}", NEWSCLF_GPU_SITE=str(tmp_path / "s2"))
    assert again.returncode != 0
    assert "do not match SHA256SUMS" in again.stderr
    assert not (tmp_path / "s2").exists()


def test_bundle_will_not_empty_a_folder_that_is_not_a_bundle(tmp_path):
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "mine.txt").write_text("keep me")
    done = bash(f"scripts/gpu/bundle.sh {keep}", NEWSCLF_GPU_WHEELHOUSE=str(tmp_path))
    assert done.returncode == 2 and "not a bundle" in done.stderr
    assert (keep / "mine.txt").read_text() == "keep me"


def test_the_measurement_refuses_a_machine_without_cuda(bundle, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: the guard has nothing to refuse")
    done = bash(
        f"scripts/gpu/repeats.sh {bundle}",
        NEWSCLF_GPU_SITE=str(tmp_path / "site"),
        OUT=str(tmp_path / "out"),
    )
    assert done.returncode == 1
    assert "no CUDA device" in done.stderr
    assert not (tmp_path / "out").exists()  # nothing started
