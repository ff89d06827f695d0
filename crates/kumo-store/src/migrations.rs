//! Schema migrations, the same way for every service's database, in one transaction at open:
//! - **versions**: a service lists its schema versions in order, the database records how many
//!   it has applied in `PRAGMA user_version`, and opening applies the missing ones;
//! - **shape checks**: the changes made before versions were counted (tables keyed without an
//!   account, an `AUTOINCREMENT` queue) are recognised by the shape they change and run on every
//!   open, each a no-op on a schema that already has its change. A data dir from that time is
//!   at version 0, but so may be one whose tables were rewritten by hand: the shape decides.

use rusqlite::{params, Connection, Transaction};

/// One step of a schema, applied inside the migrating transaction with the service's context
/// (Lambda's and SQS's: the account that owns rows from before accounts existed).
pub type Migration<C, E> = fn(&Transaction<'_>, &C) -> Result<(), E>;

/// A service's schema: how to bring any of its databases up to date.
pub struct Schema<'a, C: ?Sized, E> {
    /// Run on every open, first: changes from before versions were counted, each checking the
    /// shape it changes.
    pub shape_checks: &'a [Migration<C, E>],
    /// Versions in order; a database has had the first `user_version` of them.
    pub versions: &'a [Migration<C, E>],
}

/// Runs `schema`'s shape checks and the versions the database has not had yet, in order, in
/// one transaction, and records the count of versions in `user_version`. A database newer than
/// the binary (a higher version) gets no version applied.
pub fn migrate<C: ?Sized, E: From<rusqlite::Error>>(
    connection: &mut Connection,
    context: &C,
    schema: &Schema<'_, C, E>,
) -> Result<(), E> {
    let transaction = connection.transaction()?;
    for check in schema.shape_checks {
        check(&transaction, context)?;
    }
    let applied: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied < schema.versions.len() {
        for version in &schema.versions[applied..] {
            version(&transaction, context)?;
        }
        // PRAGMA takes no bound parameters; the count is a small number of our own.
        transaction.execute_batch(&format!("PRAGMA user_version = {}", schema.versions.len()))?;
    }
    transaction.commit()?;
    Ok(())
}

/// Creates `schema`, first moving tables that were keyed without an account (their columns
/// then listed beside them) aside and then copying their rows in as `default_account`'s: how
/// Lambda's and SQS's resources became per account after data dirs existed. A table that has an
/// `account` column, or does not exist, is left to `schema`.
pub fn give_tables_to_account(
    transaction: &Transaction<'_>,
    tables: &[(&str, &str)],
    schema: &str,
    default_account: &str,
) -> rusqlite::Result<()> {
    let mut migrated = Vec::new();
    for &(table, columns) in tables {
        let exists: bool = transaction.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            params![table],
            |row| row.get(0),
        )?;
        let has_account: bool = transaction.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = 'account'",
            params![table],
            |row| row.get(0),
        )?;
        if exists && !has_account {
            transaction.execute_batch(&format!("ALTER TABLE {table} RENAME TO {table}_single_account"))?;
            migrated.push((table, columns));
        }
    }
    transaction.execute_batch(schema)?;
    for (table, columns) in migrated {
        let moved = transaction.execute(
            &format!("INSERT INTO {table} (account, {columns}) SELECT ?1, {columns} FROM {table}_single_account"),
            params![default_account],
        )?;
        transaction.execute_batch(&format!("DROP TABLE {table}_single_account"))?;
        tracing::info!(
            table,
            rows = moved,
            account = default_account,
            "gave a single-account table's rows to the default account"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_a(transaction: &Transaction<'_>, _: &()) -> rusqlite::Result<()> {
        transaction.execute_batch("CREATE TABLE IF NOT EXISTS a (x INTEGER)")
    }

    fn create_b(transaction: &Transaction<'_>, _: &()) -> rusqlite::Result<()> {
        transaction.execute_batch("CREATE TABLE b (y INTEGER)")
    }

    fn fail(transaction: &Transaction<'_>, _: &()) -> rusqlite::Result<()> {
        transaction.execute_batch("CREATE TABLE c (z INTEGER); SELECT * FROM missing")
    }

    fn version(connection: &Connection) -> i64 {
        connection.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap()
    }

    fn versions(versions: &[Migration<(), rusqlite::Error>]) -> Schema<'_, (), rusqlite::Error> {
        Schema { shape_checks: &[], versions }
    }

    #[test]
    fn applies_each_version_once_in_order() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection, &(), &versions(&[create_a])).unwrap();
        assert_eq!(version(&connection), 1);
        // `create_b` would fail if run twice: only the new one runs.
        migrate(&mut connection, &(), &versions(&[create_a, create_b])).unwrap();
        migrate(&mut connection, &(), &versions(&[create_a, create_b])).unwrap();
        assert_eq!(version(&connection), 2);
    }

    #[test]
    fn shape_checks_run_on_every_open_before_the_versions() {
        fn drop_b(transaction: &Transaction<'_>, _: &()) -> rusqlite::Result<()> {
            transaction.execute_batch("DROP TABLE IF EXISTS b")
        }
        let mut connection = Connection::open_in_memory().unwrap();
        let schema = Schema { shape_checks: &[drop_b], versions: &[create_a, create_b] };
        migrate(&mut connection, &(), &schema).unwrap();
        migrate(&mut connection, &(), &schema).unwrap();
        // The second open dropped `b` again and did not recreate it: versions run once.
        let tables: i64 =
            connection.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'", [], |row| row.get(0)).unwrap();
        assert_eq!((tables, version(&connection)), (0, 2));
    }

    #[test]
    fn a_failing_migration_leaves_the_database_as_it_was() {
        let mut connection = Connection::open_in_memory().unwrap();
        assert!(migrate(&mut connection, &(), &versions(&[create_a, fail])).is_err());
        assert_eq!(version(&connection), 0);
        let tables: i64 = connection.query_row("SELECT COUNT(*) FROM sqlite_master", [], |row| row.get(0)).unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn single_account_rows_go_to_the_default_account() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE things (region TEXT, name TEXT, UNIQUE (region, name));
                 INSERT INTO things VALUES ('us-east-1', 'a');",
            )
            .unwrap();
        let schema = "CREATE TABLE IF NOT EXISTS things (account TEXT, region TEXT, name TEXT, \
                      UNIQUE (account, region, name));";
        for _ in 0..2 {
            let transaction = connection.transaction().unwrap();
            give_tables_to_account(&transaction, &[("things", "region, name")], schema, "111111111111").unwrap();
            transaction.commit().unwrap();
        }
        let rows: Vec<(String, String)> = connection
            .prepare("SELECT account, name FROM things")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("111111111111".to_string(), "a".to_string())]);
    }
}
