//! Area-average resize: every output pixel is the exact mean of the source area it covers. The
//! statistics measured "at an analysis size" (sharpness at 640 px, blur/noise at `analysis_size`,
//! colour metrics on a 512-px RGB plane) see images brought to a common size this way.

crate::cpu::dispatch! {
/// Area-average resize of a single-channel plane (each output pixel is the exact mean of the
/// source area it covers). Used to bring images to a common analysis size.
pub fn resize_area_l8(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    resize_area::<1>(src, w, h, dw, dh)
}
}

crate::cpu::dispatch! {
/// [`resize_area_l8`] on interleaved RGB: each channel gets exactly the bytes the single-channel
/// resize would give it (same weights, same operation order).
pub fn resize_area_rgb8(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    resize_area::<3>(src, w, h, dw, dh)
}
}

/// Area resize of `C` interleaved channels. The vertical pass runs first as whole-row
/// multiply-adds (vectorised), so the horizontal pass only sees `dh` rows.
#[inline(always)]
fn resize_area<const C: usize>(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    if dw == w && dh == h {
        return src.to_vec();
    }
    let xs = HTaps::new(&area_weights(w, dw));
    let ys = area_weights(h, dh);
    // One padding element: the RGB horizontal pass reads four lanes from a pixel's first channel.
    let mut acc = vec![0f32; C * w + 1];
    let mut out = vec![0u8; C * dw * dh];
    for (oy, taps) in ys.iter().enumerate() {
        vertical_taps(&mut acc[..C * w], src, C * w, taps);
        emit_row::<C>(&acc, &xs, &mut out[C * oy * dw..C * (oy + 1) * dw]);
    }
    out
}

/// The vertical pass of one output row: `acc` = Σ row·weight over its taps (rows of `src`,
/// `stride` values each), added in tap order from zero. The first tap stores its products
/// instead of adding them to zeros (`+0 + x` is `x` for the non-negative products here), which
/// saves a pass over `acc`. (Two taps per pass over `acc` measured slower on the luma plane.)
#[inline(always)]
fn vertical_taps(acc: &mut [f32], src: &[u8], stride: usize, taps: &[(usize, f32)]) {
    let row = |iy: usize| &src[iy * stride..(iy + 1) * stride];
    let Some((&(first, w0), rest)) = taps.split_first() else {
        acc.iter_mut().for_each(|v| *v = 0.0);
        return;
    };
    store_row(acc, row(first), w0);
    for &(y1, w1) in rest {
        accumulate_row(acc, row(y1), w1);
    }
}

/// An output row's first tap: its products, stored (`0 + x` added to zeroed sums, without them).
#[inline(always)]
fn store_row(acc: &mut [f32], row: &[u8], wt: f32) {
    for (a, &p) in acc.iter_mut().zip(row) {
        *a = p as f32 * wt;
    }
}

/// The vertical pass: one source row's share of an output row.
#[inline(always)]
fn accumulate_row(acc: &mut [f32], row: &[u8], wt: f32) {
    for (a, &p) in acc.iter_mut().zip(row) {
        *a += p as f32 * wt;
    }
}

/// The horizontal taps of an area resize laid out for [`emit_row`]: output pixels in groups of
/// [`LANES`], and per group `k` taps per lane (source index and weight), lanes with fewer taps
/// padded with weight 0 (adding `acc · 0 = +0` to a sum of non-negative terms leaves it unchanged,
/// so padding changes no bit).
pub struct HTaps {
    k: usize,
    idx: Vec<u32>,
    wt: Vec<f32>,
    /// Interleaved layouts read each output pixel's own taps, flattened: pixel `x` has taps
    /// `flat_start[x]..flat_start[x + 1]` of `flat_idx` (source pixel) and `flat_wt`.
    flat_start: Vec<u32>,
    flat_idx: Vec<u32>,
    flat_wt: Vec<f32>,
    /// The largest source pixel any tap reads.
    max_idx: u32,
}

/// Output pixels computed side by side in [`emit_row`] (one f32 vector of AVX2).
const LANES: usize = 8;

