"""Seeded detector-like box sets for the NMS fixture generators (numpy only).

Used by ``gen_nms_fixtures.py``, ``gen_batched_nms_fixtures.py``, ``gen_nms_opencv_fixtures.py``
and ``gen_soft_nms_fixtures.py``. Every function draws from the ``numpy.random.Generator`` it is
given, in a fixed order, and returns float64 arrays (labels int64); the scripts cast them to the
dtypes they store. Changing the order of the draws, or a default, changes committed fixtures:
regenerate and check that ``git status tests/data`` shows only what you meant to change.

Box sets:

- ``detector_output``: clusters of jittered proposals around objects in a 1333×800 image,
  background clutter, tied scores, exact duplicates and zero-area boxes;
- ``labelled_clusters``: the same idea with class labels, vectorised (batched NMS);
- ``uniform_detections``: boxes placed uniformly, sizes uniform, scores uniform;
- ``heavy_ties``: any of the above with scores from a handful of values and many duplicates.
"""

import numpy as np

WIDTH, HEIGHT = 1333.0, 800.0
TIE_LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)


def log_uniform(rng, lo, hi, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def clip_to_image(boxes, width, height, x0=0.0, y0=0.0):
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], x0, x0 + width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], y0, y0 + height)


def round_some_scores(rng, scores, fraction=0.2, decimals=2):
    """Ties: a `fraction` of the scores rounded to `decimals` decimals."""
    tied = rng.uniform(size=scores.size) < fraction
    scores[tied] = np.round(scores[tied], decimals)


