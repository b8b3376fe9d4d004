//! Scan records → one Arrow record batch (columns, never per-row objects), so Python builds a
//! polars DataFrame from it without copying. Which columns, in which order, comes from the metric
//! table (`scan/metrics.rs`); this file maps each Rust value type to its Arrow array.

use crate::scan::{Metrics, Record, UnixMicros};
use arrow_array::types::{UInt8Type, UInt16Type, UInt64Type};
use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, ListArray, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt8Array, UInt32Array, UInt64Array,
};
use arrow_schema::ArrowError;
use std::sync::Arc;

/// A value type that a record column can hold, and the Arrow array of it.
pub trait ArrowColumn: Sized {
    /// One nullable Arrow array of the values.
    fn column<'a>(values: impl Iterator<Item = &'a Option<Self>>) -> ArrayRef
    where
        Self: 'a;
}

macro_rules! copy_column {
    ($($t:ty => $array:ty),* $(,)?) => {$(
        impl ArrowColumn for $t {
            fn column<'a>(values: impl Iterator<Item = &'a Option<Self>>) -> ArrayRef {
                Arc::new(values.copied().collect::<$array>())
            }
        }
    )*};
}

copy_column! {
    u8 => UInt8Array,
    u32 => UInt32Array,
    u64 => UInt64Array,
    f32 => Float32Array,
    f64 => Float64Array,
    bool => BooleanArray,
    &'static str => StringArray,
}

impl ArrowColumn for String {
    fn column<'a>(values: impl Iterator<Item = &'a Option<Self>>) -> ArrayRef {
        Arc::new(values.map(Option::as_deref).collect::<StringArray>())
    }
}

impl ArrowColumn for UnixMicros {
    fn column<'a>(values: impl Iterator<Item = &'a Option<Self>>) -> ArrayRef {
        Arc::new(
            values
                .map(|v| v.map(|t| t.0))
                .collect::<TimestampMicrosecondArray>(),
        )
    }
}

/// Per-image lists (one value per segment of the crop-resistant hash): an Arrow `List` column.
macro_rules! list_column {
    ($($t:ty => $arrow:ty),* $(,)?) => {$(
        impl ArrowColumn for Vec<$t> {
            fn column<'a>(values: impl Iterator<Item = &'a Option<Self>>) -> ArrayRef {
                Arc::new(ListArray::from_iter_primitive::<$arrow, _, _>(
                    values.map(|v| v.as_ref().map(|l| l.iter().copied().map(Some))),
                ))
            }
        }
    )*};
}

list_column! {
    u8 => UInt8Type,
    u16 => UInt16Type,
    u64 => UInt64Type,
}

/// Build the batch. `names[i]` is the display name of input i (its path, or `<bytes #i>`).
/// Columns of metrics that were not requested are left out.
pub fn record_batch(
    names: &[String],
    records: &[Record],
    m: &Metrics,
) -> Result<RecordBatch, ArrowError> {
    let mut cols: Vec<(&str, ArrayRef)> = vec![(
        "path",
        Arc::new(StringArray::from_iter_values(names.iter())),
    )];
    Record::columns(records, m, |name, array| cols.push((name, array)));
    RecordBatch::try_from_iter(cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::METRIC_NAMES;
    use arrow_schema::{DataType, TimeUnit};

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

    #[test]
    fn every_metric_in_table_order_with_its_arrow_type() {
        let recs = vec![Record::default(), Record::default()];
        let b = record_batch(&["a".into(), "b".into()], &recs, &Metrics::all()).unwrap();
        let schema = b.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let base = [
            "path",
            "error",
            "format",
            "width",
            "height",
            "channels",
            "bit_depth",
            "has_alpha",
            "file_size",
        ];
        assert_eq!(names[..base.len()], base);
        // exif expands to four columns, the dihedral hashes to seven; every other metric is one
        // column of its own name.
        let mut expected: Vec<&str> = Vec::new();
        for &m in METRIC_NAMES {
            match m {
                "exif" => {
                    expected.extend(["orientation", "camera_make", "camera_model", "captured_at"]);
                }
                // The dihedral hashes: one column per transform.
                "phash_dihedral" => expected.extend([
                    "phash_hflip",
                    "phash_vflip",
                    "phash_rot90",
                    "phash_rot180",
                    "phash_rot270",
                    "phash_transpose",
                    "phash_transverse",
                ]),
                "dhash_dihedral" => expected.extend([
                    "dhash_hflip",
                    "dhash_vflip",
                    "dhash_rot90",
                    "dhash_rot180",
                    "dhash_rot270",
                    "dhash_transpose",
                    "dhash_transverse",
                ]),
                "crop_hash" => {
                    expected.extend(["crop_hash", "crop_boxes", "crop_thumb"]);
                }
                other => expected.push(other),
            }
        }
        assert_eq!(names[base.len()..], expected[..]);
        let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
        assert_eq!(
            ty("captured_at"),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(ty("blur"), DataType::Float64);
        assert_eq!(ty("brightness"), DataType::Float32);
        assert_eq!(ty("is_grayscale"), DataType::Boolean);
        assert_eq!(ty("content_hash"), DataType::Utf8);
        assert_eq!(ty("phash"), DataType::UInt64);
        assert_eq!(ty("jpeg_quality"), DataType::UInt8);
        assert_eq!(ty("width"), DataType::UInt32);
        assert!(matches!(ty("crop_hash"), DataType::List(f) if *f.data_type() == DataType::UInt64));
        assert!(
            matches!(ty("crop_boxes"), DataType::List(f) if *f.data_type() == DataType::UInt16)
        );
        assert!(b.columns().iter().skip(1).all(|c| c.null_count() == 2));
    }
}
