use super::*;
use proptest::prelude::*;

const Q: i64 = 1_000_000_000;

/// Fixed point from a decimal float (test inputs only).
fn fx(x: f64) -> i64 {
    (x * 1e9).round() as i64
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

macro_rules! assert_close {
    ($a:expr, $b:expr, $tol:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(close(a, b, $tol), "{a} != {b} (tolerance {})", $tol);
    }};
}

// ---------------------------------------------------------------- cash account

fn spot() -> (CashAccount, AssetId, AssetId) {
    let mut a = CashAccount::new();
    let btc = a.asset("BTC").unwrap();
    let usdt = a.asset("USDT").unwrap();
    a.set_balance(usdt, 10_000.0).unwrap();
    (a, btc, usdt)
}

fn limit(side: OrderSide, base: AssetId, quote: AssetId, qty: f64, price: f64) -> SpotOrder {
    SpotOrder {
        side,
        base,
        quote,
        qty: fx(qty),
        price: SpotPrice::Limit(fx(price)),
    }
}

#[test]
fn spot_buy_then_sell_with_fees() {
    let (mut a, btc, usdt) = spot();
    assert_eq!(a.asset("BTC").unwrap(), btc, "registration is idempotent");
    // Buy 0.1 BTC at 60,000: reserves 0.1 * 60,000 = 6,000 USDT (nothing for the fee).
    a.reserve(1, limit(OrderSide::Buy, btc, usdt, 0.1, 60_000.0))
        .unwrap()
        .unwrap();
    assert_close!(a.free(usdt).unwrap(), 4_000.0, 1e-9);
    assert_close!(a.locked(usdt).unwrap(), 6_000.0, 1e-9);
    // Filled at 60,000, fee 0.1%: pays 6,000 USDT, receives 0.1 - 0.1 * 0.001 = 0.0999 BTC.
    let fee = a
        .fill(1, OrderSide::Buy, btc, usdt, fx(60_000.0), fx(0.1), 0.001)
        .unwrap();
    assert_close!(fee, 0.0001, 1e-15);
    assert_close!(a.free(usdt).unwrap(), 4_000.0, 1e-9);
    assert_close!(a.locked(usdt).unwrap(), 0.0, 0.0);
    assert_close!(a.free(btc).unwrap(), 0.0999, 1e-15);
    assert_eq!(a.reserved(1), None, "a filled order keeps no reservation");
    // Sell 0.05 BTC at 61,000: reserves 0.05 BTC; free BTC 0.0999 - 0.05 = 0.0499.
    a.reserve(2, limit(OrderSide::Sell, btc, usdt, 0.05, 61_000.0))
        .unwrap()
        .unwrap();
    assert_close!(a.free(btc).unwrap(), 0.0499, 1e-15);
    assert_close!(a.locked(btc).unwrap(), 0.05, 1e-15);
    // Filled at 61,000, fee 0.1% of the quote received: 3,050 - 3.05 = 3,046.95 USDT.
    let fee = a
        .fill(2, OrderSide::Sell, btc, usdt, fx(61_000.0), fx(0.05), 0.001)
        .unwrap();
    assert_close!(fee, 3.05, 1e-9);
    assert_close!(a.free(usdt).unwrap(), 4_000.0 + 3_046.95, 1e-9);
    assert_close!(a.free(btc).unwrap(), 0.0499, 1e-15);
    assert_close!(a.locked(btc).unwrap(), 0.0, 1e-15);
}

#[test]
fn spot_sell_without_the_base_is_refused() {
    let (mut a, btc, usdt) = spot();
    let r = a
        .reserve(7, limit(OrderSide::Sell, btc, usdt, 0.5, 60_000.0))
        .unwrap()
        .unwrap_err();
    assert_eq!(r.to_string(), "insufficient BTC: needs 0.5, 0 available");
    assert_eq!((r.asset.as_str(), r.needed, r.available), ("BTC", 0.5, 0.0));
    assert_eq!(a.reserved(7), None);
    // A buy beyond the free quote names USDT: 1 * 20,000 needed, 10,000 available.
    let r = a
        .reserve(8, limit(OrderSide::Buy, btc, usdt, 1.0, 20_000.0))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        r.to_string(),
        "insufficient USDT: needs 20000, 10000 available"
    );
}

