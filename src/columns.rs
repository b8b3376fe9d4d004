//! Scan records → one Arrow record batch (columns, never per-row objects), so Python builds a
//! polars DataFrame from it without copying.

use crate::scan::{Metrics, Record};
use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt8Array, UInt32Array, UInt64Array,
};
use arrow_schema::ArrowError;
use std::sync::Arc;

/// Build the batch. `names[i]` is the display name of input i (its path, or `<bytes #i>`).
/// Columns of metrics that were not requested are left out.
pub fn record_batch(
    names: &[String],
    records: &[Record],
    m: &Metrics,
) -> Result<RecordBatch, ArrowError> {
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    macro_rules! col {
        ($name:expr, $arr:ty, $f:expr) => {
            cols.push((
                $name,
                Arc::new(records.iter().map($f).collect::<$arr>()) as ArrayRef,
            ))
        };
    }
    cols.push((
        "path",
        Arc::new(StringArray::from_iter_values(names.iter())),
    ));
    col!("error", StringArray, |r: &Record| r.error.as_deref());
    col!("format", StringArray, |r: &Record| r.format);
    col!("width", UInt32Array, |r: &Record| r.width);
    col!("height", UInt32Array, |r: &Record| r.height);
    col!("channels", UInt8Array, |r: &Record| r.channels);
    col!("bit_depth", UInt8Array, |r: &Record| r.bit_depth);
    col!("has_alpha", BooleanArray, |r: &Record| r.has_alpha);
    col!("file_size", UInt64Array, |r: &Record| r.file_size);
    if m.exif {
        col!("orientation", UInt8Array, |r: &Record| r.orientation);
        col!("camera_make", StringArray, |r: &Record| r
            .camera_make
            .as_deref());
        col!("camera_model", StringArray, |r: &Record| r
            .camera_model
            .as_deref());
        col!("captured_at", TimestampMicrosecondArray, |r: &Record| r
            .captured_at_us);
    }
    if m.jpeg_quality {
        col!("jpeg_quality", UInt8Array, |r: &Record| r.jpeg_quality);
    }
    if m.brightness {
        col!("brightness", Float32Array, |r: &Record| r.brightness);
    }
    if m.contrast {
        col!("contrast", Float32Array, |r: &Record| r.contrast);
    }
    if m.dark_fraction {
        col!("dark_fraction", Float32Array, |r: &Record| r.dark_fraction);
    }
    if m.bright_fraction {
        col!("bright_fraction", Float32Array, |r: &Record| r
            .bright_fraction);
    }
    if m.blur {
        col!("blur", Float64Array, |r: &Record| r.blur);
    }
    if m.sharpness {
        col!("sharpness", Float64Array, |r: &Record| r.sharpness);
    }
    if m.noise {
        col!("noise", Float32Array, |r: &Record| r.noise);
    }
    if m.entropy {
        col!("entropy", Float32Array, |r: &Record| r.entropy);
    }
    if m.colorfulness {
        col!("colorfulness", Float32Array, |r: &Record| r.colorfulness);
    }
    if m.is_grayscale {
        col!("is_grayscale", BooleanArray, |r: &Record| r.is_grayscale);
    }
    if m.content_hash {
        col!("content_hash", StringArray, |r: &Record| r
            .content_hash
            .as_deref());
    }
    if m.pixel_hash {
        col!("pixel_hash", UInt64Array, |r: &Record| r.pixel_hash);
    }
    if m.phash {
        col!("phash", UInt64Array, |r: &Record| r.phash);
    }
    if m.dhash {
        col!("dhash", UInt64Array, |r: &Record| r.dhash);
    }
    if m.ahash {
        col!("ahash", UInt64Array, |r: &Record| r.ahash);
    }
    RecordBatch::try_from_iter(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_columns_for_requested_metrics() {
        let recs = vec![Record {
            width: Some(3),
            phash: Some(7),
            ..Record::default()
        }];
        let m = Metrics::from_names(&["phash"]).unwrap();
        let b = record_batch(&["a.png".into()], &recs, &m).unwrap();
        let names: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names.last().map(String::as_str), Some("phash"));
        assert!(!names.contains(&"blur".to_string()));
        assert_eq!(b.num_rows(), 1);
    }
}
