//! Still WebP through libwebp (what Pillow uses; the pure-Rust decoder was ~40 % slower here).
//! Animated WebP goes to the `image` crate (`image_crate.rs`).

use super::metadata::parse_exif;
use super::{DecodeRequest, Decoded, Header, Kind, check_size, corrupt, full_size, interleaved8};
use crate::error::Result;
use crate::planes::buffers;

/// Still WebP through libwebp; `None` for animated files (left to the `image` crate).
pub(super) fn probe(data: &[u8], max_pixels: u64) -> Result<Option<Header>> {
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

pub(super) fn decode(
    data: &[u8],
    w: usize,
    h: usize,
    has_alpha: bool,
    req: DecodeRequest,
) -> Result<Decoded> {
    let ch = if has_alpha { 4 } else { 3 };
    // A previous image's bytes: libwebp writes every row of a decode it reports as done, and a
    // failed one is an error (the buffer is never read).
    let mut buf = buffers::overwritten(w * h * ch);
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
        buffers::give_back(buf);
        return Err(corrupt("webp", "libwebp could not decode the image data"));
    }
    let planes = interleaved8(buf, ch, w, h, req.rgb_rows);
    Ok(full_size(w, h, planes, req.need_rgb, false))
}
