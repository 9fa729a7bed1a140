//! Exchange feeds: message parsers and book-sync state machines (Binance, Bybit), readers of
//! other recording formats (Tardis CSV), and the recorded-data reader that replays files
//! through them.

pub mod binance;
pub mod bybit;
pub mod capture;
pub(crate) mod json;
pub mod tardis;
pub(crate) mod zip;

pub use capture::CaptureReport;