#[test]
fn spot_market_buy_reserves_the_slippage_allowance() {
    let (mut a, btc, usdt) = spot();
    // 0.1 * 50,000 * (1 + 0.02) = 5,100 USDT.
    let o = SpotOrder {
        side: OrderSide::Buy,
        base: btc,
        quote: usdt,
        qty: fx(0.1),
        price: SpotPrice::Market {
            reference: fx(50_000.0),
            slippage: 0.02,
        },
    };
    a.reserve(3, o).unwrap().unwrap();
    assert_close!(a.locked(usdt).unwrap(), 5_100.0, 1e-9);
    // Filled at 50,500: pays 5,050, the last fill frees the other 50.
    a.fill(3, OrderSide::Buy, btc, usdt, fx(50_500.0), fx(0.1), 0.0)
        .unwrap();
    assert_close!(a.free(usdt).unwrap(), 10_000.0 - 5_050.0, 1e-9);
    assert_close!(a.locked(usdt).unwrap(), 0.0, 0.0);
}

#[test]
fn reservations_are_freed_on_cancel_and_on_a_fill_below_the_limit() {
    let (mut a, btc, usdt) = spot();
    a.reserve(1, limit(OrderSide::Buy, btc, usdt, 1.0, 5_000.0))
        .unwrap()
        .unwrap();
    assert_close!(a.free(usdt).unwrap(), 5_000.0, 1e-9);
    assert_close!(a.release(1).unwrap(), 5_000.0, 1e-9);
    assert_close!(a.free(usdt).unwrap(), 10_000.0, 1e-9);
    assert_close!(a.locked(usdt).unwrap(), 0.0, 0.0);
    assert!(a.release(1).is_err(), "released once only");

    // Buy 0.2 at a 50,000 limit: 10,000 locked, nothing free.
    a.reserve(2, limit(OrderSide::Buy, btc, usdt, 0.2, 50_000.0))
        .unwrap()
        .unwrap();
    assert_close!(a.free(usdt).unwrap(), 0.0, 1e-9);
    // 0.1 filled at 49,000: the fill's share is 0.1 * 50,000 = 5,000, it pays 4,900, so 100
    // goes back to free and 5,000 stays locked.
    a.fill(2, OrderSide::Buy, btc, usdt, fx(49_000.0), fx(0.1), 0.0)
        .unwrap();
    assert_close!(a.free(usdt).unwrap(), 100.0, 1e-9);
    assert_close!(a.locked(usdt).unwrap(), 5_000.0, 1e-9);
    assert_close!(a.reserved(2).unwrap(), 5_000.0, 1e-9);
    // The last 0.1 at 49,500: pays 4,950, frees 50.
    a.fill(2, OrderSide::Buy, btc, usdt, fx(49_500.0), fx(0.1), 0.0)
        .unwrap();
    assert_close!(a.free(usdt).unwrap(), 150.0, 1e-9);
    assert_close!(a.locked(usdt).unwrap(), 0.0, 1e-9);
    assert_close!(a.free(btc).unwrap(), 0.2, 1e-15);
}

#[test]
fn a_fill_that_would_make_a_balance_negative_is_an_error() {
    let (mut a, btc, usdt) = spot();
    // No reservation: 1 BTC at 20,000 would need 20,000 of the 10,000 free USDT.
    let e = a
        .fill(9, OrderSide::Buy, btc, usdt, fx(20_000.0), Q, 0.0)
        .unwrap_err();
    assert!(e.to_string().contains("USDT balance negative"), "{e}");
    assert_close!(a.free(usdt).unwrap(), 10_000.0, 0.0);
    assert_close!(a.free(btc).unwrap(), 0.0, 0.0);
    // A fill larger than the order, or on the wrong side, is refused.
    a.reserve(1, limit(OrderSide::Buy, btc, usdt, 0.1, 50_000.0))
        .unwrap()
        .unwrap();
    assert!(a
        .fill(1, OrderSide::Buy, btc, usdt, fx(50_000.0), fx(0.2), 0.0)
        .is_err());
    assert!(a
        .fill(1, OrderSide::Sell, btc, usdt, fx(50_000.0), fx(0.1), 0.0)
        .is_err());
    assert_close!(a.locked(usdt).unwrap(), 5_000.0, 1e-9);
}