impl HTaps {
    pub fn new(xs: &[Vec<(usize, f32)>]) -> Self {
        let k = xs.iter().map(Vec::len).max().unwrap_or(0);
        let groups = xs.len().div_ceil(LANES);
        let (mut idx, mut wt) = (
            vec![0u32; groups * k * LANES],
            vec![0f32; groups * k * LANES],
        );
        for (x, taps) in xs.iter().enumerate() {
            let (g, lane) = (x / LANES, x % LANES);
            for (j, &(i, w)) in taps.iter().enumerate() {
                idx[(g * k + j) * LANES + lane] = i as u32;
                wt[(g * k + j) * LANES + lane] = w;
            }
        }
        let mut flat_start = Vec::with_capacity(xs.len() + 1);
        flat_start.push(0);
        for taps in xs {
            flat_start.push(flat_start[flat_start.len() - 1] + taps.len() as u32);
        }
        HTaps {
            k,
            idx,
            wt,
            flat_start,
            flat_idx: xs.iter().flatten().map(|&(i, _)| i as u32).collect(),
            flat_wt: xs.iter().flatten().map(|&(_, w)| w).collect(),
            max_idx: xs
                .iter()
                .flatten()
                .map(|&(i, _)| i as u32)
                .max()
                .unwrap_or(0),
        }
    }
}

/// Accumulated values as bytes: each rounded half away from zero and clamped to 0..=255, i.e.
/// `v.round().clamp(0.0, 255.0) as u8`, written so that `N` lanes compile to vector operations
/// (the saturating `as u8` of one float does not vectorise).
#[inline(always)]
fn round_to_u8xn<const N: usize>(v: [f32; N]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, v) in out.iter_mut().zip(v) {
        // `max` maps NaN to 0, so the value is finite and inside 0..=255 (clamp's result for
        // every number; `as u8` would give 0 for NaN too).
        #[allow(clippy::manual_clamp)] // clamp keeps NaN, which `to_int_unchecked` must not see
        let c = v.round().max(0.0).min(255.0);
        // SAFETY: `c` is finite and in 0..=255, which i32 represents.
        *o = unsafe { c.to_int_unchecked::<i32>() } as u8;
    }
    out
}

/// The horizontal pass over one vertically accumulated row: per output pixel and channel, the
/// products summed in tap order from zero (the order `Iterator::sum` uses). One channel:
/// [`LANES`] output pixels at a time, so the additions are vector operations rather than one
/// latency chain per pixel.
#[inline(always)]
fn emit_row<const C: usize>(acc: &[f32], t: &HTaps, out: &mut [u8]) {
    if C == 3 {
        // Interleaved RGB: a tap's three values are adjacent, so each tap is one 4-lane
        // multiply-add (the fourth lane reads the next pixel's R, or the accumulator's padding
        // element). Each of the three lanes gets the scalar operations in the same order: the
        // same bits. The fourth lane is computed and stored too (the next pixel's store
        // overwrites it), which keeps all four lanes one vector. (Lane-wise across output pixels,
        // as for one channel, needs scattered loads: measured slower.)
        debug_assert_eq!(
            acc.len() % 3,
            1,
            "RGB accumulators carry one padding element"
        );
        let dw = out.len() / 3;
        // Checked once a row: every tap reads four accumulators inside `acc`, and every pixel's
        // taps lie inside the flattened lists (`flat_start` only grows, `HTaps::new`).
        assert!(3 * t.max_idx as usize + 4 <= acc.len());
        assert!(t.flat_start.len() > dw);
        assert!(t.flat_start[dw] as usize <= t.flat_idx.len().min(t.flat_wt.len()));
        for x in 0..dw {
            let (s, e) = (t.flat_start[x] as usize, t.flat_start[x + 1] as usize);
            let mut v = [0f32; 4];
            for j in s..e {
                // SAFETY: j < e <= flat_start[dw] <= the lists' lengths (asserted above).
                let (i, wt) = unsafe {
                    (
                        *t.flat_idx.get_unchecked(j) as usize,
                        *t.flat_wt.get_unchecked(j),
                    )
                };
                // SAFETY: i <= max_idx, so the four floats at 3·i lie inside `acc` (asserted).
                let a: &[f32; 4] = unsafe { &*acc.as_ptr().add(3 * i).cast::<[f32; 4]>() };
                for l in 0..4 {
                    v[l] += a[l] * wt;
                }
            }
            let px = round_to_u8xn(v);
            if x + 1 < dw {
                out[3 * x..3 * x + 4].copy_from_slice(&px);
            } else {
                out[3 * x..3 * x + 3].copy_from_slice(&px[..3]);
            }
        }
        return;
    }
    debug_assert_eq!(C, 1, "one channel or interleaved RGB");
    let dw = out.len();
    // Checked once a row: every tap (padding taps read index 0) lies inside `acc`.
    assert!((t.max_idx as usize) < acc.len());
    for (g, px) in out.chunks_mut(LANES).enumerate() {
        let mut v = [0f32; LANES];
        let base = g * t.k * LANES;
        let (idx, wt) = (&t.idx[base..][..t.k * LANES], &t.wt[base..][..t.k * LANES]);
        for (idx, wt) in idx.chunks_exact(LANES).zip(wt.chunks_exact(LANES)) {
            for l in 0..LANES {
                // SAFETY: every index is at most `max_idx` (asserted above).
                v[l] += unsafe { *acc.get_unchecked(idx[l] as usize) } * wt[l];
            }
        }
        let bytes = round_to_u8xn(v);
        px.copy_from_slice(&bytes[..px.len()]);
    }
    debug_assert!(dw.div_ceil(LANES) * t.k * LANES <= t.idx.len());
}

