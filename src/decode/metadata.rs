//! Metadata read without decoding pixels: JPEG markers (EXIF, Adobe, quantisation tables, frame
//! header), EXIF fields (orientation, camera, capture time), and the header facts the `image`
//! crate does not report as stored (PNG sub-byte gray depth, GIF transparency).

/// What the JPEG marker segments before the scan data tell us.
#[derive(Debug, Default, Clone)]
pub struct JpegMarkers {
    /// TIFF-structured EXIF payload (after the "Exif\0\0" prefix).
    pub exif: Option<Vec<u8>>,
    /// Adobe APP14 present: CMYK samples are stored inverted.
    pub adobe: bool,
    /// Quantisation tables by id (0–3), 64 values in zig-zag order.
    pub qtables: [Option<[u16; 64]>; 4],
    pub precision: u8,
    pub components: u8,
    pub progressive: bool,
}

/// Walk the JPEG segments up to the first SOS. Malformed input simply ends the walk: the decoder
/// reports corruption with a better message.
pub fn jpeg_markers(data: &[u8]) -> JpegMarkers {
    let mut m = JpegMarkers::default();
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            break;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        if len < 2 || i + 2 + len > data.len() {
            break;
        }
        let seg = &data[i + 4..i + 2 + len];
        match marker {
            0xE1 if m.exif.is_none() && seg.starts_with(b"Exif\0\0") => {
                m.exif = Some(seg[6..].to_vec());
            }
            0xEE if seg.starts_with(b"Adobe") => m.adobe = true,
            0xDB => parse_dqt(seg, &mut m.qtables),
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                if seg.len() >= 6 {
                    m.precision = seg[0];
                    m.components = seg[5];
                }
                m.progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
            }
            0xDA | 0xD9 => break,
            _ => {}
        }
        i += 2 + len;
    }
    m
}

fn parse_dqt(mut seg: &[u8], tables: &mut [Option<[u16; 64]>; 4]) {
    while !seg.is_empty() {
        let pq = seg[0] >> 4;
        let id = (seg[0] & 0x0F) as usize;
        let size = if pq == 0 { 64 } else { 128 };
        if seg.len() < 1 + size || id > 3 {
            return;
        }
        let mut t = [0u16; 64];
        for (k, v) in t.iter_mut().enumerate() {
            *v = if pq == 0 {
                seg[1 + k] as u16
            } else {
                u16::from_be_bytes([seg[1 + 2 * k], seg[2 + 2 * k]])
            };
        }
        tables[id] = Some(t);
        seg = &seg[1 + size..];
    }
}

/// EXIF fields imgstats reports.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExifInfo {
    pub orientation: Option<u8>,
    pub make: Option<String>,
    pub model: Option<String>,
    /// DateTimeOriginal as microseconds since 1970-01-01 in the camera's local time (EXIF carries
    /// no zone unless OffsetTimeOriginal is set, which we deliberately do not apply).
    pub captured_at_us: Option<i64>,
}

impl ExifInfo {
    /// Fill the fields this one lacks from `other`.
    pub fn or(self, other: ExifInfo) -> ExifInfo {
        ExifInfo {
            orientation: self.orientation.or(other.orientation),
            make: self.make.or(other.make),
            model: self.model.or(other.model),
            captured_at_us: self.captured_at_us.or(other.captured_at_us),
        }
    }
}

/// Bit depth of a grayscale PNG as stored (1, 2, 4, 8 or 16), read from IHDR: decoders expand
/// 1-, 2- and 4-bit samples to 8 bits and then report 8. `None` for other colour types (palette
/// indices and RGB samples are reported as the 8- or 16-bit channels they expand to).
pub fn png_gray_depth(data: &[u8]) -> Option<u8> {
    // Signature (8), IHDR length (4), "IHDR", width (4), height (4), bit depth, colour type.
    (data.len() >= 26 && &data[12..16] == b"IHDR" && data[25] == 0).then(|| data[24])
}

/// Whether the first frame of a GIF has a transparent colour index: the transparency flag of the
/// last Graphic Control Extension before the first image descriptor. `None` when the blocks
/// cannot be followed that far. (Decoders expand GIF frames to RGBA whatever the file says.)
pub fn gif_first_frame_transparent(data: &[u8]) -> Option<bool> {
    if !(data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a")) || data.len() < 13 {
        return None;
    }
    let flags = data[10];
    let mut i = 13;
    if flags & 0x80 != 0 {
        i += 3 << ((flags & 7) + 1); // global colour table
    }
    let mut transparent = false;
    loop {
        match *data.get(i)? {
            0x21 => {
                let label = *data.get(i + 1)?;
                i += 2;
                if label == 0xF9 && *data.get(i)? >= 4 {
                    transparent = data.get(i + 1)? & 1 != 0;
                }
                // Skip the extension's data sub-blocks, up to the zero-length terminator.
                loop {
                    let n = *data.get(i)? as usize;
                    i += 1 + n;
                    if n == 0 {
                        break;
                    }
                }
            }
            0x2C => return Some(transparent),
            _ => return None, // trailer before any image, or not a block
        }
    }
}

