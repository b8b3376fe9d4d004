//! imagehash 4.3.2's `crop_resistant_hash` (default arguments), bit for bit: segment the picture
//! into bright "hills" and dark "valleys", and dHash the bounding box of every large segment on
//! the original image. A crop keeps most segments whole, so most segment hashes survive it.
//!
//! The steps and the details that decide bits:
//! 1. LANCZOS to 300×300 (`resize_lanczos_l8`, Pillow-exact), Pillow's `GaussianBlur()` (radius 2)
//!    and `MedianFilter()` (3×3), see `pillow_filters`.
//! 2. Threshold at `> 128`. Hills are the 4-connected components of bright pixels, found in
//!    row-major order of their first pixel; valleys the same on dark pixels afterwards. Components
//!    of more than 500 pixels become segments, hills first.
//! 3. imagehash stops looking for valleys once its set of "segmented" pixels reaches 300·300. That
//!    set starts with the 1,200 pixels just outside the border and never receives the seed of a
//!    one-pixel component, so the last valleys (up to 1,200 pixels' worth) are never visited, even
//!    a large one. Reproduced exactly (`segmented + BORDER < SIDE²`).
//! 4. No segment at all: one box over the whole picture.
//! 5. Each segment's box on the 300 grid is scaled to the original (`f64`), rounded half to even
//!    (Python's `round` in `Image.crop`), cropped from the original and dHashed (LANCZOS to 9×8).
//!    A box can round to zero width on images narrower than 300 px; Pillow then hashes an empty
//!    image, which gives 0, and so does this.
//!
//! One case differs: if more than 1,200 pixels are isolated one-pixel components, imagehash runs
//! out of valley seeds and raises `IndexError`; here the search simply ends (the blur and median
//! filter make that practically impossible on real pictures).

use super::pillow_filters::{gaussian_blur_l8, median3_l8};
use crate::resize::resize_lanczos_l8;

/// Side of the square plane imagehash segments (`segmentation_image_size`).
pub const SEGMENTATION_SIDE: usize = 300;
/// Brightness separating hills from valleys (`segment_threshold`).
const THRESHOLD: u8 = 128;
/// A component becomes a segment when it has more pixels than this (`min_segment_size`).
const MIN_SEGMENT_PIXELS: usize = 500;
/// The pixels imagehash puts in its "segmented" set up front: the row and column just outside
/// each side of the 300×300 grid (corners excluded).
const BORDER: usize = 4 * SEGMENTATION_SIDE;

/// One segment: its bounding box on the 300×300 grid (`x1`, `y1` exclusive), its number of pixels
/// and the dHash of the matching box of the original image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropSegment {
    pub x0: u16,
    pub y0: u16,
    pub x1: u16,
    pub y1: u16,
    pub pixels: u32,
    pub dhash: u64,
}

/// A connected component of the thresholded plane: bounding box (inclusive) and size.
struct Component {
    min_row: usize,
    min_col: usize,
    max_row: usize,
    max_col: usize,
    size: usize,
}

/// Flood-fill the 4-connected component of `want` pixels containing `start`, marking them taken.
fn component(
    bright: &[bool],
    taken: &mut [bool],
    want: bool,
    start: usize,
    stack: &mut Vec<usize>,
) -> Component {
    let s = SEGMENTATION_SIDE;
    let mut c = Component {
        min_row: start / s,
        min_col: start % s,
        max_row: start / s,
        max_col: start % s,
        size: 0,
    };
    taken[start] = true;
    stack.clear();
    stack.push(start);
    while let Some(p) = stack.pop() {
        c.size += 1;
        let (r, col) = (p / s, p % s);
        c.min_row = c.min_row.min(r);
        c.max_row = c.max_row.max(r);
        c.min_col = c.min_col.min(col);
        c.max_col = c.max_col.max(col);
        let mut visit = |q: usize| {
            if !taken[q] && bright[q] == want {
                taken[q] = true;
                stack.push(q);
            }
        };
        if r > 0 {
            visit(p - s);
        }
        if r + 1 < s {
            visit(p + s);
        }
        if col > 0 {
            visit(p - 1);
        }
        if col + 1 < s {
            visit(p + 1);
        }
    }
    c
}

