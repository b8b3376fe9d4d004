//! PNG, GIF, BMP, TIFF, PNM and animated WebP through the `image` crate's pure-Rust decoders,
//! with one decoder construction per file (it costs as much as decoding a thumbnail).

use super::metadata::{gif_first_frame_transparent, parse_exif, png_gray_depth};
use super::{DecodeRequest, Decoded, Header, Kind, check_size, corrupt, full_size};
use crate::error::{ImageError, Result};
use crate::planes::{buffers, luma_alpha_composite, luma_from_rgb, rgba_composite_slice, scale16};
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
        let (luma, rgb) = rgba_composite_slice(&rgba);
        return Ok(full_size(w, h, luma, rgb, req.need_rgb, gray_source));
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
    // 16-bit samples are native-endian pairs of bytes.
    let wide = |b: &[u8]| scale16(u16::from_ne_bytes([b[0], b[1]]));
    let (luma, rgb) = match ct {
        ColorType::L8 => (buf, None),
        ColorType::La8 => {
            let luma = luma_alpha_composite(buf.chunks_exact(2).map(|p| (p[0], p[1])));
            buffers::give_back(buf);
            (luma, None)
        }
        ColorType::L16 => {
            let luma = buf.chunks_exact(2).map(wide).collect();
            buffers::give_back(buf);
            (luma, None)
        }
        ColorType::La16 => {
            let luma =
                luma_alpha_composite(buf.chunks_exact(4).map(|p| (wide(&p[..2]), wide(&p[2..]))));
            buffers::give_back(buf);
            (luma, None)
        }
        ColorType::Rgb8 => (luma_from_rgb(&buf), Some(buf)),
        ColorType::Rgba8 => {
            let out = rgba_composite_slice(&buf);
            buffers::give_back(buf);
            out
        }
        ColorType::Rgb16 => {
            let rgb: Vec<u8> = buf.chunks_exact(2).map(wide).collect();
            buffers::give_back(buf);
            (luma_from_rgb(&rgb), Some(rgb))
        }
        _ => {
            // Rgba16 (the only other type that reaches here).
            let rgba: Vec<u8> = buf.chunks_exact(2).map(wide).collect();
            buffers::give_back(buf);
            rgba_composite_slice(&rgba)
        }
    };
    Ok(full_size(w, h, luma, rgb, req.need_rgb, gray_source))
}

/// Largest image the plain-grey PNG path takes (pixels): small files are where the generic
/// decoder's set-up (reader, limits, streaming state, table allocations) weighs most.
const PLAIN_GRAY_MAX_PIXELS: u64 = 1 << 20;

/// The header of a plain 8-bit greyscale PNG — signature, IHDR (8-bit grey, no interlace), one or
/// more IDAT, IEND with nothing after it, every chunk's CRC correct — as [`header_of`] gives it;
/// `None` for every other file, which then takes the generic decoder. Such a file has no EXIF
/// (no eXIf chunk), no transparency (no tRNS) and no palette, so header and pixels are fully
/// determined by IHDR and the image data.
pub(super) fn plain_gray8_header(data: &[u8], max_pixels: u64) -> Option<Header> {
    let mut idat = false;
    for_each_chunk(data, |kind, _body| {
        idat |= kind == *b"IDAT";
    })?;
    if !idat {
        return None;
    }
    // IHDR is the first chunk (checked by the walk): width, height, depth, colour type,
    // compression, filter, interlace.
    let ihdr = &data[16..29];
    let w = u32::from_be_bytes(ihdr[0..4].try_into().ok()?);
    let h = u32::from_be_bytes(ihdr[4..8].try_into().ok()?);
    let pixels = u64::from(w) * u64::from(h);
    if ihdr[8..13] != [8, 0, 0, 0, 0]
        || pixels == 0
        || pixels > max_pixels.min(PLAIN_GRAY_MAX_PIXELS)
    {
        return None;
    }
    Some(Header {
        format: format_name(ImageFormat::Png),
        width: w,
        height: h,
        channels: 1,
        bit_depth: 8,
        has_alpha: false,
        exif: Default::default(),
        jpeg_quality: None,
        can_reduce: false,
        kind: Kind::Other(ImageFormat::Png),
    })
}

