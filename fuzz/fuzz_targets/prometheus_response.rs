//! Any bytes as the body of a Prometheus `query_range` response (the `prometheus` source).
//! Whatever parses is bounded: every sample time lies in 1970..=9999, so the bucket
//! arithmetic after it cannot overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(points) = burnwatch::source::prometheus::parse_matrix(body) {
        for &t in points.keys() {
            assert!((0..=253_402_300_799).contains(&t), "{t}");
        }
    }
});