#[test]
fn bad_spot_inputs_are_refused_naming_field_and_value() {
    let (mut a, btc, usdt) = spot();
    let e = a.deposit(usdt, -1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid deposit: -1 (must be finite and >= 0)"
    );
    let e = a.set_balance(btc, f64::NAN).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid balance: NaN (must be finite and >= 0)"
    );
    assert!(a.deposit(usdt, f64::INFINITY).is_err());
    let e = a.asset_id("ETH").unwrap_err();
    assert_eq!(e.to_string(), "invalid asset: ETH (unknown asset)");
    assert!(a.asset("").is_err());
    assert!(a.free(AssetId(9)).is_err());
    assert!(a
        .reserve(1, limit(OrderSide::Buy, btc, btc, 1.0, 1.0))
        .is_err());
    assert!(a
        .reserve(1, limit(OrderSide::Buy, btc, usdt, 0.0, 1.0))
        .is_err());
    a.reserve(1, limit(OrderSide::Buy, btc, usdt, 0.01, 1.0))
        .unwrap()
        .unwrap();
    assert!(
        a.reserve(1, limit(OrderSide::Buy, btc, usdt, 0.01, 1.0))
            .is_err(),
        "order id reused"
    );
}

// ---------------------------------------------------------------- margin account

/// Binance's BTCUSDT brackets (first four, `GET /fapi/v1/leverageBracket`).
fn btc_brackets() -> Vec<Bracket> {
    vec![
        Bracket {
            notional_floor: 0.0,
            notional_cap: 50_000.0,
            maint_margin_ratio: 0.004,
            cum: 0.0,
            max_leverage: 125.0,
        },
        Bracket {
            notional_floor: 50_000.0,
            notional_cap: 250_000.0,
            maint_margin_ratio: 0.005,
            cum: 50.0,
            max_leverage: 100.0,
        },
        Bracket {
            notional_floor: 250_000.0,
            notional_cap: 1_000_000.0,
            maint_margin_ratio: 0.01,
            cum: 1_300.0,
            max_leverage: 50.0,
        },
        Bracket {
            notional_floor: 1_000_000.0,
            notional_cap: 10_000_000.0,
            maint_margin_ratio: 0.025,
            cum: 16_300.0,
            max_leverage: 20.0,
        },
    ]
}

fn eth_brackets() -> Vec<Bracket> {
    vec![Bracket {
        notional_floor: 0.0,
        notional_cap: 10_000.0,
        maint_margin_ratio: 0.005,
        cum: 0.0,
        max_leverage: 75.0,
    }]
}

fn usdm(wallet: f64) -> MarginAccount {
    let mut m = MarginAccount::new("USDT", wallet).unwrap();
    m.add_instrument(ContractKind::Linear, 1.0, 20.0, &btc_brackets())
        .unwrap();
    m.add_instrument(ContractKind::Linear, 1.0, 20.0, &eth_brackets())
        .unwrap();
    m
}

