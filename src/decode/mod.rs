//! Decoding: format sniffing, header probing (no pixels), and one decode at a reduced scale.
//! JPEG goes through libjpeg-turbo (DCT-domain scaling, Pillow-identical pixels), still WebP
//! through libwebp (what Pillow uses; the pure-Rust decoder was ~40 % slower here); PNG, GIF,
//! BMP, TIFF, PNM and animated WebP through the `image` crate's pure-Rust decoders.

use crate::planes::{Pixels, contrasting_background, luma_from_rgb, over, pillow_luma, scale16};
use crate::error::{ImageError, Result};
mod jpeg_quality;
mod metadata;
use metadata::{
    ExifInfo, JpegMarkers, gif_first_frame_transparent, jpeg_markers, parse_exif, png_gray_depth,
};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// What the file says about itself, before any pixel is decoded.
#[derive(Debug, Clone)]
pub struct Header {
    pub format: &'static str,
    /// Stored size, before EXIF orientation.
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub bit_depth: u8,
    pub has_alpha: bool,
    pub exif: ExifInfo,
    pub jpeg_quality: Option<u8>,
    /// Only JPEG can be decoded at 1/2, 1/4, 1/8 scale.
    pub can_reduce: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Jpeg {
        markers: Box<JpegMarkers>,
        colorspace: turbojpeg::Colorspace,
    },
    WebP {
        has_alpha: bool,
    },
    Other(ImageFormat),
}

/// Which pixels the caller needs.
#[derive(Debug, Clone, Copy)]
pub struct DecodeRequest {
    /// Reduction factor (1, 2, 4 or 8); honoured by JPEG, ignored by the other formats.
    pub reduction: usize,
    /// Interleaved RGB is needed (colour metrics); otherwise luma alone is enough.
    pub need_rgb: bool,
}

/// Decoded pixels and the reduction actually applied.
pub struct Decoded {
    pub pixels: Pixels,
    pub reduction: usize,
    /// The source has no colour (grayscale JPEG, L/LA PNG...): colour metrics are trivially gray.
    pub gray_source: bool,
}

pub fn sniff(data: &[u8]) -> Result<Option<ImageFormat>> {
    if data.is_empty() {
        return Err(ImageError::Empty);
    }
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(None); // JPEG: handled by libjpeg-turbo
    }
    match image::guess_format(data) {
        Ok(
            f @ (ImageFormat::Png
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::Tiff
            | ImageFormat::WebP
            | ImageFormat::Pnm),
        ) => Ok(Some(f)),
        Ok(other) => Err(ImageError::Unsupported {
            format: "image",
            message: format!("{other:?} files are not supported"),
        }),
        Err(_) => {
            let head: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
            Err(ImageError::UnknownFormat(head.join(" ")))
        }
    }
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "png",
        ImageFormat::Gif => "gif",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        ImageFormat::WebP => "webp",
        ImageFormat::Pnm => "pnm",
        _ => "image",
    }
}

fn check_size(w: u64, h: u64, max_pixels: u64) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(ImageError::ZeroSize {
            width: w,
            height: h,
        });
    }
    if w * h > max_pixels {
        return Err(ImageError::TooLarge {
            width: w,
            height: h,
            megapixels: (w * h) as f64 / 1e6,
            limit_mp: max_pixels as f64 / 1e6,
        });
    }
    Ok(())
}

fn limits(max_pixels: u64) -> Limits {
    let mut l = Limits::default();
    // Room for the largest allowed image as 16-bit RGBA plus decoder scratch; anything beyond is
    // refused before allocation.
    l.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    l
}

fn corrupt(format: &'static str, e: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt {
        format,
        message: e.to_string(),
    }
}

fn image_error(format: &'static str, e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Unsupported(u) => ImageError::Unsupported {
            format,
            message: u.to_string(),
        },
        image::ImageError::Limits(l) => ImageError::Unsupported {
            format,
            message: format!("{l} (decoder memory limit; raise max_pixels to allow it)"),
        },
        other => corrupt(format, other),
    }
}

