//! JSON configuration (issue 4).
