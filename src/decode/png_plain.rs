//! Plain 8-bit PNGs — grey, grey + alpha, RGB or RGBA, not interlaced, every CRC right, and no
//! chunk that changes the pixels or the metadata (transparency key, palette, EXIF, animation) —
//! decoded without the generic decoder: libdeflate inflates the whole IDAT stream at once, and
//! the row filters are undone here. The pixels and the header are the generic decoder's (tested
//! on every filter type, both compressions, every colour type and every single-byte corruption
//! of the image data); anything irregular goes to the generic decoder, so errors read as before.
//!
//! Why: on small files the generic decoder's set-up (reader, limits, streaming state, table
//! allocations) costs as much as decoding a 28×28 image. Only up to [`PLAIN_MAX_PIXELS`]: on
//! large files the `png` crate's streaming inflater unfilters each row while it is still in
//! cache, whereas inflating the whole image first sends it through memory twice — on the 58
//! wallpaper PNGs (4 MP on average) this path took 1.24 s of CPU against the `png` crate's 0.90
//! (perf samples of a one-thread scan), although libdeflate alone inflates faster than the
//! `png` crate's inflater (0.32 vs 0.46 s).

use super::image_crate::{decode as generic_decode, format_name};
use super::{DecodeRequest, Decoded, Header, Kind, full_size, interleaved8};
use crate::error::Result;
use crate::planes::buffers;
use image::ImageFormat;

/// Largest image this path takes (pixels); larger ones take the generic decoder.
const PLAIN_MAX_PIXELS: u64 = 1 << 20;

/// The header of a plain 8-bit PNG (see the module docs) as the generic decoder gives it;
/// `None` for every other file, which then takes the generic decoder.
pub(super) fn plain_header(data: &[u8], max_pixels: u64) -> Option<Header> {
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
    let channels = match ihdr[9] {
        0 => 1, // grey
        4 => 2, // grey + alpha
        2 => 3, // RGB
        6 => 4, // RGBA
        _ => return None,
    };
    let pixels = u64::from(w) * u64::from(h);
    if ihdr[8] != 8
        || ihdr[10..13] != [0, 0, 0]
        || pixels == 0
        || pixels > max_pixels.min(PLAIN_MAX_PIXELS)
    {
        return None;
    }
    Some(Header {
        format: format_name(ImageFormat::Png),
        width: w,
        height: h,
        channels,
        bit_depth: 8,
        has_alpha: channels % 2 == 0,
        exif: Default::default(),
        jpeg_quality: None,
        can_reduce: false,
        kind: Kind::Other(ImageFormat::Png),
    })
}

/// Calls `f(kind, body)` for each chunk of a PNG laid out as IHDR, then IDAT and ancillary
/// chunks, then IEND with nothing after it, each CRC checked; `None` when the file is not laid
/// out that way or has a chunk the generic decoder would act on.
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
            // A transparency key adds alpha, eXIf is EXIF (orientation), and the APNG chunks
            // make frames: the generic decoder reads those.
            (_, b"tRNS" | b"eXIf" | b"acTL" | b"fcTL" | b"fdAT") => false,
            // Other ancillary chunks (colour profile, gamma, text, time...): decoders ignore
            // them. Critical ones (a palette, unknown ones): the generic decoder decides.
            (_, k) => k[0].is_ascii_lowercase(),
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

/// Decode a file [`plain_header`] accepted. Anything irregular in the stream (short, long,
/// corrupt, a bad filter type) is left to the generic decoder.
pub(super) fn decode_plain(
    data: &[u8],
    header: &Header,
    req: DecodeRequest,
    max_pixels: u64,
) -> Result<Decoded> {
    let (w, h, c) = (
        header.width as usize,
        header.height as usize,
        header.channels as usize,
    );
    match inflate_unfilter(data, w, h, c) {
        Some(px) => {
            let planes = interleaved8(px, c, w, h, req.rgb_rows);
            Ok(full_size(w, h, planes, req.need_rgb, c <= 2))
        }
        None => generic_decode(data, ImageFormat::Png, req, max_pixels),
    }
}

