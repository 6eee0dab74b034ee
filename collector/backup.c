#include "collector/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/clock.h"

#define BUSY_MS	 30000 /* how long the copy waits for a snapshot */
#define RETRY_MS 50

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The copy, page for page, in one step: one read snapshot, so the result
 * is consistent whatever serve commits meanwhile. */
static int copy_db(sqlite3 *src, sqlite3 *dst, int *pages)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc, waited = 0;

	if (!b)
		return sqlite3_errcode(dst);
	do {
		rc = sqlite3_backup_step(b, -1);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			sqlite3_sleep(RETRY_MS);
			waited += RETRY_MS;
		}
	} while ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
		 waited < BUSY_MS);
	*pages = sqlite3_backup_pagecount(b);
	if (sqlite3_backup_finish(b) != SQLITE_OK && rc == SQLITE_DONE)
		rc = sqlite3_errcode(dst);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int quick_check(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	return ok;
}

int dl_backup_run(const dl_cconf_t *conf, const char *dest)
{
	char tmp[DL_PATH_MAX + 16], dir[DL_PATH_MAX + 16];
	sqlite3 *src = NULL, *dst = NULL;
	uint64_t t0 = dl_clock_mono_ns();
	struct stat st;
	int pages = 0, rc;

	if (strlen(dest) >= DL_PATH_MAX) {
		fprintf(stderr, "dockline-collector: backup path too long\n");
		return 2;
	}
	if (stat(dest, &st) == 0 || errno != ENOENT) {
		fprintf(stderr,
			"dockline-collector: %s exists: a backup never "
			"overwrites; choose a new name\n",
			dest);
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.partial", dest);
	unlink(tmp);
	if (sqlite3_open_v2(conf->database, &src, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_open_v2(tmp, &dst,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		fprintf(stderr, "dockline-collector: cannot open %s: %s\n",
			src && sqlite3_errcode(src) ? conf->database : tmp,
			sqlite3_errmsg(src && sqlite3_errcode(src) ? src
								   : dst));
		rc = 1;
		goto out;
	}
	sqlite3_busy_timeout(src, BUSY_MS);
	if ((rc = copy_db(src, dst, &pages)) != SQLITE_OK) {
		fprintf(stderr, "dockline-collector: backup of %s failed: %s\n",
			conf->database, sqlite3_errstr(rc));
		rc = 1;
		goto out;
	}
	if (!quick_check(dst)) {
		fprintf(stderr,
			"dockline-collector: the copy fails its integrity "
			"check; %s is left as it was\n",
			conf->database);
		rc = 1;
		goto out;
	}
	sqlite3_close(dst);
	dst = NULL;
	snprintf(dir, sizeof(dir), "%s", dest);
	if (chmod(tmp, 0600) || fsync_path(tmp, O_RDONLY) ||
	    rename(tmp, dest) || fsync_path(dirname(dir), O_RDONLY)) {
		fprintf(stderr, "dockline-collector: cannot write %s: %s\n",
			dest, strerror(errno));
		rc = 1;
		goto out;
	}
	if (stat(dest, &st) != 0)
		st.st_size = 0;
	printf("backup of %s (%d pages, %.1f MiB) written to %s in %.0f ms\n",
	       conf->database, pages, (double)st.st_size / (1024.0 * 1024.0),
	       dest, (double)(dl_clock_mono_ns() - t0) / 1e6);
	rc = 0;
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	if (rc)
		unlink(tmp);
	return rc;
}
