/* CRC-32C against published vectors (RFC 3720 B.4 and the usual check
 * value), and chaining in pieces equals one pass. */
#include "common/crc32c.h"
#include "test.h"

enum { ZEROS, ONES, ASCENDING, DESCENDING };

static uint8_t pattern(int pat, size_t j)
{
	switch (pat) {
	case ONES: return 0xff;
	case ASCENDING: return (uint8_t)j;
	case DESCENDING: return (uint8_t)(31 - j);
	default: return 0;
	}
}

static void test_vectors(void)
{
	static const struct {
		const char *what;
		int pat;
		uint32_t want;
	} v[] = {
		{"32 zero bytes", ZEROS, 0x8a9136aau},
		{"32 0xff bytes", ONES, 0x62a8ab43u},
		{"0..31", ASCENDING, 0x46dd794eu},
		{"31..0", DESCENDING, 0x113fdb5cu},
	};
	uint8_t b[32];

	ASSERT_EQ(dl_crc32c(0, "123456789", 9), 0xe3069283u);
	ASSERT_EQ(dl_crc32c(0, "", 0), 0);
	ASSERT_EQ(dl_crc32c(0, "a", 1), 0xc1d04330u);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		for (size_t j = 0; j < sizeof(b); j++)
			b[j] = pattern(v[i].pat, j);
		if (dl_crc32c(0, b, sizeof(b)) != v[i].want)
			DL_FAIL_("crc32c(%s) = 0x%08x, want 0x%08x", v[i].what,
				 dl_crc32c(0, b, sizeof(b)), v[i].want);
	}
}

static void test_chaining(void)
{
	const char *s = "the quick brown fox jumps over the lazy dog";
	size_t n = strlen(s);
	uint32_t whole = dl_crc32c(0, s, n);

	for (size_t cut = 0; cut <= n; cut++)
		ASSERT_EQ(dl_crc32c(dl_crc32c(0, s, cut), s + cut, n - cut),
			  whole);
	/* One flipped bit changes it. */
	ASSERT_NE(dl_crc32c(0, "123456788", 9), 0xe3069283u);
}

int main(void)
{
	RUN(test_vectors);
	RUN(test_chaining);
	return 0;
}
