//! Handles: how a C pointer maps to a Rust value, and who owns it. Each opaque C type names
//! its Rust type and its ownership kind ([`Castable`]), so that the compiler refuses what the
//! kind forbids: taking back (freeing) a handle that C only borrows, or changing one that is
//! shared between threads. The pointer conversions live here, in one place.
//!
//! A boxed handle is taken back (freed) with [`take_box`]; a shared one is released with
//! [`take_arc`]; a borrowed one cannot be taken at all:
//!
//! ```
//! use tokenforge::ffi::{error::tokenforge_error, handle::take_box, token::tokenforge_token, handle::take_arc};
//! // SAFETY: NULL is a valid argument of both.
//! assert!(unsafe { take_box(std::ptr::null_mut::<tokenforge_error>()) }.is_none());
//! // SAFETY: as above.
//! assert!(unsafe { take_arc(std::ptr::null_mut::<tokenforge_token>()) }.is_none());
//! ```
//!
//! ```compile_fail
//! use tokenforge::ffi::{handle::take_box, request::tokenforge_request};
//! // A request is only lent to a hook: freeing it does not compile.
//! // SAFETY: NULL (the point is that this does not compile).
//! let _ = unsafe { take_box(std::ptr::null_mut::<tokenforge_request>()) };
//! ```
//!
//! ```compile_fail
//! use tokenforge::ffi::{handle::take_box, token::tokenforge_token};
//! // A token is reference-counted: it is released with take_arc, never unboxed.
//! // SAFETY: NULL (the point is that this does not compile).
//! let _ = unsafe { take_box(std::ptr::null_mut::<tokenforge_token>()) };
//! ```
//!
//! ```compile_fail
//! use tokenforge::ffi::{handle::borrow_mut, fetcher::tokenforge_fetcher};
//! // A fetcher is shared between threads: nobody may change it through its pointer.
//! // SAFETY: NULL (the point is that this does not compile).
//! let _ = unsafe { borrow_mut(std::ptr::null_mut::<tokenforge_fetcher>()) };
//! ```

use crate::error::Error;
use std::sync::Arc;

/// Ties an opaque C type to the Rust value its pointers point at, and to who owns it.
pub trait Castable {
    type Ownership: Ownership;
    type Rust;
}

/// An ownership kind: [`OwnershipBox`], [`OwnershipArc`] or [`OwnershipRef`].
pub trait Ownership: sealed::Sealed {}

/// Owned by one party at a time: made by [`to_box`], freed with [`take_box`].
pub enum OwnershipBox {}
/// Reference-counted and immutable: each owned pointer is one `Arc` reference ([`to_arc`],
/// [`clone_arc`], [`take_arc`]); any number of threads may read it.
pub enum OwnershipArc {}
/// Lent to C for the length of a call (a hook's argument); never owned by C, never freed by it.
pub enum OwnershipRef {}

impl Ownership for OwnershipBox {}
impl Ownership for OwnershipArc {}
impl Ownership for OwnershipRef {}

/// Kinds whose value C may change through a `*mut` (one thread at a time).
pub trait Exclusive: Ownership {}
impl Exclusive for OwnershipBox {}
impl Exclusive for OwnershipRef {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::OwnershipBox {}
    impl Sealed for super::OwnershipArc {}
    impl Sealed for super::OwnershipRef {}
}

/// Boxes `value` and hands it to C as `*mut C`, owned by the receiver.
pub fn to_box<C: Castable<Ownership = OwnershipBox>>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Takes back ownership of the value behind `p`; `None` for NULL.
///
/// # Safety
/// `p` is NULL or was made by [`to_box`] for the same `C`, is owned by the caller and is not
/// used again.
pub unsafe fn take_box<C: Castable<Ownership = OwnershipBox>>(p: *mut C) -> Option<C::Rust> {
    if p.is_null() {
        return None;
    }
    // SAFETY: p came from Box::into_raw of a C::Rust (to_box) and is given up by the caller.
    Some(*unsafe { Box::from_raw(p.cast::<C::Rust>()) })
}

/// Hands one reference of `value` to C as `*mut C`, owned by the receiver.
pub fn to_arc<C: Castable<Ownership = OwnershipArc>>(value: Arc<C::Rust>) -> *mut C {
    Arc::into_raw(value).cast_mut().cast()
}

/// A new reference to the value behind `p` (C keeps its own); `None` for NULL.
///
/// # Safety
/// `p` is NULL or was made by [`to_arc`] for the same `C` and is still owned by someone.
pub unsafe fn clone_arc<C: Castable<Ownership = OwnershipArc>>(p: *const C) -> Option<Arc<C::Rust>> {
    if p.is_null() {
        return None;
    }
    let p = p.cast::<C::Rust>();
    // SAFETY: p came from Arc::into_raw (to_arc) and its reference is alive, so the count may
    // be raised and a second Arc made from the same pointer.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Takes back the reference C owned; `None` for NULL.
///
/// # Safety
/// `p` is NULL or was made by [`to_arc`] for the same `C`, is owned by the caller and is not
/// used again.
pub unsafe fn take_arc<C: Castable<Ownership = OwnershipArc>>(p: *mut C) -> Option<Arc<C::Rust>> {
    // SAFETY: p came from Arc::into_raw (to_arc) and the caller gives up its reference.
    (!p.is_null()).then(|| unsafe { Arc::from_raw(p.cast::<C::Rust>()) })
}

/// Borrows the value behind `p`; `None` for NULL.
///
/// # Safety
/// `p` is NULL or points at a live `C::Rust`: made by [`to_box`] or [`to_arc`] for the same
/// `C`, or lent by the library to a callback, and not freed during the borrow.
pub unsafe fn borrow<'a, C: Castable>(p: *const C) -> Option<&'a C::Rust> {
    // SAFETY: the caller vouches that p is NULL or points at a live C::Rust.
    unsafe { p.cast::<C::Rust>().as_ref() }
}

/// Borrows the value behind `p` mutably; `None` for NULL. Only for kinds C may change.
///
/// # Safety
/// As [`borrow`], and no other reference to the value exists during the borrow.
pub unsafe fn borrow_mut<'a, C: Castable>(p: *mut C) -> Option<&'a mut C::Rust>
where
    C::Ownership: Exclusive,
{
    // SAFETY: the caller vouches that p is NULL or points at a live C::Rust used by no one else.
    unsafe { p.cast::<C::Rust>().as_mut() }
}

/// A required object argument, or `INVALID_ARGUMENT` naming it.
///
/// # Safety
/// As [`borrow`].
pub unsafe fn arg<'a, C: Castable>(p: *const C, what: &str) -> Result<&'a C::Rust, Error> {
    // SAFETY: forwarded from the caller.
    unsafe { borrow(p) }.ok_or_else(|| Error::invalid_argument(format!("{what} is NULL")))
}

/// A required mutable object argument, or `INVALID_ARGUMENT` naming it.
///
/// # Safety
/// As [`borrow_mut`].
pub unsafe fn arg_mut<'a, C: Castable>(p: *mut C, what: &str) -> Result<&'a mut C::Rust, Error>
where
    C::Ownership: Exclusive,
{
    // SAFETY: forwarded from the caller.
    unsafe { borrow_mut(p) }.ok_or_else(|| Error::invalid_argument(format!("{what} is NULL")))
}
