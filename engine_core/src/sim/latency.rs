//! Order latency models: how long an order takes to reach the exchange (entry) and how long
//! the exchange's answer takes to come back (response).

use crate::error::{Error, Result};

/// Where an order's entry and response latencies come from.
#[derive(Debug, Clone)]
pub enum LatencyModel {
    /// The same latencies for every order (ns).
    Constant { entry: i64, response: i64 },
    /// Drawn from recorded latencies (ns) with a seeded generator, so a run is repeatable:
    /// each order's entry latency is one of `entry`, each answer's one of `response`
    /// (drawn independently, uniformly over the recorded values).
    Sampled {
        entry: Vec<i64>,
        response: Vec<i64>,
        state: u64,
    },
}

impl LatencyModel {
    /// Constant latencies in ns (>= 0).
    pub fn constant(entry: i64, response: i64) -> Result<Self> {
        for (field, v) in [
            ("entry_latency_ns", entry),
            ("response_latency_ns", response),
        ] {
            if v < 0 {
                return Err(Error::invalid(field, v, "must be >= 0"));
            }
        }
        Ok(LatencyModel::Constant { entry, response })
    }

    /// Latencies drawn from recorded samples (ns, each >= 0, neither list empty).
    pub fn sampled(entry: Vec<i64>, response: Vec<i64>, seed: u64) -> Result<Self> {
        for (field, v) in [
            ("entry_latency_ns", &entry),
            ("response_latency_ns", &response),
        ] {
            if v.is_empty() {
                return Err(Error::invalid(
                    field,
                    "[]",
                    "needs at least one recorded latency",
                ));
            }
            if let Some(bad) = v.iter().find(|&&x| x < 0) {
                return Err(Error::invalid(field, bad, "must be >= 0"));
            }
        }
        Ok(LatencyModel::Sampled {
            entry,
            response,
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
        })
    }

    /// The entry latency of the next order.
    #[inline]
    pub fn entry(&mut self) -> i64 {
        match self {
            LatencyModel::Constant { entry, .. } => *entry,
            LatencyModel::Sampled { entry, state, .. } => entry[draw(state, entry.len())],
        }
    }

    /// The response latency of the next answer.
    #[inline]
    pub fn response(&mut self) -> i64 {
        match self {
            LatencyModel::Constant { response, .. } => *response,
            LatencyModel::Sampled {
                response, state, ..
            } => response[draw(state, response.len())],
        }
    }
}

/// A uniform index below `n` from a splitmix64 step (Lemire's multiply-shift).
#[inline]
fn draw(state: &mut u64, n: usize) -> usize {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    #[allow(clippy::cast_possible_truncation)]
    let i = ((u128::from(z) * n as u128) >> 64) as usize;
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_latencies_repeat_with_the_seed_and_cover_the_samples() {
        let mut a = LatencyModel::sampled(vec![1, 2, 3], vec![10, 20], 7).unwrap();
        let mut b = LatencyModel::sampled(vec![1, 2, 3], vec![10, 20], 7).unwrap();
        let xs: Vec<i64> = (0..300).map(|_| a.entry()).collect();
        let ys: Vec<i64> = (0..300).map(|_| b.entry()).collect();
        assert_eq!(xs, ys);
        for v in [1, 2, 3] {
            let n = xs.iter().filter(|&&x| x == v).count();
            assert!((60..140).contains(&n), "{v}: {n}");
        }
        assert!(LatencyModel::sampled(vec![], vec![1], 0).is_err());
        assert!(LatencyModel::sampled(vec![1], vec![-1], 0).is_err());
        assert!(LatencyModel::constant(-1, 0).is_err());
    }
}
