//! The live order path's compiled half: from the strategy's order to the bytes of its request,
//! in one call. The order is checked against its instrument's grids, passes the pre-trade risk
//! check (refused: its intent is logged as `refused`, nothing is sent), its intent is appended
//! to the journal's intent log, and on the native Binance path the whole HTTP/1.1 request
//! (request line, headers, signed body) is built, ready for the socket. What is left to the
//! caller is handing the bytes to the transport and the bookkeeping after it.

use crate::error::{Error, Result};
use crate::fixed::{uint_str, write_uint};
use crate::gateway::binance::{BinanceEncoder, NewOrder};
use crate::gateway::intent_log::{Intent, IntentLog, MAX_INTENT_LINE};
use crate::risk::{Order, OrderSide, Reject, RiskEngine};
use crate::sim::{check_order_grid, TimeInForce};
use crate::types::OrderType;

/// An instrument of the order path: the journal's symbol and its grids (fixed point).
#[derive(Debug, Clone)]
pub struct EntryInstrument {
    pub symbol: String,
    pub tick: i64,
    pub lot: i64,
}

/// The native Binance request: the signer, the fixed head of the request and the symbols.
#[derive(Debug, Clone)]
pub struct BinanceOrderRequest {
    pub encoder: BinanceEncoder,
    /// `POST /fapi/v1/order HTTP/1.1\r\n` and the headers (host, key, content type,
    /// keep-alive), each ending in `\r\n`; `Content-Length` and the body follow.
    pub head: Vec<u8>,
    /// The exchange's symbol of each instrument.
    pub venue_symbols: Vec<String>,
    /// Prefix of the client order ids (`{prefix}{client_id}`).
    pub client_prefix: String,
}

/// A new order from the strategy.
#[derive(Debug, Clone, Copy)]
pub struct EntryOrder {
    pub client_id: u64,
    pub instrument: usize,
    pub side: OrderSide,
    /// Market or limit.
    pub order_type: OrderType,
    /// Fixed point: a limit order's price (> 0); 0 for a market order.
    pub price: i64,
    /// Fixed point.
    pub qty: i64,
    pub tif: TimeInForce,
    pub reduce_only: bool,
}

/// The market as the order sees it: reference price (fixed point, 0 unknown), the local
/// time of the data and whether the feed is in sync.
#[derive(Debug, Clone, Copy)]
pub struct EntryMarket {
    pub reference: i64,
    pub data_ts: i64,
    pub in_sync: bool,
}

/// The order path of one trading backend.
#[derive(Debug)]
pub struct OrderEntry {
    instruments: Vec<EntryInstrument>,
    native: Option<BinanceOrderRequest>,
    body: Vec<u8>,
    id: String,
}

impl OrderEntry {
    /// An order path over `instruments` (one per feed symbol, in its order).
    pub fn new(instruments: Vec<EntryInstrument>) -> Result<Self> {
        for i in &instruments {
            if i.tick <= 0 || i.lot <= 0 {
                return Err(Error::invalid(
                    "instrument",
                    &i.symbol,
                    "tick and lot sizes must be > 0",
                ));
            }
        }
        Ok(OrderEntry {
            instruments,
            native: None,
            body: Vec::with_capacity(256),
            id: String::with_capacity(32),
        })
    }

    /// Builds Binance requests from now on (one venue symbol per instrument).
    pub fn set_native(&mut self, native: BinanceOrderRequest) -> Result<()> {
        if native.venue_symbols.len() != self.instruments.len() {
            return Err(Error::invalid(
                "venue_symbols",
                format!("{:?}", native.venue_symbols),
                format!("one per instrument ({})", self.instruments.len()),
            ));
        }
        if !native.head.ends_with(b"\r\n") || !native.head.starts_with(b"POST ") {
            return Err(Error::invalid(
                "head",
                format!("{:?}", String::from_utf8_lossy(&native.head)),
                "must be a POST request line and headers, each ending in CRLF",
            ));
        }
        self.native = Some(native);
        Ok(())
    }

