//! PNG, GIF, BMP, TIFF, PNM and animated WebP through the `image` crate's pure-Rust decoders,
//! with one decoder construction per file (it costs as much as decoding a thumbnail).

use super::metadata::{gif_first_frame_transparent, parse_exif, png_gray_depth};
use super::{DecodeRequest, Decoded, Header, Kind, check_size, corrupt, full_size, interleaved8};
use crate::error::{ImageError, Result};
use crate::planes::{buffers, scale16};
use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
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
    let (w, h) = dec.dimensions();
    let (w, h) = (w as usize, h as usize);
    let ct = dec.color_type();
    let gray_source = matches!(
        ct,
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16
    );
    if !matches!(
        ct,
        ColorType::L8
            | ColorType::La8
            | ColorType::L16
            | ColorType::La16
            | ColorType::Rgb8
            | ColorType::Rgba8
            | ColorType::Rgb16
            | ColorType::Rgba16
    ) {
        // Float samples (OpenEXR-like TIFF): the image crate's own conversion to 8-bit RGBA.
        let img = DynamicImage::from_decoder(dec).map_err(|e| image_error(name, e))?;
        let rgba = img.into_rgba8().into_raw();
        let planes = interleaved8(rgba, 4, w, h, req.rgb_rows);
        return Ok(full_size(w, h, planes, req.need_rgb, gray_source));
    }
    // The decoder writes into a buffer a previous image on this thread gave back (no fresh
    // pages to fault in: measured ~55 % of a full scan's page faults on the wallpaper corpus
    // came from the PNG output buffers). The PNG decoder writes every byte of a successful
    // decode; other formats (GIF frames over a canvas...) get zeros.
    let n = usize::try_from(dec.total_bytes())
        .map_err(|_| corrupt(name, "image larger than the address space"))?;
    let mut buf = if f == ImageFormat::Png {
        buffers::overwritten(n)
    } else {
        buffers::zeroed(n)
    };
    if let Err(e) = dec.read_image(&mut buf) {
        buffers::give_back(buf);
        return Err(image_error(name, e));
    }
    let channels = usize::from(ct.channel_count());
    let planes = if ct.bytes_per_pixel() == 2 * ct.channel_count() {
        // 16-bit samples (native-endian pairs of bytes) brought to 8 bits first.
        let mut narrow = buffers::overwritten(buf.len() / 2);
        for (o, b) in narrow.iter_mut().zip(buf.chunks_exact(2)) {
            *o = scale16(u16::from_ne_bytes([b[0], b[1]]));
        }
        buffers::give_back(buf);
        interleaved8(narrow, channels, w, h, req.rgb_rows)
    } else {
        interleaved8(buf, channels, w, h, req.rgb_rows)
    };
    Ok(full_size(w, h, planes, req.need_rgb, gray_source))
}