/// The segments' bounding boxes on the 300×300 grid, in imagehash's order (`_find_all_segments`
/// on the filtered plane, then the whole-image fallback).
fn segment_boxes(plane: &[u8]) -> Vec<Component> {
    let n = SEGMENTATION_SIDE * SEGMENTATION_SIDE;
    let bright: Vec<bool> = plane.iter().map(|&v| v > THRESHOLD).collect();
    let mut taken = vec![false; n];
    let mut stack = Vec::new();
    let mut segments = Vec::new();
    // imagehash's `len(already_segmented)`: border pixels plus every pixel of a component of two
    // or more pixels (a one-pixel component's seed is never added to the set).
    let mut segmented = BORDER;
    for want in [true, false] {
        for start in 0..n {
            if !want && segmented >= n {
                break; // imagehash's valley loop condition
            }
            if taken[start] || bright[start] != want {
                continue;
            }
            let c = component(&bright, &mut taken, want, start, &mut stack);
            if c.size > 1 {
                segmented += c.size;
            }
            if c.size > MIN_SEGMENT_PIXELS {
                segments.push(c);
            }
        }
    }
    if segments.is_empty() {
        segments.push(Component {
            min_row: 0,
            min_col: 0,
            max_row: SEGMENTATION_SIDE - 1,
            max_col: SEGMENTATION_SIDE - 1,
            size: 2, // imagehash's placeholder segment is the set of its two corners
        });
    }
    segments
}

/// The 300×300 plane imagehash segments: LANCZOS, Gaussian blur (radius 2), 3×3 median.
pub fn segmentation_plane(luma: &[u8], w: usize, h: usize) -> Vec<u8> {
    let s = SEGMENTATION_SIDE;
    let small = resize_lanczos_l8(luma, w, h, s, s);
    median3_l8(&gaussian_blur_l8(&small, s, s, 2.0), s, s)
}

/// Pixel box `(x0, y0, x1, y1)` of the original that `Image.crop` takes for a grid box: the grid
/// coordinates scaled in `f64`, then Python's `round` (half to even).
fn original_box(c: &Component, w: usize, h: usize) -> (usize, usize, usize, usize) {
    let sw = w as f64 / SEGMENTATION_SIDE as f64;
    let sh = h as f64 / SEGMENTATION_SIDE as f64;
    let r = |v: f64| v.round_ties_even() as usize;
    (
        r(c.min_col as f64 * sw),
        r(c.min_row as f64 * sh),
        r((c.max_col + 1) as f64 * sw),
        r((c.max_row + 1) as f64 * sh),
    )
}

/// Copy the `(x0, y0, x1, y1)` box out of a `w`-wide plane.
fn crop_l8(luma: &[u8], w: usize, b: (usize, usize, usize, usize)) -> Vec<u8> {
    let (x0, y0, x1, y1) = b;
    let mut out = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        out.extend_from_slice(&luma[y * w + x0..y * w + x1]);
    }
    out
}

/// Every segment of `imagehash.crop_resistant_hash(image)` for the `w`×`h` luma plane of `image`
/// (Pillow's `convert("L")`), with its box and size. `[s.dhash for s in ...]` are imagehash's
/// `segment_hashes`, in order. An empty plane has no segments.
pub fn crop_resistant_segments(luma: &[u8], w: usize, h: usize) -> Vec<CropSegment> {
    assert_eq!(luma.len(), w * h, "plane is not {w}x{h}");
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let plane = segmentation_plane(luma, w, h);
    segment_boxes(&plane)
        .iter()
        .map(|c| {
            let b = original_box(c, w, h);
            let crop = crop_l8(luma, w, b);
            CropSegment {
                x0: c.min_col as u16,
                y0: c.min_row as u16,
                x1: (c.max_col + 1) as u16,
                y1: (c.max_row + 1) as u16,
                pixels: c.size as u32,
                dhash: super::dhash(&crop, b.2 - b.0, b.3 - b.1),
            }
        })
        .collect()
}

