/* backup.h - `dockline-collector backup FILE`: a consistent copy of the
 * live database, taken with SQLite's online backup API from a read-only
 * connection while serve keeps ingesting (WAL: the copy is one snapshot,
 * the writer is never blocked). Never overwrites: FILE must not exist. */
#ifndef DL_COLLECTOR_BACKUP_H
#define DL_COLLECTOR_BACKUP_H

#include "collector/conf.h"

/* Copies conf->database to dest (via dest.partial, fsync, rename).
 * Prints a sentence on stdout or stderr; returns the exit code. */
int dl_backup_run(const dl_cconf_t *conf, const char *dest);

#endif