/// Calls `f(kind, body)` for each chunk of a PNG laid out as IHDR, IDAT…, IEND (and nothing
/// after IEND), with each CRC checked; `None` when the file is not laid out that way.
fn for_each_chunk<'a>(data: &'a [u8], mut f: impl FnMut([u8; 4], &'a [u8])) -> Option<()> {
    let mut rest = data.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    let mut index = 0;
    loop {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
        let body = rest.get(8..8 + len)?;
        let crc = u32::from_be_bytes(rest.get(8 + len..12 + len)?.try_into().ok()?);
        if crc32fast::hash(&rest[4..8 + len]) != crc {
            return None;
        }
        let expected = match (index, &kind) {
            (0, b"IHDR") => len == 13,
            (0, _) | (_, b"IHDR") => false,
            (_, b"IDAT") => true,
            (_, b"IEND") => len == 0 && rest.len() == 12,
            _ => false, // any other chunk: the generic decoder decides what it means
        };
        if !expected {
            return None;
        }
        f(kind, body);
        if kind == *b"IEND" {
            return Some(());
        }
        rest = &rest[12 + len..];
        index += 1;
    }
}

/// Decode a file [`plain_gray8_header`] accepted: inflate the IDAT stream and undo the row
/// filters (the PNG specification's, for one byte per pixel), the same bytes the `png` crate
/// produces. Anything irregular in the stream (short, long, corrupt, a bad filter type) is left
/// to the generic decoder, so errors read exactly as before.
pub(super) fn decode_plain_gray8(
    data: &[u8],
    header: &Header,
    req: DecodeRequest,
    max_pixels: u64,
) -> Result<Decoded> {
    let (w, h) = (header.width as usize, header.height as usize);
    match inflate_unfilter_gray8(data, w, h) {
        Some(luma) => Ok(full_size(w, h, luma, None, req.need_rgb, true)),
        None => decode(data, ImageFormat::Png, req, max_pixels),
    }
}

fn inflate_unfilter_gray8(data: &[u8], w: usize, h: usize) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(1);
    for_each_chunk(data, |kind, body| {
        if kind == *b"IDAT" {
            parts.push(body);
        }
    })?;
    let joined;
    let stream: &[u8] = if parts.len() == 1 {
        parts[0]
    } else {
        joined = parts.concat();
        &joined
    };
    let stride = w + 1; // a filter-type byte, then the row
    let mut raw = vec![0u8; stride * h];
    // libdeflate inflates these small streams in about half the time of the `png` crate's
    // inflater (most of which goes to building its large decode tables per file). It also
    // checks the Adler-32 the `png` crate ignores: a mismatch falls back to the generic decoder.
    thread_local! {
        static INFLATER: std::cell::RefCell<libdeflater::Decompressor> =
            std::cell::RefCell::new(libdeflater::Decompressor::new());
    }
    let written = INFLATER.with(|d| d.borrow_mut().zlib_decompress(stream, &mut raw).ok())?;
    if written != raw.len() {
        return None;
    }
    let mut luma = vec![0u8; w * h];
    let mut prev: &[u8] = &[];
    for (row, out) in raw.chunks_exact(stride).zip(luma.chunks_exact_mut(w)) {
        unfilter_row(row[0], &row[1..], prev, out)?;
        prev = out;
    }
    Some(luma)
}

/// One row of 8-bit, one-channel pixels; `prev` is the row above, already unfiltered (empty
/// for the first row, which reads zeros above it).
fn unfilter_row(filter: u8, row: &[u8], prev: &[u8], out: &mut [u8]) -> Option<()> {
    if prev.is_empty() {
        // First row: above and upper-left are 0, so Up copies, Avg adds left/2 and Paeth picks
        // left (p − left = 0 − 0 is the smallest distance) — i.e. Sub.
        match filter {
            0 | 2 => out.copy_from_slice(row),
            1 | 4 => unfilter_row_with_above(1, row, &[], out)?,
            3 => {
                let mut left = 0u8;
                for (o, &x) in out.iter_mut().zip(row) {
                    left = x.wrapping_add(left / 2);
                    *o = left;
                }
            }
            _ => return None,
        }
        return Some(());
    }
    unfilter_row_with_above(filter, row, prev, out)
}

