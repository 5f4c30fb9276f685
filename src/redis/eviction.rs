//! Redis must keep everything the backend writes: a server that evicts keys when its memory
//! runs short would drop queued notifications (streams), claims against duplicates and
//! leases — silently losing events, handling them twice, or handing a chat to two replicas.

use std::collections::HashMap;

use super::Redis;
use crate::error::{Error, Result};

/// The one `maxmemory-policy` under which Redis never drops a key to make room. Every other
/// evicts: `allkeys-*` any key, `volatile-*` those with a time to live — the claims and leases.
const NO_EVICTION: &str = "noeviction";
/// The longest part of a policy's name repeated in an error.
const MAX_POLICY_CHARS: usize = 64;

/// Refuses a Redis whose `maxmemory-policy` evicts keys, with the reason and the fix. A Redis
/// that does not tell — `CONFIG` is forbidden on some managed services, or the server is out
/// of reach at start (the backend connects again later by itself) — is accepted, with a
/// warning.
pub(crate) async fn check_policy(redis: &Redis) -> Result<()> {
    let asked: redis::RedisResult<HashMap<String, String>> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(&mut redis.connection())
        .await;
    match asked.map(|mut config| config.remove("maxmemory-policy")) {
        Ok(Some(policy)) => refuse_eviction(&policy),
        Ok(None) => {
            tracing::warn!(
                "Redis did not tell its maxmemory-policy; make sure it is noeviction, or Redis \
                 may drop queued events, claims and leases when its memory runs short"
            );
            Ok(())
        }
        Err(error) => {
            tracing::warn!(
                %error,
                "could not read Redis's maxmemory-policy (CONFIG GET refused, or Redis out of \
                 reach); make sure it is noeviction, or Redis may drop queued events, claims \
                 and leases when its memory runs short"
            );
            Ok(())
        }
    }
}

/// `policy` as the backend's verdict: only `noeviction` is accepted.
fn refuse_eviction(policy: &str) -> Result<()> {
    if policy.eq_ignore_ascii_case(NO_EVICTION) {
        return Ok(());
    }
    let shown: String = policy.chars().take(MAX_POLICY_CHARS).collect();
    Err(Error::Config {
        variable: "maxmemory-policy",
        reason: format!(
            "of the Redis server is {shown:?}, which evicts keys when memory runs short: Redis \
             would drop hookbot's queued events (streams), claims against duplicates and \
             leases. Set it to noeviction (`CONFIG SET maxmemory-policy noeviction`, \
             `maxmemory-policy noeviction` in redis.conf, or the managed service's parameter \
             group) and give Redis the memory it needs"
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_noeviction_is_accepted() {
        for kept in ["noeviction", "NoEviction"] {
            assert!(refuse_eviction(kept).is_ok(), "{kept}");
        }
        for evicting in [
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "",
        ] {
            let error = refuse_eviction(evicting).unwrap_err();
            let text = error.to_string();
            assert!(matches!(error, Error::Config { .. }), "{evicting}");
            assert!(text.contains(&format!("{evicting:?}")), "{text}");
            assert!(text.contains("noeviction"), "the fix: {text}");
            assert!(text.contains("streams"), "the reason: {text}");
        }
    }

    #[test]
    fn a_long_policy_is_shortened_in_the_error() {
        let error = refuse_eviction(&"x".repeat(10_000)).unwrap_err();
        assert!(error.to_string().len() < 1000);
    }

    #[tokio::test]
    async fn a_redis_out_of_reach_is_accepted() {
        let redis = Redis::open("redis://127.0.0.1:1").unwrap();
        assert!(check_policy(&redis).await.is_ok());
    }

    /// A `redis-server` of this test's own, with `args`, stopped when dropped; `None` (with a
    /// note) when the Redis tests are off (`HOOKBOT_TEST_REDIS_URL` unset).
    struct OwnRedis {
        child: Child,
        url: String,
    }

    impl OwnRedis {
        async fn start(args: &[&str]) -> Option<Self> {
            if std::env::var("HOOKBOT_TEST_REDIS_URL").is_err() {
                eprintln!("note: HOOKBOT_TEST_REDIS_URL is unset; skipping this Redis test");
                return None;
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is on the PATH when the Redis tests run");
            let own = Self {
                child,
                url: format!("redis://127.0.0.1:{port}"),
            };
            own.wait_until_up().await;
            Some(own)
        }

        async fn wait_until_up(&self) {
            let client = redis::Client::open(self.url.as_str()).unwrap();
            for _ in 0..200 {
                if let Ok(mut connection) = client.get_multiplexed_async_connection().await
                    && redis::cmd("PING")
                        .query_async::<String>(&mut connection)
                        .await
                        .is_ok()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("redis-server did not start");
        }

        fn redis(&self) -> Redis {
            Redis::open(self.url.as_str()).unwrap()
        }
    }

    impl Drop for OwnRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test]
    async fn an_evicting_redis_is_refused_with_the_reason() {
        for policy in ["allkeys-lru", "volatile-ttl"] {
            let Some(server) = OwnRedis::start(&["--maxmemory-policy", policy]).await else {
                return;
            };
            let error = check_policy(&server.redis()).await.unwrap_err();
            let text = error.to_string();
            assert!(text.contains(policy), "{text}");
            assert!(text.contains("noeviction"), "{text}");
            assert!(!text.contains(&server.url), "no URL in the error: {text}");
        }
    }

    #[tokio::test]
    async fn a_noeviction_redis_is_accepted() {
        let Some(server) = OwnRedis::start(&["--maxmemory-policy", "noeviction"]).await else {
            return;
        };
        check_policy(&server.redis()).await.unwrap();
    }

    #[tokio::test]
    async fn a_redis_that_forbids_config_is_accepted() {
        let Some(server) = OwnRedis::start(&["--rename-command", "CONFIG", ""]).await else {
            return;
        };
        check_policy(&server.redis()).await.unwrap();
    }
}
