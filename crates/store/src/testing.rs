//! For tests, of this crate and of the crates above it: a fresh Postgres
//! database per test on the server named by [`POSTGRES_URL_ENV`], which
//! `scripts/start-services.sh` starts (and `scripts/test.sh` runs).
//!
//! A test that needs Postgres must fail, not skip, in CI: with `CI=true`
//! and no server configured, [`postgres_server_url`] panics.

use sqlx::Connection as _;

/// A superuser URL of the test Postgres server (`…/postgres`).
pub const POSTGRES_URL_ENV: &str = "CASTGUARD_TEST_POSTGRES_URL";

/// The test server's URL; `None` (tell the user the test was skipped) when
/// none is configured, a panic when `CI=true`.
pub fn postgres_server_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_ENV) {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "CI=true but {POSTGRES_URL_ENV} is not set: scripts/test.sh starts Postgres with scripts/start-services.sh"
        ),
        _ => None,
    }
}

/// Creates an empty database on the test server and returns its URL, for
/// [`crate::open`]; `None` as [`postgres_server_url`]. Databases are not
/// dropped: the server is a throwaway.
pub async fn postgres_database() -> Option<String> {
    let Some(server) = postgres_server_url() else {
        eprintln!("skipped: {POSTGRES_URL_ENV} is not set (scripts/start-services.sh)");
        return None;
    };
    let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::postgres::PgConnection::connect(&server)
        .await
        .expect("connect to the test Postgres");
    // FILE_COPY: no copy of the template database in the write-ahead log.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} STRATEGY = FILE_COPY"
    )))
    .execute(&mut admin)
    .await
    .expect("create a test database");
    let _ = admin.close().await;
    Some(database_url(&server, &name))
}

/// Runs `sql` (one or more statements) as the test server's superuser:
/// for tests that take a database away from a node. Panics on failure.
pub async fn postgres_admin(sql: &str) {
    let server = postgres_server_url().expect("no test Postgres");
    let mut admin = sqlx::postgres::PgConnection::connect(&server)
        .await
        .expect("connect to the test Postgres");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut admin)
        .await
        .expect("run admin SQL");
    let _ = admin.close().await;
}

/// `server` with its database replaced by `name`.
pub fn database_url(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_urls() {
        assert_eq!(
            super::database_url("postgres://u:p@h:1/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(super::database_url("postgres://h", "x"), "postgres://h/x");
    }
}
