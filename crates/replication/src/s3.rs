//! An S3-compatible bucket as a site (written by a helper; see the module plan in lib.rs).
