"""The array routines the analyses use instead of SciPy give SciPy's results.

SciPy is not in the light client, but it stays in the development install (the trainer's
synthetic artifacts use it), so each routine is compared with the SciPy function it replaces on
random inputs; those comparisons are skipped only where SciPy is absent. Closed forms check the
incomplete gamma function everywhere.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from inspector.core.forensics.numeric import (
    box_mean,
    connected_regions,
    fast_fft_length,
    gamma_upper,
    gamma_upper_inverse,
    half_power_spectrum,
)

needs_scipy = pytest.mark.skipif(
    importlib.util.find_spec("scipy") is None, reason="SciPy (the reference) is not installed"
)


def random_masks(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    masks = [np.zeros((5, 7), bool), np.ones((6, 4), bool), np.eye(9, dtype=bool)]
    for _ in range(count):
        shape = (int(rng.integers(1, 90)), int(rng.integers(1, 90)))
        masks.append(rng.random(shape) < rng.uniform(0.05, 0.7))
    return masks


@needs_scipy
@pytest.mark.parametrize("connectivity", [4, 8])
def test_connected_regions_equal_scipy_label_and_find_objects(connectivity):
    from scipy import ndimage

    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    rng = np.random.default_rng(connectivity)
    # OpenCV numbers 8-connected areas in another order than a row-by-row scan, even in small
    # masks; a larger one has thousands of areas on many rows (scanned in parallel stripes).
    masks = random_masks(rng, 150) + [rng.random((400, 300)) < 0.3]
    for mask in masks:
        expected, count = ndimage.label(mask, structure=structure)
        objects = ndimage.find_objects(expected)
        labels, areas = connected_regions(mask, connectivity)
        # Same boxes in SciPy's order (callers keep it on ties), and the same areas.
        assert [box for _, box in areas] == objects
        renumber = np.zeros(count + 1, dtype=np.int32)
        renumber[[label for label, _ in areas]] = np.arange(1, count + 1)
        assert np.array_equal(renumber[labels], expected)


def test_connected_regions_separates_diagonal_neighbours_only_with_4_connectivity():
    mask = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0], [1, 1, 1]], bool)
    assert [box for _, box in connected_regions(mask, 8)[1]] == [
        (slice(0, 2), slice(0, 2)), (slice(3, 4), slice(0, 3)),
    ]  # fmt: skip
    assert len(connected_regions(mask, 4)[1]) == 3
    with pytest.raises(ValueError, match="connectivity"):
        connected_regions(mask, 6)


@needs_scipy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_mean_equals_scipy_uniform_filter(dtype):
    from scipy import ndimage

    rng = np.random.default_rng(1)
    for _ in range(40):
        shape = (int(rng.integers(1, 70)), int(rng.integers(1, 70)))
        values = (rng.random(shape) * 255).astype(dtype)
        for size in (1, 2, 3, 4, 5):
            mine, theirs = box_mean(values, size), ndimage.uniform_filter(values, size)
            assert mine.dtype == theirs.dtype
            np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-4)


@needs_scipy
def test_fast_fft_length_equals_scipy_next_fast_len():
    from scipy import fft

    assert [fast_fft_length(n) for n in range(1, 5000)] == [
        fft.next_fast_len(n, real=True) for n in range(1, 5000)
    ]


@needs_scipy
def test_half_power_spectrum_equals_scipy_rfft2():
    from scipy import fft

    rng = np.random.default_rng(2)
    for values_shape, shape in [((510, 510), (512, 512)), ((61, 37), (64, 40)), ((9, 9), (9, 9)),
                                ((298, 398), (300, 400)), ((5, 3), (6, 5))]:  # fmt: skip
        values = rng.normal(size=values_shape).astype(np.float32)
        spectrum = fft.rfft2(values, s=shape)
        expected = np.square(spectrum.real) + np.square(spectrum.imag)
        power = half_power_spectrum(values, shape)
        assert power.shape == expected.shape and power.dtype == np.float32
        np.testing.assert_allclose(power, expected, rtol=0, atol=1e-5 * float(expected.max()))


@needs_scipy
def test_gamma_upper_inverse_equals_scipy_gammainccinv():
    from scipy import special

    rng = np.random.default_rng(3)
    # The spectrum's range (a = 1..8 tiles, q = 1 / bins and 0.5) and far beyond it.
    shapes = np.concatenate([rng.uniform(1, 8, 300), rng.uniform(0.05, 200, 300)])
    quantiles = np.concatenate([10 ** rng.uniform(-15, -0.0005, 598), [1 / 393216, 0.5]])
    for a, q in zip(shapes, quantiles, strict=True):
        expected = float(special.gammainccinv(a, q))
        assert gamma_upper_inverse(float(a), float(q)) == pytest.approx(expected, rel=1e-6)


def test_gamma_upper_matches_closed_forms():
    # Integer a: Q(a, x) = e^-x sum_{k<a} x^k / k!; a = 1/2: Q = erfc(sqrt(x)).
    for x in (1e-6, 0.3, 1.0, 2.5, 7.0, 30.0, 200.0):
        for a in (1, 2, 5, 8):
            series = math.exp(-x) * sum(x**k / math.factorial(k) for k in range(a))
            assert gamma_upper(a, x) == pytest.approx(series, rel=1e-12)
        assert gamma_upper(0.5, x) == pytest.approx(math.erfc(math.sqrt(x)), rel=1e-12)


def test_gamma_upper_inverse_inverts():
    for a in (0.3, 1.0, 2.7, 8.0, 64.0):
        for q in (1e-12, 2.5e-6, 0.01, 0.5, 0.9, 0.999):
            assert gamma_upper(a, gamma_upper_inverse(a, q)) == pytest.approx(q, rel=1e-9)
    assert gamma_upper_inverse(1.0, 0.25) == pytest.approx(math.log(4.0), rel=1e-14)
    assert gamma_upper_inverse(3.0, 0.0) == math.inf and gamma_upper_inverse(3.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="positive"):
        gamma_upper_inverse(0.0, 0.5)
    with pytest.raises(ValueError, match="probability"):
        gamma_upper_inverse(2.0, 1.5)
