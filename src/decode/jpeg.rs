//! JPEG through libjpeg-turbo: DCT-domain scaling (1/2, 1/4, 1/8) and Pillow-identical pixels.

use super::jpeg_quality;
use super::metadata::{JpegMarkers, jpeg_markers, parse_exif};
use super::rgb_rows::{RowMeasures, RowWants, luma_and_measures, luma_and_measures_of_rgb};
use super::{DecodeRequest, Decoded, Header, Kind, check_size, corrupt};
use crate::error::Result;
use crate::planes::{Pixels, YCbCr};

pub(super) fn probe(data: &[u8], max_pixels: u64) -> Result<Header> {
    let h = turbojpeg::read_header(data).map_err(|e| corrupt("jpeg", e))?;
    check_size(h.width as u64, h.height as u64, max_pixels)?;
    let markers = jpeg_markers(data);
    let exif = markers.exif.as_deref().map(parse_exif).unwrap_or_default();
    let jpeg_quality = markers.qtables[0]
        .as_ref()
        .map(|l| jpeg_quality::estimate(l, markers.qtables[1].as_ref()));
    use turbojpeg::Colorspace as C;
    let channels = match h.colorspace {
        C::Gray => 1,
        C::CMYK | C::YCCK => 4,
        _ => 3,
    };
    Ok(Header {
        format: "jpeg",
        width: h.width as u32,
        height: h.height as u32,
        channels,
        bit_depth: if markers.precision == 0 {
            8
        } else {
            markers.precision
        },
        has_alpha: false,
        exif,
        jpeg_quality,
        can_reduce: !h.is_lossless,
        kind: Kind::Jpeg {
            markers: Box::new(markers),
            colorspace: h.colorspace,
        },
    })
}

pub(super) fn decode(
    data: &[u8],
    markers: &JpegMarkers,
    colorspace: turbojpeg::Colorspace,
    req: DecodeRequest,
) -> Result<Decoded> {
    use turbojpeg::{Colorspace as C, PixelFormat as PF};
    let mut d = turbojpeg::Decompressor::new().map_err(|e| corrupt("jpeg", e))?;
    let reduction = if matches!(req.reduction, 2 | 4 | 8) {
        req.reduction
    } else {
        1
    };
    let sf = turbojpeg::ScalingFactor::new(1, reduction);
    d.set_scaling_factor(sf).map_err(|e| corrupt("jpeg", e))?;
    let hdr = d
        .read_header(data)
        .map_err(|e| corrupt("jpeg", e))?
        .scaled(sf);
    let (w, h) = (hdr.width, hdr.height);
    let cmyk = matches!(colorspace, C::CMYK | C::YCCK);
    let gray_source = colorspace == C::Gray;
    let planar = req.need_rgb && reduction == 1 && colorspace == C::YCbCr;
    if let Some(sampling) = planar.then(|| planar_sampling(hdr.subsamp, w)).flatten() {
        let (pixels, measures) =
            decode_planar(&mut d, data, w, h, hdr.subsamp, sampling, req.rgb_rows)?;
        return Ok(Decoded {
            pixels,
            reduction,
            gray_source,
            rgb_rows: Some(measures),
        });
    }
    // Luma-only requests take libjpeg's Y plane (no chroma upsampling or colour conversion); it
    // equals Pillow's luma up to rounding. Anything that needs colour decodes RGB like Pillow.
    let format = if cmyk {
        PF::CMYK
    } else if gray_source || !req.need_rgb {
        PF::GRAY
    } else {
        PF::RGB
    };
    let mut buf = vec![0u8; w * h * format.size()];
    let image = turbojpeg::Image {
        pixels: buf.as_mut_slice(),
        width: w,
        pitch: w * format.size(),
        height: h,
        format,
    };
    d.decompress(data, image).map_err(|e| corrupt("jpeg", e))?;
    let (luma, rgb, rgb_rows) = match format {
        PF::GRAY => (buf, None, None),
        _ => {
            let rgb = if format == PF::CMYK {
                cmyk_to_rgb(&buf, markers.adobe)
            } else {
                buf
            };
            let (luma, measures) = luma_and_measures_of_rgb(&rgb, w, h, req.rgb_rows);
            (luma, req.need_rgb.then_some(rgb), measures)
        }
    };
    let pixels = Pixels {
        width: w,
        height: h,
        luma,
        rgb,
        ycbcr: None,
    };
    Ok(Decoded {
        pixels,
        reduction,
        gray_source,
        rgb_rows,
    })
}

