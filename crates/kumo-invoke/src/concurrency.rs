//! Concurrency limits as Lambda applies them, per account and region: a function with reserved
//! concurrency R runs at most R invocations at once; all other functions share what is left of
//! the account limit (the unreserved pool). A throttled invocation fails with
//! `TooManyRequestsException` and AWS's `Reason`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use kumo_core::AwsError;

/// `(account, region, function name)`.
type FunctionKey = (String, String, String);

#[derive(Default)]
struct State {
    reserved: HashMap<FunctionKey, u32>,
    in_flight: HashMap<FunctionKey, u32>,
    /// By `(account, region)`.
    unreserved_in_flight: HashMap<(String, String), u32>,
}

/// Every account's concurrency book-keeping.
pub struct ConcurrencyLimits {
    account_limit: u32,
    state: Mutex<State>,
}

/// Held while an invocation runs; dropping it frees the slot.
pub struct ConcurrencyPermit {
    limits: Arc<ConcurrencyLimits>,
    key: FunctionKey,
    reserved: bool,
}

impl ConcurrencyLimits {
    /// Limits for accounts each allowed `account_limit` concurrent executions per region.
    pub fn new(account_limit: u32) -> Arc<Self> {
        Arc::new(Self { account_limit, state: Mutex::new(State::default()) })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Counter updates cannot panic half-way; recover the counts if a panic ever poisons them.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The account limit per region.
    pub fn account_limit(&self) -> u32 {
        self.account_limit
    }

    /// Sets or clears a function's reserved concurrency.
    pub fn set_reserved(&self, account: &str, region: &str, name: &str, reserved: Option<u32>) {
        let key = (account.to_string(), region.to_string(), name.to_string());
        let mut state = self.state();
        match reserved {
            Some(value) => state.reserved.insert(key, value),
            None => state.reserved.remove(&key),
        };
    }

    /// Sum of an account's reservations in a region, except `excluded` (the function being changed).
    pub fn reserved_total(&self, account: &str, region: &str, excluded: Option<&str>) -> u32 {
        self.state()
            .reserved
            .iter()
            .filter(|((a, r, name), _)| a == account && r == region && Some(name.as_str()) != excluded)
            .map(|(_, value)| *value)
            .sum()
    }

    /// The unreserved pool of an account's region.
    pub fn unreserved(&self, account: &str, region: &str) -> u32 {
        self.account_limit.saturating_sub(self.reserved_total(account, region, None))
    }

    /// Takes a slot for one invocation of `name`, or says why it is throttled.
    pub fn acquire(self: &Arc<Self>, account: &str, region: &str, name: &str) -> Result<ConcurrencyPermit, AwsError> {
        let key = (account.to_string(), region.to_string(), name.to_string());
        let mut state = self.state();
        let reserved = state.reserved.get(&key).copied();
        let running = state.in_flight.get(&key).copied().unwrap_or(0);
        match reserved {
            Some(limit) if running >= limit => {
                return Err(AwsError::too_many_requests(
                    "Rate Exceeded.",
                    "ReservedFunctionConcurrentInvocationLimitExceeded",
                ))
            }
            Some(_) => {}
            None => {
                let reserved_total: u32 = state
                    .reserved
                    .iter()
                    .filter(|((a, r, _), _)| a == account && r == region)
                    .map(|(_, value)| *value)
                    .sum();
                let pool = self.account_limit.saturating_sub(reserved_total);
                let shared = state.unreserved_in_flight.entry((account.to_string(), region.to_string())).or_insert(0);
                if *shared >= pool {
                    return Err(AwsError::too_many_requests("Rate Exceeded.", "ConcurrentInvocationLimitExceeded"));
                }
                *shared += 1;
            }
        }
        *state.in_flight.entry(key.clone()).or_insert(0) += 1;
        Ok(ConcurrencyPermit { limits: Arc::clone(self), key, reserved: reserved.is_some() })
    }

    /// Everything the status endpoint shows: limits, reservations and what runs now. Keys are
    /// `region/name`, prefixed with `account/` for accounts other than `default_account`.
    pub fn snapshot(&self, default_account: &str) -> serde_json::Value {
        let state = self.state();
        let key = |account: &str, rest: String| {
            if account == default_account {
                rest
            } else {
                format!("{account}/{rest}")
            }
        };
        let by_function = |map: &HashMap<FunctionKey, u32>| -> std::collections::BTreeMap<String, u32> {
            map.iter()
                .map(|((account, region, name), value)| (key(account, format!("{region}/{name}")), *value))
                .collect()
        };
        let unreserved: std::collections::BTreeMap<String, u32> = state
            .unreserved_in_flight
            .iter()
            .map(|((account, region), value)| (key(account, region.clone()), *value))
            .collect();
        serde_json::json!({
            "account_limit_per_region": self.account_limit,
            "reserved": by_function(&state.reserved),
            "running": by_function(&state.in_flight),
            "unreserved_running": unreserved,
        })
    }

    /// Invocations running now for one function.
    pub fn in_flight(&self, account: &str, region: &str, name: &str) -> u32 {
        self.state().in_flight.get(&(account.to_string(), region.to_string(), name.to_string())).copied().unwrap_or(0)
    }
}

impl Drop for ConcurrencyPermit {
    fn drop(&mut self) {
        let mut state = self.limits.state();
        if let Some(count) = state.in_flight.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.in_flight.remove(&self.key);
            }
        }
        if !self.reserved {
            let (account, region, _) = &self.key;
            if let Some(shared) = state.unreserved_in_flight.get_mut(&(account.clone(), region.clone())) {
                *shared = shared.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "111111111111";

    #[test]
    fn reserved_functions_are_capped_at_their_reservation() {
        let limits = ConcurrencyLimits::new(10);
        limits.set_reserved(A, "us-east-1", "f", Some(2));
        let first = limits.acquire(A, "us-east-1", "f").unwrap();
        let _second = limits.acquire(A, "us-east-1", "f").unwrap();
        let third = limits.acquire(A, "us-east-1", "f").err().unwrap();
        assert_eq!(third.reason.as_deref(), Some("ReservedFunctionConcurrentInvocationLimitExceeded"));
        assert_eq!(third.status, 429);
        drop(first);
        assert!(limits.acquire(A, "us-east-1", "f").is_ok());
    }

    #[test]
    fn zero_reserved_throttles_everything() {
        let limits = ConcurrencyLimits::new(10);
        limits.set_reserved(A, "us-east-1", "f", Some(0));
        assert!(limits.acquire(A, "us-east-1", "f").is_err());
        assert!(limits.acquire(A, "us-east-1", "g").is_ok());
    }

    #[test]
    fn unreserved_functions_share_what_reservations_leave() {
        let limits = ConcurrencyLimits::new(3);
        limits.set_reserved(A, "us-east-1", "reserved", Some(2));
        assert_eq!(limits.unreserved(A, "us-east-1"), 1);
        let held = limits.acquire(A, "us-east-1", "a").unwrap();
        let throttled = limits.acquire(A, "us-east-1", "b").err().unwrap();
        assert_eq!(throttled.reason.as_deref(), Some("ConcurrentInvocationLimitExceeded"));
        assert!(limits.acquire(A, "eu-west-1", "b").is_ok(), "regions have their own limit");
        drop(held);
        assert!(limits.acquire(A, "us-east-1", "b").is_ok());
        assert_eq!(limits.in_flight(A, "us-east-1", "b"), 0);
    }

    #[test]
    fn each_account_has_its_own_limit_and_reservations() {
        let limits = ConcurrencyLimits::new(1);
        let held = limits.acquire(A, "us-east-1", "f").unwrap();
        assert!(limits.acquire(A, "us-east-1", "g").is_err());
        assert!(limits.acquire("222222222222", "us-east-1", "f").is_ok(), "another account has its own pool");
        limits.set_reserved(A, "us-east-1", "r", Some(1));
        assert_eq!(limits.unreserved("222222222222", "us-east-1"), 1);
        drop(held);
    }
}
