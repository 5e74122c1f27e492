//! `CText`: an owned UTF-8 string without interior NUL, stored with a trailing NUL so that C
//! callers can borrow it as `const char *`. Its bytes are zeroed when it is dropped, so the
//! same type serves for secrets (tokens) and for plain text (messages, names).

use std::ffi::c_char;
use std::fmt;
use zeroize::Zeroize;

/// NUL-terminated, NUL-free, UTF-8 text whose memory is zeroed on drop.
pub struct CText(Box<[u8]>);

impl CText {
    /// Copies `s`; `None` when it holds a NUL byte (which C could not see past).
    pub fn new(s: &str) -> Option<CText> {
        if s.as_bytes().contains(&0) {
            return None;
        }
        let mut bytes = Vec::with_capacity(s.len() + 1);
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
        Some(CText(bytes.into_boxed_slice()))
    }

    /// Copies `s`, replacing any NUL with U+FFFD: for messages, which must always exist.
    pub fn lossy(s: &str) -> CText {
        match CText::new(s) {
            Some(t) => t,
            None => CText::new(&s.replace('\0', "\u{FFFD}")).expect("NUL replaced"),
        }
    }

    pub fn as_str(&self) -> &str {
        // The constructor copied a &str, so the bytes before the NUL are UTF-8.
        std::str::from_utf8(&self.0[..self.0.len() - 1]).expect("CText holds UTF-8")
    }

    /// Borrowed pointer to the NUL-terminated bytes, valid while `self` lives.
    pub fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }
}

impl Clone for CText {
    fn clone(&self) -> CText {
        CText(self.0.clone())
    }
}

impl Drop for CText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PartialEq for CText {
    fn eq(&self, other: &CText) -> bool {
        self.0 == other.0
    }
}

impl Eq for CText {}

/// Plain text shows as itself; wrap secrets in [`crate::token::Token`], whose `Debug` redacts.
impl fmt::Debug for CText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_and_terminates_it() {
        let t = CText::new("abc").unwrap();
        assert_eq!(t.as_str(), "abc");
        // SAFETY: as_ptr points at the NUL-terminated bytes of t, which lives for the borrow.
        let c = unsafe { std::ffi::CStr::from_ptr(t.as_ptr()) };
        assert_eq!(c.to_str().unwrap(), "abc");
    }

    #[test]
    fn refuses_interior_nul_and_lossy_replaces_it() {
        assert!(CText::new("a\0b").is_none());
        assert_eq!(CText::lossy("a\0b").as_str(), "a\u{FFFD}b");
    }
}