#[test]
fn an_order_beyond_available_margin_is_refused() {
    let mut m = usdm(1_000.0);
    // Buy 0.5 BTC at 60,000, 20x: 30,000 / 20 = 1,500 needed, 1,000 available.
    let r = m
        .check_order(0, OrderSide::Buy, fx(0.5), fx(60_000.0))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        r.to_string(),
        "insufficient USDT: needs 1500, 1000 available"
    );
    // 0.3 needs 18,000 / 20 = 900: accepted and left open, 100 available.
    m.place_order(1, 0, OrderSide::Buy, fx(0.3), fx(60_000.0))
        .unwrap()
        .unwrap();
    assert_close!(m.order_margin(), 900.0, 1e-9);
    assert_close!(m.available(), 100.0, 1e-9);
    // Another 0.1 buy needs 300 > 100; so does a 0.3 sell (it would open a short).
    let r = m
        .place_order(2, 0, OrderSide::Buy, fx(0.1), fx(60_000.0))
        .unwrap()
        .unwrap_err();
    assert_close!(r.needed, 300.0, 1e-9);
    assert_close!(r.available, 100.0, 1e-9);
    assert!(m
        .check_order(0, OrderSide::Sell, fx(0.3), fx(60_000.0))
        .unwrap()
        .is_err());
    // Filled: long 0.3, position margin 900, the order margin is gone.
    m.fill_order(1, fx(0.3), fx(60_000.0), 0.0).unwrap();
    assert_close!(m.order_margin(), 0.0, 0.0);
    assert_close!(m.position_initial_margin(), 900.0, 1e-9);
    // The mark falls to 59,000: unrealized -300, available 1,000 - 300 - 885 = -185, shown
    // negative. A reducing sell still passes: it needs no margin.
    m.on_mark(0, fx(59_000.0)).unwrap();
    assert_close!(m.available(), -185.0, 1e-9);
    m.check_order(0, OrderSide::Sell, fx(0.3), fx(59_000.0))
        .unwrap()
        .unwrap();
    // A sell of 0.4 reduces 0.3 and opens 0.1 short: 0.1 * 59,000 / 20 = 295 needed.
    let r = m
        .check_order(0, OrderSide::Sell, fx(0.4), fx(59_000.0))
        .unwrap()
        .unwrap_err();
    assert_close!(r.needed, 295.0, 1e-9);
    assert_close!(r.available, -185.0, 1e-9);
    // Cancelling frees the order margin.
    m.place_order(3, 1, OrderSide::Buy, Q, fx(1.0))
        .unwrap()
        .unwrap_err();
    assert!(m.cancel_order(3).is_err());
    assert!(m.check_order(7, OrderSide::Buy, Q, Q).is_err());
    assert!(m.check_order(0, OrderSide::Buy, 0, Q).is_err());
}

#[test]
fn cancel_releases_order_margin() {
    let mut m = usdm(1_000.0);
    m.place_order(5, 1, OrderSide::Sell, fx(2.0), fx(3_000.0))
        .unwrap()
        .unwrap();
    // 2 * 3,000 / 20 = 300.
    assert_close!(m.available(), 700.0, 1e-9);
    m.cancel_order(5).unwrap();
    assert_close!(m.available(), 1_000.0, 1e-9);
}

#[test]
fn bad_leverage_is_refused_naming_field_and_value() {
    let mut m = usdm(100_000.0);
    for (lev, text) in [
        (0.0, "invalid leverage: 0 (must be finite and >= 1)"),
        (-5.0, "invalid leverage: -5 (must be finite and >= 1)"),
        (f64::NAN, "invalid leverage: NaN (must be finite and >= 1)"),
        (
            126.0,
            "invalid leverage: 126 (above the bracket's maximum 125)",
        ),
    ] {
        assert_eq!(m.set_leverage(0, lev).unwrap_err().to_string(), text);
    }
    assert_close!(m.leverage(0).unwrap(), 20.0, 0.0);
    m.set_leverage(0, 125.0).unwrap();
    // With 1 BTC at 60,000 the notional (60,000) is in the second bracket: max 100x.
    m.set_leverage(0, 20.0).unwrap();
    m.fill(0, OrderSide::Buy, Q, fx(60_000.0), 0.0).unwrap();
    assert!(m.set_leverage(0, 110.0).is_err());
    m.set_leverage(0, 100.0).unwrap();
    assert!(MarginAccount::new("USDT", 0.0)
        .unwrap()
        .add_instrument(ContractKind::Linear, 1.0, 0.5, &btc_brackets())
        .is_err());
}