crate::cpu::dispatch_avx512! {
/// [`accumulate_row`] compiled per SIMD level, for [`AreaRgbStream`]; the first tap of an output
/// row stores its products instead (as in [`vertical_taps`]).
pub fn area_accumulate_row(acc: &mut [f32], row: &[u8], wt: f32, first: bool) {
    if first {
        store_row(acc, row, wt);
    } else {
        accumulate_row(acc, row, wt);
    }
}
}

crate::cpu::dispatch! {
/// [`emit_row`] of RGB compiled per SIMD level (rounding inlines), for [`AreaRgbStream`].
pub fn area_emit_row_rgb(acc: &[f32], xs: &HTaps, out: &mut [u8]) {
    emit_row::<3>(acc, xs, out);
}
}

/// [`resize_area_rgb8`] fed one source row at a time, top to bottom, so a decoder that makes rows
/// (the JPEG planes' RGB) never holds the full-size image. Same weights, same order of additions
/// per output row, hence the same bytes. Only downscales (what [`fit_long_side`] asks for): each
/// source row then falls in at most two output rows, which get one accumulator each.
pub struct AreaRgbStream {
    dw: usize,
    dh: usize,
    xs: HTaps,
    ys: Vec<Vec<(usize, f32)>>,
    /// Accumulators of output rows `next_out` and `next_out + 1`.
    acc: [Vec<f32>; 2],
    next_out: usize,
    next_in: usize,
    out: Vec<u8>,
}

impl AreaRgbStream {
    pub fn new(w: usize, h: usize, dw: usize, dh: usize) -> Self {
        assert!(dw <= w && dh <= h, "AreaRgbStream only downscales");
        AreaRgbStream {
            dw,
            dh,
            xs: HTaps::new(&area_weights(w, dw)),
            ys: area_weights(h, dh),
            // One padding element each (see `emit_row`).
            acc: [vec![0f32; 3 * w + 1], vec![0f32; 3 * w + 1]],
            next_out: 0,
            next_in: 0,
            out: Vec::with_capacity(3 * dw * dh),
        }
    }

    /// Add the next source row (interleaved RGB, `3 * w` bytes).
    pub fn push(&mut self, row: &[u8]) {
        let iy = self.next_in;
        self.next_in += 1;
        for k in 0..2 {
            let Some(taps) = self.ys.get(self.next_out + k) else {
                break;
            };
            if let Some(&(_, wt)) = taps.iter().find(|t| t.0 == iy) {
                // Rows arrive in order, so an output row's first tap is the first to arrive; it
                // overwrites what the accumulator held (the row before last's sums).
                let first = taps[0].0 == iy;
                area_accumulate_row(&mut self.acc[k], row, wt, first);
            }
        }
        while self
            .ys
            .get(self.next_out)
            .is_some_and(|t| t.last().is_some_and(|l| l.0 <= iy))
        {
            let start = self.out.len();
            self.out.resize(start + 3 * self.dw, 0);
            area_emit_row_rgb(&self.acc[0], &self.xs, &mut self.out[start..]);
            self.acc.swap(0, 1);
            self.next_out += 1;
        }
    }

    /// The resized image (`dw` × `dh` interleaved RGB) once every source row was pushed.
    pub fn finish(self) -> Vec<u8> {
        assert_eq!(self.out.len(), 3 * self.dw * self.dh, "rows missing");
        self.out
    }
}

crate::cpu::dispatch! {
/// One output row of [`resize_area_l8`]: the vertical taps `taps` of rows of `src` (width `w`)
/// into `acc`, then the horizontal pass into `out` — the batch resize's operations, in its order.
pub fn area_l8_row(src: &[u8], w: usize, taps: &[(usize, f32)], xs: &HTaps, acc: &mut [f32], out: &mut [u8]) {
    vertical_taps(acc, src, w, taps);
    emit_row::<1>(acc, xs, out);
}
}

