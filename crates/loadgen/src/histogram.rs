//! Lossless histogram export: an HdrHistogram in the V2 compressed (DEFLATE) encoding, base64 —
//! the format of HdrHistogram's `encodeIntoCompressedByteBuffer` and of its interval logs, so that
//! repeats and machines can be merged exactly instead of averaging percentiles.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// What [`crate::report::Histograms::encoding`] says.
pub const ENCODING: &str = "hdrhistogram-v2-deflate-base64; unit=ns";

/// A histogram that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("not an HdrHistogram V2 compressed histogram in base64: {0}")]
pub struct DecodeError(String);

/// Encodes `h` (values in nanoseconds) as base64 of its V2 compressed form.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serialising into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes what [`encode`] produced (or any V2 / V2-compressed HdrHistogram in base64).
pub fn decode(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| DecodeError(e.to_string()))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| DecodeError(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_and_merges() {
        let mut a = crate::stats::new_histogram();
        let mut b = crate::stats::new_histogram();
        for v in 1..=10_000u64 {
            a.record(v * 1_000).unwrap();
            b.record(v * 7_919).unwrap();
        }
        let da = decode(&encode(&a)).unwrap();
        assert_eq!(da, a);
        let mut merged = decode(&encode(&a)).unwrap();
        merged.add(decode(&encode(&b)).unwrap()).unwrap();
        a.add(&b).unwrap();
        assert_eq!(merged.len(), 20_000);
        assert_eq!(merged.value_at_quantile(0.99), a.value_at_quantile(0.99));
        assert!(decode("not base64!").is_err());
    }
}
