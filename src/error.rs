//! Per-file errors. They become the `error` column: each message says what is wrong with the
//! file in words a user can act on, never a Rust debug dump.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not a recognised image format (first bytes: {0})")]
    UnknownFormat(String),
    #[error(
        "image is {width}x{height} = {megapixels:.1} megapixels, over the limit of {limit_mp:.1} \
         megapixels (possible decompression bomb; raise max_pixels to allow it)"
    )]
    TooLarge {
        width: u64,
        height: u64,
        megapixels: f64,
        limit_mp: f64,
    },
    #[error("image has zero width or height ({width}x{height})")]
    ZeroSize { width: u64, height: u64 },
    #[error("corrupt or truncated {format} data: {message}")]
    Corrupt {
        format: &'static str,
        message: String,
    },
    #[error("unsupported {format} variant: {message}")]
    Unsupported {
        format: &'static str,
        message: String,
    },
    #[error("file is larger than max_file_size ({size} > {limit} bytes)")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("internal error while decoding (please report): {0}")]
    Panic(String),
}

pub type Result<T> = std::result::Result<T, ImageError>;

/// The message of a caught panic (`panic!("...")` payloads are `&str` or `String`).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}