#[test]
fn usdm_long_is_liquidated_by_a_falling_mark() {
    let mut m = usdm(1_000.0);
    m.fill(0, OrderSide::Buy, fx(0.1), fx(60_000.0), 0.0)
        .unwrap();
    // Notional 6,000: bracket 1 (mmr 0.004, cum 0).
    // LP = (WB - TMM1 + UPNL1 + cumB - Side*Pos*EP) / (Pos*MMR - Side*Pos)
    //    = (1,000 - 0 + 0 + 0 - 0.1 * 60,000) / (0.1 * 0.004 - 0.1)
    //    = -5,000 / -0.0996 = 50,200.803212851...
    let lp = m.liquidation_price(0).unwrap().unwrap();
    assert_close!(lp, 5_000.0 / 0.0996, 1e-9);
    assert_close!(lp, 50_200.803_212_851_4, 1e-9);
    // Just above: margin 1,000 + 0.1 * (50,200.81 - 60,000) = 20.081 >= mm 20.0803.
    assert!(!m.on_mark(0, fx(50_200.81)).unwrap());
    // Just below: 20.079 < 20.080316.
    assert!(m.on_mark(0, fx(50_200.79)).unwrap());
    assert_close!(m.maintenance_margin(), 5_020.079 * 0.004, 1e-9);

    // Liquidated at 50,200 with a 0.5% clearance fee: realized 0.1 * (50,200 - 60,000) = -980,
    // fee 5,020 * 0.005 = 25.1; wallet 1,000 - 980 - 25.1 = -5.1, covered by the insurance
    // fund back to 0.
    m.place_order(1, 1, OrderSide::Buy, Q, fx(3_000.0))
        .unwrap()
        .unwrap_err();
    let l = m.liquidate(0, fx(50_200.0), 0.005).unwrap();
    assert!(l.is_liquidation);
    assert_eq!(
        (l.instrument, l.side, l.qty, l.price),
        (0, OrderSide::Sell, fx(0.1), fx(50_200.0))
    );
    assert_close!(l.realized, -980.0, 1e-9);
    assert_close!(l.fee, 25.1, 1e-9);
    assert_close!(l.insurance_cover, 5.1, 1e-9);
    assert_close!(m.wallet_balance(), 0.0, 0.0);
    assert_eq!(m.position(0).unwrap().qty, 0);
    assert_eq!(m.liquidation_price(0).unwrap(), None);
    assert!(m.liquidate(0, fx(50_200.0), 0.005).is_err(), "nothing left");
}

#[test]
fn liquidation_cancels_open_orders() {
    let mut m = usdm(1_000.0);
    m.fill(0, OrderSide::Buy, fx(0.1), fx(60_000.0), 0.0)
        .unwrap();
    m.place_order(4, 1, OrderSide::Buy, fx(0.1), fx(3_000.0))
        .unwrap()
        .unwrap();
    assert_close!(m.order_margin(), 15.0, 1e-9);
    m.liquidate(0, fx(55_000.0), 0.0).unwrap();
    assert_close!(m.order_margin(), 0.0, 0.0);
    assert!(m.cancel_order(4).is_err());
    // 1,000 + 0.1 * (55,000 - 60,000) = 500.
    assert_close!(m.wallet_balance(), 500.0, 1e-9);
}

#[test]
fn usdm_short_is_liquidated_by_a_rising_mark() {
    let mut m = usdm(1_000.0);
    m.fill(0, OrderSide::Sell, fx(0.1), fx(60_000.0), 0.0)
        .unwrap();
    // LP = (1,000 - (-1) * 0.1 * 60,000) / (0.1 * 0.004 - (-1) * 0.1) = 7,000 / 0.1004
    //    = 69,721.115537848...
    let lp = m.liquidation_price(0).unwrap().unwrap();
    assert_close!(lp, 7_000.0 / 0.1004, 1e-9);
    assert_close!(lp, 69_721.115_537_848_6, 1e-9);
    // Below: margin 1,000 - 0.1 * 9,721.11 = 27.889 >= mm 27.888444.
    assert!(!m.on_mark(0, fx(69_721.11)).unwrap());
    // Above: 27.888 < 27.888448.
    assert!(m.on_mark(0, fx(69_721.12)).unwrap());
}

#[test]
fn the_liquidation_bracket_is_the_one_holding_the_result() {
    let mut m = usdm(20_000.0);
    m.fill(0, OrderSide::Buy, Q, fx(60_000.0), 0.0).unwrap();
    // The current notional (60,000) is in bracket 2 (0.005, cum 50), giving
    // (20,000 + 50 - 60,000) / (0.005 - 1) = 40,150.75, a notional in bracket 1; with bracket 1:
    // (20,000 - 60,000) / (0.004 - 1) = 40,000 / 0.996 = 40,160.642570281..., in bracket 1.
    let lp = m.liquidation_price(0).unwrap().unwrap();
    assert_close!(lp, 40_000.0 / 0.996, 1e-9);
    // Margin 20,000 + (40,160.7 - 60,000) = 160.7 >= 160.6428; at 40,160.6: 160.6 < 160.6424.
    assert!(!m.on_mark(0, fx(40_160.7)).unwrap());
    assert!(m.on_mark(0, fx(40_160.6)).unwrap());
}