def duplicate_some_boxes(rng, boxes, scores, every=25, same_score="random"):
    """Exact duplicates: n // every boxes (at least 1) become copies of random boxes. Their score
    is copied too for a random half (`same_score="random"`) or for every other one
    (`"alternate"`). Returns (dup, src): box dup[k] is a copy of box src[k]."""
    n = len(boxes)
    dup = rng.choice(n, size=max(1, n // every), replace=False)
    src = rng.choice(n, size=dup.size)
    boxes[dup] = boxes[src]
    if same_score == "random":
        same = rng.uniform(size=dup.size) < 0.5
    elif same_score == "alternate":
        same = np.zeros(dup.size, dtype=bool)
        same[::2] = True
    else:
        raise ValueError(f"same_score must be 'random' or 'alternate', not {same_score!r}")
    scores[dup[same]] = scores[src[same]]
    return dup, src


def flatten_some_boxes(rng, boxes, scores, every=50, minimum=2, identical_pairs=1):
    """Zero-area boxes: max(minimum, n // every) boxes become lines (x2 = x1 or y2 = y1, in
    turn). The last becomes a copy of the first, with its score (an identical zero-area pair);
    with `identical_pairs=2` the one before the last also becomes a copy of the second (its
    score unchanged)."""
    flat = rng.choice(len(boxes), size=max(minimum, len(boxes) // every), replace=False)
    boxes[flat[::2], 2] = boxes[flat[::2], 0]
    boxes[flat[1::2], 3] = boxes[flat[1::2], 1]
    boxes[flat[-1]] = boxes[flat[0]]
    scores[flat[-1]] = scores[flat[0]]
    if identical_pairs >= 2:
        boxes[flat[-2]] = boxes[flat[1]]


def detector_output(rng, n, *, zero_area_every=50, zero_area_min=2, zero_area_pairs=1,
                    integer=False):
    """N scored boxes (xyxy) as a detector emits them before NMS: n // 12 objects (log-uniform
    sizes 12 to 500), 85 % of the boxes jittered around one of them, scored quality × Beta(4,
    1.5), 15 % background clutter scored Beta(1, 8); then a fifth of the scores rounded to two
    decimals, n // 25 exact duplicates and zero-area boxes (`flatten_some_boxes`). With
    `integer`, the coordinates are rounded to integers (before the duplicates and zero-area
    boxes, which keep them integer). Returns float64 (boxes, scores)."""
    width, height = WIDTH, HEIGHT
    objects = max(2, n // 12)
    w = np.clip(log_uniform(rng, 12.0, 500.0, objects), 8.0, width - 1.0)
    h = np.clip(w * np.exp(rng.normal(0.0, 0.5, objects)), 8.0, height - 1.0)
    x1 = rng.uniform(0.0, width - w)
    y1 = rng.uniform(0.0, height - h)
    quality = rng.uniform(0.3, 1.0, objects)

    boxes = np.empty((n, 4))
    scores = np.empty(n)
    clutter = rng.uniform(size=n) < 0.15
    owner = rng.integers(0, objects, n)
    for i in range(n):
        if clutter[i]:
            bw, bh = log_uniform(rng, 4.0, 300.0, 2)
            bx, by = rng.uniform(0.0, width - bw), rng.uniform(0.0, height - bh)
            boxes[i] = [bx, by, bx + bw, by + bh]
            scores[i] = rng.beta(1.0, 8.0)
            continue
        k = owner[i]
        cx = x1[k] + 0.5 * w[k] + w[k] * rng.normal(0.0, 0.12)
        cy = y1[k] + 0.5 * h[k] + h[k] * rng.normal(0.0, 0.12)
        bw = w[k] * np.exp(rng.normal(0.0, 0.15))
        bh = h[k] * np.exp(rng.normal(0.0, 0.15))
        boxes[i] = [cx - 0.5 * bw, cy - 0.5 * bh, cx + 0.5 * bw, cy + 0.5 * bh]
        scores[i] = np.clip(quality[k] * rng.beta(4.0, 1.5), 0.0, 1.0)
    clip_to_image(boxes, width, height)
    if integer:
        boxes = np.rint(boxes)

    round_some_scores(rng, scores)
    duplicate_some_boxes(rng, boxes, scores)
    flatten_some_boxes(rng, boxes, scores, every=zero_area_every, minimum=zero_area_min,
                       identical_pairs=zero_area_pairs)
    return boxes, scores


def labelled_clusters(rng, n, classes, *, width=WIDTH, height=HEIGHT, x0=0.0, y0=0.0):
    """N boxes in clusters around n // 10 objects (log-uniform sizes 12 to 400) in the image
    [x0, x0 + width] × [y0, y0 + height] (not clipped to it); each object has a class, and a
    quarter of the boxes around an object carry a random other class (clusters mix labels).
    Scores Beta(4, 1.5), a fifth rounded to two decimals; n // 25 exact duplicates (every other
    one with its source's score). Returns float64 (boxes, scores) and int64 labels."""
    objects = max(2, n // 10)
    w = log_uniform(rng, 12.0, 400.0, objects)
    h = np.clip(w * np.exp(rng.normal(0.0, 0.5, objects)), 8.0, height - 1.0)
    cx = x0 + rng.uniform(0.5 * w, width - 0.5 * w)
    cy = y0 + rng.uniform(0.5 * h, height - 0.5 * h)
    obj_class = rng.integers(0, classes, objects)
    owner = rng.integers(0, objects, n)
    bx = cx[owner] + w[owner] * rng.normal(0.0, 0.12, n)
    by = cy[owner] + h[owner] * rng.normal(0.0, 0.12, n)
    bw = w[owner] * np.exp(rng.normal(0.0, 0.15, n))
    bh = h[owner] * np.exp(rng.normal(0.0, 0.15, n))
    boxes = np.stack([bx - 0.5 * bw, by - 0.5 * bh, bx + 0.5 * bw, by + 0.5 * bh], axis=1)
    labels = obj_class[owner].astype(np.int64)
    other = rng.uniform(size=n) < 0.25
    labels[other] = rng.integers(0, classes, int(other.sum()))
    scores = rng.beta(4.0, 1.5, n)
    round_some_scores(rng, scores)
    duplicate_some_boxes(rng, boxes, scores, same_score="alternate")
    return boxes, scores, labels


def uniform_detections(rng, n, *, min_size=8.0, max_size=240.0, classes=0, integer=False):
    """N boxes placed uniformly in the 1333×800 image, width and height uniform in
    [min_size, max_size], scores uniform in [0, 1) (no deliberate ties or duplicates). With
    `classes`, also int64 labels uniform in [0, classes). With `integer`, the coordinates are
    rounded to integers. Returns float64 (boxes, scores[, labels])."""
    w = rng.uniform(min_size, max_size, n)
    h = rng.uniform(min_size, max_size, n)
    x1 = rng.uniform(0.0, WIDTH - w)
    y1 = rng.uniform(0.0, HEIGHT - h)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1)
    if integer:
        boxes = np.rint(boxes)
    scores = rng.uniform(0.0, 1.0, n)
    if classes:
        return boxes, scores, rng.integers(0, classes, n).astype(np.int64)
    return boxes, scores


def heavy_ties(rng, boxes, scores, *, levels=TIE_LEVELS, duplicate_every=3, labels=None):
    """Turn a box set into a tie-heavy one, in place: every score replaced by one of `levels`
    (uniformly), then n // duplicate_every boxes made exact copies of others (a random half
    with their source's score; with `labels`, a random half of the copies also take their
    source's label). Returns (boxes, scores[, labels])."""
    scores[:] = rng.choice(np.asarray(levels, dtype=np.float64), size=scores.size)
    dup, src = duplicate_some_boxes(rng, boxes, scores, every=duplicate_every)
    if labels is None:
        return boxes, scores
    same = rng.uniform(size=dup.size) < 0.5
    labels[dup[same]] = labels[src[same]]
    return boxes, scores, labels


def census(boxes, scores):
    """Counts recorded in the manifests: tied scores, duplicate boxes, zero-area boxes."""
    return {
        "tied_scores": int(scores.size - np.unique(scores).size),
        "duplicate_boxes": int(len(boxes) - np.unique(boxes, axis=0).shape[0]),
        "zero_area_boxes": int(
            np.sum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) == 0)),
    }
