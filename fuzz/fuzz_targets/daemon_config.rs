//! Any bytes as `burnwatch.yaml`, read as `burnwatch run --config` reads it (with a fixed
//! environment, so `*_env` keys resolve the same way every run).
#![no_main]

use std::path::Path;

use burnwatch::config::Config;
use libfuzzer_sys::fuzz_target;

fn env(name: &str) -> Option<String> {
    (name == "BURNWATCH_FUZZ_SET").then(|| "value".to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Config::parse(Path::new("/etc/burnwatch/burnwatch.yaml"), text, &env);
});
