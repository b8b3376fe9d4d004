//! A JPEG's own planes (Y at full resolution, Cb and Cr at chroma resolution, as libjpeg-turbo's
//! planar decode `tj3DecompressToYUV8` leaves them) and the exact pixels libjpeg-turbo would have
//! made of them.
//!
//! Why: decoding to interleaved RGB writes 3 bytes per pixel that the scan then reads back four
//! times (luma, colour statistics, `pixel_hash`, the 512-px colour plane) and makes the kernel
//! zero fresh pages for them. The planes are 1.5–3 bytes per pixel, and the conversions below run
//! on one row at a time that stays in L1.
//!
//! Exactness: libjpeg-turbo (as Pillow and our RGB decode run it: `do_fancy_upsampling`, islow
//! IDCT, no merged upsampler) turns the planes into RGB with
//! - `jdsample.c`'s triangle ("fancy") upsampling: 4:2:2 `h2v1_fancy_upsample`, 4:2:0
//!   `h2v2_fancy_upsample`, 4:4:0 `h1v2_fancy_upsample`, with the first/last chroma row and column
//!   repeated at the edges (`jdmainct.c` context rows), and
//! - `jdcolor.c`'s fixed-point `ycc_rgb_convert` tables (16 fractional bits).
//!
//! Both are reproduced here with the same integer expressions, so [`YCbCr::for_each_rgb_row`]
//! gives libjpeg-turbo's RGB bytes and [`YCbCr::luma`] Pillow's `convert("L")` of them, bit for
//! bit (tested against the RGB decode on every sampling, odd sizes, progressive and
//! restart-marker files, and the Debian wallpapers). libjpeg-turbo's SIMD upsamplers and colour
//! converters give the C code's bytes, which those tests also pin. Samplings libjpeg-turbo does not
//! upsample this way (4:1:1, 4:4:1, chroma at most 2 samples wide) are not planned here: the
//! decoder falls back to RGB for them ([`YCbCr::supported`]).

use crate::stats::{ColorSums, GRAY_SPREAD};

/// Y, Cb, Cr planes of one decoded JPEG.
#[derive(Debug, Clone, Default)]
pub struct YCbCr {
    pub width: usize,
    pub height: usize,
    /// Luma samples per chroma sample horizontally (1 or 2).
    pub h_sub: usize,
    /// Luma rows per chroma row (1 or 2).
    pub v_sub: usize,
    /// Y (`y_stride` × `height` rounded up to `v_sub`), then Cb, then Cr (`c_width` × `c_height`).
    data: Vec<u8>,
    y_stride: usize,
    c_width: usize,
    c_height: usize,
}

impl YCbCr {
    /// Whether these subsampling factors are upsampled by libjpeg-turbo the way this module
    /// reproduces (its fancy upsampler needs more than 2 chroma columns when it doubles them).
    pub fn supported(width: usize, h_sub: usize, v_sub: usize) -> bool {
        matches!(h_sub, 1 | 2) && matches!(v_sub, 1 | 2) && (h_sub == 1 || width.div_ceil(2) > 2)
    }

    /// Bytes of the planar buffer `tj3DecompressToYUV8` writes with row alignment 1: every
    /// plane's width and height are the image's rounded up to the subsampling (`tj3YUVPlaneWidth`).
    pub fn planar_len(width: usize, height: usize, h_sub: usize, v_sub: usize) -> usize {
        let (pw, ph) = (
            width.next_multiple_of(h_sub),
            height.next_multiple_of(v_sub),
        );
        pw * ph + 2 * (pw / h_sub) * (ph / v_sub)
    }

    /// Wrap a buffer laid out as [`YCbCr::planar_len`] describes.
    pub fn from_planar(
        data: Vec<u8>,
        width: usize,
        height: usize,
        h_sub: usize,
        v_sub: usize,
    ) -> Self {
        assert_eq!(data.len(), Self::planar_len(width, height, h_sub, v_sub));
        let y_stride = width.next_multiple_of(h_sub);
        YCbCr {
            width,
            height,
            h_sub,
            v_sub,
            data,
            y_stride,
            // libjpeg's `downsampled_width` / `downsampled_height`.
            c_width: width.div_ceil(h_sub),
            c_height: height.div_ceil(v_sub),
        }
    }

    /// The planar buffer (to reuse it: `planes::buffers`).
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    fn y_row(&self, y: usize) -> &[u8] {
        &self.data[y * self.y_stride..][..self.width]
    }

