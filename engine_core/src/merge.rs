//! Merging several event streams (one per instrument or venue) into one, in exchange-time
//! order, in chunks.
//!
//! Each stream keeps its own order (a venue's streams are recorded in arrival order, and
//! their exchange times need not be monotone); among the streams' next events the earliest
//! goes first, ties to the lower stream index. The sort key is the exchange time, or the local
//! time for events that have none (`NO_EXCH_TS`).

use crate::event::{flags, Event};

/// The time an event is merged by.
#[inline]
pub fn merge_key(e: &Event) -> i64 {
    if e.flags & flags::NO_EXCH_TS != 0 || e.exch_ts == 0 {
        e.local_ts
    } else {
        e.exch_ts
    }
}

/// Merges the buffered heads of several streams into `out` (as many events as it has room
/// for), each output event tagged with its stream index as `instrument`.
///
/// `streams[i]` holds the events of stream `i` not merged yet; `last[i]` says it is the end of
/// that stream. The merge stops when `out` is full or when a stream that is not at its end
/// runs empty (its next event is unknown, so nothing later may be emitted): the caller
/// refills it and calls again. Returns the events written and how many were taken from each
/// stream.
pub fn merge_streams(
    streams: &[&[Event]],
    last: &[bool],
    out: &mut [Event],
) -> (usize, Vec<usize>) {
    let n = streams.len();
    let max_out = out.len();
    let mut pos = vec![0usize; n];
    let mut emitted = 0;
    while emitted < max_out {
        let mut best: Option<(i64, usize)> = None;
        for i in 0..n {
            match streams[i].get(pos[i]) {
                Some(e) => {
                    let k = merge_key(e);
                    if best.is_none_or(|(bk, _)| k < bk) {
                        best = Some((k, i));
                    }
                }
                // A stream with more to come but nothing buffered blocks the merge.
                None if !last.get(i).copied().unwrap_or(true) => return (emitted, pos),
                None => {}
            }
        }
        let Some((_, i)) = best else { break };
        // Take the run of stream `i` that stays ahead of every other head.
        let bound = (0..n)
            .filter(|&j| j != i)
            .filter_map(|j| streams[j].get(pos[j]).map(|e| (merge_key(e), j)))
            .min();
        let start = pos[i];
        let mut end = start;
        let limit = (start + (max_out - emitted)).min(streams[i].len());
        while end < limit {
            let k = merge_key(&streams[i][end]);
            // Ties go to the lower stream index.
            let ahead = match bound {
                None => true,
                Some((bk, j)) => k < bk || (k == bk && i < j),
            };
            if !ahead && end > start {
                break;
            }
            end += 1;
        }
        let tag = u32::try_from(i).unwrap_or(u32::MAX);
        for (slot, e) in out[emitted..emitted + end - start]
            .iter_mut()
            .zip(&streams[i][start..end])
        {
            *slot = Event {
                instrument: tag,
                ..*e
            };
        }
        emitted += end - start;
        pos[i] = end;
    }
    (emitted, pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(t: i64, id: u64) -> Event {
        Event {
            exch_ts: t,
            trade_id: id,
            ..Event::default()
        }
    }

    /// The reference: a stable sort by (key, stream) of per-stream sequences can differ when a
    /// stream is not monotone, so the reference is the same greedy rule, one event at a time.
    fn reference(streams: &[Vec<Event>]) -> Vec<(u32, u64)> {
        let mut pos = vec![0; streams.len()];
        let mut out = Vec::new();
        loop {
            let best = (0..streams.len())
                .filter_map(|i| streams[i].get(pos[i]).map(|e| (merge_key(e), i)))
                .min();
            let Some((_, i)) = best else { break };
            out.push((i as u32, streams[i][pos[i]].trade_id));
            pos[i] += 1;
        }
        out
    }

    proptest! {
        /// Merging in chunks, refilling streams a few events at a time, gives the same stream
        /// as merging everything at once, and keeps every stream's own order.
        #[test]
        fn chunked_merge_equals_the_one_at_a_time_rule(
            times in proptest::collection::vec(proptest::collection::vec(0i64..50, 0..40), 1..5),
            refill in 1usize..7,
            max_out in 1usize..20,
        ) {
            let streams: Vec<Vec<Event>> = times
                .iter()
                .enumerate()
                .map(|(s, ts)| ts.iter().enumerate().map(|(k, t)| ev(*t, (s * 1000 + k) as u64)).collect())
                .collect();
            let mut fed = vec![0usize; streams.len()];
            let mut bufs: Vec<Vec<Event>> = vec![Vec::new(); streams.len()];
            let mut got = Vec::new();
            loop {
                for i in 0..streams.len() {
                    if bufs[i].is_empty() && fed[i] < streams[i].len() {
                        let take = refill.min(streams[i].len() - fed[i]);
                        bufs[i].extend_from_slice(&streams[i][fed[i]..fed[i] + take]);
                        fed[i] += take;
                    }
                }
                let last: Vec<bool> = (0..streams.len()).map(|i| fed[i] == streams[i].len()).collect();
                let views: Vec<&[Event]> = bufs.iter().map(Vec::as_slice).collect();
                let mut out = vec![Event::default(); max_out];
                let (written, taken) = merge_streams(&views, &last, &mut out);
                out.truncate(written);
                for (b, t) in bufs.iter_mut().zip(&taken) {
                    b.drain(..*t);
                }
                if out.is_empty() && bufs.iter().all(Vec::is_empty) && last.iter().all(|x| *x) {
                    break;
                }
                prop_assert!(!out.is_empty() || bufs.iter().any(Vec::is_empty));
                got.extend(out.iter().map(|e| (e.instrument, e.trade_id)));
            }
            prop_assert_eq!(got, reference(&streams));
        }
    }

    #[test]
    fn events_without_exchange_time_merge_by_local_time() {
        let a = [Event {
            exch_ts: 0,
            local_ts: 5,
            flags: flags::NO_EXCH_TS,
            ..Event::default()
        }];
        let b = [ev(3, 1), ev(7, 2)];
        let mut out = vec![Event::default(); 10];
        let (written, taken) = merge_streams(&[&a, &b], &[true, true], &mut out);
        assert_eq!((written, taken), (3, vec![1, 2]));
        out.truncate(written);
        assert_eq!(
            out.iter().map(|e| e.instrument).collect::<Vec<_>>(),
            vec![1, 0, 1]
        );
    }
}
