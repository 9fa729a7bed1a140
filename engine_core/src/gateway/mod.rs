//! Order encoding for the live gateways: what is on the tick-to-order path, compiled.

pub mod binance;

pub use binance::{BinanceEncoder, HmacSha256, NewOrder};
