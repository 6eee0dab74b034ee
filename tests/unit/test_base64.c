/* base64: RFC 4648 test vectors both ways, OpenSSH's unpadded form, and
 * refusal of bad input and short buffers. */
#include "common/base64.h"
#include "test.h"

static const struct {
	const char *raw, *b64, *nopad;
} vec[] = {
	{"", "", ""},
	{"f", "Zg==", "Zg"},
	{"fo", "Zm8=", "Zm8"},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg==", "Zm9vYg"},
	{"fooba", "Zm9vYmE=", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_vectors(void)
{
	char out[64];
	uint8_t dec[64];

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i].raw);

		ASSERT_EQ(dl_base64_encode((const uint8_t *)vec[i].raw, n, true,
					   out, sizeof(out)),
			  strlen(vec[i].b64));
		ASSERT_STR_EQ(out, vec[i].b64);
		dl_base64_encode((const uint8_t *)vec[i].raw, n, false, out,
				 sizeof(out));
		ASSERT_STR_EQ(out, vec[i].nopad);
		ASSERT_EQ(dl_base64_decode(vec[i].b64, strlen(vec[i].b64), dec,
					   sizeof(dec)),
			  n);
		ASSERT(memcmp(dec, vec[i].raw, n) == 0);
	}
}

static void test_bad_input(void)
{
	uint8_t dec[8];
	char out[4];
	static const char *bad[] = {"Zg=",	"Z===", "Zg=a",
				    "Zm9v!A==", "=Zm9", "Zm 9"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(dl_base64_decode(bad[i], strlen(bad[i]), dec,
					   sizeof(dec)),
			  -1);
	/* Output buffers too small: refused, never overrun. */
	ASSERT_EQ(dl_base64_decode("Zm9vYmFy", 8, dec, 5), -1);
	ASSERT_EQ(dl_base64_encode((const uint8_t *)"foo", 3, true, out,
				   sizeof(out)),
		  -1);
	ASSERT_STR_EQ(out, "");
}

int main(void)
{
	RUN(test_vectors);
	RUN(test_bad_input);
	return 0;
}