/// [`resize_area_l8`] made one output row at a time as the caller walks down the source plane
/// (`advance`), so the rows it reads are the ones the caller's other passes just read (still in
/// cache). Same weights, same operations in the same order: the same bytes.
pub struct AreaL8Rows {
    w: usize,
    dw: usize,
    xs: HTaps,
    ys: Vec<Vec<(usize, f32)>>,
    acc: Vec<f32>,
    next_out: usize,
    out: Vec<u8>,
}

impl AreaL8Rows {
    pub fn new(w: usize, h: usize, dw: usize, dh: usize) -> Self {
        AreaL8Rows {
            w,
            dw,
            xs: HTaps::new(&area_weights(w, dw)),
            ys: area_weights(h, dh),
            acc: vec![0f32; w],
            next_out: 0,
            out: vec![0u8; dw * dh],
        }
    }

    /// Make every output row whose source rows all lie above row `rows` of `src` (the whole
    /// source plane; rows below `rows` are not read).
    pub fn advance(&mut self, src: &[u8], rows: usize) {
        while let Some(taps) = self.ys.get(self.next_out) {
            if taps.last().is_some_and(|t| t.0 >= rows) {
                break;
            }
            let o = self.next_out * self.dw;
            area_l8_row(
                src,
                self.w,
                taps,
                &self.xs,
                &mut self.acc,
                &mut self.out[o..o + self.dw],
            );
            self.next_out += 1;
        }
    }

    /// The resized plane once `advance` reached the last source row.
    pub fn finish(self) -> Vec<u8> {
        assert_eq!(self.next_out, self.ys.len(), "rows missing");
        self.out
    }
}

/// For each output index, the input indices it covers and the share of each (summing to 1).
fn area_weights(n: usize, dn: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = n as f64 / dn as f64;
    (0..dn)
        .map(|o| {
            let a = o as f64 * scale;
            let b = (o as f64 + 1.0) * scale;
            let mut taps = Vec::new();
            let mut i = a.floor() as usize;
            while (i as f64) < b && i < n {
                let lo = a.max(i as f64);
                let hi = b.min(i as f64 + 1.0);
                if hi > lo {
                    taps.push((i, ((hi - lo) / scale) as f32));
                }
                i += 1;
            }
            taps
        })
        .collect()
}

