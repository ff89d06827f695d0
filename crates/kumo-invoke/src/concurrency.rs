//! Concurrency limits as Lambda applies them, per region: a function with reserved
//! concurrency R runs at most R invocations at once; all other functions share what is left of
//! the account limit (the unreserved pool). A throttled invocation fails with
//! `TooManyRequestsException` and AWS's `Reason`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use kumo_core::AwsError;

type FunctionKey = (String, String);

#[derive(Default)]
struct State {
    reserved: HashMap<FunctionKey, u32>,
    in_flight: HashMap<FunctionKey, u32>,
    unreserved_in_flight: HashMap<String, u32>,
}

/// The account's concurrency book-keeping.
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
    /// Limits for an account allowed `account_limit` concurrent executions per region.
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
    pub fn set_reserved(&self, region: &str, name: &str, reserved: Option<u32>) {
        let key = (region.to_string(), name.to_string());
        let mut state = self.state();
        match reserved {
            Some(value) => state.reserved.insert(key, value),
            None => state.reserved.remove(&key),
        };
    }

    /// Sum of reservations in a region, except `excluded` (the function being changed).
    pub fn reserved_total(&self, region: &str, excluded: Option<&str>) -> u32 {
        self.state()
            .reserved
            .iter()
            .filter(|((r, name), _)| r == region && Some(name.as_str()) != excluded)
            .map(|(_, value)| *value)
            .sum()
    }

    /// The unreserved pool of a region.
    pub fn unreserved(&self, region: &str) -> u32 {
        self.account_limit.saturating_sub(self.reserved_total(region, None))
    }

    /// Takes a slot for one invocation of `name`, or says why it is throttled.
    pub fn acquire(self: &Arc<Self>, region: &str, name: &str) -> Result<ConcurrencyPermit, AwsError> {
        let key = (region.to_string(), name.to_string());
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
                let reserved_total: u32 =
                    state.reserved.iter().filter(|((r, _), _)| r == region).map(|(_, value)| *value).sum();
                let pool = self.account_limit.saturating_sub(reserved_total);
                let shared = state.unreserved_in_flight.entry(region.to_string()).or_insert(0);
                if *shared >= pool {
                    return Err(AwsError::too_many_requests("Rate Exceeded.", "ConcurrentInvocationLimitExceeded"));
                }
                *shared += 1;
            }
        }
        *state.in_flight.entry(key.clone()).or_insert(0) += 1;
        Ok(ConcurrencyPermit { limits: Arc::clone(self), key, reserved: reserved.is_some() })
    }

    /// Everything the status endpoint shows: limits, reservations and what runs now.
    pub fn snapshot(&self) -> serde_json::Value {
        let state = self.state();
        let reserved: std::collections::BTreeMap<String, u32> =
            state.reserved.iter().map(|((region, name), value)| (format!("{region}/{name}"), *value)).collect();
        let running: std::collections::BTreeMap<String, u32> =
            state.in_flight.iter().map(|((region, name), value)| (format!("{region}/{name}"), *value)).collect();
        serde_json::json!({
            "account_limit_per_region": self.account_limit,
            "reserved": reserved,
            "running": running,
            "unreserved_running": state.unreserved_in_flight,
        })
    }

    /// Invocations running now for one function.
    pub fn in_flight(&self, region: &str, name: &str) -> u32 {
        self.state().in_flight.get(&(region.to_string(), name.to_string())).copied().unwrap_or(0)
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
            if let Some(shared) = state.unreserved_in_flight.get_mut(&self.key.0) {
                *shared = shared.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_functions_are_capped_at_their_reservation() {
        let limits = ConcurrencyLimits::new(10);
        limits.set_reserved("us-east-1", "f", Some(2));
        let first = limits.acquire("us-east-1", "f").unwrap();
        let _second = limits.acquire("us-east-1", "f").unwrap();
        let third = limits.acquire("us-east-1", "f").err().unwrap();
        assert_eq!(third.reason.as_deref(), Some("ReservedFunctionConcurrentInvocationLimitExceeded"));
        assert_eq!(third.status, 429);
        drop(first);
        assert!(limits.acquire("us-east-1", "f").is_ok());
    }

    #[test]
    fn zero_reserved_throttles_everything() {
        let limits = ConcurrencyLimits::new(10);
        limits.set_reserved("us-east-1", "f", Some(0));
        assert!(limits.acquire("us-east-1", "f").is_err());
        assert!(limits.acquire("us-east-1", "g").is_ok());
    }

    #[test]
    fn unreserved_functions_share_what_reservations_leave() {
        let limits = ConcurrencyLimits::new(3);
        limits.set_reserved("us-east-1", "reserved", Some(2));
        assert_eq!(limits.unreserved("us-east-1"), 1);
        let held = limits.acquire("us-east-1", "a").unwrap();
        let throttled = limits.acquire("us-east-1", "b").err().unwrap();
        assert_eq!(throttled.reason.as_deref(), Some("ConcurrentInvocationLimitExceeded"));
        assert!(limits.acquire("eu-west-1", "b").is_ok(), "regions have their own limit");
        drop(held);
        assert!(limits.acquire("us-east-1", "b").is_ok());
        assert_eq!(limits.in_flight("us-east-1", "b"), 0);
    }
}