/// [`unfilter_row`] with the row above (`prev.len() == row.len()`, or shorter than the row only
/// for filters that do not read it: None and Sub).
fn unfilter_row_with_above(filter: u8, row: &[u8], prev: &[u8], out: &mut [u8]) -> Option<()> {
    match filter {
        0 => out.copy_from_slice(row),
        1 => {
            let mut left = 0u8;
            for (o, &x) in out.iter_mut().zip(row) {
                left = x.wrapping_add(left);
                *o = left;
            }
        }
        2 => {
            // Whole-row adds (vectorised): no bounds check per pixel.
            for ((o, &x), &above) in out.iter_mut().zip(row).zip(prev) {
                *o = x.wrapping_add(above);
            }
        }
        3 => {
            let mut left = 0u8;
            for ((o, &x), &above) in out.iter_mut().zip(row).zip(prev) {
                left = x.wrapping_add(((u16::from(left) + u16::from(above)) / 2) as u8);
                *o = left;
            }
        }
        4 => {
            let (mut left, mut upleft) = (0u8, 0u8);
            for ((o, &x), &above) in out.iter_mut().zip(row).zip(prev) {
                left = x.wrapping_add(paeth(left, above, upleft));
                upleft = above;
                *o = left;
            }
        }
        _ => return None,
    }
    Some(())
}

