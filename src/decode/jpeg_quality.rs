//! JPEG quality estimated from the quantisation tables: the IJG quality (1–100) whose scaled
//! standard tables are closest to the file's. Cameras and encoders with custom tables get the
//! nearest IJG equivalent, which is what makes compression comparable across sources.

/// IJG standard luminance and chrominance tables (JPEG Annex K), natural (row-major) order.
const STD_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const STD_CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];
/// Zig-zag position k → natural index.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The table libjpeg's `jpeg_set_quality(q, force_baseline=TRUE)` writes, in zig-zag order.
fn scaled_table(std: &[u16; 64], q: u32) -> [u16; 64] {
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let mut t = [0u16; 64];
    for (k, v) in t.iter_mut().enumerate() {
        let x = (std[ZIGZAG[k]] as u32 * scale + 50) / 100;
        *v = x.clamp(1, 255) as u16;
    }
    t
}

/// Estimate quality from the luminance table (id 0) and, when present, the chrominance table.
pub fn estimate(luma: &[u16; 64], chroma: Option<&[u16; 64]>) -> u8 {
    let mut best = (u64::MAX, 0u32);
    for q in 1..=100 {
        let mut err = distance(luma, &scaled_table(&STD_LUMA, q));
        if let Some(c) = chroma {
            err += distance(c, &scaled_table(&STD_CHROMA, q));
        }
        // Ties (tables saturated at 1 or 255) resolve to the highest matching quality.
        if err <= best.0 {
            best = (err, q);
        }
    }
    best.1 as u8
}

fn distance(a: &[u16; 64], b: &[u16; 64]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i64 - y as i64).unsigned_abs())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_every_ijg_quality() {
        for q in 1..=100 {
            let l = scaled_table(&STD_LUMA, q);
            let c = scaled_table(&STD_CHROMA, q);
            let est = estimate(&l, Some(&c)) as u32;
            // Saturated tables make some neighbouring qualities identical.
            assert_eq!(scaled_table(&STD_LUMA, est), l, "q={q} est={est}");
        }
        assert_eq!(estimate(&scaled_table(&STD_LUMA, 75), None), 75);
        assert_eq!(estimate(&scaled_table(&STD_LUMA, 95), None), 95);
    }
}
