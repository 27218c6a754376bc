//! The load generator's reusable part: a SigV4 request signer (also used by the API
//! layer's signature-verification micro-benchmark).

#![forbid(unsafe_code)]

pub mod sigv4;
