//! Throwaway databases on a real PostgreSQL server, for the tests of this crate and of the
//! crates above it (and for `renkei bench … --postgres`).
//!
//! The server is `RENKEI_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each [`TestDatabase`] is a new database on it, dropped when the value is dropped.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

/// The PostgreSQL server the tests use.
pub fn server_url() -> String {
    std::env::var("RENKEI_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database created for one test; dropped (connections and all) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// Create an empty database. Panics with a clear message when no server answers: the
    /// PostgreSQL tests are part of the suite, not optional.
    pub async fn create() -> TestDatabase {
        let admin = server_url();
        let name = format!(
            "renkei_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
        );
        let mut conn = connect(&admin).await;
        conn.execute(format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'").as_str())
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin, &name);
        TestDatabase { name, url, admin }
    }
}

async fn connect(url: &str) -> sqlx::PgConnection {
    let options = PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("RENKEI_TEST_POSTGRES {url}: {e}"))
        .disable_statement_logging();
    options.connect().await.unwrap_or_else(|e| {
        panic!(
            "no PostgreSQL at {} ({e}): start one (the .ci/run script does) or set RENKEI_TEST_POSTGRES",
            crate::redact_url(url)
        )
    })
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs outside any runtime's async context: a small runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let mut conn = connect(&admin).await;
                let _ = conn
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
                let _ = conn.close().await;
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
