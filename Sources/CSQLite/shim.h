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

/// Turns SQLite's memory statistics off (SQLITE_CONFIG_MEMSTATUS), so its
/// malloc and free skip a process-wide mutex. Only takes effect before SQLite
/// initializes; afterwards it returns SQLITE_MISUSE and changes nothing.
static inline int cairn_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/// SQLITE_TRANSIENT is a cast of -1 that Swift does not import.
static inline sqlite3_destructor_type cairn_sqlite3_transient(void) {
    return SQLITE_TRANSIENT;
}

#if defined(__linux__)
// glibc declares sync_file_range only under _GNU_SOURCE, which the Swift Glibc
// module is built without; this prototype matches glibc's (off64_t is a long).
extern int sync_file_range(int fd, long offset, long count, unsigned int flags);

/// Asks Linux to start writing a file's dirty pages without waiting
/// (SYNC_FILE_RANGE_WRITE); returns 0 or -1 with errno set.
static inline int cairn_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, 2 /* SYNC_FILE_RANGE_WRITE */);
}
#else
static inline int cairn_start_writeback(int fd) { (void)fd; return 0; }
#endif
