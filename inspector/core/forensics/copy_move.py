"""Copy-move forgery: parts of the image cloned onto other parts of the same image.

The keypoint method of Amerini et al. (2011, "A SIFT-based forensic method for copy-move attack
detection and transformation recovery"), with the dense verification of Pan & Lyu (2010,
"Region duplication detection using image feature matching") to outline the regions:

1. SIFT keypoints on the luma, reduced by an integer factor to at most ``WORK_PIXELS`` (a
   12 MP photo is examined at 800x600); the ``MAX_KEYPOINTS`` strongest are kept.
2. Every keypoint is compared with all the others; of its nearest neighbours (itself skipped),
   the generalised 2NN test keeps neighbour i while d_i / d_(i+1) < ``G2NN_RATIO``.
3. Pairs closer than ``MIN_SHIFT`` px are dropped (a structure always resembles its surroundings).
4. Repeated RANSAC fits of a similarity transform (rotation, uniform scale, translation): each
   transform that at least ``MIN_INLIERS`` pairs agree on is one cloned pair of regions.
5. The image is correlated with itself warped by that transform; the well-correlated area
   around the matched keypoints, on each side, is the cloned region (its box is reported).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from inspector.core.forensics.base import ForensicInput, ForensicRegion, ForensicResult

NAME = "copy_move"
TITLE = "Copy-move (cloned regions)"
LIMITS = (
    "Finds areas copied within this image (moved, possibly rotated or resized up to 3x), not "
    "material pasted in from another picture. The image is examined at about 0.5 megapixels "
    "(800x600 for 12 MP): a clone needs roughly 64x64 of those pixels of detailed texture (about "
    "1/12 of the width) to be found reliably. Clones of flat areas (sky, walls) have no keypoints "
    "and are missed or outlined only where they hold detail; heavy blur, noise or recompression "
    "hides clones. Which of the two regions is the original cannot be told: 'source' and "
    "'target' name the two ends of a copy, not its direction. Genuinely repeated content "
    "(tileable textures, identical objects) is reported too."
)

WORK_PIXELS = 480_000  # 800x600 for 4:3; SIFT on the full 12 MP would take seconds
MAX_KEYPOINTS = 2500  # strongest by response (equal at both ends of a clone); n^2 comparisons
CONTRAST_THRESHOLD = 0.04  # OpenCV's default; 0.02 found no more clones, at 25% more time
NEIGHBOURS = 3  # nearest neighbours examined per keypoint, itself not counted
G2NN_RATIO = 0.5  # Amerini et al.'s threshold T for d_i / d_(i+1)
IDENTICAL = 1.0  # descriptor distance (norms are ~512) of exact copies: a 0/0 ratio passes
MIN_SHIFT = 16.0  # working px between the two keypoints of a pair
RANSAC_PX = 3.0  # working px: reprojection tolerance of a similarity fit
MIN_INLIERS = 8  # pairs agreeing on one transform; untouched skimage photos reach 0-4 (text)
MAX_CLONES = 8
SCALE_RANGE = (1 / 3, 3.0)  # fits outside this are degenerate, not plausible clones
CORR_WINDOW = 7  # px, window of the local correlation between the image and its warp
CORR_THRESHOLD = 0.85
MIN_STD = 2.0  # grey levels: in flatter windows a correlation means nothing
REACH = 0.5  # a region may extend this fraction of its keypoints' extent beyond them


@dataclass
class _Clone:
    matrix: np.ndarray  # 2x3 similarity, source -> target, working pixels
    source_pts: np.ndarray  # (n, 2) inlier keypoints, working pixels
    target_pts: np.ndarray
    source_box: list[int] = field(default_factory=list)  # working px [x1, y1, x2, y2)
    target_box: list[int] = field(default_factory=list)
    correlation: float = 0.0  # mean local correlation over the two regions


def analyze(evidence: ForensicInput) -> ForensicResult:
    gray, factor = _working_luma(evidence.image)
    points, descriptors = _keypoints(gray)
    pairs = _g2nn_pairs(points, descriptors)
    candidates = _cluster(points, pairs)
    area_map = np.zeros(gray.shape, dtype=np.float32)
    clones = [clone for clone in candidates if _outline(gray, clone, area_map)]
    clones.sort(key=lambda c: -len(c.source_pts))

    width, height = evidence.width, evidence.height
    indicators_pairs: list[dict[str, Any]] = []
    regions: list[ForensicRegion] = []
    for k, clone in enumerate(clones, start=1):
        source = _to_original(clone.source_box, factor, width, height)
        target = _to_original(clone.target_box, factor, width, height)
        scale = math.hypot(clone.matrix[0, 0], clone.matrix[1, 0])
        rotation = math.degrees(math.atan2(clone.matrix[1, 0], clone.matrix[0, 0]))
        shift = (clone.target_pts - clone.source_pts).mean(axis=0)
        indicators_pairs.append({
            "source": source, "target": target, "matches": len(clone.source_pts),
            "shift": [round(float(v) * factor) for v in shift],
            "rotation": round(rotation, 1),  # degrees, clockwise as displayed (y down)
            "scale": round(scale, 3),
            "correlation": round(clone.correlation, 3),
        })  # fmt: skip
        score = round(clone.correlation, 3)
        regions.append(ForensicRegion(source, f"clone source {k}", score))
        regions.append(ForensicRegion(target, f"clone target {k}", score))

    work_w, work_h = gray.shape[1], gray.shape[0]
    return ForensicResult(
        name=NAME,
        title=TITLE,
        statement=_statement(indicators_pairs, len(points), work_w, work_h),
        limits=LIMITS,
        indicators={"detected": bool(clones), "pairs": indicators_pairs},
        regions=regions,
        map=_display_size(area_map) if clones else None,
        map_legend="white = area that reappears elsewhere in the image" if clones else None,
        parameters={
            "working_size": [work_w, work_h], "reduction": int(factor),
            "work_pixels": WORK_PIXELS, "max_keypoints": MAX_KEYPOINTS,
            "keypoints": len(points), "g2nn_ratio": G2NN_RATIO, "neighbours": NEIGHBOURS,
            "min_shift_px": MIN_SHIFT, "ransac_px": RANSAC_PX, "min_inliers": MIN_INLIERS,
            "contrast_threshold": CONTRAST_THRESHOLD, "candidate_pairs": len(pairs),
            "correlation_threshold": CORR_THRESHOLD, "correlation_window": CORR_WINDOW,
            "unconfirmed_transforms": len(candidates) - len(clones),
        },  # fmt: skip
    )


def _statement(pairs: list[dict[str, Any]], keypoints: int, work_w: int, work_h: int) -> str:
    if not pairs:
        if keypoints < 2 * MIN_INLIERS:
            return f"Too little detail to test for cloning: only {keypoints} keypoints found."
        return (
            f"No cloned regions: among {keypoints} keypoints (at {work_w}x{work_h}) no "
            f"{MIN_INLIERS} or more matches agree on one copy transform."
        )
    first = pairs[0]
    more = f"; {len(pairs) - 1} more pair(s)" if len(pairs) > 1 else ""
    return (
        f"Cloned region: the area at {first['source']} reappears at {first['target']} "
        f"({first['matches']} matching keypoints, rotation {round(first['rotation']):d} deg, "
        f"scale {first['scale']:.2f}){more}."
    )


def _working_luma(image: Image.Image) -> tuple[np.ndarray, int]:
    """The luma, box-reduced by an integer factor to at most WORK_PIXELS; and that factor."""
    factor = max(1, math.ceil(math.sqrt(image.width * image.height / WORK_PIXELS)))
    small = image.reduce(factor) if factor > 1 else image  # reduce first: 25x less to convert
    return np.asarray(small.convert("L")), factor


def _keypoints(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SIFT keypoint positions (n, 2) and descriptors (n, 128), both float32."""
    if min(gray.shape) < 8:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    sift = cv2.SIFT_create(MAX_KEYPOINTS, contrastThreshold=CONTRAST_THRESHOLD)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    return points, descriptors.astype(np.float32)


