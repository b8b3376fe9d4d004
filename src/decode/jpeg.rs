//! JPEG through libjpeg-turbo: DCT-domain scaling (1/2, 1/4, 1/8) and Pillow-identical pixels.

use super::jpeg_quality;
use super::metadata::{JpegMarkers, jpeg_markers, parse_exif};
use super::{DecodeRequest, Decoded, Header, Kind, check_size, corrupt};
use crate::error::Result;
use crate::planes::{Pixels, luma_from_rgb};

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
    let pixels = match format {
        PF::GRAY => Pixels {
            width: w,
            height: h,
            luma: buf,
            rgb: None,
        },
        PF::CMYK => {
            let rgb = cmyk_to_rgb(&buf, markers.adobe);
            let luma = luma_from_rgb(&rgb);
            Pixels {
                width: w,
                height: h,
                luma,
                rgb: req.need_rgb.then_some(rgb),
            }
        }
        _ => Pixels {
            width: w,
            height: h,
            luma: luma_from_rgb(&buf),
            rgb: Some(buf),
        },
    };
    Ok(Decoded {
        pixels,
        reduction,
        gray_source,
    })
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
