//! The content-addressed store.
pub mod digest;
pub use digest::Digest;