#[test]
fn coinm_inverse_long_liquidation_by_hand() {
    // BTCUSD perpetual: 100 USD contracts, wallet 0.01 BTC; qty brackets in BTC.
    let brackets = [
        Bracket {
            notional_floor: 0.0,
            notional_cap: 5.0,
            maint_margin_ratio: 0.004,
            cum: 0.0,
            max_leverage: 125.0,
        },
        Bracket {
            notional_floor: 5.0,
            notional_cap: 10.0,
            maint_margin_ratio: 0.005,
            cum: 0.005,
            max_leverage: 100.0,
        },
    ];
    let mut m = MarginAccount::new("BTC", 0.01).unwrap();
    m.add_instrument(ContractKind::Inverse, 100.0, 20.0, &brackets)
        .unwrap();
    // Long 10 contracts at 50,000: notional 10 * 100 / 50,000 = 0.02 BTC, margin 0.001 BTC.
    m.fill(0, OrderSide::Buy, 10 * Q, fx(50_000.0), 0.0)
        .unwrap();
    assert_close!(m.position_initial_margin(), 0.001, 1e-15);
    // LP = (B*MMR + Side*B) / ((WB - TMM1 + UPNL1 + cumB)/CM + Side*B/EP)
    //    = (10 * 0.004 + 10) / (0.01 / 100 + 10 / 50,000) = 10.04 / 0.0003 = 33,466.666...
    let lp = m.liquidation_price(0).unwrap().unwrap();
    assert_close!(lp, 10.04 / 0.0003, 1e-9);
    // At 33,467: margin 0.01 + 1,000 * (1/50,000 - 1/33,467) = 0.000119...; mm = 1,000/33,467
    // * 0.004 = 0.000119521: not liquidatable (3.0e-7 above); at 33,466 it is (6.0e-7 below).
    assert!(!m.on_mark(0, fx(33_467.0)).unwrap());
    assert!(m.on_mark(0, fx(33_466.0)).unwrap());
    // Liquidated at 33,466 with 0.5%: realized 1,000 * (1/50,000 - 1/33,466), fee 0.5% of
    // 1,000 / 33,466 BTC.
    let l = m.liquidate(0, fx(33_466.0), 0.005).unwrap();
    let realized = 1_000.0 * (1.0 / 50_000.0 - 1.0 / 33_466.0);
    assert_close!(l.realized, realized, 1e-15);
    assert_close!(l.fee, 0.005 * 1_000.0 / 33_466.0, 1e-15);
    assert_close!(
        m.wallet_balance(),
        (0.01 + realized - l.fee).max(0.0),
        1e-15
    );
}

#[test]
fn cross_margin_another_positions_loss_moves_the_liquidation_price() {
    let mut m = usdm(1_000.0);
    m.fill(0, OrderSide::Buy, fx(0.1), fx(60_000.0), 0.0)
        .unwrap();
    m.fill(1, OrderSide::Buy, Q, fx(3_000.0), 0.0).unwrap();
    // ETH at 3,000: UPNL1 = 0, TMM1 = 3,000 * 0.005 = 15.
    // LP = (1,000 - 15 + 0 - 6,000) / -0.0996 = 5,015 / 0.0996 = 50,351.405622489...
    let lp = m.liquidation_price(0).unwrap().unwrap();
    assert_close!(lp, 5_015.0 / 0.0996, 1e-9);
    // ETH falls to 2,800: UPNL1 = -200, TMM1 = 14.
    // LP = (1,000 - 14 - 200 - 6,000) / -0.0996 = 5,214 / 0.0996 = 52,349.397590361...
    assert!(!m.on_mark(1, fx(2_800.0)).unwrap());
    let lp = m.liquidation_price(0).unwrap().unwrap();
    assert_close!(lp, 5_214.0 / 0.0996, 1e-9);
    assert!(!m.on_mark(0, fx(52_349.41)).unwrap());
    assert!(m.on_mark(0, fx(52_349.38)).unwrap());
}

