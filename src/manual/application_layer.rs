//! # 5. The application layer
//!
//! **To be written (the lead's chapter, with the application layer of
//! issue 13).** It will show how events from the Socket.IO machine become
//! handler calls: namespaces and connect middleware, `Socket` and its
//! typed data, broadcast operators, acknowledgements with timeouts,
//! async handlers and typed arguments, where the locks are and why, and
//! how [`bridge`](crate::bridge) and [`admin`](crate::admin) sit on top.
