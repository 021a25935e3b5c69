"""The few array routines the analyses need beyond numpy, built on numpy and OpenCV.

They once came from SciPy (``ndimage.label`` and ``find_objects``, ``ndimage.uniform_filter``,
``fft.next_fast_len`` and ``rfft2``, ``special.gammainccinv``), which added 45 MB to the light
client for these few routines. These give the same results without it
(tests/test_forensics_numeric.py compares them with SciPy where it is installed).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = [
    "box_mean",
    "connected_regions",
    "fast_fft_length",
    "gamma_upper_inverse",
    "half_power_spectrum",
]


def connected_regions(
    mask: np.ndarray, connectivity: int = 4
) -> tuple[np.ndarray, list[tuple[int, tuple[slice, slice]]]]:
    """Label the True areas of a 2-D mask (4- or 8-neighbours).

    Returns the label image (0 = background) and, per area, its label and bounding slices
    ``(rows, cols)``, in the order of each area's first pixel in a row-by-row scan, as
    ``scipy.ndimage.label`` numbers them (an order callers keep on ties).
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, not {connectivity}")
    if mask.ndim != 2:
        raise ValueError(f"a 2-D mask is needed, not {mask.ndim}-D")
    count, labels, stats, _centroids = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(mask, dtype=np.uint8), connectivity=connectivity, ltype=cv2.CV_32S
    )
    if count <= 1:
        return labels, []
    # OpenCV's (block-based, possibly parallel) scan may number areas in another order.
    found, first = np.unique(labels.ravel(), return_index=True)
    areas = found > 0  # a mask without background has no label 0
    order = found[areas][np.argsort(first[areas], kind="stable")]
    boxes = []
    for label in order.tolist():
        left, top, width, height = (int(v) for v in stats[label, :4])
        boxes.append((label, (slice(top, top + height), slice(left, left + width))))
    return labels, boxes


def box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """Mean over a ``size`` x ``size`` window around each pixel, the edges mirrored (d c b a | a b
    c d), like ``scipy.ndimage.uniform_filter``'s default; float in, the same float out."""
    if size < 1:
        raise ValueError(f"the window size must be at least 1, not {size}")
    values = np.asarray(values)
    dtype = values.dtype if values.dtype.kind == "f" else np.dtype(np.float64)
    # Sums in float64, as SciPy makes them, then back to the input's precision.
    mean = cv2.blur(values.astype(np.float64), (size, size), borderType=cv2.BORDER_REFLECT)
    return mean.astype(dtype, copy=False)


def fast_fft_length(n: int) -> int:
    """The smallest length >= n whose only prime factors are 2, 3 and 5 (a fast FFT size)."""
    if n < 1:
        raise ValueError(f"an FFT length must be at least 1, not {n}")
    return int(cv2.getOptimalDFTSize(n))


def half_power_spectrum(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``|rfft2(values, s=shape)|^2``: the power of the 2-D DFT of ``values`` zero-padded to
    ``shape``, for the non-negative horizontal frequencies only (shape[1] // 2 + 1 columns).

    OpenCV's real DFT in its packed (CCS) layout, unpacked here: on 512 x 512 float32 it is
    faster than SciPy's rfft2, than numpy's FFT (by 10x) and than OpenCV's complex output.
    """
    height, width = values.shape
    rows, cols = shape
    if height > rows or width > cols:
        raise ValueError(f"cannot pad {values.shape} down to {shape}")
    padded = cv2.copyMakeBorder(np.asarray(values, dtype=np.float32), 0, rows - height, 0,
                                cols - width, cv2.BORDER_CONSTANT, value=0)  # fmt: skip
    packed = cv2.dft(padded)  # (its nonzeroRows hint makes it twice slower here)
    power = np.empty((rows, cols // 2 + 1), dtype=np.float32)
    # Columns 1 .. 2*pairs hold (Re, Im) of every row's frequencies 1 .. pairs.
    pairs = (cols - 1) // 2
    squares = np.square(packed[:, 1 : 2 * pairs + 1])
    np.add(squares[:, 0::2], squares[:, 1::2], out=power[:, 1 : pairs + 1])
    # Frequency 0 (and cols/2 when cols is even) is real along the rows: its column holds the
    # 1-D real DFT down the column, packed the same way.
    power[:, 0] = _packed_column_power(packed[:, 0])
    if cols % 2 == 0 and cols > 1:
        power[:, cols // 2] = _packed_column_power(packed[:, cols - 1])
    return power


def _packed_column_power(column: np.ndarray) -> np.ndarray:
    """|DFT|^2 of a real sequence from OpenCV's packing: Re Y0, (Re Yk, Im Yk) for k = 1 ..
    (n-1)/2, and Re Y(n/2) last when n is even; Y(n-k) is the conjugate of Y(k)."""
    n = column.shape[0]
    pairs = (n - 1) // 2
    power = np.empty(n, dtype=np.float32)
    power[0] = column[0] ** 2
    inner = np.square(column[1 : 2 * pairs : 2]) + np.square(column[2 : 2 * pairs + 1 : 2])
    power[1 : pairs + 1] = inner
    power[n - pairs :] = inner[::-1]
    if n % 2 == 0:
        power[n // 2] = column[n - 1] ** 2
    return power


# ----------------------------------------------------------------------- incomplete gamma

_EPS = 1e-15
_MAX_TERMS = 1000


def _log_prefactor(a: float, x: float) -> float:
    """log(x^a e^-x / Gamma(a))."""
    return a * math.log(x) - x - math.lgamma(a)


def gamma_upper(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a)."""
    if x <= 0.0:
        return 1.0
    if x < a + 1.0:  # series for P(a, x) (Numerical Recipes 6.2.5), then Q = 1 - P
        term = total = 1.0 / a
        denominator = a
        for _ in range(_MAX_TERMS):
            denominator += 1.0
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return max(0.0, 1.0 - total * math.exp(_log_prefactor(a, x)))
    # Continued fraction for Q(a, x) (modified Lentz, Numerical Recipes 6.2.7).
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(_log_prefactor(a, x)) * h


def gamma_upper_inverse(a: float, q: float) -> float:
    """x with Q(a, x) = q (``scipy.special.gammainccinv``): the value a Gamma(a, 1) variable
    exceeds with probability q. Newton's method on log Q, kept inside a bracket."""
    if not a > 0.0:
        raise ValueError(f"the shape a must be positive, not {a}")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a probability in [0, 1] is needed, not {q}")
    if q == 0.0:
        return math.inf
    if q == 1.0:
        return 0.0
    lo, hi = 0.0, max(a, 1.0)
    while gamma_upper(a, hi) > q:  # Q falls with x: find a bracket [lo, hi]
        lo, hi = hi, 2.0 * hi
    x = 0.5 * (lo + hi)
    target = math.log(q)
    for _ in range(200):
        value = gamma_upper(a, x)
        if value > q:
            lo = x
        else:
            hi = x
        if value <= 0.0:
            step = math.nan  # underflow far out: bisect
        else:
            # d log Q / dx = -x^(a-1) e^-x / (Gamma(a) Q)
            slope = -math.exp(_log_prefactor(a, x) - math.log(x) - math.log(value))
            step = (math.log(value) - target) / slope
        new = x - step
        if not lo < new < hi:  # Newton left the bracket (or failed): bisect instead
            new = 0.5 * (lo + hi)
        if abs(new - x) <= 1e-15 * abs(new) or hi - lo <= 1e-15 * hi:
            return new
        x = new
    return x
