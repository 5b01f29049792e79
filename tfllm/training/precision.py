"""runtime.mixed_precision "auto": mixed bfloat16 where the hardware computes bfloat16 natively.

bfloat16 needs no loss scaling and keeps float32's range, so where matmuls
run natively in it (CPUs with AVX-512 BF16 or AMX, NVIDIA GPUs from Ampere
on, TPUs) it is the cheap speed-up; elsewhere TensorFlow emulates it and
it is slower than float32, so "auto" falls back to float32.
"""

import os

import tensorflow as tf

CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU feature flags Linux reports (empty where there is no /proc/cpuinfo)."""
    if not os.path.exists(path):  # not Linux: nothing known, and "auto" stays float32
        return set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def native_bfloat16(distribution="none"):
    """Whether the devices a run trains on compute bfloat16 natively."""
    if distribution == "tpu":
        return True
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [tf.config.experimental.get_device_details(gpu).get(
            "compute_capability", (0, 0)) for gpu in gpus]
        return all(tuple(c) >= (8, 0) for c in capabilities)
    return bool(cpu_flags() & set(CPU_FLAGS))


def resolve(mixed_precision, distribution="none"):
    """The Keras policy name `runtime.mixed_precision` stands for ("auto" decided here)."""
    if mixed_precision != "auto":
        return mixed_precision
    return "mixed_bfloat16" if native_bfloat16(distribution) else "float32"
