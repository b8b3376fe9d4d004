//! Haze from the dark channel prior (He, Sun & Tang, "Single Image Haze Removal Using Dark Channel
//! Prior", CVPR 2009) and the airlight brightness the same paper estimates from it.
//!
//! In haze-free outdoor images most 15×15 patches contain a pixel that is dark in some channel
//! (shadows, saturated colours, dark objects). Scattering adds airlight, I = J·t + A·(1 − t), which
//! lifts every channel of every pixel, so the dark channel grows with 1 − t. Both statistics are
//! defined on an RGB plane at a fixed analysis size (the scan passes 512 px on the long side) so
//! that the 15-px patch covers the same share of the picture for every camera.

use super::min_filter::{Scratch, min_filter_square_with};

/// Side of the square patch of the dark channel (He et al. use 15 px).
pub const DARK_CHANNEL_PATCH: usize = 15;
/// Share of the brightest dark-channel pixels whose input intensity estimates the airlight.
pub const AIRLIGHT_TOP_SHARE: f64 = 0.001;

/// Dark-channel statistics of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Atmosphere {
    /// Mean of the dark channel, min over the patch of min over R, G, B, in 0–1.
    pub haze: f64,
    /// Mean intensity (R+G+B)/3 of the input pixels under the brightest 0.1 % of the dark channel
    /// (at least one pixel), in 0–1.
    pub airlight: f64,
}

/// `haze` and `airlight` of interleaved 8-bit RGB (`w`×`h`). NaN for an empty image.
///
/// The patch window is clipped at the image border (see `min_filter`). The top 0.1 % is
/// `k = max(1, round(0.001 · n))` pixels, taken by dark-channel value descending, ties in raster
/// order — a deterministic version of He et al.'s selection; they then pick the single brightest
/// input pixel, which one specular highlight can decide, so the mean over the k pixels is used.
pub fn atmosphere(rgb: &[u8], w: usize, h: usize) -> Atmosphere {
    let n = w * h;
    assert_eq!(rgb.len(), 3 * n, "RGB plane size");
    with_buffers(|dark, scratch| {
        dark.clear();
        dark.resize(n, 0);
        min_over_channels(rgb, dark);
        from_dark_channel(dark, w, h, scratch, |i| {
            rgb[3 * i] as u64 + rgb[3 * i + 1] as u64 + rgb[3 * i + 2] as u64
        })
    })
}

/// [`atmosphere`] of a gray picture given as its one plane (`w`×`h`): the same numbers as
/// `atmosphere` on the RGB plane repeating it (R = G = B), without building that plane — its
/// min over the channels is the plane itself and each pixel's R + G + B is 3 × its value.
pub fn atmosphere_gray(gray: &[u8], w: usize, h: usize) -> Atmosphere {
    assert_eq!(gray.len(), w * h, "plane size");
    with_buffers(|_, scratch| from_dark_channel(gray, w, h, scratch, |i| 3 * gray[i] as u64))
}

/// This thread's buffers for the per-pixel dark channel and the filter, reused across images.
#[derive(Default)]
struct Buffers {
    dark: Vec<u8>,
    scratch: Filtering,
}

/// The min filter's scratch and its output.
#[derive(Default)]
struct Filtering {
    filter: Scratch,
    filtered: Vec<u8>,
}

fn with_buffers<R>(f: impl FnOnce(&mut Vec<u8>, &mut Filtering) -> R) -> R {
    std::thread_local! {
        static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::default();
    }
    BUFFERS.with(|b| {
        let b = &mut *b.borrow_mut();
        let out = f(&mut b.dark, &mut b.scratch);
        // A large plane's buffers are let go rather than kept for the rest of the thread's life
        // (the scan's 512-px plane stays under the limit: ~0.8 MB a thread).
        if b.dark.capacity().max(b.scratch.filtered.capacity()) > 1 << 20 {
            *b = Buffers::default();
        }
        out
    })
}

