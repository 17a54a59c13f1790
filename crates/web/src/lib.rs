//! HTTP: the route table, extractors, JSON handlers, error-to-response
//! mapping, security middleware and the TLS listener.
//!
//! Invariants:
//! - No SQL here, and no access decisions: handlers parse input, call one
//!   `turva_app` operation and render its result.
//! - Types that cross the HTTP boundary live here and are converted by hand.
//! - Every response carries the security headers; every error is
//!   `application/problem+json`.

pub mod api;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod pages;
pub mod routes;
pub mod server;
pub mod tls;

pub use routes::router;
pub use server::{serve, Running};
