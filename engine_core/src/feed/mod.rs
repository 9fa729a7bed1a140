//! Exchange feeds: message parsers and book-sync state machines (Binance first), and the
//! raw capture reader that replays recorded websocket frames through them.

pub mod binance;
pub mod capture;
pub(crate) mod json;
