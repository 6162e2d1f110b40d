"""Peak memory of the export, per network: the figure a user needs to know whether a machine can export a model.
Linux keeps the process's peak resident set (VmHWM) and resets it when "5" is written to /proc/self/clear_refs,
so each network's peak is measured on its own; elsewhere the figure is the process's peak so far."""
import contextlib
import ctypes
import gc
import resource
import sys
import time


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_bytes(key):
    """A byte count from /proc/self/status (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_bytes():
    """The peak resident set since the last reset_peak() (Linux), else since the process started."""
    peak = _status_bytes("VmHWM:")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def trim():
    """Collects garbage and hands freed heap back to the OS (glibc's malloc_trim), so that the next network starts from
    what is really held: without it a freed multi-GB network stayed resident and raised every later peak."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def current_bytes():
    return _status_bytes("VmRSS:") or 0


def gb(n):
    return f"{n / 1e9:.2f} GB"


class _Phases:
    """Peaks of the phases of one network (trace + write, validation, ...): mark() closes a phase."""

    def __init__(self):
        self.peaks = []

    def mark(self, label):
        self.peaks.append((label, peak_bytes()))
        reset_peak()


@contextlib.contextmanager
def measured(name, figures, log):
    """Records figures[name] = seconds, peak resident memory of the block and of each phase marked in it, and logs them."""
    trim()
    started, before = time.time(), current_bytes()
    reset_peak()
    phases = _Phases()
    yield phases
    phases.mark("rest")
    peak, seconds = max(p for _, p in phases.peaks), time.time() - started
    figures[name] = {"seconds": round(seconds, 1), "peak_rss_bytes": peak, "rss_before_bytes": before,
                     "phase_peaks": {label: p for label, p in phases.peaks}}
    parts = ", ".join(f"{label} {gb(p)}" for label, p in phases.peaks if label != "rest" or len(phases.peaks) == 1)
    log(f"[{name}] done in {seconds:.0f} s; peak resident memory {gb(peak)} ({parts}; {gb(before)} before this network)")


def release_weights(module):
    """Frees a torch module's weights once its ONNX file is written (the parameters move to the meta device), so that
    validation and the float16 conversion do not hold a second copy of a multi-GB network beside the ONNX one. The
    module cannot run afterwards: everything that needs its outputs computes them before the export."""
    try:
        module.to("meta")
    except (RuntimeError, NotImplementedError, TypeError) as ex:  # an old torch without meta tensors: keep the weights
        return f"weights kept ({type(ex).__name__})"
    return None
