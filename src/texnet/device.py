"""Which torch device to run on, checked early so a typo fails before any work starts."""

from __future__ import annotations

import re

import torch

from texnet.errors import TexnetError


def resolve_device(spec: str | None) -> torch.device:
    """'auto' (cuda when available), 'cpu', 'cuda' or 'cuda:N', with one clear error for anything else."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if not match:
        raise TexnetError(f"unknown device '{spec}': use cpu, cuda, cuda:N or auto")
    if not torch.cuda.is_available():
        raise TexnetError(f"--device {spec} was asked for but no CUDA GPU is available")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise TexnetError(f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", index)


def cpu_has_bf16() -> bool:
    """True on CPUs with native bfloat16 dot products (AVX512-BF16) that oneDNN may use: there bf16 convolutions
    run faster than float32; elsewhere they are emulated, and slower.

    ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) set below AVX512_CORE_BF16 caps what oneDNN uses, so it counts too."""
    import os

    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
    if not any(tag in cap for tag in ("ALL", "BF16", "AMX", "AVX10")):
        return False
    return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