    fn chroma_plane(&self, which: usize) -> &[u8] {
        let y_len = self.y_stride * self.height.next_multiple_of(self.v_sub);
        let c_len = self.c_width * self.c_height;
        &self.data[y_len + which * c_len..][..c_len]
    }

    /// Pillow's `convert("L")` of libjpeg-turbo's RGB, computed without that RGB.
    pub fn luma(&self) -> Vec<u8> {
        ycbcr_luma(self)
    }

    /// Pillow's luma ([`YCbCr::luma`]) and, in the same walk, every row of libjpeg-turbo's
    /// interleaved RGB handed to `f` (one conversion for both).
    pub fn luma_and_rgb_rows(&self, mut f: impl FnMut(&[u8])) -> Vec<u8> {
        let mut out = super::buffers::empty(self.width * self.height);
        let mut rows = RowScratch::new(self);
        let mut rgb = vec![0u8; 3 * self.width];
        let mut luma = vec![0u8; self.width];
        for y in 0..self.height {
            ycbcr_rgb_luma_row(self, y, &mut rows, &mut rgb, &mut luma);
            f(&rgb);
            out.extend_from_slice(&luma);
        }
        out
    }

    /// [`YCbCr::luma_and_rgb_rows`] that also adds every RGB row to `sums` inside the conversion
    /// kernel (the same integer sums `ColorSums::add` takes of the rows).
    pub fn luma_color_and_rgb_rows(
        &self,
        sums: &mut ColorSums,
        mut f: impl FnMut(&[u8]),
    ) -> Vec<u8> {
        // Every byte of the plane is written row by row: a reused buffer needs no zeroing.
        let mut out = super::buffers::overwritten(self.width * self.height);
        let mut rows = RowScratch::new(self);
        let mut rgb = vec![0u8; 3 * self.width];
        for (y, luma) in out.chunks_exact_mut(self.width.max(1)).enumerate() {
            ycbcr_rgb_luma_color_row(self, y, &mut rows, &mut rgb, luma, sums);
            f(&rgb);
        }
        out
    }

    /// Call `f` with every row of libjpeg-turbo's interleaved RGB, top to bottom.
    pub fn for_each_rgb_row(&self, mut f: impl FnMut(&[u8])) {
        let mut rows = RowScratch::new(self);
        let mut rgb = vec![0u8; 3 * self.width];
        for y in 0..self.height {
            ycbcr_rgb_row(self, y, &mut rows, &mut rgb);
            f(&rgb);
        }
    }

    /// The whole RGB image (for the rare consumer that needs it materialised).
    pub fn to_rgb(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 * self.width * self.height);
        self.for_each_rgb_row(|row| out.extend_from_slice(row));
        out
    }
}

/// Per-row buffers: the two upsampled chroma rows and the vertical sums they are made from.
pub struct RowScratch {
    cb: Vec<u8>,
    cr: Vec<u8>,
    /// Chroma row with its first and last sample repeated once more on each side (libjpeg's
    /// edge rule), pre-scaled by the vertical filter.
    padded: Vec<u16>,
}

impl RowScratch {
    fn new(p: &YCbCr) -> Self {
        // Upsampling writes c_width · h_sub ≥ width samples; the row is cut to width after.
        let n = p.c_width * p.h_sub;
        RowScratch {
            cb: vec![0; n],
            cr: vec![0; n],
            padded: vec![0; p.c_width + 2],
        }
    }

    /// Cb and Cr of output row `y` at full resolution, as libjpeg-turbo upsamples them.
    #[inline(always)]
    fn upsample<'a>(&'a mut self, p: &'a YCbCr, y: usize) -> (&'a [u8], &'a [u8]) {
        if (p.h_sub, p.v_sub) == (1, 1) {
            // 4:4:4: the chroma rows are the output rows (no copy).
            let row = |plane: &'a [u8]| &plane[y * p.c_width..][..p.width];
            return (row(p.chroma_plane(0)), row(p.chroma_plane(1)));
        }
        upsample_row(p, p.chroma_plane(0), y, &mut self.padded, &mut self.cb);
        upsample_row(p, p.chroma_plane(1), y, &mut self.padded, &mut self.cr);
        (&self.cb[..p.width], &self.cr[..p.width])
    }
}

