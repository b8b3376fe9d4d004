"""Small embedded thumbnails for the report: base64 JPEGs made with Pillow, with a budget.

The report samples a few images per gallery; this module makes sure a million-row report never
decodes more than ``max_images`` files or spends more than ``max_seconds`` on them, and that a
missing, unreadable or huge file becomes a placeholder instead of an exception.
"""

from __future__ import annotations

import base64
import io
import time
import warnings

from imgstats.report.html import esc

THUMB_PX = 64
MAX_THUMBNAILS = 400
MAX_THUMB_SECONDS = 30.0


class Thumbnailer:
    """Makes and caches ``<img>`` tags (or placeholders) for image paths."""

    def __init__(
        self,
        enabled: bool = True,
        px: int = THUMB_PX,
        max_images: int = MAX_THUMBNAILS,
        max_seconds: float = MAX_THUMB_SECONDS,
    ) -> None:
        self.enabled = enabled
        self.px = px
        self.max_images = max_images
        self.deadline = time.monotonic() + max_seconds
        self.cache: dict[str, str | None] = {}
        self.made = 0
        self.skipped = 0

    def _encode(self, path: str) -> str | None:
        from PIL import Image, ImageOps

        with warnings.catch_warnings():
            # A decompression-bomb warning is about trusting the file; we only shrink it.
            warnings.simplefilter("ignore")
            with Image.open(path) as opened:
                # JPEG: let libjpeg decode at 1/2..1/8 scale (DCT scaling) -- a 20 MP photo costs
                # a few ms instead of a full decode.
                opened.draft("RGB", (self.px * 2, self.px * 2))
                im = ImageOps.exif_transpose(opened)
                if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                    # 16-bit grayscale: scale to 8 bits instead of clipping at 255.
                    im = im.point(lambda v: v / 257).convert("L")
                im.thumbnail((self.px, self.px))
                if im.mode not in ("RGB", "L"):
                    # Transparent pixels often hold arbitrary colour: show them on light grey.
                    rgba = im.convert("RGBA")
                    im = Image.new("RGB", rgba.size, (204, 204, 204))
                    im.paste(rgba, mask=rgba.getchannel("A"))
                buf = io.BytesIO()
                im.save(buf, format="JPEG", quality=70, optimize=True)
        return base64.b64encode(buf.getvalue()).decode("ascii")

    def data_uri(self, path: str | None) -> str | None:
        if not self.enabled or path is None:
            return None
        if path in self.cache:
            return self.cache[path]
        if self.made >= self.max_images or time.monotonic() > self.deadline:
            self.skipped += 1
            return None
        self.made += 1
        try:
            encoded = self._encode(path)
        except Exception:
            # Missing file, unsupported format (SVG), truncated data: show a placeholder.
            encoded = None
        self.cache[path] = encoded
        return encoded

    def figure(
        self, path: str | None, caption: str | list[str] = "", title: str | None = None
    ) -> str:
        """A ``<figure>`` with the thumbnail (or a placeholder) and an escaped caption (one line
        per list item)."""
        data = self.data_uri(path)
        tip = esc(title if title is not None else (path or ""))
        if data:
            img = f'<img src="data:image/jpeg;base64,{data}" alt="{tip}" title="{tip}">'
        else:
            img = f'<div class="ph" title="{tip}">no preview</div>'
        lines = [caption] if isinstance(caption, str) else caption
        text = "<br>".join(esc(line) for line in lines if line)
        return f"<figure>{img}<figcaption>{text}</figcaption></figure>"