#[test]
fn linear_funding_over_three_times() {
    let mut m = usdm(1_000.0);
    m.fill(0, OrderSide::Buy, fx(0.1), fx(60_000.0), 0.0)
        .unwrap(); // long 0.1 BTC
    m.fill(1, OrderSide::Sell, fx(2.0), fx(3_000.0), 0.0)
        .unwrap(); // short 2 ETH
                   // Long: 0.1 * 60,000 * 0.0001 = 0.6 paid; 0.1 * 62,000 * -0.0002 = -1.24 (received);
                   // 0.1 * 58,000 * 0.0003 = 1.74 paid. Total 0.6 - 1.24 + 1.74 = 1.1.
    let long = [
        (0.0001, 60_000.0, 0.6),
        (-0.0002, 62_000.0, -1.24),
        (0.0003, 58_000.0, 1.74),
    ];
    for (rate, mark, pay) in long {
        assert_close!(m.fund(0, rate, fx(mark)).unwrap(), pay, 1e-12);
    }
    assert_close!(m.funding_paid(0).unwrap(), 1.1, 1e-12);
    assert_close!(m.wallet_balance(), 998.9, 1e-12);
    // Short 2: -2 * 3,000 * 0.0001 = -0.6 (received); -2 * 3,100 * -0.0002 = 1.24 paid;
    // -2 * 2,900 * 0.0003 = -1.74 (received). Total -1.1.
    let short = [
        (0.0001, 3_000.0, -0.6),
        (-0.0002, 3_100.0, 1.24),
        (0.0003, 2_900.0, -1.74),
    ];
    for (rate, mark, pay) in short {
        assert_close!(m.fund(1, rate, fx(mark)).unwrap(), pay, 1e-12);
    }
    assert_close!(m.funding_paid(1).unwrap(), -1.1, 1e-12);
    assert_close!(m.wallet_balance(), 1_000.0, 1e-12);
    assert!(m.fund(0, f64::NAN, Q).is_err());
}

#[test]
fn inverse_funding_over_three_times() {
    let b = [Bracket {
        notional_floor: 0.0,
        notional_cap: 1e9,
        maint_margin_ratio: 0.004,
        cum: 0.0,
        max_leverage: 125.0,
    }];
    let mut m = MarginAccount::new("BTC", 1.0).unwrap();
    m.add_instrument(ContractKind::Inverse, 100.0, 10.0, &b)
        .unwrap();
    m.add_instrument(ContractKind::Inverse, 100.0, 10.0, &b)
        .unwrap();
    m.fill(0, OrderSide::Buy, 10 * Q, fx(50_000.0), 0.0)
        .unwrap(); // long 10 contracts
    m.fill(1, OrderSide::Sell, 5 * Q, fx(50_000.0), 0.0)
        .unwrap(); // short 5 contracts
                   // Long 1,000 USD: 1,000/50,000 * 0.0001 = 2e-6; 1,000/40,000 * -0.0002 = -5e-6;
                   // 1,000/62,500 * 0.0003 = 4.8e-6. Total 1.8e-6 BTC paid.
    let times = [(0.0001, 50_000.0), (-0.0002, 40_000.0), (0.0003, 62_500.0)];
    let long = [2e-6, -5e-6, 4.8e-6];
    // Short 500 USD: -1e-6, 2.5e-6, -2.4e-6. Total -0.9e-6 (received).
    let short = [-1e-6, 2.5e-6, -2.4e-6];
    for (k, (rate, mark)) in times.into_iter().enumerate() {
        assert_close!(m.fund(0, rate, fx(mark)).unwrap(), long[k], 1e-18);
        assert_close!(m.fund(1, rate, fx(mark)).unwrap(), short[k], 1e-18);
    }
    assert_close!(m.funding_paid(0).unwrap(), 1.8e-6, 1e-18);
    assert_close!(m.funding_paid(1).unwrap(), -0.9e-6, 1e-18);
    assert_close!(m.wallet_balance(), 1.0 - 0.9e-6, 1e-15);
}

#[test]
fn margin_fills_follow_the_portfolio_rules() {
    let mut m = usdm(10_000.0);
    // Long 1 @ 100 and 1 @ 110: entry 105; sell 3 @ 90 realizes 2 * -15 = -30 and opens a
    // short 1 @ 90. Fees 0.1 each, paid from the wallet.
    m.fill(1, OrderSide::Buy, Q, fx(100.0), 0.1).unwrap();
    m.fill(1, OrderSide::Buy, Q, fx(110.0), 0.1).unwrap();
    assert_close!(m.position(1).unwrap().entry, 105.0, 1e-12);
    let r = m.fill(1, OrderSide::Sell, 3 * Q, fx(90.0), 0.1).unwrap();
    assert_close!(r, -30.0, 1e-12);
    let p = m.position(1).unwrap();
    assert_eq!(p.qty, -Q);
    assert_close!(p.entry, 90.0, 1e-12);
    assert_close!(p.fees, 0.3, 1e-12);
    assert_close!(m.wallet_balance(), 10_000.0 - 30.0 - 0.3, 1e-9);
}