def _g2nn_pairs(points: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
    """(m, 2) keypoint index pairs (i < j) passing the g2NN test and at least MIN_SHIFT apart."""
    n = len(descriptors)
    k = min(NEIGHBOURS + 1, n - 1)  # +1: the ratio for the last neighbour needs the next one
    if k < 2:
        return np.zeros((0, 2), dtype=np.int64)
    squared = np.einsum("ij,ij->i", descriptors, descriptors)
    found = []
    for start in range(0, n, 512):  # blocks of rows keep the distance matrix small
        block = descriptors[start : start + 512]
        rows = np.arange(start, start + len(block))
        dist = squared[rows, None] + squared[None, :] - 2.0 * (block @ descriptors.T)
        dist[np.arange(len(block)), rows] = np.inf  # skip the self-match
        nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
        near_d = np.take_along_axis(dist, nearest, axis=1)
        order = np.argsort(near_d, axis=1)
        nearest = np.take_along_axis(nearest, order, axis=1)
        near_d = np.sqrt(np.maximum(np.take_along_axis(near_d, order, axis=1), 0.0))
        # g2NN: neighbour i is kept while every ratio d_1/d_2 .. d_i/d_(i+1) is below T (a patch
        # pasted twice without recompression has two neighbours at distance 0: both are kept)
        passes = (near_d[:, :-1] < G2NN_RATIO * near_d[:, 1:]) | (near_d[:, 1:] <= IDENTICAL)
        keep = np.cumprod(passes, axis=1).astype(bool)
        r, c = np.nonzero(keep)
        found.append(np.stack([rows[r], nearest[r, c]], axis=1))
    pairs = np.unique(np.sort(np.concatenate(found), axis=1), axis=0)
    shift = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
    return pairs[shift >= MIN_SHIFT]


def _cluster(points: np.ndarray, pairs: np.ndarray) -> list[_Clone]:
    """Repeated RANSAC: each similarity transform that enough pairs agree on is one clone.

    Both orientations of every pair are offered (either end may be the copy); when a transform
    is accepted its pairs leave the pool in both orientations, and the next fit looks for another.
    """
    clones: list[_Clone] = []
    pool = pairs
    while len(pool) >= MIN_INLIERS and len(clones) < MAX_CLONES:
        src = np.concatenate([points[pool[:, 0]], points[pool[:, 1]]])
        dst = np.concatenate([points[pool[:, 1]], points[pool[:, 0]]])
        matrix, inliers = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX, maxIters=2000,
            confidence=0.995, refineIters=10,
        )  # fmt: skip
        if matrix is None or inliers is None:
            break
        inl = inliers.ravel().astype(bool)
        if int(inl.sum()) < MIN_INLIERS:
            break
        scale = math.hypot(matrix[0, 0], matrix[1, 0])
        if SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
            clones.append(_oriented(_Clone(matrix, src[inl], dst[inl])))
        pool = pool[~(inl[: len(pool)] | inl[len(pool) :])]
    return clones