    /// True once [`OrderEntry::set_native`] was called.
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// Places an order: grid, risk check, intent, and on the native path the request's bytes
    /// appended to `request`. `Ok(Err(reject))`: refused by the risk check (its intent logged
    /// as `refused`); `Err`: a malformed order or a full intent log (nothing logged, nothing
    /// counted). `now` is the local time in ns: the intent's time, the risk check's clock and
    /// the request's timestamp.
    pub fn place(
        &mut self,
        risk: &mut RiskEngine,
        log: &mut IntentLog,
        o: &EntryOrder,
        market: EntryMarket,
        now: i64,
        request: &mut Vec<u8>,
    ) -> Result<std::result::Result<(), Reject>> {
        let inst = self.instruments.get(o.instrument).ok_or_else(|| {
            Error::invalid(
                "instrument",
                o.instrument,
                format!("must be in 0..{}", self.instruments.len()),
            )
        })?;
        check_order_grid(o.order_type, o.price, o.qty, o.tif, inst.tick, inst.lot)?;
        if log.used() + MAX_INTENT_LINE >= log.capacity() {
            return Err(Error::invalid(
                "intent log",
                log.used(),
                "is full: flush the journal first",
            ));
        }
        risk.on_market(
            o.instrument,
            market.reference,
            market.data_ts,
            market.in_sync,
        )?;
        let order = Order {
            client_id: o.client_id,
            instrument: o.instrument,
            side: o.side,
            price: o.price,
            qty: o.qty,
            reduce_only: o.reduce_only,
            modify: false,
        };
        let checked = risk.check(&order, now);
        let mut intent = Intent {
            client_id: o.client_id,
            instrument: o.instrument,
            symbol: &inst.symbol,
            side: o.side.sign(),
            price: o.price,
            qty: o.qty,
            tif: o.tif.code(),
            reduce_only: o.reduce_only,
            status: "pending",
            ts: now,
        };
        let approved = match checked {
            Ok(a) => a,
            Err(reject) => {
                intent.status = "refused";
                log.append_intent(&intent)?;
                return Ok(Err(reject));
            }
        };
        log.append_intent(&intent)?; // written before it is sent
        if let Some(n) = &self.native {
            self.id.clear();
            self.id.push_str(&n.client_prefix);
            self.id.push_str(uint_str(o.client_id, &mut [0u8; 20]));
            self.body.clear();
            let encoded = n.encoder.new_order(
                &NewOrder {
                    symbol: &n.venue_symbols[o.instrument],
                    side: o.side,
                    price: o.price,
                    qty: o.qty,
                    tif: o.tif,
                    reduce_only: o.reduce_only,
                    client_order_id: &self.id,
                },
                now.div_euclid(1_000_000),
                &mut self.body,
            );
            if let Err(e) = encoded {
                // cannot happen for a checked order and a checked set-up; never sent
                risk.order_closed(o.client_id);
                return Err(e);
            }
            request.extend_from_slice(&n.head);
            request.extend_from_slice(b"Content-Length: ");
            write_uint(request, self.body.len() as u64);
            request.extend_from_slice(b"\r\n\r\n");
            request.extend_from_slice(&self.body);
        }
        risk.order_opened(&approved);
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::{RejectCode, RiskLimits};

    const NOW: i64 = 1_723_075_200_000_000_000;

    fn setup(dir: &str) -> (OrderEntry, RiskEngine, IntentLog, std::path::PathBuf) {
        let d = std::env::temp_dir().join(format!("tc-entry-{dir}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let log = IntentLog::create(&d.join("j.intents"), 1 << 16).unwrap();
        let mut risk = RiskEngine::new(RiskLimits {
            max_order_qty: Some(10_000_000),
            ..RiskLimits::default()
        })
        .unwrap();
        risk.add_instrument(1.0, false).unwrap();
        let entry = OrderEntry::new(vec![EntryInstrument {
            symbol: "BTCUSDT".into(),
            tick: 100_000_000,
            lot: 1_000_000,
        }])
        .unwrap();
        (entry, risk, log, d)
    }

    fn order(client_id: u64, qty: i64) -> EntryOrder {
        EntryOrder {
            client_id,
            instrument: 0,
            side: OrderSide::Buy,
            order_type: OrderType::Limit,
            price: 63_999_900_000_000,
            qty,
            tif: TimeInForce::PostOnly,
            reduce_only: false,
        }
    }

    const MARKET: EntryMarket = EntryMarket {
        reference: 64_000_000_000_000,
        data_ts: NOW,
        in_sync: true,
    };

    fn lines(d: &std::path::Path) -> Vec<String> {
        let data = std::fs::read(d.join("j.intents")).unwrap();
        let end = data.iter().position(|&b| b == 0).unwrap();
        String::from_utf8(data[..end].to_vec())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn accepted_refused_and_malformed_orders() {
        let (mut entry, mut risk, mut log, d) = setup("a");
        let mut req = Vec::new();
        let r = entry.place(
            &mut risk,
            &mut log,
            &order(1, 1_000_000),
            MARKET,
            NOW,
            &mut req,
        );
        assert_eq!(r.unwrap(), Ok(()));
        assert!(req.is_empty(), "no request without the native path");
        assert_eq!(risk.open_orders(), 1);
        // over max_order_qty: refused, logged as such, not counted
        let r = entry.place(
            &mut risk,
            &mut log,
            &order(2, 20_000_000),
            MARKET,
            NOW,
            &mut req,
        );
        assert_eq!(r.unwrap().unwrap_err().code, RejectCode::MaxOrderQty);
        assert_eq!(risk.open_orders(), 1);
        // off the lot grid: an error, nothing logged
        let e = entry
            .place(
                &mut risk,
                &mut log,
                &order(3, 1_500_000),
                MARKET,
                NOW,
                &mut req,
            )
            .unwrap_err();
        assert!(e.to_string().contains("invalid qty: 0.0015"), "{e}");
        let mut bad = order(4, 1_000_000);
        bad.instrument = 1;
        assert!(entry
            .place(&mut risk, &mut log, &bad, MARKET, NOW, &mut req)
            .is_err());
        let l = lines(&d);
        assert_eq!(l.len(), 2);
        assert!(l[0].starts_with("[1,0,\"BTCUSDT\",1,63999.9,0.001,3,false,\"pending\","));
        assert!(l[1].starts_with("[2,0,\"BTCUSDT\",1,63999.9,0.02,3,false,\"refused\","));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn native_request_is_the_whole_signed_http_request() {
        let (mut entry, mut risk, mut log, d) = setup("b");
        // Binance's documented example key (the encoder's own tests check its signatures)
        let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        entry
            .set_native(BinanceOrderRequest {
                encoder: BinanceEncoder::new(secret, 5000).unwrap(),
                head: b"POST /fapi/v1/order HTTP/1.1\r\nHost: x\r\n".to_vec(),
                venue_symbols: vec!["BTCUSDT".into()],
                client_prefix: "tc".into(),
            })
            .unwrap();
        let mut req = Vec::new();
        let r = entry.place(
            &mut risk,
            &mut log,
            &order(9, 1_000_000),
            MARKET,
            NOW,
            &mut req,
        );
        assert_eq!(r.unwrap(), Ok(()));
        let text = String::from_utf8(req).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /fapi/v1/order HTTP/1.1\r\nHost: x\r\nContent-Length: "));
        assert_eq!(
            head.rsplit(": ").next().unwrap().parse::<usize>().unwrap(),
            body.len()
        );
        let mut expected = Vec::new();
        BinanceEncoder::new(secret, 5000)
            .unwrap()
            .new_order(
                &NewOrder {
                    symbol: "BTCUSDT",
                    side: OrderSide::Buy,
                    price: 63_999_900_000_000,
                    qty: 1_000_000,
                    tif: TimeInForce::PostOnly,
                    reduce_only: false,
                    client_order_id: "tc9",
                },
                NOW / 1_000_000,
                &mut expected,
            )
            .unwrap();
        assert_eq!(body.as_bytes(), &expected[..]);
        assert!(entry
            .set_native(BinanceOrderRequest {
                encoder: BinanceEncoder::new(secret, 5000).unwrap(),
                head: b"GET / HTTP/1.1\r\n".to_vec(),
                venue_symbols: vec!["BTCUSDT".into()],
                client_prefix: "tc".into(),
            })
            .is_err());
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn full_log_is_an_error_before_the_risk_check() {
        let (mut entry, mut risk, _, d) = setup("c");
        let mut log = IntentLog::create(&d.join("small.intents"), 4096).unwrap();
        let mut req = Vec::new();
        let mut id = 0;
        let e = loop {
            id += 1;
            match entry.place(
                &mut risk,
                &mut log,
                &order(id, 1_000_000),
                MARKET,
                NOW,
                &mut req,
            ) {
                Ok(r) => assert_eq!(r, Ok(())),
                Err(e) => break e,
            }
        };
        assert!(e.to_string().contains("is full"), "{e}");
        assert_eq!(
            risk.open_orders(),
            id as usize - 1,
            "the refused one is not counted"
        );
        let _ = std::fs::remove_dir_all(d);
    }
}