/// imagehash's `crop_resistant_hash(image).segment_hashes` as 64-bit ints, in order.
pub fn crop_resistant_hash(luma: &[u8], w: usize, h: usize) -> Vec<u64> {
    crop_resistant_segments(luma, w, h)
        .iter()
        .map(|s| s.dhash)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 300×300 plane with the given bright rectangles `(x0, y0, x1, y1)` on a dark background.
    fn plane(rects: &[(usize, usize, usize, usize)]) -> Vec<u8> {
        let s = SEGMENTATION_SIDE;
        let mut p = vec![20u8; s * s];
        for &(x0, y0, x1, y1) in rects {
            for y in y0..y1 {
                p[y * s + x0..y * s + x1].fill(230);
            }
        }
        p
    }

    fn boxes(p: &[u8]) -> Vec<(usize, usize, usize, usize, usize)> {
        segment_boxes(p)
            .iter()
            .map(|c| (c.min_col, c.min_row, c.max_col, c.max_row, c.size))
            .collect()
    }

    #[test]
    fn hills_in_row_major_order_then_valleys() {
        // Two hills (the lower-left one starts later in row-major order), one valley around them.
        let p = plane(&[(200, 10, 250, 40), (10, 100, 60, 150)]);
        assert_eq!(
            boxes(&p),
            vec![
                (200, 10, 249, 39, 1500),
                (10, 100, 59, 149, 2500),
                (0, 0, 299, 299, 90000 - 4000),
            ]
        );
    }

    #[test]
    fn small_components_are_not_segments() {
        // 20×25 = 500 pixels is not more than 500; 167×3 = 501 is.
        let p = plane(&[(0, 0, 20, 25), (100, 100, 267, 103)]);
        assert_eq!(
            boxes(&p),
            vec![(100, 100, 266, 102, 501), (0, 0, 299, 299, 90000 - 1001)]
        );
    }

    #[test]
    fn last_valleys_are_skipped_like_imagehash() {
        // A bright band (rows 100..297) splits the dark plane into a top valley and a bottom
        // valley of 3·300 = 900 pixels (> 500). After the hill and the top valley, imagehash's
        // count is 1,200 + 59,100 + 30,000 ≥ 90,000, so it never visits the bottom one.
        let s = SEGMENTATION_SIDE;
        let mut p = vec![20u8; s * s];
        for y in 100..297 {
            p[y * s..(y + 1) * s].fill(230);
        }
        let b = boxes(&p);
        assert_eq!(
            b,
            vec![(0, 100, 299, 296, 197 * 300), (0, 0, 299, 99, 100 * 300)]
        );
    }

    #[test]
    fn uniform_plane_falls_back_to_the_whole_image() {
        let p = vec![128u8; SEGMENTATION_SIDE * SEGMENTATION_SIDE];
        // Everything is a valley (128 is not > 128): one segment of 90,000 pixels.
        assert_eq!(boxes(&p), vec![(0, 0, 299, 299, 90000)]);
        // A constant picture hashes like imagehash: a single zero dHash.
        assert_eq!(crop_resistant_hash(&vec![77u8; 40 * 30], 40, 30), vec![0]);
    }

    #[test]
    fn boxes_round_half_to_even() {
        let c = Component {
            min_row: 1,
            min_col: 1,
            max_row: 2,
            max_col: 4,
            size: 0,
        };
        // 150 px wide: scale 0.5 → x 0.5 → 0, 2.5 → 2; 450 high: 1.5 → 2, 4.5 → 4.
        assert_eq!(original_box(&c, 150, 450), (0, 2, 2, 4));
    }

    #[test]
    fn empty_image_has_no_segments() {
        assert!(crop_resistant_hash(&[], 0, 5).is_empty());
    }
}
