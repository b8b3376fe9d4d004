//! The portable resize kernels: plain loops over the fixed-point taps, shaped so LLVM vectorises
//! them. The horizontal pass is compiled a second time with AVX2 enabled in `avx2.rs`; the
//! vertical pass per CPU level here.

use super::taps::{HALF, PRECISION_BITS, Padded, Taps};

/// Pillow's `clip8`: arithmetic shift (floor), then clamp to a byte.
#[inline(always)]
pub(super) fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// `Σ p·c` with 16-bit operands: the shape LLVM turns into `pmaddwd`.
#[inline(always)]
pub(super) fn dot16(px: &[u8], k: &[i16]) -> i32 {
    px.iter().zip(k).fold(0i32, |s, (&p, &c)| {
        s.wrapping_add(i32::from(p) * i32::from(c))
    })
}

/// Horizontal pass: `rows` rows of width `sw` starting at byte `src` → rows of width `taps.len`.
/// The rows start at input column `offset` (the columns before it are not read).
#[inline(always)]
pub(super) fn horizontal(
    src: &[u8],
    sw: usize,
    rows: usize,
    taps: &Taps,
    offset: usize,
    dst: &mut [u8],
) {
    let dw = taps.bounds.len();
    let rows = src
        .chunks_exact(sw)
        .take(rows)
        .zip(dst.chunks_exact_mut(dw));
    if let Some(p) = &taps.padded {
        for (row, out) in rows {
            for (xx, o) in out.iter_mut().enumerate() {
                *o = padded_output(row, p, offset, xx);
            }
        }
        return;
    }
    for (row, out) in rows {
        for (xx, o) in out.iter_mut().enumerate() {
            let (start, len) = taps.bounds[xx];
            let px = &row[start - offset..start - offset + len];
            let at = xx * taps.ksize..xx * taps.ksize + len;
            let ss = match &taps.k16 {
                // The true sum fits in i32, so wrapping intermediates still give it exactly.
                Some(t) => {
                    let fixes = &t.fixes[t.fix_at[xx]..t.fix_at[xx + 1]];
                    fixes
                        .iter()
                        .fold(HALF.wrapping_add(dot16(px, &t.k[at])), |s, &(j, d)| {
                            s.wrapping_add(i32::from(px[j]) * d)
                        })
                }
                None => taps.k[at]
                    .iter()
                    .zip(px)
                    .fold(HALF, |s, (&c, &p)| s + i32::from(p) * c),
            };
            *o = clip8(ss);
        }
    }
}

/// Output `xx` of one row through its padded window.
#[inline(always)]
pub(super) fn padded_output(row: &[u8], p: &Padded, offset: usize, xx: usize) -> u8 {
    let s = p.starts[xx] - offset;
    let px = &row[s..s + p.kpad];
    let k = &p.k[xx * p.kpad..(xx + 1) * p.kpad];
    let mut acc = [0i32; 8];
    for (pc, kc) in px.as_chunks::<8>().0.iter().zip(k.as_chunks::<8>().0) {
        for l in 0..8 {
            // Wrapping: lanes hold partial sums; the total fits in i32, so it comes out exact.
            acc[l] = acc[l].wrapping_add(i32::from(pc[l]) * kc[l]);
        }
    }
    clip8(acc.iter().fold(HALF, |s, &a| s.wrapping_add(a)))
}

crate::cpu::dispatch_avx512! {
/// Vertical pass over whole rows: columns `[c0, c0 + width)` of a `stride`-wide image whose first
/// row is input row `offset`. Compiled per CPU level: with AVX-512 a 16-column chunk is one
/// register.
pub fn vertical(
    src: &[u8],
    stride: usize,
    c0: usize,
    width: usize,
    taps: &Taps,
    offset: usize,
    dst: &mut [u8],
) {
    for (yy, out) in dst.chunks_exact_mut(width).enumerate() {
        let (start, k) = taps.taps(yy);
        let rows: &[u8] = &src[(start - offset) * stride..];
        let row = |j: usize| &rows[j * stride + c0..j * stride + c0 + width];
        // Sixteen columns at a time, then eight, every tap into one register of sums (two
        // with AVX2): the sums never go through memory (a tap loop over a row of sums in memory
        // made each tap wait for the previous tap's store: the whole cost on hash thumbnails,
        // 8–32 columns wide). With AVX-512 a 16-column chunk is one register.
        let (out16, rest) = out.as_chunks_mut::<16>();
        for (chunk, o) in out16.iter_mut().enumerate() {
            columns(o, 16 * chunk, k, &row);
        }
        let (out8, out_tail) = rest.as_chunks_mut::<8>();
        for (chunk, o) in out8.iter_mut().enumerate() {
            columns(o, 16 * out16.len() + 8 * chunk, k, &row);
        }
        let done = 16 * out16.len() + 8 * out8.len();
        for (x, o) in out_tail.iter_mut().enumerate() {
            let ss = k
                .iter()
                .enumerate()
                .fold(HALF, |s, (j, &c)| s + i32::from(row(j)[done + x]) * c);
            *o = clip8(ss);
        }
    }
}
}

/// `C` output columns from `x0` of one output row of [`vertical`]: `row(j)` is the input row of
/// tap `j` (the columns of the pass), `k` the taps.
#[inline(always)]
fn columns<'a, const C: usize>(
    out: &mut [u8; C],
    x0: usize,
    k: &[i32],
    row: &impl Fn(usize) -> &'a [u8],
) {
    let mut acc = [HALF; C];
    for (j, &c) in k.iter().enumerate() {
        let p: &[u8; C] = row(j)[x0..x0 + C].try_into().expect("C columns");
        for l in 0..C {
            acc[l] += i32::from(p[l]) * c;
        }
    }
    for l in 0..C {
        out[l] = clip8(acc[l]);
    }
}
