//! Decoding: format sniffing, header probing (no pixels), and one decode at a reduced scale.
//!
//! One file per back-end: `jpeg.rs` (libjpeg-turbo: DCT-domain scaling, Pillow-identical
//! pixels; `jpeg_memory.rs` gives its large blocks from the buffer pool), `webp.rs` (libwebp for
//! still images, what Pillow uses), `png_plain.rs` (small plain 8-bit PNGs: libdeflate and our
//! unfiltering), `image_crate.rs` (the `image` crate for other PNG, GIF, BMP, TIFF, PNM and
//! animated WebP). `metadata.rs` reads what the file says about itself without decoding (JPEG
//! markers, EXIF, PNG/GIF header facts) and `jpeg_quality.rs` estimates the encoder quality from
//! the quantisation tables. Every back-end hands back [`crate::planes::Pixels`], and what
//! `rgb_rows.rs` measured on the RGB rows while they were made: a full-size YCbCr JPEG's rows
//! are never stored whole, and a decoder's whole RGB image is walked once for every result.
//!
//! A new input format: sniff it in [`sniff`], add a `Kind` variant and a file with `probe` and
//! `decode`, and dispatch to them in [`probe`] and [`decode`].

mod image_crate;
mod jpeg;
mod jpeg_memory;
mod jpeg_quality;
mod metadata;
mod png_plain;
mod rgb_rows;
mod webp;

pub use metadata::ExifInfo;
pub use rgb_rows::{RowMeasures, RowWants, measure_rgb_rows};

use crate::error::{ImageError, Result};
use crate::planes::{Pixels, buffers, luma_alpha_composite};
use image::ImageFormat;
use metadata::JpegMarkers;
use rgb_rows::{composite_and_measures, luma_and_measures_of_rgb};

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

/// Which back-end decodes the file, with what it learnt while probing.
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
    /// What to measure on RGB rows when the decoder makes them one at a time (a full-size YCbCr
    /// JPEG decoded to its planes); other decodes ignore it and keep `pixels.rgb`.
    pub rgb_rows: RowWants,
}

/// Decoded pixels and the reduction actually applied.
pub struct Decoded {
    pub pixels: Pixels,
    pub reduction: usize,
    /// The source has no colour (grayscale JPEG, L/LA PNG...): colour metrics are trivially gray.
    pub gray_source: bool,
    /// What was measured on the RGB rows while the decode made them (a planar decode, then
    /// `pixels.ycbcr` is set, or a decoder's whole RGB image); `None` when nothing was asked.
    pub rgb_rows: Option<RowMeasures>,
}

/// The format of `data`: `None` for JPEG (libjpeg-turbo), `Some` for the `image` crate's
/// formats (still WebP is then routed to libwebp).
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

fn corrupt(format: &'static str, e: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt {
        format,
        message: e.to_string(),
    }
}

/// Read the header and metadata; refuses images over `max_pixels` before any pixel allocation.
pub fn probe(data: &[u8], max_pixels: u64) -> Result<Header> {
    match sniff(data)? {
        None => jpeg::probe(data, max_pixels),
        Some(ImageFormat::WebP) => match webp::probe(data, max_pixels)? {
            Some(h) => Ok(h),
            None => image_crate::probe(data, ImageFormat::WebP, max_pixels), // animated
        },
        Some(f) => image_crate::probe(data, f, max_pixels),
    }
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
        // Plain 8-bit PNGs skip the generic decoder (`png_plain.rs`); any other PNG, and any
        // irregular one, takes the generic path below.
        Some(ImageFormat::Png) if let Some(header) = png_plain::plain_header(data, max_pixels) => {
            let decoded =
                choose(&header).map(|req| png_plain::decode_plain(data, &header, req, max_pixels));
            Ok((header, decoded))
        }
        Some(f) if f != ImageFormat::WebP => {
            let mut dec = image_crate::open(data, f, max_pixels)?;
            let header = image_crate::header_of(&mut dec, data, f, max_pixels)?;
            let decoded = choose(&header).map(|req| image_crate::decode_from(dec, f, req));
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
        } => jpeg::decode(data, markers, *colorspace, req),
        Kind::WebP { has_alpha } => webp::decode(
            data,
            header.width as usize,
            header.height as usize,
            *has_alpha,
            req,
        ),
        Kind::Other(f) => image_crate::decode(data, *f, req, max_pixels),
    }
}

/// Luma, and RGB with what `want` asks for measured on its rows (`rgb_rows.rs`), from a `w`×`h`
/// image of interleaved 8-bit pixels of `channels` = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4
/// (RGBA), alpha composited; `px` is kept as the plane it already is (grey, RGB) or given back
/// to the buffer pool.
fn interleaved8(
    px: Vec<u8>,
    channels: usize,
    w: usize,
    h: usize,
    want: RowWants,
) -> (Vec<u8>, Option<Vec<u8>>, Option<RowMeasures>) {
    match channels {
        1 => (px, None, None),
        2 => {
            let luma = luma_alpha_composite(px.chunks_exact(2).map(|p| (p[0], p[1])));
            buffers::give_back(px);
            (luma, None, None)
        }
        3 => {
            let (luma, measures) = luma_and_measures_of_rgb(&px, w, h, want);
            (luma, Some(px), measures)
        }
        _ => {
            let (luma, rgb, measures) = composite_and_measures(&px, w, h, want);
            buffers::give_back(px);
            (luma, Some(rgb), measures)
        }
    }
}

/// A full-size decode; RGB is kept only when a colour metric asked for it.
fn full_size(
    width: usize,
    height: usize,
    (luma, rgb, rgb_rows): (Vec<u8>, Option<Vec<u8>>, Option<RowMeasures>),
    need_rgb: bool,
    gray_source: bool,
) -> Decoded {
    let rgb = match rgb {
        Some(rgb) if !need_rgb => {
            buffers::give_back(rgb);
            None
        }
        rgb => rgb,
    };
    Decoded {
        pixels: Pixels {
            width,
            height,
            luma,
            rgb,
            ycbcr: None,
        },
        reduction: 1,
        gray_source,
        rgb_rows,
    }
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
}
