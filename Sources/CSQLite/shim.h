#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call; these wrappers fix
// the argument list for the options Cairn needs.

/// Turns SQLITE_DBCONFIG_DEFENSIVE on; returns an SQLite result code.
static inline int cairn_sqlite3_enable_defensive(sqlite3 *db) {
    int now = 0;
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &now);
}

/// Turns off loading of extensions and triggers/views in untrusted schemas.
static inline int cairn_sqlite3_disable_triggers_and_views(sqlite3 *db) {
    int now = 0;
    int rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &now);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, &now);
}

/// SQLITE_TRANSIENT is a cast of -1 that Swift does not import.
static inline sqlite3_destructor_type cairn_sqlite3_transient(void) {
    return SQLITE_TRANSIENT;
}
