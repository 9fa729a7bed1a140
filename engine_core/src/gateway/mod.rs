//! The live order path, compiled: the Binance request encoder, the journal's intent log and
//! the order entry that runs grid, risk check, intent and encoding in one call.

pub mod binance;
pub mod intent_log;
pub mod order_entry;

pub use binance::{BinanceEncoder, HmacSha256, NewOrder};
pub use intent_log::{Intent, IntentLog, MAX_INTENT_LINE};
pub use order_entry::{BinanceOrderRequest, EntryInstrument, EntryMarket, EntryOrder, OrderEntry};