/// The chroma subsampling factors `(h, v)` of a full-size decode that [`YCbCr`] reproduces
/// libjpeg-turbo's RGB from; `None` sends the file through the RGB decode.
fn planar_sampling(subsamp: turbojpeg::Subsamp, width: usize) -> Option<(usize, usize)> {
    use turbojpeg::Subsamp as S;
    let (hs, vs) = match subsamp {
        S::None => (1, 1),
        S::Sub2x1 => (2, 1),
        S::Sub2x2 => (2, 2),
        S::Sub1x2 => (1, 2),
        _ => return None,
    };
    YCbCr::supported(width, hs, vs).then_some((hs, vs))
}

/// Full-size YCbCr decode to planes (Huffman decode and IDCT only: no upsampling, no colour
/// conversion, no 3-byte-per-pixel buffer); luma is computed from the planes exactly as Pillow
/// computes it from libjpeg's RGB.
fn decode_planar(
    d: &mut turbojpeg::Decompressor,
    data: &[u8],
    w: usize,
    h: usize,
    subsamp: turbojpeg::Subsamp,
    (hs, vs): (usize, usize),
    want: RowWants,
) -> Result<(Pixels, RowMeasures)> {
    // No zeroing: `tj3DecompressToYUVPlanes8` writes every row of every plane (straight from
    // `jpeg_read_raw_data`, or copied out of its MCU-row buffer when the planes are not whole
    // MCUs), and a failed decode returns before the buffer is read. A reused buffer's stale bytes
    // are never seen (tested: `planar_decode_into_a_dirty_reused_buffer_is_exact`).
    let mut buf = crate::planes::buffers::overwritten(YCbCr::planar_len(w, h, hs, vs));
    let image = turbojpeg::YuvImage {
        pixels: buf.as_mut_slice(),
        width: w,
        align: 1,
        height: h,
        subsamp,
    };
    d.decompress_to_yuv(data, image)
        .map_err(|e| corrupt("jpeg", e))?;
    let planes = YCbCr::from_planar(buf, w, h, hs, vs);
    let (luma, measures) = luma_and_measures(&planes, want);
    let pixels = Pixels {
        width: w,
        height: h,
        luma,
        rgb: None,
        ycbcr: Some(planes),
    };
    Ok((pixels, measures))
}

