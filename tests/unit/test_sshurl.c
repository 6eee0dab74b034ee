/* sshurl: the -H URL table (good and bad), DOCKLINE_SSH_COMMAND word
 * splitting, and the remote path check, since all three feed ssh's argv
 * and the remote shell. */
#include "collector/sshurl.h"
#include "common/err.h"
#include "test.h"

static const struct {
	const char *url, *user, *host;
	unsigned port;
} good[] = {
	{"ssh://alice@collector", "alice", "collector", 0},
	{"ssh://alice@collector.example.com:2222", "alice",
	 "collector.example.com", 2222},
	{"ssh://collector", "", "collector", 0},
	{"ssh://ops_1.x-y@10.0.0.7:22", "ops_1.x-y", "10.0.0.7", 22},
	{"ssh://bob@[::1]:65535", "bob", "::1", 65535},
	{"ssh://bob@[fe80::1]", "bob", "fe80::1", 0},
};

static const char *bad[] = {
	"collector",
	"http://alice@collector",
	"ssh://",
	"ssh://alice@",
	"ssh://@collector",
	"ssh://alice:secret@collector",
	"ssh://alice@collector:0",
	"ssh://alice@collector:65536",
	"ssh://alice@collector:22x",
	"ssh://alice@collector:",
	"ssh://alice@collector/path",
	"ssh://alice@collector?x=1",
	"ssh://alice@-oProxyCommand=x",
	"ssh://-oProxyCommand=x@collector",
	"ssh://alice@coll;ector",
	"ssh://alice@coll ector",
	"ssh://a@b@c",
	"ssh://alice@[::1",
	"ssh://alice@[::1]x",
	"ssh://alice@[zz]",
	"ssh://123456789012345678901234567890123@c",
};

static void test_urls(void)
{
	dl_ssh_url_t u;
	char err[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ASSERT_EQ(dl_ssh_url_parse(good[i].url, &u, err, sizeof(err)),
			  0);
		ASSERT_STR_EQ(u.user, good[i].user);
		ASSERT_STR_EQ(u.host, good[i].host);
		ASSERT_EQ(u.port, good[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (dl_ssh_url_parse(bad[i], &u, err, sizeof(err)) != DL_EINVAL)
			DL_FAIL_("accepted %s", bad[i]);
		ASSERT(strstr(err, "ssh://USER@HOST") != NULL);
	}
	/* a bracketed host longer than u.host, with or without a user */
	for (int with_user = 0; with_user < 2; with_user++) {
		char url[400];
		int n = snprintf(url, sizeof(url), "ssh://%s[",
				 with_user ? "bob@" : "");

		memset(url + n, 'a', 285);
		url[n + 285] = ']';
		url[n + 286] = '\0';
		ASSERT_EQ(dl_ssh_url_parse(url, &u, err, sizeof(err)),
			  DL_EINVAL);
	}
}

static void test_split(void)
{
	char buf[256], err[256];
	char *w[8];

	ASSERT_EQ(dl_ssh_split_command("ssh", buf, sizeof(buf), w, 8, err,
				       sizeof(err)),
		  1);
	ASSERT_STR_EQ(w[0], "ssh");
	ASSERT_EQ(dl_ssh_split_command("  ssh -i '/k ey' -o \"A=b c\"\tx ", buf,
				       sizeof(buf), w, 8, err, sizeof(err)),
		  6);
	ASSERT_STR_EQ(w[0], "ssh");
	ASSERT_STR_EQ(w[2], "/k ey");
	ASSERT_STR_EQ(w[4], "A=b c");
	ASSERT_STR_EQ(w[5], "x");
	/* no shell: $, ;, backticks are plain characters */
	ASSERT_EQ(dl_ssh_split_command("ssh $(rm);`x`", buf, sizeof(buf), w, 8,
				       err, sizeof(err)),
		  2);
	ASSERT_STR_EQ(w[1], "$(rm);`x`");
	ASSERT_EQ(dl_ssh_split_command("ssh 'x", buf, sizeof(buf), w, 8, err,
				       sizeof(err)),
		  DL_EINVAL);
	ASSERT(strstr(err, "unbalanced") != NULL);
	ASSERT_EQ(dl_ssh_split_command("   ", buf, sizeof(buf), w, 8, err,
				       sizeof(err)),
		  DL_EINVAL);
	ASSERT_EQ(dl_ssh_split_command("a b c d e f g h i", buf, sizeof(buf), w,
				       8, err, sizeof(err)),
		  DL_EINVAL);
	ASSERT_EQ(
		dl_ssh_split_command("ssh -v", buf, 4, w, 8, err, sizeof(err)),
		DL_EINVAL);
}

static void test_paths(void)
{
	ASSERT(dl_ssh_remote_path_ok("/run/dockline/admin.sock"));
	ASSERT(dl_ssh_remote_path_ok("/tmp/dl.AbC123/admin.sock"));
	ASSERT(!dl_ssh_remote_path_ok("run/admin.sock"));
	ASSERT(!dl_ssh_remote_path_ok("/tmp/a b"));
	ASSERT(!dl_ssh_remote_path_ok("/tmp/a;reboot"));
	ASSERT(!dl_ssh_remote_path_ok("/tmp/$HOME"));
	ASSERT(!dl_ssh_remote_path_ok(""));
}

int main(void)
{
	test_urls();
	test_split();
	test_paths();
	printf("ok\n");
	return 0;
}
