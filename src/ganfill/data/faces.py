"""Faces in photos: found, landmarked and framed the way a face model's training images were.

dlib's detectors and its 68-point landmark model (the ``dlib-bin`` and ``face-recognition-models``
packages, whose weights ship inside the wheel) find the faces that a hole touches; a similarity
transform then maps the photo onto the model's square so that the landmarks land where they
sit, on average, in the aligned CelebA originals (the template ``assets/face_template.json``,
measured by ``benchmarks/face_template.py`` on the 500 originals of ``celeba-aligned-sample``).
Only the landmarks outside the hole are fitted: under the hole the model guesses them.  A hole
over the eyes hides what a detector looks for, so it is filled by Telea first, on a small copy;
the HOG detector is tried first (fast), then the CNN one (finds partly hidden faces), then the
HOG one again with a low threshold, keeping a box that holds the hole's centre only when the
aligner says a face is there; last, the aligner itself looks in squares around the hole
(``data.align.search_frame``, guarded by its face score).  The aligner (``data.align``, a small
CNN that sees past the hole) then refines each face's frame, and its fine stage after it: on the
photo benchmark they more than halve the frame's error.

Coordinates are (x, y) in pixels, float64; a frame is a 2x3 affine matrix from the photo to
the model's square (``cv2.warpAffine``'s).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ganfill.core.errors import GanfillError

if TYPE_CHECKING:
    from ganfill.data.domain import Domain
    from ganfill.data.framing import Frame

TEMPLATE_FILE = Path(__file__).parents[1] / "assets" / "face_template.json"
ALIGNER_FILE = Path(__file__).parents[1] / "assets" / "face_aligner.safetensors"  # data.align's weights
FINE_ALIGNER_FILE = Path(__file__).parents[1] / "assets" / "face_aligner_fine.safetensors"  # its fine stage's


@dataclass(frozen=True)
class Face:
    """A face in a photo: its detector box (x0, y0, x1, y1) and its 68 landmarks (68, 2); with
    an aligner, its CelebA-aligned frame (``data.align``'s canonical 2x3) and face probability."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    frame: np.ndarray | None = None
    score: float | None = None


def _model_files() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise GanfillError("finding faces needs dlib's models: pip install dlib-bin face-recognition-models")
    return Path(spec.submodule_search_locations[0]) / "models"


class FaceFinder:
    """dlib's HOG and CNN face detectors and its 5-point landmark model, loaded once.

    max_side: the detectors run on a copy whose longer side is at most this many pixels (the
    landmarks on the photo itself, around each face).  aligner: the face aligner's weights
    (``data.align``; None: landmarks alone, and no low-threshold search); align_steps: its
    refinements; fine_aligner: the fine stage's weights (None: none), fine_steps its refinements,
    flip: each of them averaged with the mirrored square's; rough_threshold: the HOG detector's
    threshold for the last search (boxes that hold the hole's centre); min_score: the aligner's
    face probability a box of that search needs; search_score: the one a square of the aligner's
    own search (``data.align.search_frame``, when nothing else finds a face) needs (None: no
    such search).
    """

    def __init__(
        self,
        *,
        max_side: int = 320,
        aligner: str | Path | None = ALIGNER_FILE,
        align_steps: int = 2,
        fine_aligner: str | Path | None = FINE_ALIGNER_FILE,
        fine_steps: int = 2,
        flip: bool = True,
        rough_threshold: float = -1.0,
        min_score: float = 0.5,
        search_score: float | None = 0.98,
    ):
        try:
            import dlib
        except ImportError:
            raise GanfillError("finding faces needs dlib: pip install dlib-bin face-recognition-models") from None
        models = _model_files()
        self.max_side = max_side
        self._hog = dlib.get_frontal_face_detector()
        self._cnn = dlib.cnn_face_detection_model_v1(str(models / "mmod_human_face_detector.dat"))
        self._landmarks = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
        self._rect = dlib.rectangle
        from ganfill.data.align import load_aligner

        self._aligner = None if aligner is None else load_aligner(aligner)
        self._fine = None if aligner is None or fine_aligner is None else load_aligner(fine_aligner)
        self.align_steps, self.fine_steps, self.flip = align_steps, fine_steps, flip
        self.rough_threshold, self.min_score, self.search_score = rough_threshold, min_score, search_score

    def find(self, image: np.ndarray, hole: np.ndarray | None = None) -> list[Face]:
        """The faces in uint8 ``image`` (H, W, 3), the pixels of bool ``hole`` (H, W) filled by
        Telea first; largest first.  The HOG detector looks at the whole photo (longer side at
        most ``max_side``); when it finds nothing, the CNN detector looks at the hole's
        surroundings (a box three times the hole's size at 160 px, upsampled once: on the photo
        benchmark as many faces as on the whole photo at 320 px in a quarter of the time; then
        at 240 px), then at the whole photo."""
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))

        def near_hole(found):  # with a hole, only the faces whose box (half again as large) reaches it
            if hole is None or not hole.any():
                return found
            ys, xs = np.nonzero(hole)
            keep = []
            for x0, y0, x1, y1 in found:
                mx, my = (x1 - x0) / 4, (y1 - y0) / 4
                if x0 - mx < xs.max() and x1 + mx > xs.min() and y0 - my < ys.max() and y1 + my > ys.min():
                    keep.append((x0, y0, x1, y1))
            return keep

        boxes = near_hole(self._detect(image, hole, (0, 0, w, h), scale, self._hog))
        cnn = lambda im, up: [d.rect for d in self._cnn(im, up)]  # noqa: E731
        if not boxes and hole is not None and hole.any():
            ys, xs = np.nonzero(hole)
            side = 3 * max(np.ptp(ys) + 1, np.ptp(xs) + 1)
            cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
            x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
            region = (x0, y0, int(min(w, cx + side / 2)), int(min(h, cy + side / 2)))
            for pixels in (160, 240):  # the hole's surroundings, then larger
                boxes = boxes or near_hole(self._detect(image, hole, region, min(2.0, pixels / side), cnn))
        if not boxes:  # the whole photo
            boxes = near_hole(self._detect(image, hole, (0, 0, w, h), scale, cnn))
        faces = [self._aligned(image, hole, Face(box, self._points(image, hole, box))) for box in boxes]
        if not faces and hole is not None and hole.any() and self._aligner is not None:
            faces = self._rough(image, hole, scale)
        return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))

    def _aligned(self, image: np.ndarray, hole: np.ndarray | None, face: Face) -> Face:
        """``face`` with its frame refined by the aligner (as found without one)."""
        if self._aligner is None:
            return face
        from ganfill.data.align import CROP, SIZE, refine_frame

        start = face_frame(face, template_in_square("celeba", CROP, SIZE), hole)
        frame, score = refine_frame(
            self._aligner, image, hole, start, steps=self.align_steps, fine=self._fine, fine_steps=self.fine_steps, flip=self.flip
        )
        return Face(face.box, face.landmarks, frame, score)

    def _rough(self, image: np.ndarray, hole: np.ndarray, scale: float) -> list[Face]:
        """The face of the best low-threshold HOG box that holds the hole's centre, when the
        aligner, started from its landmarks, says a face is there."""
        h, w = hole.shape
        ys, xs = np.nonzero(hole)
        cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2

        def rough(small, up):
            rects, scores, _ = self._hog.run(small, up, self.rough_threshold)
            return [rects[j] for j in np.argsort(scores)[::-1]]

        for box in self._detect(image, hole, (0, 0, w, h), scale, rough):
            if box[0] < cx < box[2] and box[1] < cy < box[3]:
                face = self._aligned(image, hole, Face(box, self._points(image, hole, box)))
                if face.score >= self.min_score:
                    return [face]
                break
        return self._searched(image, hole)

    def _searched(self, image: np.ndarray, hole: np.ndarray) -> list[Face]:
        """The face the aligner finds by itself in squares around the hole (``data.align.
        search_frame``), its frame refined by the fine stage; none when no square is a face."""
        from ganfill.data.align import SIZE, refine_frame, search_frame

        found = None if self.search_score is None else search_frame(self._aligner, image, hole, min_score=self.search_score)
        if found is None:
            return []
        frame, score = found
        fine = {"fine": self._fine, "fine_steps": self.fine_steps, "flip": self.flip}
        frame, _ = refine_frame(self._aligner, image, hole, frame, steps=0, **fine)
        inverse = np.linalg.inv(np.vstack([frame, [0, 0, 1]]))[:2]
        corners = np.array([[0, 0], [SIZE, 0], [SIZE, SIZE], [0, SIZE]], np.float64) @ inverse[:, :2].T + inverse[:, 2]
        box = (*corners.min(0), *corners.max(0))
        return [Face(box, self._points(image, hole, box), frame, score)]

    @staticmethod
    def _detect(image, hole, region, scale, detector) -> list[tuple[float, float, float, float]]:
        """Face boxes (photo pixels) that ``detector(small, 1)`` finds in ``region`` (x0, y0, x1,
        y1) of ``image`` shrunk by ``scale``, the hole filled by Telea."""
        import cv2

        x0, y0, x1, y1 = region
        crop = image[y0:y1, x0:x1]
        size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        if hole is not None and hole[y0:y1, x0:x1].any():
            small_hole = cv2.resize(hole[y0:y1, x0:x1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
            small = cv2.inpaint(small, cv2.dilate(small_hole, np.ones((3, 3), np.uint8)) * 255, 3, cv2.INPAINT_TELEA)
        return [
            (x0 + r.left() / scale, y0 + r.top() / scale, x0 + r.right() / scale, y0 + r.bottom() / scale)
            for r in detector(small, 1)
        ]

    def _points(self, image: np.ndarray, hole: np.ndarray | None, box: tuple[float, ...]) -> np.ndarray:
        """The 68 landmarks of the face in ``box``, predicted on a crop around it scaled to about
        150 px a face (hole filled by Telea there)."""
        import cv2

        x0, y0, x1, y1 = box
        size = max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        h, w = image.shape[:2]
        cx0, cy0 = int(max(0, cx - size)), int(max(0, cy - size))
        cx1, cy1 = int(min(w, cx + size)), int(min(h, cy + size))
        s = 150.0 / max(size, 1.0)
        crop = cv2.resize(image[cy0:cy1, cx0:cx1], None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        if hole is not None:
            crop_hole = cv2.resize(hole[cy0:cy1, cx0:cx1].astype(np.uint8), crop.shape[1::-1], interpolation=cv2.INTER_NEAREST)
            if crop_hole.any():
                crop = cv2.inpaint(crop, crop_hole * 255, 3, cv2.INPAINT_TELEA)
        r = self._rect(round((x0 - cx0) * s), round((y0 - cy0) * s), round((x1 - cx0) * s), round((y1 - cy0) * s))
        shape = self._landmarks(np.ascontiguousarray(crop), r)
        points = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
        return points / s + [cx0, cy0]


def load_template(name: str) -> tuple[np.ndarray, tuple[int, int]]:
    """The mean landmarks (68, 2) of template ``name`` and its frame's (width, height)."""
    import json

    record = json.loads(TEMPLATE_FILE.read_text())[name]
    return np.asarray(record["mean"], np.float64), tuple(record["frame"])


def template_in_square(template: str, crop_size: int, resolution: int) -> np.ndarray:
    """Where the landmarks of ``template`` sit in a model's square (68, 2): the model was
    trained on the centre ``crop_size`` x ``crop_size`` box of the template's frame, resized
    to ``resolution``."""
    points, (fw, fh) = load_template(template)
    origin = np.array([(fw - crop_size) / 2, (fh - crop_size) / 2])
    return (points - origin) * (resolution / crop_size)


def face_frame(face: Face, target: np.ndarray, hole: np.ndarray | None = None, *, min_points: int = 8) -> np.ndarray:
    """The similarity transform (2x3) that takes ``face``'s landmarks onto ``target`` (68, 2),
    least squares (Umeyama) over the landmarks outside ``hole`` (bool (H, W), a few pixels'
    margin); over all of them when fewer than ``min_points`` are visible."""
    from skimage.transform import estimate_transform

    use = np.ones(len(face.landmarks), bool)
    if hole is not None:
        import cv2

        near = cv2.dilate(hole.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        h, w = hole.shape
        xy = np.clip(np.round(face.landmarks).astype(int), 0, [w - 1, h - 1])
        use = ~near[xy[:, 1], xy[:, 0]]
        if use.sum() < min_points:
            use[:] = True
    return estimate_transform("similarity", face.landmarks[use], target[use]).params[:2]


def face_frames(finder, image: np.ndarray, hole: np.ndarray, domain: Domain, resolution: int) -> list[Frame]:
    """The square of a face model (``domain.faces``) on every face in ``image`` whose square
    holds part of ``hole`` (bool (H, W)), largest face first: the aligner's frame where the
    finder has one (``data.align``), else the landmarks' fit."""
    from ganfill.data.align import canonical_to_model
    from ganfill.data.domain import parse_crop
    from ganfill.data.framing import Frame

    crop = parse_crop(domain.crop).size
    target = template_in_square(domain.faces, crop, resolution)
    frames = []
    for face in finder.find(image, hole):
        if face.frame is not None and domain.faces == "celeba":  # the aligner's frame (CelebA's alignment)
            matrix = (canonical_to_model(crop, resolution) @ np.vstack([face.frame, [0, 0, 1]]))[:2]
        else:
            matrix = face_frame(face, target, hole)
        frame = Frame(matrix, resolution, "face")
        if (frame.covers(*hole.shape) & hole).any():
            frames.append(frame)
    return frames