/// Read the header and metadata; refuses images over `max_pixels` before any pixel allocation.
pub fn probe(data: &[u8], max_pixels: u64) -> Result<Header> {
    match sniff(data)? {
        None => probe_jpeg(data, max_pixels),
        Some(ImageFormat::WebP) => match probe_webp(data, max_pixels)? {
            Some(h) => Ok(h),
            None => probe_other(data, ImageFormat::WebP, max_pixels), // animated
        },
        Some(f) => probe_other(data, f, max_pixels),
    }
}

fn probe_jpeg(data: &[u8], max_pixels: u64) -> Result<Header> {
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

/// Still WebP through libwebp; `None` for animated files (left to the `image` crate).
fn probe_webp(data: &[u8], max_pixels: u64) -> Result<Option<Header>> {
    let mut f = std::mem::MaybeUninit::<libwebp_sys::WebPBitstreamFeatures>::zeroed();
    // SAFETY: `data` is a valid slice; libwebp writes the features struct on success.
    let status = unsafe { libwebp_sys::WebPGetFeatures(data.as_ptr(), data.len(), f.as_mut_ptr()) };
    if status != libwebp_sys::VP8StatusCode::VP8_STATUS_OK {
        return Err(corrupt(
            "webp",
            format!("libwebp cannot read the header ({status:?})"),
        ));
    }
    // SAFETY: initialised by the successful call above (and zeroed before it).
    let f = unsafe { f.assume_init() };
    if f.has_animation != 0 {
        return Ok(None);
    }
    check_size(f.width as u64, f.height as u64, max_pixels)?;
    let has_alpha = f.has_alpha != 0;
    let exif = riff_chunk(data, b"EXIF")
        .map(|e| parse_exif(e.strip_prefix(b"Exif\0\0").unwrap_or(e)))
        .unwrap_or_default();
    Ok(Some(Header {
        format: "webp",
        width: f.width as u32,
        height: f.height as u32,
        channels: if has_alpha { 4 } else { 3 },
        bit_depth: 8,
        has_alpha,
        exif,
        jpeg_quality: None,
        can_reduce: false,
        kind: Kind::WebP { has_alpha },
    }))
}

/// The payload of the first RIFF chunk named `id` in a WebP file.
fn riff_chunk<'a>(data: &'a [u8], id: &[u8; 4]) -> Option<&'a [u8]> {
    let mut i = 12;
    while i + 8 <= data.len() {
        let size = u32::from_le_bytes(data[i + 4..i + 8].try_into().ok()?) as usize;
        let body = data.get(i + 8..i + 8 + size)?;
        if &data[i..i + 4] == id {
            return Some(body);
        }
        i += 8 + size + (size & 1);
    }
    None
}

fn decode_webp(
    data: &[u8],
    w: usize,
    h: usize,
    has_alpha: bool,
    need_rgb: bool,
) -> Result<Decoded> {
    let ch = if has_alpha { 4 } else { 3 };
    let mut buf = vec![0u8; w * h * ch];
    let stride = (w * ch) as i32;
    // SAFETY: `buf` holds exactly h rows of `stride` bytes, the size libwebp is told.
    let out = unsafe {
        if has_alpha {
            libwebp_sys::WebPDecodeRGBAInto(
                data.as_ptr(),
                data.len(),
                buf.as_mut_ptr(),
                buf.len(),
                stride,
            )
        } else {
            libwebp_sys::WebPDecodeRGBInto(
                data.as_ptr(),
                data.len(),
                buf.as_mut_ptr(),
                buf.len(),
                stride,
            )
        }
    };
    if out.is_null() {
        return Err(corrupt("webp", "libwebp could not decode the image data"));
    }
    let (luma, rgb) = if has_alpha {
        rgba_composite(buf.chunks_exact(4).map(|p| [p[0], p[1], p[2], p[3]]))
    } else {
        (luma_from_rgb(&buf), Some(buf))
    };
    Ok(full_size(w, h, luma, rgb, need_rgb, false))
}

fn open_other(data: &[u8], f: ImageFormat, max_pixels: u64) -> Result<impl ImageDecoder + '_> {
    let mut reader = ImageReader::with_format(Cursor::new(data), f);
    reader.limits(limits(max_pixels));
    reader
        .into_decoder()
        .map_err(|e| image_error(format_name(f), e))
}