/// Size with the long side at most `long_side`, keeping the aspect ratio.
pub fn fit_long_side(w: usize, h: usize, long_side: usize) -> (usize, usize) {
    let m = w.max(h);
    if m <= long_side || long_side == 0 {
        return (w, h);
    }
    let s = long_side as f64 / m as f64;
    (
        ((w as f64 * s).round() as usize).max(1),
        ((h as f64 * s).round() as usize).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testing::same_on_every_level;

    #[test]
    fn area_resize_preserves_mean_and_constants() {
        let src = vec![100u8; 17 * 13];
        assert!(resize_area_l8(&src, 17, 13, 5, 4).iter().all(|&v| v == 100));
        let src: Vec<u8> = (0..64).map(|i| (i * 4) as u8).collect();
        let out = resize_area_l8(&src, 8, 8, 4, 4);
        let m_in: f64 = src.iter().map(|&v| v as f64).sum::<f64>() / 64.0;
        let m_out: f64 = out.iter().map(|&v| v as f64).sum::<f64>() / 16.0;
        assert!((m_in - m_out).abs() < 0.6);
    }

    /// The resize written plainly (the vertical taps into f32 accumulators, then per output
    /// pixel and channel the products summed in tap order from zero): the reference for the
    /// lane-wise horizontal pass.
    fn reference<const C: usize>(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
        let (xs, ys) = (area_weights(w, dw), area_weights(h, dh));
        let mut out = Vec::new();
        for taps in &ys {
            let mut acc = vec![0f32; C * w];
            for &(iy, wt) in taps {
                for (a, &p) in acc.iter_mut().zip(&src[C * iy * w..C * (iy + 1) * w]) {
                    *a += p as f32 * wt;
                }
            }
            for xt in &xs {
                for c in 0..C {
                    let v: f32 = xt.iter().map(|&(i, wt)| acc[C * i + c] * wt).sum();
                    out.push(v.round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        out
    }

    #[test]
    fn vector_rounding_is_round_then_clamp() {
        let edge = [
            f32::NAN,
            -0.0,
            0.0,
            0.49999997,
            0.5,
            1.5,
            2.5,
            127.49999,
            254.5,
            254.50002,
            255.0,
            255.5,
            256.0,
            -0.5,
            -1.0,
            1e9,
            -1e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for chunk in edge.chunks(4) {
            let mut v = [0f32; 4];
            v[..chunk.len()].copy_from_slice(chunk);
            let want = v.map(|x| x.round().clamp(0.0, 255.0) as u8);
            assert_eq!(round_to_u8xn(v), want, "{v:?}");
        }
        // Every quarter step over the byte range and beyond.
        for q in -8..=1032 {
            let x = q as f32 / 4.0;
            assert_eq!(
                round_to_u8xn([x])[0],
                x.round().clamp(0.0, 255.0) as u8,
                "{x}"
            );
        }
    }

    #[test]
    fn lane_wise_horizontal_pass_gives_the_plain_resize_bytes() {
        for (w, h, dw, dh) in [
            (613, 217, 320, 113),
            (4000, 9, 512, 3),
            (1001, 37, 7, 5),
            (9, 9, 1, 1),
            (30, 20, 17, 11),
        ] {
            let src: Vec<u8> = (0..3 * w * h)
                .map(|i| ((i * 2654435761usize) >> 11) as u8)
                .collect();
            let l8 = same_on_every_level("resize_area_l8", || {
                resize_area_l8(&src[..w * h], w, h, dw, dh)
            });
            assert_eq!(l8, reference::<1>(&src[..w * h], w, h, dw, dh), "{w}x{h}");
            let rgb =
                same_on_every_level("resize_area_rgb8", || resize_area_rgb8(&src, w, h, dw, dh));
            assert_eq!(rgb, reference::<3>(&src, w, h, dw, dh), "{w}x{h}");
        }
    }

    #[test]
    fn l8_rows_made_band_by_band_give_the_batch_resize_bytes() {
        for (w, h, dw, dh) in [
            (613, 217, 320, 113),
            (640, 480, 640, 480),
            (37, 1000, 5, 133),
        ] {
            let src: Vec<u8> = (0..w * h)
                .map(|i| ((i * 2654435761usize) >> 11) as u8)
                .collect();
            let want = resize_area_l8(&src, w, h, dw, dh);
            for band in [1, 8, 64, h] {
                let got = same_on_every_level("area_l8_row", || {
                    let mut rows = AreaL8Rows::new(w, h, dw, dh);
                    let mut y = 0;
                    while y < h {
                        y = (y + band).min(h);
                        rows.advance(&src, y);
                    }
                    rows.finish()
                });
                assert_eq!(got, want, "{w}x{h} -> {dw}x{dh}, bands of {band}");
            }
        }
    }

    #[test]
    fn streamed_rows_give_the_batch_resize_bytes() {
        let (w, h) = (613, 217);
        let rgb: Vec<u8> = (0..3 * w * h)
            .map(|i| ((i * 2654435761usize) >> 9) as u8)
            .collect();
        for (dw, dh) in [
            fit_long_side(w, h, 512),
            (100, 37),
            (w, 100),
            (7, h),
            (w, h),
            (1, 1),
        ] {
            let got = same_on_every_level("area_accumulate_row", || {
                let mut s = AreaRgbStream::new(w, h, dw, dh);
                rgb.chunks(3 * w).for_each(|row| s.push(row));
                s.finish()
            });
            assert_eq!(got, resize_area_rgb8(&rgb, w, h, dw, dh), "{dw}x{dh}");
        }
    }

    #[test]
    fn rgb_resize_is_the_luma_resize_per_channel_on_every_level() {
        let (w, h) = (613, 217);
        let rgb: Vec<u8> = (0..3 * w * h)
            .map(|i| ((i * 2654435761usize) >> 9) as u8)
            .collect();
        for (dw, dh) in [fit_long_side(w, h, 512), (100, 37), (w, h)] {
            let out =
                same_on_every_level("resize_area_rgb8", || resize_area_rgb8(&rgb, w, h, dw, dh));
            for c in 0..3 {
                let plane: Vec<u8> = rgb.iter().skip(c).step_by(3).copied().collect();
                let want =
                    same_on_every_level("resize_area_l8", || resize_area_l8(&plane, w, h, dw, dh));
                let got: Vec<u8> = out.iter().skip(c).step_by(3).copied().collect();
                assert_eq!(got, want, "channel {c} at {dw}x{dh}");
            }
        }
    }
}