/// One chroma plane's row for output row `y`.
#[inline(always)]
fn upsample_row(p: &YCbCr, plane: &[u8], y: usize, padded: &mut [u16], out: &mut [u8]) {
    let cw = p.c_width;
    let cy = y / p.v_sub;
    let row = &plane[cy * cw..][..cw];
    if (p.h_sub, p.v_sub) == (1, 1) {
        out[..cw].copy_from_slice(row);
        return;
    }
    // Vertical: 4:2:0 and 4:4:0 weigh the nearer chroma row 3/4 and the next nearer 1/4 (the row
    // above for the upper output row, below for the lower one; edge rows repeat themselves).
    let (inner, scale_shift) = (&mut padded[1..=cw], if p.v_sub == 2 { 2 } else { 0 });
    if p.v_sub == 2 {
        let nb = if y.is_multiple_of(2) {
            cy.saturating_sub(1)
        } else {
            (cy + 1).min(p.c_height - 1)
        };
        let next = &plane[nb * cw..][..cw];
        for ((s, &a), &b) in inner.iter_mut().zip(row).zip(next) {
            *s = 3 * a as u16 + b as u16;
        }
    } else {
        for (s, &a) in inner.iter_mut().zip(row) {
            *s = a as u16;
        }
    }
    padded[0] = padded[1];
    padded[cw + 1] = padded[cw];
    match (p.h_sub, p.v_sub) {
        // h1v2_fancy_upsample: bias 1 for the upper row, 2 for the lower.
        (1, _) => {
            let bias = 1 + (y % 2) as u16;
            for (o, &s) in out.iter_mut().zip(&padded[1..=cw]) {
                *o = ((s + bias) >> 2) as u8;
            }
        }
        // h2v1_fancy_upsample ((3a + left + 1) >> 2, (3a + right + 2) >> 2) and
        // h2v2_fancy_upsample on the vertical sums ((3a + left + 8) >> 4, (3a + right + 7) >> 4).
        _ => {
            let shift = 2 + scale_shift;
            let (b0, b1) = if p.v_sub == 2 { (8, 7) } else { (1, 2) };
            for (pair, w) in out.chunks_exact_mut(2).zip(padded.windows(3)) {
                let near = 3 * w[1];
                pair[0] = ((near + w[0] + b0) >> shift) as u8;
                pair[1] = ((near + w[2] + b1) >> shift) as u8;
            }
        }
    }
}

/// libjpeg-turbo's `ycc_rgb_convert` for one pixel: `Cr_r_tab`, `Cb_b_tab`, and the green
/// term `(Cb_g_tab[cb] + Cr_g_tab[cr]) >> 16`, each entry computed as `build_ycc_rgb_table` does
/// (FIX(1.40200) = 91881, FIX(1.77200) = 116130, FIX(0.71414) = 46802, FIX(0.34414) = 22554,
/// ONE_HALF = 1 << 15), then clamped to 0–255 (`range_limit`).
#[inline(always)]
fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [i32; 3] {
    let (y, cb, cr) = (y as i32, cb as i32 - 128, cr as i32 - 128);
    let r = y + ((91881 * cr + 32768) >> 16);
    let g = y + ((-22554 * cb + 32768 - 46802 * cr) >> 16);
    let b = y + ((116130 * cb + 32768) >> 16);
    [r.clamp(0, 255), g.clamp(0, 255), b.clamp(0, 255)]
}

crate::cpu::dispatch_avx512! {
/// [`YCbCr::luma`]: per row, upsample the chroma and take Pillow's luma of the RGB it makes.
pub fn ycbcr_luma(p: &YCbCr) -> Vec<u8> {
    let mut out = super::buffers::empty(p.width * p.height);
    let mut rows = RowScratch::new(p);
    let mut luma = vec![0u8; p.width];
    for y in 0..p.height {
        let (cb, cr) = rows.upsample(p, y);
        for (((l, &yy), &b), &r) in luma.iter_mut().zip(p.y_row(y)).zip(cb).zip(cr) {
            let [r, g, b] = ycc_to_rgb(yy, b, r);
            *l = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8;
        }
        out.extend_from_slice(&luma);
    }
    out
}
}