/// The IDAT stream inflated and unfiltered: `h` rows of `w·c` bytes.
fn inflate_unfilter(data: &[u8], w: usize, h: usize, c: usize) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(1);
    for_each_chunk(data, |kind, body| {
        if kind == *b"IDAT" {
            parts.push(body);
        }
    })?;
    let mut joined = None;
    let stream: &[u8] = if let [one] = parts[..] {
        one
    } else {
        let mut all = buffers::empty(parts.iter().map(|p| p.len()).sum());
        parts.iter().for_each(|p| all.extend_from_slice(p));
        &joined.insert(all)[..]
    };
    let row_len = w * c;
    let stride = row_len + 1; // a filter-type byte, then the row
    // libdeflate also checks the Adler-32 the `png` crate ignores: a mismatch falls back to the
    // generic decoder. Every byte of `raw` is written when it reports `raw.len()` bytes.
    thread_local! {
        static INFLATER: std::cell::RefCell<libdeflater::Decompressor> =
            std::cell::RefCell::new(libdeflater::Decompressor::new());
    }
    let mut raw = buffers::overwritten(stride * h);
    let written = INFLATER.with(|d| d.borrow_mut().zlib_decompress(stream, &mut raw).ok());
    if let Some(all) = joined {
        buffers::give_back(all);
    }
    let mut out = (written == Some(raw.len())).then(|| buffers::overwritten(row_len * h));
    if let Some(px) = &mut out {
        // What the first row sees above it (no allocation for rows up to 4 KB).
        static ZEROS: [u8; 4096] = [0; 4096];
        let long_zeros;
        let zeros: &[u8] = match ZEROS.get(..row_len) {
            Some(z) => z,
            None => {
                long_zeros = vec![0u8; row_len];
                &long_zeros
            }
        };
        let ok = match c {
            1 => unfilter_rows::<1>(&raw, px, zeros),
            2 => unfilter_rows::<2>(&raw, px, zeros),
            3 => unfilter_rows::<3>(&raw, px, zeros),
            _ => unfilter_rows::<4>(&raw, px, zeros),
        };
        if ok.is_none() {
            buffers::give_back(std::mem::take(px));
            buffers::give_back(raw);
            return None;
        }
    }
    buffers::give_back(raw);
    out
}

/// Every row of `raw` (a filter-type byte, then the row) unfiltered into `px`; `zeros` is what
/// the first row sees above it (a row's length of zeros). `None` for an unknown filter type.
fn unfilter_rows<const BPP: usize>(raw: &[u8], px: &mut [u8], zeros: &[u8]) -> Option<()> {
    let row_len = zeros.len();
    let mut above = zeros;
    for (row, out) in raw
        .chunks_exact(row_len + 1)
        .zip(px.chunks_exact_mut(row_len))
    {
        unfilter::<BPP>(row[0], &row[1..], above, out)?;
        above = out;
    }
    Some(())
}

