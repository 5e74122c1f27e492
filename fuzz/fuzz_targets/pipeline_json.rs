//! The pipeline JSON: any text loads or is a CONFIG error, never a panic. A "storage" entry is
//! taken out first: a fuzzer must not create directories or dial Redis.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let text = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut o)) => {
            o.remove("storage");
            serde_json::Value::Object(o).to_string()
        }
        _ => text.to_string(),
    };
    if let Err(e) = tokenforge::pipeline::from_json(&text) {
        assert_eq!(e.code(), tokenforge::ResultCode::Config, "{}", e.message());
        assert!(!e.message().is_empty());
    }
});