#[test]
fn bad_margin_inputs_are_refused() {
    assert!(MarginAccount::new("USDT", -1.0).is_err());
    assert!(MarginAccount::new("USDT", f64::NAN).is_err());
    let mut m = usdm(1.0);
    assert!(m.deposit(-2.0).is_err());
    assert!(m.fill(5, OrderSide::Buy, Q, Q, 0.0).is_err());
    assert!(m.fill(0, OrderSide::Buy, Q, Q, f64::NAN).is_err());
    assert!(m.on_mark(0, 0).is_err());
    let mut gap = btc_brackets();
    gap[1].notional_floor = 60_000.0;
    assert!(m
        .add_instrument(ContractKind::Linear, 1.0, 5.0, &gap)
        .is_err());
    assert!(m
        .add_instrument(ContractKind::Linear, 0.0, 5.0, &btc_brackets())
        .is_err());
    assert!(m
        .add_instrument(ContractKind::Linear, 1.0, 5.0, &[])
        .is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Fill(usize, bool, i64, i64),
    Mark(usize, i64),
    Place(usize, bool, i64, i64),
    Cancel(u64),
    Fund(usize, f64, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, any::<bool>(), 1..2_000i64, 40_000..80_000i64)
            .prop_map(|(i, b, q, p)| Op::Fill(i, b, q * Q / 1000, p * Q)),
        (0..3usize, 30_000..90_000i64).prop_map(|(i, p)| Op::Mark(i, p * Q)),
        (0..3usize, any::<bool>(), 1..2_000i64, 40_000..80_000i64)
            .prop_map(|(i, b, q, p)| Op::Place(i, b, q * Q / 1000, p * Q)),
        (0..20u64).prop_map(Op::Cancel),
        (0..3usize, -0.003..0.003f64, 40_000..80_000i64).prop_map(|(i, r, p)| Op::Fund(
            i,
            r,
            p * Q
        )),
    ]
}

proptest! {
    #[test]
    fn available_never_exceeds_margin_balance(ops in prop::collection::vec(op(), 1..60)) {
        let mut m = MarginAccount::new("USDT", 50_000.0).unwrap();
        m.add_instrument(ContractKind::Linear, 1.0, 20.0, &btc_brackets()).unwrap();
        m.add_instrument(ContractKind::Linear, 0.01, 5.0, &btc_brackets()).unwrap();
        m.add_instrument(ContractKind::Inverse, 100.0, 10.0, &btc_brackets()).unwrap();
        let mut next_id = 0u64;
        for op in ops {
            let side = |b: bool| if b { OrderSide::Buy } else { OrderSide::Sell };
            match op {
                Op::Fill(i, b, q, p) => { m.fill(i, side(b), q, p, 0.0).unwrap(); }
                Op::Mark(i, p) => { m.on_mark(i, p).unwrap(); }
                Op::Place(i, b, q, p) => {
                    let _ = m.place_order(next_id % 20, i, side(b), q, p);
                    next_id += 1;
                }
                Op::Cancel(id) => { let _ = m.cancel_order(id); }
                Op::Fund(i, r, p) => { m.fund(i, r, p).unwrap(); }
            }
            let mb = m.margin_balance();
            let scale = 1e-9 * mb.abs().max(1.0);
            prop_assert!(m.available() <= mb + scale, "available {} > margin {}", m.available(), mb);
            let upnl: f64 = (0..3).map(|i| m.unrealized(i).unwrap()).sum();
            prop_assert!(close(mb, m.wallet_balance() + upnl, scale));
            prop_assert!(m.position_initial_margin() >= 0.0 && m.order_margin() >= 0.0);
            // the kept-up-to-date available balance equals its definition recomputed
            let direct = mb - m.position_initial_margin() - m.order_margin();
            prop_assert!(close(m.available(), direct, scale), "available {} vs {}", m.available(), direct);
            prop_assert!(m.maintenance_margin() >= 0.0);
        }
    }
}
