//! The shared library's SONAME: `libtokenforge.so.MAJOR`, so that a program keeps the ABI it
//! was linked against (`make lib` and `make install` make the usual symlinks).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtokenforge.so.{major}");
    }
}