/// The PNG Paeth predictor: whichever of left, above, upper-left is nearest to
/// left + above − upper-left (ties in that order). Written with selects rather than branches:
/// on photographic rows the branches mispredict about every other pixel, and each pixel waits
/// for the one before (its `left`).
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    // p − a = b − c, p − b = a − c, p − c = a + b − 2c.
    let pa = (ib - ic).abs();
    let pb = (ia - ic).abs();
    let pc = (ia + ib - 2 * ic).abs();
    let bc = if pb <= pc { b } else { c };
    if (pa <= pb) & (pa <= pc) { a } else { bc }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::{ExtendedColorType, ImageEncoder};

    const MAX: u64 = crate::scan::DEFAULT_MAX_PIXELS;
    const REQ: DecodeRequest = DecodeRequest {
        reduction: 1,
        need_rgb: true,
        rgb_rows: crate::decode::RowWants::NONE,
    };

    fn gray_png(w: u32, h: u32, seed: u64, c: CompressionType, f: FilterType) -> Vec<u8> {
        // Noise over a gradient, so every filter type has something to predict.
        let noise = crate::test_support::noise_bytes((w * h) as usize, seed);
        let px: Vec<u8> = noise
            .iter()
            .enumerate()
            .map(|(i, &n)| ((i as u32 % w) * 7 + (i as u32 / w) * 3) as u8 ^ (n >> 5))
            .collect();
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, c, f)
            .write_image(&px, w, h, ExtendedColorType::L8)
            .unwrap();
        out
    }

    /// The generic decoder's (header, pixels or error) as comparable text.
    fn generic(data: &[u8]) -> (String, String) {
        let header = probe(data, ImageFormat::Png, MAX).map(|h| format!("{h:?}"));
        let pixels = decode(data, ImageFormat::Png, REQ, MAX).map(|d| d.pixels.luma);
        (format!("{header:?}"), format!("{pixels:?}"))
    }

    fn fast(data: &[u8]) -> Option<(String, String)> {
        let h = plain_gray8_header(data, MAX)?;
        let pixels = decode_plain_gray8(data, &h, REQ, MAX).map(|d| d.pixels.luma);
        Some((
            format!("{:?}", Ok::<_, ()>(format!("{h:?}"))),
            format!("{pixels:?}"),
        ))
    }

    fn crc_fixed(mut png: Vec<u8>) -> Vec<u8> {
        let mut i = 8;
        while i + 12 <= png.len() {
            let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
            let crc = crc32fast::hash(&png[i + 4..i + 8 + len]);
            png[i + 8 + len..i + 12 + len].copy_from_slice(&crc.to_be_bytes());
            i += 12 + len;
        }
        png
    }

    #[test]
    fn paeth_is_the_specification_s_predictor() {
        // The PNG specification's pseudocode, branch for branch, on every (a, b, c).
        fn spec(a: u8, b: u8, c: u8) -> u8 {
            let p = i32::from(a) + i32::from(b) - i32::from(c);
            let (pa, pb, pc) = (
                (p - i32::from(a)).abs(),
                (p - i32::from(b)).abs(),
                (p - i32::from(c)).abs(),
            );
            if pa <= pb && pa <= pc {
                a
            } else if pb <= pc {
                b
            } else {
                c
            }
        }
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    assert_eq!(paeth(a, b, c), spec(a, b, c), "{a} {b} {c}");
                }
            }
        }
    }

    #[test]
    fn plain_gray_pngs_decode_as_the_generic_decoder_does() {
        let filters = [
            FilterType::NoFilter,
            FilterType::Sub,
            FilterType::Up,
            FilterType::Avg,
            FilterType::Paeth,
            FilterType::Adaptive,
        ];
        let mut taken = 0;
        for (i, (w, h)) in [(1, 1), (28, 28), (3, 70), (64, 9), (65, 3), (300, 200)]
            .into_iter()
            .enumerate()
        {
            for f in filters {
                for c in [CompressionType::Fast, CompressionType::Best] {
                    let png = gray_png(w, h, i as u64, c, f);
                    let got = fast(&png).expect("a plain grey PNG takes the fast path");
                    assert_eq!(got, generic(&png), "{w}x{h} {f:?} {c:?}");
                    taken += 1;
                }
            }
        }
        assert_eq!(taken, 72);
    }

    #[test]
    fn damaged_or_other_pngs_read_exactly_as_before() {
        let png = gray_png(28, 28, 7, CompressionType::Best, FilterType::Adaptive);
        let idat = 8 + 25; // after the signature and IHDR
        // A bad CRC, a truncated file, bytes after IEND: not plain, the generic path decides.
        let mut bad_crc = png.clone();
        bad_crc[idat + 10] ^= 1;
        let not_plain = [
            bad_crc,
            png[..png.len() - 5].to_vec(),
            [png.clone(), b"junk".to_vec()].concat(),
        ];
        for data in &not_plain {
            assert!(plain_gray8_header(data, MAX).is_none());
        }
        // Every single-byte change of the image data with the CRC made right again: the fast
        // path gives the generic decoder's pixels, or falls back to it and gives its error.
        let mut fell_back = 0;
        let data_len = u32::from_be_bytes(png[idat..idat + 4].try_into().unwrap()) as usize;
        for k in 0..data_len {
            for bit in [0x01u8, 0x80] {
                let mut d = png.clone();
                d[idat + 8 + k] ^= bit;
                let d = crc_fixed(d);
                let (want, got) = (generic(&d), fast(&d).expect("still plain"));
                assert_eq!(got, want, "byte {k} ^ {bit:#x}");
                fell_back += usize::from(want.1.starts_with("Err"));
            }
        }
        assert!(fell_back > 0, "some damage must reach the error path");
        // Colour, 16-bit, with alpha: never the plain path.
        for (color, bytes) in [
            (ExtendedColorType::Rgb8, 3),
            (ExtendedColorType::La8, 2),
            (ExtendedColorType::L16, 2),
        ] {
            let mut out = Vec::new();
            PngEncoder::new(&mut out)
                .write_image(&vec![9u8; 4 * 4 * bytes], 4, 4, color)
                .unwrap();
            assert!(plain_gray8_header(&out, MAX).is_none(), "{color:?}");
        }
    }
}