def _oriented(clone: _Clone) -> _Clone:
    """Name the end nearer the top-left 'source' so the result does not depend on RANSAC's pick."""
    src_c, dst_c = clone.source_pts.mean(axis=0), clone.target_pts.mean(axis=0)
    if (src_c[1], src_c[0]) <= (dst_c[1], dst_c[0]):
        return clone
    return _Clone(cv2.invertAffineTransform(clone.matrix), clone.target_pts, clone.source_pts)


def _local_correlation(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Pearson correlation of a and b over CORR_WINDOW windows; 0 where either is too flat."""
    size = (CORR_WINDOW, CORR_WINDOW)
    mean_a, mean_b = cv2.blur(a, size), cv2.blur(b, size)
    var_a = cv2.blur(a * a, size) - mean_a * mean_a
    var_b = cv2.blur(b * b, size) - mean_b * mean_b
    cov = cv2.blur(a * b, size) - mean_a * mean_b
    ok = (var_a > MIN_STD**2) & (var_b > MIN_STD**2) & valid
    corr = np.zeros_like(a)
    corr[ok] = cov[ok] / np.sqrt(var_a[ok] * var_b[ok])
    return corr


def _outline(gray: np.ndarray, clone: _Clone, area_map: np.ndarray) -> bool:
    """Outline both ends of a clone from the pixels; False if they do not match pixel by pixel.

    ``warpAffine(img, M)`` at pixel y shows img at M^-1 y: with M = source -> target it brings
    each target pixel's source counterpart into place, so its correlation with the image lights
    up the target; with the inverse, the source. Only the well-correlated areas connected to the
    matched keypoints, and no further than REACH beyond them, count (flat surroundings and smooth
    gradients correlate with any shifted copy of themselves). Only that window is warped.
    Keypoints can agree on a transform where the pixels do not (a chequerboard turned by 90
    degrees swaps its colours): such a transform is no clone.
    """
    img = gray.astype(np.float32)
    h, w = img.shape
    inside = np.ones_like(img)
    found = []
    for matrix, pts in (
        (cv2.invertAffineTransform(clone.matrix), clone.source_pts),
        (clone.matrix, clone.target_pts),
    ):
        x1, y1, x2, y2 = _around(pts, w, h)
        size = (x2 - x1, y2 - y1)
        shifted = matrix - np.array([[0, 0, x1], [0, 0, y1]], dtype=matrix.dtype)  # window origin
        warped = cv2.warpAffine(img, shifted, size, flags=cv2.INTER_LINEAR)
        valid = cv2.warpAffine(inside, shifted, size, flags=cv2.INTER_NEAREST) > 0
        corr = _local_correlation(img[y1:y2, x1:x2], warped, valid)
        mask = (corr >= CORR_THRESHOLD).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        _, labels = cv2.connectedComponents(mask, connectivity=8)
        xs = np.clip(np.round(pts[:, 0]).astype(int) - x1, 0, size[0] - 1)
        ys = np.clip(np.round(pts[:, 1]).astype(int) - y1, 0, size[1] - 1)
        hit = np.unique(labels[ys, xs])
        region = np.isin(labels, hit[hit > 0])
        if not region.any():
            return False
        found.append((x1, y1, region, float(np.clip(corr[region], 0.0, 1.0).mean())))
    boxes = []
    for x1, y1, region, _ in found:
        rows, cols = np.nonzero(region)
        boxes.append([x1 + int(cols.min()), y1 + int(rows.min()),
                      x1 + int(cols.max()) + 1, y1 + int(rows.max()) + 1])  # fmt: skip
        area_map[y1 : y1 + region.shape[0], x1 : x1 + region.shape[1]][region] = 1.0
    clone.source_box, clone.target_box = boxes
    clone.correlation = float(np.mean([score for *_, score in found]))
    return True


def _around(pts: np.ndarray, w: int, h: int) -> list[int]:
    """Bounding box of the points grown by REACH of their extent (at least CORR_WINDOW px)."""
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    grow = np.maximum((hi - lo) * REACH, CORR_WINDOW)
    x1, y1 = np.floor(lo - grow).astype(int)
    x2, y2 = np.ceil(hi + grow).astype(int) + 1
    return [max(0, int(x1)), max(0, int(y1)), min(w, int(x2)), min(h, int(y2))]


def _display_size(area_map: np.ndarray, longest: int = 1024) -> np.ndarray:
    """The map at most ``longest`` px on its long side (only a very elongated image exceeds it)."""
    h, w = area_map.shape
    if max(h, w) <= longest:
        return area_map
    f = longest / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(area_map, size, interpolation=cv2.INTER_AREA)


def _to_original(box: list[int], factor: int, width: int, height: int) -> list[int]:
    """A working-size box in original pixels (working pixel x covers x*factor .. x*factor+f-1)."""
    x1, y1, x2, y2 = box
    return [x1 * factor, y1 * factor, min(width, x2 * factor), min(height, y2 * factor)]