/// Pillow's CMYK→RGB: R = (255 − C)(255 − K)/255. Adobe files store the samples inverted.
fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for p in cmyk.chunks_exact(4) {
        let inv = |v: u8| if inverted { v } else { 255 - v } as u32;
        let nk = inv(p[3]);
        for &c in &p[..3] {
            rgb.push(((inv(c) * nk + 127) / 255) as u8);
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planes::luma_from_rgb;

    /// A JPEG of a colourful test picture (gradients, saturated patches, noise: clamping and
    /// every chroma edge case get exercised).
    fn jpeg(w: usize, h: usize, subsamp: turbojpeg::Subsamp, progressive: bool) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(3 * w * h);
        for y in 0..h {
            for x in 0..w {
                let n = ((x * 7919 + y * 104729) * 2654435761) >> 7;
                let patch = (x / 5 + y / 3) % 4;
                rgb.extend_from_slice(&match patch {
                    0 => [255, (n & 63) as u8, 0],
                    1 => [(x * 255 / w) as u8, (y * 255 / h) as u8, (n & 255) as u8],
                    2 => [0, 0, 255 - (n & 15) as u8],
                    _ => [(n & 255) as u8, 250, ((n >> 8) & 255) as u8],
                });
            }
        }
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_subsamp(subsamp).unwrap();
        c.set_quality(90).unwrap();
        c.set_progressive(progressive).unwrap();
        let image = turbojpeg::Image {
            pixels: rgb.as_slice(),
            width: w,
            pitch: 3 * w,
            height: h,
            format: turbojpeg::PixelFormat::RGB,
        };
        c.compress_to_vec(image).unwrap()
    }

    fn decode_with(data: &[u8], need_rgb: bool) -> Pixels {
        let header = super::super::probe(data, u64::MAX).unwrap();
        let req = DecodeRequest {
            reduction: 1,
            need_rgb,
            rgb_rows: RowWants::default(),
        };
        super::super::decode(data, &header, req, u64::MAX)
            .unwrap()
            .pixels
    }

    #[test]
    fn planar_decode_gives_libjpegs_rgb_and_pillows_luma_bit_for_bit() {
        use turbojpeg::Subsamp as S;
        let mut planar = 0;
        for subsamp in [S::None, S::Sub2x1, S::Sub2x2, S::Sub1x2, S::Sub4x1] {
            for (w, h) in [
                (64, 48),
                (67, 45),
                (33, 17),
                (5, 7),
                (6, 3),
                (1, 9),
                (257, 131),
            ] {
                for progressive in [false, true] {
                    let data = jpeg(w, h, subsamp, progressive);
                    let p = decode_with(&data, true);
                    let rgb = turbojpeg::decompress(&data, turbojpeg::PixelFormat::RGB).unwrap();
                    let what = format!("{subsamp:?} {w}x{h} progressive={progressive}");
                    match &p.ycbcr {
                        Some(planes) => {
                            planar += 1;
                            assert!(p.rgb.is_none());
                            assert_eq!(planes.to_rgb(), rgb.pixels, "{what}");
                        }
                        // Samplings the planes do not reproduce take the RGB decode.
                        None => assert_eq!(p.rgb.as_deref(), Some(&rgb.pixels[..]), "{what}"),
                    }
                    assert_eq!(p.luma, luma_from_rgb(&rgb.pixels), "{what}");
                    if subsamp == S::Sub4x1 || (w <= 4 && matches!(subsamp, S::Sub2x1 | S::Sub2x2))
                    {
                        assert!(p.ycbcr.is_none(), "{what} must fall back to RGB");
                    }
                }
            }
        }
        assert!(planar >= 40, "only {planar} planar decodes");
    }

    /// The planar buffer comes from `buffers::overwritten` (a previous image's bytes): every byte
    /// must be written by libjpeg-turbo, on every sampling and on sizes that are and are not
    /// whole MCUs (turbojpeg copies those out of its own row buffer).
    #[test]
    fn planar_decode_into_a_dirty_reused_buffer_is_exact() {
        use crate::planes::buffers;
        use turbojpeg::Subsamp as S;
        for subsamp in [S::None, S::Sub2x1, S::Sub2x2, S::Sub1x2] {
            for (w, h) in [(1024, 1024), (1031, 1021), (1040, 1033), (1023, 1030)] {
                let data = jpeg(w, h, subsamp, false);
                let fresh = {
                    buffers::release();
                    decode_with(&data, true)
                };
                // Poison a buffer big enough for the planes and make it the next one handed out.
                buffers::release();
                buffers::give_back(vec![0xA5; 4 << 20]);
                let reused = decode_with(&data, true);
                buffers::release();
                let what = format!("{subsamp:?} {w}x{h}");
                let (a, b) = (fresh.ycbcr.expect("planar"), reused.ycbcr.expect("planar"));
                assert_eq!(a.to_rgb(), b.to_rgb(), "{what}");
                assert_eq!(a.into_data(), b.into_data(), "{what}: every plane byte");
                assert_eq!(fresh.luma, reused.luma, "{what}");
            }
        }
    }

    /// A progressive JPEG's coefficient buffer comes from the buffer pool (`jpeg_memory.rs`
    /// replaces libjpeg's `jmemnobs.c`): libjpeg must zero what it reads, so a poisoned pool
    /// block gives the same pixels as a fresh one.
    #[test]
    fn progressive_coefficients_in_a_dirty_pooled_block_are_exact() {
        use crate::planes::buffers;
        use std::sync::atomic::Ordering;
        use turbojpeg::Subsamp as S;
        for subsamp in [S::None, S::Sub2x2] {
            let data = jpeg(1031, 1021, subsamp, true);
            buffers::release();
            let fresh = decode_with(&data, true);
            buffers::release();
            for _ in 0..4 {
                buffers::give_back(vec![0xA5; 16 << 20]);
            }
            let before = super::super::jpeg_memory::POOLED_BLOCKS.load(Ordering::Relaxed);
            let reused = decode_with(&data, true);
            let after = super::super::jpeg_memory::POOLED_BLOCKS.load(Ordering::Relaxed);
            buffers::release();
            assert!(after > before, "libjpeg's large blocks come from the pool");
            assert_eq!(fresh.luma, reused.luma, "{subsamp:?}");
            let rgb = |p: Pixels| p.rgb.unwrap_or_else(|| p.ycbcr.expect("planes").to_rgb());
            assert_eq!(rgb(fresh), rgb(reused), "{subsamp:?}");
        }
    }

    #[test]
    fn cmyk_conversion() {
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0], false), vec![255, 255, 255]);
        assert_eq!(
            cmyk_to_rgb(&[255, 255, 255, 255], true),
            vec![255, 255, 255]
        );
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255], false), vec![0, 0, 0]);
    }
}