fn probe_other(data: &[u8], f: ImageFormat, max_pixels: u64) -> Result<Header> {
    let mut dec = open_other(data, f, max_pixels)?;
    header_of(&mut dec, data, f, max_pixels)
}

fn header_of(
    dec: &mut impl ImageDecoder,
    data: &[u8],
    f: ImageFormat,
    max_pixels: u64,
) -> Result<Header> {
    let name = format_name(f);
    let (w, h) = dec.dimensions();
    check_size(w as u64, h as u64, max_pixels)?;
    let ct = dec.original_color_type();
    let mut channels = ct.channel_count();
    let mut bit_depth = (ct.bits_per_pixel() / channels.max(1) as u16) as u8;
    let mut has_alpha = dec.color_type().has_alpha();
    match f {
        ImageFormat::Png => bit_depth = png_gray_depth(data).unwrap_or(bit_depth),
        ImageFormat::Gif => {
            if let Some(t) = gif_first_frame_transparent(data) {
                (channels, bit_depth, has_alpha) = (if t { 4 } else { 3 }, 8, t);
            }
        }
        _ => {}
    }
    let mut exif = dec
        .exif_metadata()
        .ok()
        .flatten()
        .map(|e| parse_exif(&e))
        .unwrap_or_default();
    if f == ImageFormat::Tiff {
        // A TIFF file is itself the TIFF structure EXIF uses: Orientation, Make and Model sit in
        // its first IFD, DateTimeOriginal in its EXIF sub-IFD.
        exif = exif.or(parse_exif(data));
    }
    Ok(Header {
        format: name,
        width: w,
        height: h,
        channels,
        bit_depth,
        has_alpha,
        exif,
        jpeg_quality: None,
        can_reduce: false,
        kind: Kind::Other(f),
    })
}

/// Probe, let `choose` pick the decode from the header (or none), and decode: one decoder
/// construction per file for the `image` crate's formats (it costs as much as decoding a
/// thumbnail). A decode failure after a good header keeps the header.
pub fn probe_and_decode(
    data: &[u8],
    max_pixels: u64,
    choose: impl FnOnce(&Header) -> Option<DecodeRequest>,
) -> Result<(Header, Option<Result<Decoded>>)> {
    match sniff(data)? {
        Some(f) if f != ImageFormat::WebP => {
            let mut dec = open_other(data, f, max_pixels)?;
            let header = header_of(&mut dec, data, f, max_pixels)?;
            let decoded = choose(&header).map(|req| decode_from(dec, f, req));
            Ok((header, decoded))
        }
        _ => {
            let header = probe(data, max_pixels)?;
            let decoded = choose(&header).map(|req| decode(data, &header, req, max_pixels));
            Ok((header, decoded))
        }
    }
}

/// Decode once, at `req.reduction` where the format allows it.
pub fn decode(
    data: &[u8],
    header: &Header,
    req: DecodeRequest,
    max_pixels: u64,
) -> Result<Decoded> {
    match &header.kind {
        Kind::Jpeg {
            markers,
            colorspace,
        } => decode_jpeg(data, markers, *colorspace, req),
        Kind::WebP { has_alpha } => decode_webp(
            data,
            header.width as usize,
            header.height as usize,
            *has_alpha,
            req.need_rgb,
        ),
        Kind::Other(f) => decode_other(data, *f, req, max_pixels),
    }
}