/// One row of `BPP`-byte pixels: `row` is the filtered bytes, `above` the unfiltered row above
/// (zeros for the first row), `out` receives the unfiltered row. `None` for an unknown filter.
/// Each channel is its own chain (its left neighbour is `BPP` bytes back), so the channels of a
/// pixel run side by side.
#[inline(always)]
fn unfilter<const BPP: usize>(filter: u8, row: &[u8], above: &[u8], out: &mut [u8]) -> Option<()> {
    // Pixels as arrays: the channel loops below have constant bounds.
    #[allow(clippy::type_complexity)]
    fn pixels<'a, const BPP: usize>(
        out: &'a mut [u8],
        row: &'a [u8],
        above: &'a [u8],
    ) -> std::iter::Zip<
        std::iter::Zip<std::slice::IterMut<'a, [u8; BPP]>, std::slice::Iter<'a, [u8; BPP]>>,
        std::slice::Iter<'a, [u8; BPP]>,
    > {
        let (o, x, b) = (
            out.as_chunks_mut().0,
            row.as_chunks().0,
            above.as_chunks().0,
        );
        o.iter_mut().zip(x).zip(b)
    }
    match filter {
        0 => out.copy_from_slice(row),
        1 => {
            let mut left = [0u8; BPP];
            for ((o, x), _) in pixels::<BPP>(out, row, above) {
                for c in 0..BPP {
                    left[c] = x[c].wrapping_add(left[c]);
                    o[c] = left[c];
                }
            }
        }
        2 => {
            // Whole-row adds (vectorised): no bounds check per pixel.
            for ((o, &x), &b) in out.iter_mut().zip(row).zip(above) {
                *o = x.wrapping_add(b);
            }
        }
        3 => {
            let mut left = [0u8; BPP];
            for ((o, x), b) in pixels::<BPP>(out, row, above) {
                for c in 0..BPP {
                    let mean = ((u16::from(left[c]) + u16::from(b[c])) / 2) as u8;
                    left[c] = x[c].wrapping_add(mean);
                    o[c] = left[c];
                }
            }
        }
        4 => {
            let (mut left, mut upleft) = ([0u8; BPP], [0u8; BPP]);
            for ((o, x), b) in pixels::<BPP>(out, row, above) {
                for c in 0..BPP {
                    left[c] = x[c].wrapping_add(paeth(left[c], b[c], upleft[c]));
                    upleft[c] = b[c];
                    o[c] = left[c];
                }
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
    // stb_image's branch-free form of the specification's predictor (tested equal on every
    // input): with lo, hi the smaller and larger of a and b, the prediction is hi when
    // 3c − (a + b) ≤ lo, lo when hi ≤ 3c − (a + b), else c. Each byte's left neighbour `a` is the
    // previous byte's result, so the steps from `a` to the output are the row's latency: here a
    // subtraction (or min/max), a compare and two selects, where the three distances took an
    // absolute value, two compares and two selects (a 28×28 PNG: 4.39 -> 3.95 µs to decode).
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let thresh = 3 * ic - (ia + ib);
    let (lo, hi) = (ia.min(ib), ia.max(ib));
    let t0 = if hi <= thresh { lo } else { ic };
    (if thresh <= lo { hi } else { t0 }) as u8
}

#[cfg(test)]
mod tests {
    use super::super::image_crate::probe;
    use super::*;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::{ExtendedColorType, ImageEncoder};

    const MAX: u64 = crate::scan::DEFAULT_MAX_PIXELS;
    const REQ: DecodeRequest = DecodeRequest {
        reduction: 1,
        need_rgb: true,
        rgb_rows: crate::decode::RowWants::NONE,
    };
    const COLORS: [(ExtendedColorType, u32); 4] = [
        (ExtendedColorType::L8, 1),
        (ExtendedColorType::La8, 2),
        (ExtendedColorType::Rgb8, 3),
        (ExtendedColorType::Rgba8, 4),
    ];

    fn png(
        w: u32,
        h: u32,
        seed: u64,
        color: (ExtendedColorType, u32),
        c: CompressionType,
        f: FilterType,
    ) -> Vec<u8> {
        // Noise over a gradient, so every filter type has something to predict; the alpha
        // channel (the last of 2 or 4) gets the same, so compositing sees every level.
        let n = (w * h * color.1) as usize;
        let noise = crate::test_support::noise_bytes(n, seed);
        let px: Vec<u8> = noise
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let p = i as u32 / color.1;
                ((p % w) * 7 + (p / w) * 3 + i as u32 % color.1 * 50) as u8 ^ (v >> 5)
            })
            .collect();
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, c, f)
            .write_image(&px, w, h, color.0)
            .unwrap();
        out
    }

    fn pixels(d: Result<Decoded>) -> String {
        format!(
            "{:?}",
            d.map(|d| (d.pixels.luma, d.pixels.rgb, d.gray_source))
        )
    }

    /// The generic decoder's (header, pixels or error) as comparable text.
    fn generic(data: &[u8]) -> (String, String) {
        let header = probe(data, ImageFormat::Png, MAX).map(|h| format!("{h:?}"));
        let decoded = generic_decode(data, ImageFormat::Png, REQ, MAX);
        (format!("{header:?}"), pixels(decoded))
    }

    fn fast(data: &[u8]) -> Option<(String, String)> {
        let h = plain_header(data, MAX)?;
        let decoded = decode_plain(data, &h, REQ, MAX);
        Some((
            format!("{:?}", Ok::<_, ()>(format!("{h:?}"))),
            pixels(decoded),
        ))
    }

    /// `png` with a chunk inserted right after IHDR.
    fn with_chunk(png: &[u8], kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut chunk = (body.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(body);
        chunk.extend_from_slice(&crc32fast::hash(&chunk[4..]).to_be_bytes());
        [&png[..33], &chunk[..], &png[33..]].concat()
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
    fn plain_pngs_decode_as_the_generic_decoder_does() {
        let filters = [
            FilterType::NoFilter,
            FilterType::Sub,
            FilterType::Up,
            FilterType::Avg,
            FilterType::Paeth,
            FilterType::Adaptive,
        ];
        let mut taken = 0;
        for color in COLORS {
            for (i, (w, h)) in [(1, 1), (28, 28), (3, 70), (64, 9), (65, 3), (300, 200)]
                .into_iter()
                .enumerate()
            {
                for f in filters {
                    for c in [CompressionType::Fast, CompressionType::Best] {
                        let png = png(w, h, i as u64, color, c, f);
                        let got = fast(&png).expect("a plain PNG takes the fast path");
                        assert_eq!(got, generic(&png), "{color:?} {w}x{h} {f:?} {c:?}");
                        taken += 1;
                    }
                }
            }
        }
        assert_eq!(taken, 4 * 72);
        // Many IDAT chunks (the stream joined), and ancillary chunks decoders ignore.
        let big = png(
            300,
            200,
            5,
            COLORS[3],
            CompressionType::Fast,
            FilterType::Paeth,
        );
        let mut split = big[..33].to_vec();
        let idat_len = u32::from_be_bytes(big[33..37].try_into().unwrap()) as usize;
        for part in big[41..41 + idat_len].chunks(1000) {
            split = with_chunk(&split, b"IDAT", part);
            // `with_chunk` inserts right after IHDR: move the new chunk to the end.
            let new = split[33..45 + part.len()].to_vec();
            split.drain(33..45 + part.len());
            split.extend_from_slice(&new);
        }
        split.extend_from_slice(&big[big.len() - 12..]);
        let with_text = with_chunk(&split, b"tEXt", b"Comment\0plain");
        for data in [&split, &with_text] {
            let got = fast(data).expect("still plain");
            assert_eq!(got, generic(data));
            assert_eq!(got.1, fast(&big).unwrap().1, "the same pixels as one IDAT");
        }
    }

    #[test]
    fn damaged_or_other_pngs_read_exactly_as_before() {
        for color in COLORS {
            let png = png(
                28,
                28,
                7,
                color,
                CompressionType::Best,
                FilterType::Adaptive,
            );
            let idat = 8 + 25; // after the signature and IHDR
            // A bad CRC, a truncated file, bytes after IEND: not plain, the generic path decides.
            let mut bad_crc = png.clone();
            bad_crc[idat + 10] ^= 1;
            let not_plain = [
                bad_crc,
                png[..png.len() - 5].to_vec(),
                [png.clone(), b"junk".to_vec()].concat(),
                // Chunks the generic decoder acts on: transparency, EXIF, animation, palette.
                with_chunk(
                    &png,
                    b"tRNS",
                    &[0, 1, 0, 2, 0, 3][..2 * color.1.min(3) as usize],
                ),
                with_chunk(&png, b"eXIf", b"MM\0*\0\0\0\x08\0\0"),
                with_chunk(&png, b"acTL", &[0, 0, 0, 1, 0, 0, 0, 0]),
                with_chunk(&png, b"PLTE", &[1, 2, 3]),
                with_chunk(&png, b"ZZZZ", b""),
            ];
            for data in &not_plain {
                assert!(plain_header(data, MAX).is_none(), "{color:?}");
            }
            // Every single-byte change of the image data with the CRC made right again: the
            // fast path gives the generic decoder's pixels, or falls back to it and gives its
            // error.
            let mut fell_back = 0;
            let data_len = u32::from_be_bytes(png[idat..idat + 4].try_into().unwrap()) as usize;
            for k in 0..data_len {
                for bit in [0x01u8, 0x80] {
                    let mut d = png.clone();
                    d[idat + 8 + k] ^= bit;
                    let d = crc_fixed(d);
                    let (want, got) = (generic(&d), fast(&d).expect("still plain"));
                    assert_eq!(got, want, "{color:?} byte {k} ^ {bit:#x}");
                    fell_back += usize::from(want.1.starts_with("Err"));
                }
            }
            assert!(fell_back > 0, "some damage must reach the error path");
        }
        // 16-bit, palette, interlaced: never the plain path.
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(&[9u8; 4 * 4 * 2], 4, 4, ExtendedColorType::L16)
            .unwrap();
        assert!(plain_header(&out, MAX).is_none());
        let mut interlaced = png(8, 8, 1, COLORS[2], CompressionType::Fast, FilterType::Sub);
        interlaced[28] = 1;
        assert!(plain_header(&crc_fixed(interlaced), MAX).is_none());
        // Over the pixel limit: the generic path refuses it with its message; over the plain
        // path's size: the generic path decodes it.
        let big = png(30, 30, 1, COLORS[0], CompressionType::Fast, FilterType::Sub);
        assert!(plain_header(&big, 899).is_none());
        let large = png(
            1025,
            1024,
            1,
            COLORS[0],
            CompressionType::Fast,
            FilterType::Sub,
        );
        assert!(plain_header(&large, MAX).is_none());
    }
}
