//! One codec per file format, all to and from [`super::Tree`].
pub mod yaml;
