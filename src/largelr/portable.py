"""Numbers that reproduce on any x86-64 CPU with AVX2 (issue 26 item 7; docs/reproducibility.md).

PyTorch on a CPU picks its kernels at run time from what the CPU offers, so the same code gives
other floating-point roundings, hence other weights, stopping iterations and figures, on
another CPU:

- ATen's vectorised kernels (element-wise ops, reductions, softmax, the optimiser's updates)
  come in AVX-512 and AVX2 builds: the vector width changes the order of a reduction's sums.
  ``ATEN_CPU_CAPABILITY=avx2`` chooses the AVX2 build (read at the first dispatched op);
- MKL's GEMM (every ``Linear``, ``matmul``, the im2col convolutions) picks a code branch per
  CPU and vendor. ``MKL_CBWR`` is its conditional numerical reproducibility: ``AVX2,STRICT``
  is honoured on Intel CPUs only (measured: on an AMD EPYC MKL reports ``CNR:AUTO,STRICT`` and
  its results differ from an Intel Haswell's), so the pin is ``COMPATIBLE``, the branch
  Intel documents as the same on Intel and non-Intel CPUs;
- oneDNN (mkldnn convolutions) dispatches on the ISA: ``ONEDNN_MAX_CPU_ISA=AVX2`` caps it;
- reductions and GEMMs split their work by thread: ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``
  and ``torch.set_num_threads`` fix the count per job (the rule's ``threads``).

Pinning costs CPU time (docs/reproducibility.md), so it is the preset key ``portable_numbers``
(on for ``ci`` and ``demo``): the workflow lists those presets in :data:`PRESETS_ENV` and every
job of one pins at its start (:func:`largelr.jobs.start_job`).

All of these are read when torch first runs an op, not when it is imported (checked by
:func:`check_pinned` in every job), so :func:`pin_cpu_kernels` works at a job's start; it is
still best called before ``import torch``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Mapping, MutableMapping

#: the environment that fixes the CPU kernels (values as the libraries spell them)
PINNED_ENV: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}

#: the ATen capability :data:`PINNED_ENV` selects, as ``torch.backends.cpu.get_cpu_capability`` names it
PINNED_CAPABILITY = "AVX2"

#: the variable through which the workflow tells its jobs which presets pin (``portable_numbers``)
PRESETS_ENV = "LARGELR_PORTABLE_PRESETS"

#: the CPU flags the pinned kernels need (AVX2 with FMA, as every AVX2 CPU since Haswell has)
REQUIRED_FLAGS = ("avx2", "fma")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux), or None where that file is missing."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def why_not_portable(flags: set[str] | None = None) -> str | None:
    """Why this CPU cannot run the pinned kernels, or None where it can (``flags``: :func:`cpu_flags`)."""
    flags = cpu_flags() if flags is None else flags
    if flags is None:
        return "no /proc/cpuinfo to read the CPU's flags from (not Linux)"
    missing = [flag for flag in REQUIRED_FLAGS if flag not in flags]
    return f"the CPU lacks {', '.join(missing)} (x86-64 with AVX2 and FMA needed)" if missing else None


def pinned_environment(threads: int = 1) -> dict[str, str]:
    """:data:`PINNED_ENV` and ``threads`` OpenMP / MKL threads, the variables a job needs."""
    count = str(max(1, int(threads)))
    return {**PINNED_ENV, "OMP_NUM_THREADS": count, "MKL_NUM_THREADS": count}


def pin_cpu_kernels(threads: int = 1, environ: MutableMapping[str, str] | None = None,
                    flags: set[str] | None = None) -> str | None:
    """Set :func:`pinned_environment` in ``environ`` (default ``os.environ``) where the CPU allows.

    Returns None when pinned, else why not (a CPU without AVX2: ATen would take ``avx2`` on
    trust and stop on an illegal instruction, so nothing is set and the numbers are the
    CPU's own). Overrides values already set: the point is that they are the same everywhere.
    """
    reason = why_not_portable(flags)
    if reason is None:
        (os.environ if environ is None else environ).update(pinned_environment(threads))
    return reason


def presets_environment(presets: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{PRESETS_ENV: "ci,demo,..."}``: the resolved presets whose ``portable_numbers`` is on, for
    the workflow to put in its jobs' environment (``common.smk``; jobs inherit it, on a cluster too)."""
    return {PRESETS_ENV: ",".join(sorted(name for name, preset in presets.items() if preset.get("portable_numbers")))}


def pins_preset(preset: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a job of ``preset`` pins its CPU kernels (:func:`presets_environment` in ``environ``)."""
    listed = (os.environ if environ is None else environ).get(PRESETS_ENV, "")
    return preset is not None and preset in listed.split(",")


def check_pinned(capability: str, threads: int) -> dict[str, Any]:
    """The kernels a job runs, as a record for its log: ``capability`` is
    ``torch.backends.cpu.get_cpu_capability()`` and ``threads`` ``torch.get_num_threads()`` (the
    caller imports torch: plotting jobs have none). Raises RuntimeError where
    :func:`pin_cpu_kernels` came too late (torch had already chosen other kernels)."""
    facts = {"cpu_capability": capability, "threads": threads,
             **{key: os.environ.get(key) for key in pinned_environment(threads)}}
    if os.environ.get("ATEN_CPU_CAPABILITY") == PINNED_ENV["ATEN_CPU_CAPABILITY"] and capability != PINNED_CAPABILITY:
        raise RuntimeError(f"ATEN_CPU_CAPABILITY is pinned but torch runs {capability} kernels: "
                           "pin_cpu_kernels must run before torch's first op")
    return facts


def weights_digest(state_dicts: Mapping[str, Mapping[str, Any]]) -> str:
    """SHA-256 over the named state dicts' tensors (names sorted; each entry's name, dtype, shape
    and little-endian bytes), so equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for run in sorted(state_dicts):
        for key in sorted(state_dicts[run]):
            array = state_dicts[run][key].detach().cpu().contiguous().numpy()
            digest.update(f"{run}/{key}:{array.dtype.str}:{list(array.shape)};".encode())
            digest.update(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()
