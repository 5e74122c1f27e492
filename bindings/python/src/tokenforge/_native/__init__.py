"""libtokenforge.so, the library the package loads (copied here when the wheel is built)."""