crate::cpu::dispatch_avx512! {
/// Row `y` of libjpeg-turbo's interleaved RGB: upsample the chroma, convert.
pub fn ycbcr_rgb_row(p: &YCbCr, y: usize, rows: &mut RowScratch, rgb: &mut [u8]) {
    let (cb, cr) = rows.upsample(p, y);
    for (((px, &yy), &b), &r) in rgb.chunks_exact_mut(3).zip(p.y_row(y)).zip(cb).zip(cr) {
        let [r, g, b] = ycc_to_rgb(yy, b, r);
        px[0] = r as u8;
        px[1] = g as u8;
        px[2] = b as u8;
    }
}
}

crate::cpu::dispatch_avx512! {
/// Row `y` of libjpeg-turbo's RGB and Pillow's luma of it.
pub fn ycbcr_rgb_luma_row(p: &YCbCr, y: usize, rows: &mut RowScratch, rgb: &mut [u8], luma: &mut [u8]) {
    let (cb, cr) = rows.upsample(p, y);
    for ((((px, l), &yy), &b), &r) in rgb.chunks_exact_mut(3).zip(luma.iter_mut()).zip(p.y_row(y)).zip(cb).zip(cr) {
        let [r, g, b] = ycc_to_rgb(yy, b, r);
        px[0] = r as u8;
        px[1] = g as u8;
        px[2] = b as u8;
        *l = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8;
    }
}
}

crate::cpu::dispatch_avx512! {
/// [`ycbcr_rgb_luma_row`] that also adds the row's colour sums (`ColorSums::add` of the RGB it
/// writes) while R, G and B are still in separate registers: no second pass re-reading and
/// de-interleaving the row. With AVX2 the conversion runs in 16-bit lanes (`ycc_avx2.rs`);
/// the portable loop does the rest of the row (and everything at the scalar level).
pub fn ycbcr_rgb_luma_color_row(p: &YCbCr, y: usize, rows: &mut RowScratch, rgb: &mut [u8], luma: &mut [u8], sums: &mut ColorSums) {
    let (cb, cr) = rows.upsample(p, y);
    let yr = p.y_row(y);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::level() >= crate::cpu::Level::Avx2 {
        // SAFETY: `level()` is never above what the CPU supports, so it has AVX2.
        done = unsafe { super::ycc_avx2::rgb_luma_color(yr, cb, cr, &mut rgb[..3 * p.width], &mut luma[..p.width], sums) };
    }
    rgb_luma_color_portable(&yr[done..], &cb[done..], &cr[done..], &mut rgb[3 * done..], &mut luma[done..p.width], sums);
}
}

/// The portable loop of [`ycbcr_rgb_luma_color_row`] over `luma.len()` pixels. Blocks of 4096
/// pixels keep the i32 sums of squares below 2^31.
#[inline(always)]
fn rgb_luma_color_portable(
    yr: &[u8],
    cb: &[u8],
    cr: &[u8],
    rgb: &mut [u8],
    luma: &mut [u8],
    sums: &mut ColorSums,
) {
    let width = luma.len();
    let mut start = 0;
    while start < width {
        let end = (start + 4096).min(width);
        let (mut a1, mut a2, mut b1, mut b2, mut c) = (0i32, 0i32, 0i32, 0i32, 0u32);
        let px = rgb[3 * start..3 * end]
            .chunks_exact_mut(3)
            .zip(&mut luma[start..end]);
        for (((px, l), &yy), (&b, &r)) in px
            .zip(&yr[start..end])
            .zip(cb[start..end].iter().zip(&cr[start..end]))
        {
            let [r, g, b] = ycc_to_rgb(yy, b, r);
            px[0] = r as u8;
            px[1] = g as u8;
            px[2] = b as u8;
            *l = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8;
            let (rg, yb) = (r - g, r + g - 2 * b);
            a1 += rg;
            a2 += rg * rg;
            b1 += yb;
            b2 += yb * yb;
            let spread = r.max(g).max(b) - r.min(g).min(b);
            c += (spread > GRAY_SPREAD as i32) as u32;
        }
        sums.add_parts(
            (a1 as i64, a2 as i64),
            (b1 as i64, b2 as i64),
            c as u64,
            (end - start) as u64,
        );
        start = end;
    }
}

