//! The tokio/hyper adapter.
