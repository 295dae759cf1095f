"""Where and in which precision models run: one rule for training and for every front end.

``--device auto|cpu|cuda`` and ``--precision auto|fp32|bf16`` mean the same in every command:

* ``auto`` device: CUDA when a CUDA device is present, else the CPU.
* ``auto`` precision: bf16 only where the hardware runs bf16 matrix work natively (CUDA with
  bf16 support, or a CPU with AVX-512 BF16 or AMX), else fp32.  On CPUs without it (AVX2-only
  machines) PyTorch emulates bf16 convolutions, measured about 100x slower than fp32, so
  ``auto`` never picks it there.

Inside a bf16 run only the network layers compute in bf16; losses, sums, optimiser state,
latents and the Poisson solve stay in fp32 (or float64), see ``inpainting.search.complete``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ganfill.core.constants import DEVICES, PRECISIONS
from ganfill.core.errors import GanfillError

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")  # what decides the fast path


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda`` without a CUDA device is a GanfillError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise GanfillError(f"unknown device {device!r}: choose {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise GanfillError("--device cuda was asked for but no CUDA device is available: use --device cpu")
    return torch.device(device)


def cpu_info() -> dict:
    """The CPU's model name and which of ``CPU_FLAGS`` it has (from /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": "unknown", "flags": []}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "unknown")
    flags_line = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("flags")), "")
    present = set(flags_line.split())
    return {"model": model, "flags": [f for f in CPU_FLAGS if f in present]}


def native_bf16(device: torch.device) -> bool:
    """True where bf16 matrix work is fast: CUDA with bf16, or a CPU with AVX-512 BF16 / AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    flags = cpu_info()["flags"]
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """``auto`` -> bf16 where ``native_bf16``, else fp32; ``fp32`` / ``bf16`` force one."""
    if precision not in PRECISIONS:
        raise GanfillError(f"unknown precision {precision!r}: choose {', '.join(PRECISIONS)}")
    if precision == "auto":
        return torch.bfloat16 if native_bf16(device) else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float32


@dataclass(frozen=True)
class Runtime:
    """A resolved device and compute precision (the dtype the network layers run in)."""

    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32

    @property
    def precision(self) -> str:
        return "bf16" if self.dtype == torch.bfloat16 else "fp32"

    def describe(self) -> str:
        """``cpu, bf16`` or ``cuda:0, fp32``: for logs, records and benchmark headers."""
        return f"{self.device}, {self.precision}"

    def to_dict(self) -> dict:
        return {"device": str(self.device), "precision": self.precision}


def resolve(device: str = "auto", precision: str = "auto") -> Runtime:
    """The Runtime that ``--device`` and ``--precision`` name on this machine."""
    dev = resolve_device(device)
    return Runtime(dev, resolve_precision(precision, dev))


def machine_line(runtime: Runtime | None = None) -> str:
    """One line for benchmark output: CPU model, its relevant flags, torch threads, and the runtime."""
    info = cpu_info()
    line = (
        f"CPU: {info['model']} | flags: {' '.join(info['flags']) or 'none of ' + '/'.join(CPU_FLAGS)} | "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    if torch.cuda.is_available():
        line += f" | GPU: {torch.cuda.get_device_name()}"
    return line + (f" | runtime: {runtime.describe()}" if runtime is not None else "")
