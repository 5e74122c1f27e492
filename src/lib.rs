//! tokenforge: obtain, cache, refresh and store authentication tokens.
//!
//! The Rust API is a real API of its own; [`ffi`] translates it to the C ABI declared in
//! `include/tokenforge.h`. Data flows one way: options -> [`fetcher::Fetcher`] -> request
//! ([`http`]) -> response -> [`extract`] -> [`token::Token`].

pub mod context;
pub mod error;
pub mod extract;
pub mod fetcher;
pub mod ffi;
pub mod fork;
pub mod hooks;
pub mod http;
pub mod log;
pub mod oauth2;
pub mod pipeline;
pub mod storage;
mod tcp;
pub mod template;
pub mod text;
pub mod tls;
pub mod token;

pub use context::Context;
pub use error::{Error, Result, ResultCode};
pub use fetcher::{Fetcher, FetcherBuilder};
pub use storage::{MemoryStorage, TokenStorage};
pub use token::Token;

/// The library version, "MAJOR.MINOR.PATCH".
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
