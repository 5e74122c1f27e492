//! `{{step.field}}` templates: any text parses or is a CONFIG error; rendering gives a value
//! or a DEPENDENCY error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenforge::template::Template;
use tokenforge::{Context, Token};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Template::parse(text) {
        Ok(t) => {
            let mut c = Context::new();
            let token = Token::new("tok", None, None, Some("rt")).expect("a token");
            c.set("a", token);
            if let Err(e) = t.render(&c) {
                assert_eq!(e.code(), tokenforge::ResultCode::Dependency);
            }
        }
        Err(e) => assert_eq!(e.code(), tokenforge::ResultCode::Config),
    }
});
