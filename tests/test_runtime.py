"""--device / --precision: one meaning in every command."""

import pytest
import torch

from ganfill.core import runtime
from ganfill.core.errors import GanfillError


def test_auto_device_and_precision_follow_the_hardware(monkeypatch):
    rt = runtime.resolve("auto", "auto")
    assert rt.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert rt.dtype == (torch.bfloat16 if runtime.native_bf16(rt.device) else torch.float32)
    # a CPU without native bf16 (AVX2 only) gets fp32 from auto; one with AVX-512 BF16 or AMX gets bf16
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_info", lambda: {"model": "AMD EPYC", "flags": ["avx2"]})
    assert runtime.resolve_precision("auto", cpu) == torch.float32
    for flags in (["avx2", "avx512f", "avx512_bf16"], ["avx2", "amx_bf16", "amx_tile"]):
        monkeypatch.setattr(runtime, "cpu_info", lambda flags=flags: {"model": "x", "flags": flags})
        assert runtime.resolve_precision("auto", cpu) == torch.bfloat16
    # forced choices are taken as given
    assert runtime.resolve_precision("fp32", cpu) == torch.float32
    assert runtime.resolve_precision("bf16", cpu) == torch.bfloat16


def test_bad_choices_are_one_line_errors(monkeypatch):
    with pytest.raises(GanfillError, match="unknown device 'tpu'"):
        runtime.resolve("tpu")
    with pytest.raises(GanfillError, match="unknown precision 'fp8'"):
        runtime.resolve("cpu", "fp8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GanfillError, match="no CUDA device"):
        runtime.resolve("cuda")


def test_cpu_info_reads_proc_cpuinfo():
    info = runtime.cpu_info()
    assert set(info) == {"model", "flags"} and set(info["flags"]) <= set(runtime.CPU_FLAGS)
    line = runtime.machine_line(runtime.Runtime())
    assert line.startswith("CPU: ") and "runtime: cpu, fp32" in line and f"torch {torch.__version__}" in line


def test_cli_device_option_is_checked_before_work(tmp_path, capsys, monkeypatch):
    from ganfill.apps.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as e:
        main(["sample", "glyphs32", "-n", "2", "--out", str(tmp_path / "g.png"), "--device", "cuda"])
    assert e.value.code == 2 and "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()