/// Parse a TIFF-structured EXIF block. Broken EXIF never fails the image: fields are just absent.
pub fn parse_exif(tiff: &[u8]) -> ExifInfo {
    let mut info = ExifInfo::default();
    let Ok(exif) = exif::Reader::new().read_raw(tiff.to_vec()) else {
        return info;
    };
    if let Some(f) = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY) {
        info.orientation = f
            .value
            .get_uint(0)
            .filter(|v| (1..=8).contains(v))
            .map(|v| v as u8);
    }
    info.make = ascii_field(&exif, exif::Tag::Make);
    info.model = ascii_field(&exif, exif::Tag::Model);
    let dt = exif::Tag::DateTimeOriginal;
    info.captured_at_us = ascii_field(&exif, dt)
        .or_else(|| ascii_field(&exif, exif::Tag::DateTime))
        .and_then(|s| parse_exif_datetime(&s));
    info
}

fn ascii_field(exif: &exif::Exif, tag: exif::Tag) -> Option<String> {
    let f = exif.get_field(tag, exif::In::PRIMARY)?;
    let exif::Value::Ascii(parts) = &f.value else {
        return None;
    };
    let raw = parts.first()?;
    let s: String = String::from_utf8_lossy(raw)
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// "YYYY:MM:DD HH:MM:SS" (also with '-' date separators) → microseconds since the epoch.
pub fn parse_exif_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(&b[r]).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mi, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if y < 1800
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || hh > 23
        || mi > 59
        || ss > 60
    {
        return None; // "0000:00:00 00:00:00" and other placeholders cameras write
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + hh) * 60 + mi) * 60_000_000 + ss * 1_000_000)
}

/// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GIF89a with a 2-entry global colour table, the given extensions, then an image.
    fn gif(extensions: &[&[u8]]) -> Vec<u8> {
        let mut g = b"GIF89a".to_vec();
        g.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]); // 1×1, global table of 2 entries
        g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
        for e in extensions {
            g.extend_from_slice(e);
        }
        g.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4C, 0x01, 0, 0x3B]);
        g
    }

    #[test]
    fn gif_transparency_of_the_first_frame() {
        let gce = |flags: u8| [0x21, 0xF9, 4, flags, 0, 0, 0, 0];
        let comment: &[u8] = &[0x21, 0xFE, 3, b'h', b'i', b'!', 2, b'o', b'k', 0];
        assert_eq!(gif_first_frame_transparent(&gif(&[])), Some(false));
        assert_eq!(gif_first_frame_transparent(&gif(&[&gce(0)])), Some(false));
        assert_eq!(gif_first_frame_transparent(&gif(&[&gce(1)])), Some(true));
        assert_eq!(
            gif_first_frame_transparent(&gif(&[comment, &gce(1)])),
            Some(true)
        );
        // The last control extension before the image applies.
        assert_eq!(
            gif_first_frame_transparent(&gif(&[&gce(1), &gce(0)])),
            Some(false)
        );
        let g = gif(&[&gce(1)]);
        assert_eq!(gif_first_frame_transparent(&g[..20]), None); // truncated
        assert_eq!(gif_first_frame_transparent(b"GIF89a"), None);
        assert_eq!(gif_first_frame_transparent(b"\x89PNG\r\n\x1a\n"), None);
    }

    #[test]
    fn png_gray_depth_from_ihdr() {
        let ihdr = |depth: u8, color: u8| {
            let mut p = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
            p.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 9, depth, color, 0, 0, 0]);
            p
        };
        assert_eq!(png_gray_depth(&ihdr(1, 0)), Some(1));
        assert_eq!(png_gray_depth(&ihdr(16, 0)), Some(16));
        assert_eq!(png_gray_depth(&ihdr(4, 3)), None); // palette
        assert_eq!(png_gray_depth(&ihdr(8, 2)), None);
        assert_eq!(png_gray_depth(&ihdr(1, 0)[..20]), None);
    }

    #[test]
    fn datetime_parses_and_rejects_placeholders() {
        assert_eq!(parse_exif_datetime("1970:01:01 00:00:01"), Some(1_000_000));
        assert_eq!(
            parse_exif_datetime("2000:03:01 00:00:00"),
            Some(951_868_800_000_000)
        );
        assert_eq!(parse_exif_datetime("0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime("garbage"), None);
    }

    #[test]
    fn markers_survive_garbage() {
        let m = jpeg_markers(&[0xFF, 0xD8, 0xFF, 0xDB, 0x00]);
        assert!(m.exif.is_none());
        let m = jpeg_markers(&[]);
        assert_eq!(m.components, 0);
    }
}
