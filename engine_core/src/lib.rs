//! tradecore's compiled core: the normalized event record, fixed-point numbers, the L2 order
//! book, exchange feeds and the recorded-data readers, the time merge of event streams, and
//! the synthetic market generator, the signals, the risk checks, the exchange simulator, the
//! backtest replay loop, tree-model inference and the live order path (request encoding, the
//! journal's intent log, the order entry) and the accounts (spot balances, cross-margin
//! futures with liquidation and funding).
//!
//! This crate has no Python dependency: it is usable, testable and benchmarkable from Rust
//! alone. The `bindings` crate wraps it for Python.

pub mod book;
pub mod columns;
pub mod error;
pub mod event;
pub mod execution;
pub mod feed;
pub mod fixed;
pub mod gateway;
pub mod instrument;
pub mod merge;
pub mod model;
pub mod replay;
pub mod risk;
pub mod signals;
pub mod sim;
pub mod synth;
pub mod types;

pub use book::{L2Book, Level, Side};
pub use error::{Error, Result};
pub use event::Event;