/// Haze and airlight from the per-pixel dark channel `dark` (`w`×`h`) and each pixel's R + G + B.
fn from_dark_channel(
    dark: &[u8],
    w: usize,
    h: usize,
    buffers: &mut Filtering,
    rgb_sum: impl Fn(usize) -> u64,
) -> Atmosphere {
    let n = w * h;
    if n == 0 {
        return Atmosphere {
            haze: f64::NAN,
            airlight: f64::NAN,
        };
    }
    let filtered = &mut buffers.filtered;
    let r = DARK_CHANNEL_PATCH / 2;
    min_filter_square_with(dark, w, h, r, filtered, &mut buffers.filter);
    let filtered = &filtered[..n];

    // u32 sums over pieces of 2^16 pixels (≤ 255 · 2^16, no overflow) that run across rows: a
    // thumbnail's 28-pixel rows were too short for the vectorised loop.
    let mut total = 0u64;
    for piece in filtered.chunks(1 << 16) {
        let mut s = 0u32;
        for &v in piece {
            s += v as u32;
        }
        total += s as u64;
    }
    let haze = total as f64 / (255.0 * n as f64);
    let k = ((AIRLIGHT_TOP_SHARE * n as f64).round() as u64).max(1);
    if k == 1 {
        // Under 1,500 pixels the top 0.1 % is one pixel: the first at the maximum (what the
        // threshold walk below selects), found without a histogram.
        let top = filtered.iter().copied().max().unwrap_or(0);
        let i = filtered.iter().position(|&v| v == top).unwrap_or(0);
        return Atmosphere {
            haze,
            airlight: rgb_sum(i) as f64 / (3.0 * 255.0),
        };
    }
    let hist = super::histogram::histogram(filtered);

    // Threshold level t: all pixels above t are in, and the first `need` pixels at t (raster
    // order).
    let (mut above, mut t) = (0u64, 255usize);
    while above + hist[t] < k {
        above += hist[t];
        t -= 1;
    }
    let mut need = k - above;
    let mut sum = 0u64;
    for (i, &v) in filtered.iter().enumerate() {
        let take = if v as usize > t {
            true
        } else if v as usize == t && need > 0 {
            need -= 1;
            true
        } else {
            false
        };
        if take {
            sum += rgb_sum(i);
        }
    }
    Atmosphere {
        haze,
        airlight: sum as f64 / (3.0 * 255.0 * k as f64),
    }
}

