//! Throttling of guessable endpoints and of outgoing mail.
//!
//! Threat: online password guessing, and Turva used to flood an inbox.
//! Sign-in attempts are counted per (account, address) pair — 10 failures in
//! 15 minutes —, per address — 20 —, and per account from all addresses —
//! 100, NIST's ceiling —, so an attacker at one address cannot lock the
//! owner out from another. An attempt is *reserved* (counted) before the
//! slow password check and taken back when it succeeds, so a burst of
//! concurrent guesses cannot all slip in before the first is counted.
//! Counters live in the database, so they hold across restarts and across
//! processes. Keys are keyed hashes, never raw addresses.

use turva_store::{throttle as store, Tx};

use crate::audit::{self, Event};
use crate::secret::{keyed_hash, new_id};
use crate::{App, AppError, Ctx};

/// One counter: a bucket, a key within it, a limit and a window.
#[derive(Debug, Clone)]
pub struct Limit {
    pub bucket: &'static str,
    pub key: String,
    pub max: i64,
    pub window_secs: i64,
}

const FIFTEEN_MIN: i64 = 15 * 60;

/// The sign-in limits for an account (by normalised email) at an address.
pub fn login_limits(app: &App, email: &str, ip: &str) -> Vec<Limit> {
    let k = app.index_key();
    let ip = &address(ip);
    vec![
        Limit {
            bucket: "login_account_ip",
            key: keyed_hash(k, "login_account_ip", &format!("{email}\n{ip}")),
            max: 10,
            window_secs: FIFTEEN_MIN,
        },
        Limit {
            bucket: "login_ip",
            key: keyed_hash(k, "login_ip", ip),
            max: 20,
            window_secs: FIFTEEN_MIN,
        },
        Limit {
            bucket: "login_account",
            key: keyed_hash(k, "login_account", email),
            max: 100,
            window_secs: FIFTEEN_MIN,
        },
    ]
}

/// A per-address limit for endpoints that take one-time tokens or
/// passwords outside sign-in (reset, invitation acceptance, re-auth).
pub fn address_limit(app: &App, bucket: &'static str, ip: &str) -> Limit {
    Limit {
        bucket,
        key: keyed_hash(app.index_key(), bucket, &address(ip)),
        max: 20,
        window_secs: FIFTEEN_MIN,
    }
}

/// The unit an address limit counts: an IPv4 address, or the /64 of an
/// IPv6 address (one subscriber usually holds a whole /64, so counting
/// single IPv6 addresses would let one client rotate past any limit).
pub fn address(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => ip.to_string(),
    }
}

/// A per-session limit for password checks inside a session.
pub fn session_limit(bucket: &'static str, session_id: &str) -> Limit {
    Limit {
        bucket,
        key: session_id.to_string(),
        max: 10,
        window_secs: FIFTEEN_MIN,
    }
}

/// Mail limits: per recipient and per company, per hour.
pub fn mail_limits(app: &App, recipient: &str, company_id: Option<&str>) -> Vec<Limit> {
    let c = &app.config().smtp;
    let mut v = vec![Limit {
        bucket: "mail_recipient",
        key: keyed_hash(app.index_key(), "mail_recipient", recipient),
        max: i64::from(c.per_recipient_per_hour),
        window_secs: 3600,
    }];
    if let Some(cid) = company_id {
        v.push(Limit {
            bucket: "mail_company",
            key: cid.to_string(),
            max: i64::from(c.per_company_per_hour),
            window_secs: 3600,
        });
    }
    v
}

/// [`reserve`] for a request whose refusal is audited: when a limit is
/// full, `tx` is rolled back and `refused` (its reason set to
/// `rate_limited`) is recorded before the 429 is answered.
pub async fn reserve_audited(
    app: &App,
    ctx: &Ctx,
    mut tx: Tx,
    limits: &[Limit],
    refused: Event<'_>,
) -> Result<(Tx, Vec<String>), AppError> {
    match reserve(app, &mut tx, limits).await {
        Ok(r) => Ok((tx, r)),
        Err(e) => {
            drop(tx);
            Err(audit::deny(app, ctx, refused.reason("rate_limited"), e).await)
        }
    }
}

/// Checks every limit; if all have room, counts one event in each and
/// returns the ids of those events (a reservation). Otherwise answers
/// `RateLimited` with the seconds until the fullest window frees a slot.
pub async fn reserve(app: &App, tx: &mut Tx, limits: &[Limit]) -> Result<Vec<String>, AppError> {
    let now = app.now();
    // Lock every counter first, in one global order, so two reservations
    // cannot deadlock.
    let mut order: Vec<&Limit> = limits.iter().collect();
    order.sort_by(|a, b| (a.bucket, &a.key).cmp(&(b.bucket, &b.key)));
    for l in order {
        store::lock(tx, l.bucket, &l.key).await?;
    }
    let mut retry_after: Option<i64> = None;
    for l in limits {
        let since = now - l.window_secs * 1000;
        let (count, oldest) = store::window(tx, l.bucket, &l.key, since).await?;
        if count >= l.max {
            let free_at = oldest.unwrap_or(now) + l.window_secs * 1000;
            let secs = ((free_at - now) / 1000).max(1);
            retry_after = Some(retry_after.map_or(secs, |r| r.max(secs)));
        }
    }
    if let Some(secs) = retry_after {
        return Err(AppError::RateLimited {
            retry_after_secs: u64::try_from(secs).unwrap_or(1),
        });
    }
    let mut ids = Vec::with_capacity(limits.len());
    for l in limits {
        let id = new_id();
        store::record(tx, &id, l.bucket, &l.key, now).await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Counts an attempt in a transaction of its own, so it stays counted when
/// the attempt then fails (a wrong token rolls the caller's transaction
/// back); take it back with `release` when the attempt succeeds, so only
/// failures use up the limit.
pub async fn attempt(app: &App, limits: &[Limit]) -> Result<Vec<String>, AppError> {
    let mut tx = app.db().write().await?;
    let ids = reserve(app, &mut tx, limits).await?;
    tx.commit().await?;
    Ok(ids)
}

/// Deletes counter rows older than every window (housekeeping, run by the
/// server every few minutes).
pub async fn purge_old(app: &App) -> Result<u64, AppError> {
    let mut tx = app.db().write().await?;
    let n = store::purge(&mut tx, app.now() - 2 * 3600 * 1000).await?;
    tx.commit().await?;
    Ok(n)
}

/// Takes back a reservation (the attempt succeeded) and, for sign-in,
/// forgets the account's failures at that address.
pub async fn release(tx: &mut Tx, ids: &[String], clear: Option<&Limit>) -> Result<(), AppError> {
    // The counter's lock first: two releases that clear the same counter
    // (two sign-ins to one account from one address) would otherwise take
    // each other's rows in opposite orders, which PostgreSQL ends as a
    // deadlock (a 503 for one of them).
    if let Some(l) = clear {
        store::lock(tx, l.bucket, &l.key).await?;
    }
    store::remove(tx, ids).await?;
    if let Some(l) = clear {
        store::clear(tx, l.bucket, &l.key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn ipv6_addresses_count_per_64() {
        assert_eq!(address("203.0.113.9"), "203.0.113.9");
        assert_eq!(
            address("2001:db8:1:2:aaaa::1"),
            address("2001:db8:1:2:bbbb::2")
        );
        assert_ne!(address("2001:db8:1:2::1"), address("2001:db8:1:3::1"));
        assert_eq!(address("::ffff:192.0.2.1"), "192.0.2.1");
    }
}
