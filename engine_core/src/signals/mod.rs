//! Signals: streaming technical indicators (TA-Lib's algorithms, O(1) per update), bars
//! built from trades, and microstructure features of the book and the trade flow, combined
//! by a [`features::FeatureSet`] computed over an event stream in replay or live.

pub mod bars;
pub mod batch;
pub mod definition;
pub mod features;
pub mod indicators;
pub mod ring;
