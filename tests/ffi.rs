//! The C ABI called in-process with bad input: NULLs, invalid UTF-8, CR/LF, unknown methods,
//! bad URLs. (tests/c/test_ffi.c drives the real shared library the same way.)

use std::ffi::{c_char, CStr};
use std::ptr;
use tokenforge::ffi::error::*;
use tokenforge::ffi::fetcher::*;
use tokenforge::ffi::fetcher_builder::*;
use tokenforge::ffi::oauth2::*;
use tokenforge::ffi::token::*;
use tokenforge::ResultCode;

const BAD_UTF8: &[u8] = b"a\xff\xfe\0";

fn bad() -> *const c_char {
    BAD_UTF8.as_ptr().cast()
}

fn message(e: *const tokenforge_error) -> String {
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { CStr::from_ptr(tokenforge_error_message(e)) }.to_str().unwrap().to_string()
}

#[test]
fn constructors_return_null_on_bad_strings() {
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe {
        assert!(tokenforge_token_new(ptr::null(), ptr::null(), -1, ptr::null()).is_null());
        assert!(tokenforge_token_new(bad(), ptr::null(), -1, ptr::null()).is_null());
        assert!(tokenforge_token_new(c"a".as_ptr(), ptr::null(), -1, bad()).is_null());
        assert!(tokenforge_token_new(c"a\r\nb".as_ptr(), ptr::null(), -1, ptr::null()).is_null());
        assert!(tokenforge_fetcher_builder_new_body(ptr::null(), c"http://h".as_ptr(), c"".as_ptr()).is_null());
        assert!(tokenforge_fetcher_builder_new_header(c"s".as_ptr(), bad(), c"".as_ptr()).is_null());
        assert!(tokenforge_fetcher_builder_new_client_credentials(
            c"s".as_ptr(),
            c"http://h".as_ptr(),
            ptr::null(),
            c"x".as_ptr(),
            ptr::null()
        )
        .is_null());
    }
}

#[test]
fn setters_refuse_bad_input_and_build_reports_it() {
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe {
        let b = tokenforge_fetcher_builder_new_body(c"s".as_ptr(), c"http://127.0.0.1:1".as_ptr(), c"/t".as_ptr());
        let invalid = ResultCode::InvalidArgument;
        assert_eq!(tokenforge_fetcher_builder_set_method(b, c"PATCH".as_ptr()), invalid);
        assert_eq!(tokenforge_fetcher_builder_set_method(b, bad()), invalid);
        assert_eq!(tokenforge_fetcher_builder_set_method(ptr::null_mut(), c"GET".as_ptr()), invalid);
        assert_eq!(tokenforge_fetcher_builder_add_request_header(b, c"X-A\r\n".as_ptr(), c"v".as_ptr()), invalid);
        assert_eq!(tokenforge_fetcher_builder_add_request_header(b, c"X-A".as_ptr(), c"v\nw".as_ptr()), invalid);
        assert_eq!(tokenforge_fetcher_builder_add_request_header(b, c"X-A".as_ptr(), ptr::null()), invalid);
        assert_eq!(tokenforge_fetcher_builder_add_request_data(b, bad(), c"v".as_ptr()), invalid);
        assert_eq!(tokenforge_fetcher_builder_set_content_type(b, ContentTypeArg(9)), invalid);
        assert_eq!(tokenforge_fetcher_builder_set_content_type(b, ContentTypeArg(1)), ResultCode::Ok);
        let mut f = ptr::null_mut();
        let mut err = ptr::null_mut();
        assert_eq!(tokenforge_fetcher_builder_build(b, &mut f, &mut err), ResultCode::Ok);
        assert!(err.is_null());
        tokenforge_fetcher_free(f);

        let b = tokenforge_fetcher_builder_new_body(c"s".as_ptr(), c"ftp://h".as_ptr(), c"/t".as_ptr());
        assert_eq!(tokenforge_fetcher_builder_build(b, &mut f, &mut err), invalid);
        assert!(message(err).contains("scheme"), "{}", message(err));
        assert!(CStr::from_ptr(tokenforge_error_step(err)).to_str().unwrap() == "s");
        tokenforge_error_free(err);
    }
}

#[test]
fn messages_hide_credentials_in_urls() {
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe {
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        let rc = tokenforge_oauth2_refresh(
            c"http://user:hunter2@127.0.0.1:1/token?client_secret=hunter2".as_ptr(),
            c"rt-hunter2".as_ptr(),
            c"id".as_ptr(),
            c"hunter2".as_ptr(),
            1_000,
            &mut out,
            &mut err,
        );
        assert_eq!(rc, ResultCode::Transport);
        assert!(out.is_null());
        let m = message(err);
        assert!(m.contains("127.0.0.1:1/token") && !m.contains("hunter2"), "{m}");
        tokenforge_error_free(err);
    }
}
