//! PNG, GIF, BMP, TIFF, PNM and animated WebP through the `image` crate's pure-Rust decoders,
//! with one decoder construction per file (it costs as much as decoding a thumbnail).

use super::metadata::{gif_first_frame_transparent, parse_exif, png_gray_depth};
use super::{DecodeRequest, Decoded, Header, Kind, check_size, corrupt, full_size};
use crate::error::{ImageError, Result};
use crate::planes::{luma_alpha_composite, luma_from_rgb, rgba_composite, scale16};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

pub(super) fn format_name(f: ImageFormat) -> &'static str {
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

fn limits(max_pixels: u64) -> Limits {
    let mut l = Limits::default();
    // Room for the largest allowed image as 16-bit RGBA plus decoder scratch; anything beyond is
    // refused before allocation.
    l.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    l
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

pub(super) fn open(data: &[u8], f: ImageFormat, max_pixels: u64) -> Result<impl ImageDecoder + '_> {
    let mut reader = ImageReader::with_format(Cursor::new(data), f);
    reader.limits(limits(max_pixels));
    reader
        .into_decoder()
        .map_err(|e| image_error(format_name(f), e))
}

pub(super) fn probe(data: &[u8], f: ImageFormat, max_pixels: u64) -> Result<Header> {
    let mut dec = open(data, f, max_pixels)?;
    header_of(&mut dec, data, f, max_pixels)
}

pub(super) fn header_of(
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

pub(super) fn decode(
    data: &[u8],
    f: ImageFormat,
    req: DecodeRequest,
    max_pixels: u64,
) -> Result<Decoded> {
    decode_from(open(data, f, max_pixels)?, f, req)
}

pub(super) fn decode_from(
    dec: impl ImageDecoder,
    f: ImageFormat,
    req: DecodeRequest,
) -> Result<Decoded> {
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