crate::cpu::dispatch! {
/// min(R, G, B) of every pixel.
pub fn min_over_channels(rgb: &[u8], out: &mut [u8]) -> () {
    for (o, p) in out.iter_mut().zip(rgb.chunks_exact(3)) {
        *o = p[0].min(p[1]).min(p[2]);
    }
}
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-4 * b.abs().max(1e-12)
    }

    /// The test image of `tests/reference_weather.py::fixture_rgb` (same formula).
    pub(crate) fn fixture_rgb(w: usize, h: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(3 * w * h);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    v.push(
                        ((x * 9 + y * 5 + c * 60 + (x * y * 7) % 31 + ((x ^ y) * 13) % 29) % 256)
                            as u8,
                    );
                }
            }
        }
        v
    }

    #[test]
    fn constant_image_reads_its_darkest_channel() {
        let rgb: Vec<u8> = [200u8, 120, 180].repeat(40 * 30);
        let a = atmosphere(&rgb, 40, 30);
        assert!(close(a.haze, 120.0 / 255.0));
        assert!(close(a.airlight, 500.0 / 765.0));
    }

    #[test]
    fn airlight_ties_are_taken_in_raster_order() {
        // min(R,G,B) = 50 everywhere, so every dark-channel value ties; 40×25 = 1000 pixels give
        // k = 1: the first pixel, whose G is 77.
        let (w, h) = (40, 25);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| [50u8, 77 + (i % 150) as u8, 255])
            .collect();
        let a = atmosphere(&rgb, w, h);
        assert!(close(a.airlight, (50.0 + 77.0 + 255.0) / 765.0), "{a:?}");
        // 100×50 = 5000 pixels: k = 5, the first five (G = 77..81).
        let (w, h) = (100, 50);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| [50u8, 77 + (i % 150) as u8, 255])
            .collect();
        let want = (5.0 * 305.0 + (77.0 + 78.0 + 79.0 + 80.0 + 81.0)) / (5.0 * 765.0);
        assert!(close(atmosphere(&rgb, w, h).airlight, want));
    }

    /// He et al.'s statistics written out plainly: brute-force clipped min filter, pixels
    /// sorted by dark channel (descending, ties in raster order), the first k taken.
    fn plain(rgb: &[u8], w: usize, h: usize) -> (f64, f64) {
        let dark: Vec<u8> = rgb
            .chunks_exact(3)
            .map(|p| p[0].min(p[1]).min(p[2]))
            .collect();
        let r = DARK_CHANNEL_PATCH as isize / 2;
        let mut filtered = vec![0u8; w * h];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut m = 255u8;
                for yy in (y - r).max(0)..(y + r + 1).min(h as isize) {
                    for xx in (x - r).max(0)..(x + r + 1).min(w as isize) {
                        m = m.min(dark[yy as usize * w + xx as usize]);
                    }
                }
                filtered[y as usize * w + x as usize] = m;
            }
        }
        let n = w * h;
        let haze = filtered.iter().map(|&v| v as f64).sum::<f64>() / (255.0 * n as f64);
        let k = ((AIRLIGHT_TOP_SHARE * n as f64).round() as usize).max(1);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(filtered[i]), i));
        let sum: u64 = order[..k]
            .iter()
            .map(|&i| rgb[3 * i..3 * i + 3].iter().map(|&v| v as u64).sum::<u64>())
            .sum();
        (haze, sum as f64 / (3.0 * 255.0 * k as f64))
    }

    #[test]
    fn equals_the_plain_definition_with_one_and_several_airlight_pixels() {
        // k = 1 (under 1,500 pixels: the first pixel at the maximum) and k > 1 (the threshold
        // walk), on noise quantised to a few levels so the dark channel ties a lot.
        for (i, &(w, h)) in [(28, 28), (1, 1), (3, 40), (38, 39), (60, 40), (101, 37)]
            .iter()
            .enumerate()
        {
            let rgb: Vec<u8> = crate::test_support::noise_bytes(3 * w * h, i as u64)
                .iter()
                .map(|&v| (v | 0x9f) & 0xe7)
                .collect();
            let a = atmosphere(&rgb, w, h);
            let (haze, airlight) = plain(&rgb, w, h);
            assert!(close(a.haze, haze), "{w}x{h}: {a:?} vs {haze}");
            assert_eq!(a.airlight.to_bits(), airlight.to_bits(), "{w}x{h}: {a:?}");
        }
    }

    #[test]
    fn fog_raises_haze() {
        let (w, h) = (64, 48);
        let clear = fixture_rgb(w, h);
        let fog = |t: f64| -> Vec<u8> {
            clear
                .iter()
                .map(|&v| (v as f64 * t + 229.5 * (1.0 - t)).round() as u8)
                .collect()
        };
        let values: Vec<f64> = [1.0, 0.8, 0.6, 0.4]
            .iter()
            .map(|&t| atmosphere(&fog(t), w, h).haze)
            .collect();
        assert!(values.windows(2).all(|p| p[1] > p[0]), "{values:?}");
    }

    #[test]
    fn matches_numpy_reference() {
        // Expected values from `python -m tests.reference_weather` ("fogged haze ...
        // airlight ...").
        let (w, h) = (24, 17);
        // Integer fog (t = 0.6, A = 230) so the dark channel is far from zero.
        let fogged: Vec<u8> = fixture_rgb(w, h)
            .iter()
            .map(|&v| ((v as u32 * 3 + 460) / 5) as u8)
            .collect();
        let a = atmosphere(&fogged, w, h);
        assert!(close(a.haze, REF_HAZE), "haze {} vs {}", a.haze, REF_HAZE);
        assert!(
            close(a.airlight, REF_AIRLIGHT),
            "airlight {} vs {}",
            a.airlight,
            REF_AIRLIGHT
        );
    }

    const REF_HAZE: f64 = 0.3608419838523645;
    const REF_AIRLIGHT: f64 = 0.5725490196078431;

    #[test]
    fn empty_is_nan() {
        assert!(atmosphere(&[], 0, 0).haze.is_nan());
        assert!(atmosphere_gray(&[], 0, 0).airlight.is_nan());
    }

    #[test]
    fn gray_plane_gives_the_numbers_of_its_rgb_plane() {
        // Odd and tiny sizes, sizes around the patch, and one large enough that k > 1 pixels
        // (ties included: a quantised plane) make up the airlight; buffers are reused between
        // calls of different sizes, large after small and small after large.
        for (i, &(w, h)) in [
            (28, 28),
            (1, 1),
            (2, 9),
            (9, 2),
            (15, 15),
            (16, 17),
            (300, 41),
            (5, 3),
        ]
        .iter()
        .enumerate()
        {
            let gray: Vec<u8> = crate::test_support::noise_bytes(w * h, i as u64)
                .iter()
                .map(|&v| if i % 2 == 0 { v } else { v & 0xf0 })
                .collect();
            let rgb: Vec<u8> = gray.iter().flat_map(|&v| [v, v, v]).collect();
            let (a, b) = (atmosphere_gray(&gray, w, h), atmosphere(&rgb, w, h));
            assert_eq!(a.haze.to_bits(), b.haze.to_bits(), "{w}x{h}");
            assert_eq!(a.airlight.to_bits(), b.airlight.to_bits(), "{w}x{h}");
        }
    }
}