/// Pillow's luma of one libjpeg RGB pixel (the reference the fused kernel is tested against).
#[cfg(test)]
fn reference_luma(y: u8, cb: u8, cr: u8) -> u8 {
    use super::luma::pillow_luma;
    let [r, g, b] = ycc_to_rgb(y, cb, cr);
    pillow_luma(r as u8, g as u8, b as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testing::same_on_every_level;
    use crate::planes::luma::pillow_luma;

    /// The colour tables of libjpeg's `build_ycc_rgb_table`, computed in floating point.
    #[test]
    fn conversion_matches_the_libjpeg_tables() {
        let fix = |x: f64| (x * 65536.0 + 0.5) as i64;
        for cb in 0..=255u8 {
            for cr in (0..=255u8).step_by(7) {
                let (xb, xr) = (cb as i64 - 128, cr as i64 - 128);
                let r_off = (fix(1.402) * xr + 32768) >> 16;
                let b_off = (fix(1.772) * xb + 32768) >> 16;
                let g_off = ((-fix(0.34414) * xb + 32768) + (-fix(0.71414) * xr)) >> 16;
                for y in [0u8, 1, 100, 128, 254, 255] {
                    let want = [
                        (y as i64 + r_off).clamp(0, 255) as i32,
                        (y as i64 + g_off).clamp(0, 255) as i32,
                        (y as i64 + b_off).clamp(0, 255) as i32,
                    ];
                    assert_eq!(ycc_to_rgb(y, cb, cr), want, "y={y} cb={cb} cr={cr}");
                }
            }
        }
    }

    /// A planar buffer with pseudo-random samples.
    fn planes(w: usize, h: usize, hs: usize, vs: usize) -> YCbCr {
        let n = YCbCr::planar_len(w, h, hs, vs);
        let data = (0..n).map(|i| ((i * 2654435761) >> 11) as u8).collect();
        YCbCr::from_planar(data, w, h, hs, vs)
    }

    #[test]
    fn luma_kernel_is_pillow_luma_of_the_rgb_rows_on_every_level() {
        for (w, h, hs, vs) in [(37, 11, 2, 2), (40, 9, 2, 1), (33, 15, 1, 2), (17, 5, 1, 1)] {
            let p = planes(w, h, hs, vs);
            let luma = same_on_every_level("ycbcr_luma", || p.luma());
            let rgb = same_on_every_level("ycbcr_rgb_row", || p.to_rgb());
            let both = same_on_every_level("ycbcr_rgb_luma_row", || {
                let mut rows = Vec::new();
                let l = p.luma_and_rgb_rows(|r| rows.extend_from_slice(r));
                (l, rows)
            });
            assert_eq!(both, (luma.clone(), rgb.clone()));
            let want: Vec<u8> = rgb
                .chunks_exact(3)
                .map(|c| pillow_luma(c[0], c[1], c[2]))
                .collect();
            assert_eq!(luma, want, "{w}x{h} {hs}x{vs}");
        }
    }

    #[test]
    fn fused_colour_sums_equal_the_sums_of_the_rows_on_every_level() {
        for (w, h, hs, vs) in [
            (37, 11, 2, 2),
            (4100, 3, 1, 1),
            (40, 9, 2, 1),
            (33, 15, 1, 2),
            (15, 4, 2, 2),
            (16, 3, 2, 1),
            (2063, 5, 2, 2),
            (1, 3, 1, 1),
        ] {
            let p = planes(w, h, hs, vs);
            let (luma, rgb, sums) = same_on_every_level("ycbcr_rgb_luma_color_row", || {
                let mut sums = ColorSums::default();
                let mut rows = Vec::new();
                let l = p.luma_color_and_rgb_rows(&mut sums, |r| rows.extend_from_slice(r));
                (l, rows, sums)
            });
            assert_eq!(luma, p.luma(), "{w}x{h}");
            assert_eq!(rgb, p.to_rgb(), "{w}x{h}");
            let mut want = ColorSums::default();
            for row in rgb.chunks(3 * w) {
                want.add(row);
            }
            assert_eq!(sums, want, "{w}x{h}");
        }
    }

    /// The AVX2 kernel rewrites libjpeg's and Pillow's expressions in 16-bit steps: on 4:4:4
    /// planes holding every (Y, Cb, Cr) triple once, each level's RGB, luma and colour sums
    /// must be the portable loop's.
    #[test]
    fn the_vector_kernel_is_exact_on_every_y_cb_cr_triple() {
        let (w, h) = (4096, 4096);
        let mut data = vec![0u8; 3 * w * h];
        for i in 0..w * h {
            data[i] = i as u8;
            data[w * h + i] = (i >> 8) as u8;
            data[2 * w * h + i] = (i >> 16) as u8;
        }
        let p = YCbCr::from_planar(data, w, h, 1, 1);
        let (luma, rgb_hash, sums) = same_on_every_level("ycbcr_rgb_luma_color_row", || {
            let mut sums = ColorSums::default();
            let mut hasher = xxhash_rust::xxh3::Xxh3::new();
            let luma = p.luma_color_and_rgb_rows(&mut sums, |r| hasher.update(r));
            (xxhash_rust::xxh3::xxh3_64(&luma), hasher.digest(), sums)
        });
        assert_eq!(luma, xxhash_rust::xxh3::xxh3_64(&p.luma()));
        assert_eq!(rgb_hash, xxhash_rust::xxh3::xxh3_64(&p.to_rgb()));
        let mut want = ColorSums::default();
        want.add(&p.to_rgb());
        assert_eq!(sums, want);
    }

    /// libjpeg-turbo's C upsamplers (jdsample.c), transcribed loop for loop, as the reference.
    fn libjpeg_upsample(p: &YCbCr, plane: &[u8], y: usize) -> Vec<u8> {
        let (cw, ch) = (p.c_width, p.c_height);
        let row = |r: usize| &plane[r * cw..(r + 1) * cw];
        let cy = y / p.v_sub;
        let mut out = Vec::new();
        match (p.h_sub, p.v_sub) {
            (1, 1) => out.extend_from_slice(row(cy)),
            (2, 1) => {
                let r = row(cy);
                out.push(r[0]);
                out.push(((r[0] as u32 * 3 + r[1] as u32 + 2) >> 2) as u8);
                for c in 1..cw - 1 {
                    let v = r[c] as u32 * 3;
                    out.push(((v + r[c - 1] as u32 + 1) >> 2) as u8);
                    out.push(((v + r[c + 1] as u32 + 2) >> 2) as u8);
                }
                out.push(((r[cw - 1] as u32 * 3 + r[cw - 2] as u32 + 1) >> 2) as u8);
                out.push(r[cw - 1]);
            }
            (hs, 2) => {
                let upper = y.is_multiple_of(2);
                let other = if upper {
                    cy.max(1) - 1
                } else {
                    (cy + 1).min(ch - 1)
                };
                let sums: Vec<u32> = row(cy)
                    .iter()
                    .zip(row(other))
                    .map(|(&a, &b)| a as u32 * 3 + b as u32)
                    .collect();
                if hs == 1 {
                    let bias = if upper { 1 } else { 2 };
                    out.extend(sums.iter().map(|s| ((s + bias) >> 2) as u8));
                } else {
                    out.push(((sums[0] * 4 + 8) >> 4) as u8);
                    out.push(((sums[0] * 3 + sums[1] + 7) >> 4) as u8);
                    for c in 1..cw - 1 {
                        out.push(((sums[c] * 3 + sums[c - 1] + 8) >> 4) as u8);
                        out.push(((sums[c] * 3 + sums[c + 1] + 7) >> 4) as u8);
                    }
                    out.push(((sums[cw - 1] * 3 + sums[cw - 2] + 8) >> 4) as u8);
                    out.push(((sums[cw - 1] * 4 + 7) >> 4) as u8);
                }
            }
            _ => unreachable!(),
        }
        out.truncate(p.width);
        out
    }

    #[test]
    fn upsampling_is_libjpeg_turbos_c_code() {
        for (w, h, hs, vs) in [
            (37, 11, 2, 2),
            (38, 12, 2, 2),
            (40, 9, 2, 1),
            (33, 15, 1, 2),
            (6, 3, 2, 2),
        ] {
            let p = planes(w, h, hs, vs);
            let mut rows = RowScratch::new(&p);
            let luma = p.luma();
            for y in 0..h {
                let (cb, cr) = rows.upsample(&p, y);
                let (cb, cr) = (cb.to_vec(), cr.to_vec());
                assert_eq!(
                    cb,
                    libjpeg_upsample(&p, p.chroma_plane(0), y),
                    "{w}x{h} {hs}x{vs} row {y}"
                );
                assert_eq!(cr, libjpeg_upsample(&p, p.chroma_plane(1), y));
                for x in 0..w {
                    let want = reference_luma(p.y_row(y)[x], cb[x], cr[x]);
                    assert_eq!(luma[y * w + x], want);
                }
            }
        }
    }
}