fn decode_jpeg(
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

fn decode_other(
    data: &[u8],
    f: ImageFormat,
    req: DecodeRequest,
    max_pixels: u64,
) -> Result<Decoded> {
    decode_from(open_other(data, f, max_pixels)?, f, req)
}

fn decode_from(dec: impl ImageDecoder, f: ImageFormat, req: DecodeRequest) -> Result<Decoded> {
    let name = format_name(f);
    let img = DynamicImage::from_decoder(dec).map_err(|e| image_error(name, e))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let gray_source = matches!(
        img,
        DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
    );
    let (luma, rgb) = match img {
        DynamicImage::ImageLuma8(b) => (b.into_raw(), None),
        DynamicImage::ImageLumaA8(b) => (
            luma_alpha_composite(b.into_raw().chunks_exact(2).map(|p| (p[0], p[1]))),
            None,
        ),
        DynamicImage::ImageLuma16(b) => (b.into_raw().into_iter().map(scale16).collect(), None),
        DynamicImage::ImageLumaA16(b) => (
            luma_alpha_composite(
                b.into_raw()
                    .chunks_exact(2)
                    .map(|p| (scale16(p[0]), scale16(p[1]))),
            ),
            None,
        ),
        DynamicImage::ImageRgb8(b) => {
            let rgb = b.into_raw();
            (luma_from_rgb(&rgb), Some(rgb))
        }
        DynamicImage::ImageRgba8(b) => rgba_composite(
            b.into_raw()
                .chunks_exact(4)
                .map(|p| [p[0], p[1], p[2], p[3]]),
        ),
        DynamicImage::ImageRgb16(b) => {
            let rgb: Vec<u8> = b.into_raw().into_iter().map(scale16).collect();
            (luma_from_rgb(&rgb), Some(rgb))
        }
        DynamicImage::ImageRgba16(b) => rgba_composite(
            b.into_raw()
                .chunks_exact(4)
                .map(|p| [scale16(p[0]), scale16(p[1]), scale16(p[2]), scale16(p[3])]),
        ),
        other => {
            let rgba = other.into_rgba8().into_raw();
            rgba_composite(rgba.chunks_exact(4).map(|p| [p[0], p[1], p[2], p[3]]))
        }
    };
    Ok(full_size(w, h, luma, rgb, req.need_rgb, gray_source))
}

/// A full-size decode; RGB is kept only when a colour metric asked for it.
fn full_size(
    width: usize,
    height: usize,
    luma: Vec<u8>,
    rgb: Option<Vec<u8>>,
    need_rgb: bool,
    gray_source: bool,
) -> Decoded {
    let rgb = if need_rgb { rgb } else { None };
    Decoded {
        pixels: Pixels {
            width,
            height,
            luma,
            rgb,
        },
        reduction: 1,
        gray_source,
    }
}

/// Composite RGBA over the contrasting background (see `color::contrasting_background`).
fn rgba_composite(px: impl Iterator<Item = [u8; 4]>) -> (Vec<u8>, Option<Vec<u8>>) {
    let px: Vec<[u8; 4]> = px.collect();
    let bg = contrasting_background(px.iter().map(|p| (pillow_luma(p[0], p[1], p[2]), p[3])));
    let mut rgb = Vec::with_capacity(px.len() * 3);
    let mut luma = Vec::with_capacity(px.len());
    for [r, g, b, a] in px {
        let (r, g, b) = (over(r, a, bg), over(g, a, bg), over(b, a, bg));
        rgb.extend_from_slice(&[r, g, b]);
        luma.push(pillow_luma(r, g, b));
    }
    (luma, Some(rgb))
}

fn luma_alpha_composite(px: impl Iterator<Item = (u8, u8)>) -> Vec<u8> {
    let px: Vec<(u8, u8)> = px.collect();
    let bg = contrasting_background(px.iter().copied());
    px.into_iter().map(|(l, a)| over(l, a, bg)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_classifies() {
        assert!(matches!(sniff(b""), Err(ImageError::Empty)));
        assert!(matches!(
            sniff(b"hello world"),
            Err(ImageError::UnknownFormat(_))
        ));
        assert!(matches!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(None)));
        assert!(matches!(
            sniff(b"\x89PNG\r\n\x1a\n"),
            Ok(Some(ImageFormat::Png))
        ));
    }

    #[test]
    fn png_bomb_is_refused_before_allocation() {
        // A valid PNG header claiming 60000x60000, with no image data.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&60000u32.to_be_bytes());
        ihdr.extend_from_slice(&60000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        // A few bytes of image data (an empty zlib stream) and the end chunk.
        for (kind, body) in [
            (&b"IDAT"[..], &[0x78u8, 0x9c, 0x03, 0, 0, 0, 0, 1][..]),
            (b"IEND", &[]),
        ] {
            let mut chunk = kind.to_vec();
            chunk.extend_from_slice(body);
            png.extend_from_slice(&(body.len() as u32).to_be_bytes());
            png.extend_from_slice(&chunk);
            png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        let err = probe(&png, 178_956_970).unwrap_err();
        assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
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
