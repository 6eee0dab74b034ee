/* test.h - tiny assertion helpers in the libuv style: a failed assertion
 * prints both operands and file:line, then exits non-zero. */
#ifndef DL_TEST_H
#define DL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DL_FAIL_(...)                                                          \
	do {                                                                   \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                         \
		exit(1);                                                       \
	} while (0)

#define ASSERT(c)                                                              \
	do {                                                                   \
		if (!(c))                                                      \
			DL_FAIL_("assertion failed: %s", #c);                  \
	} while (0)

#define ASSERT_INT_(a, op, b)                                                  \
	do {                                                                   \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                  \
		if (!(a_ op b_))                                               \
			DL_FAIL_("%s %s %s (%" PRId64 " vs %" PRId64 ")", #a,  \
				 #op, #b, a_, b_);                             \
	} while (0)
#define ASSERT_EQ(a, b) ASSERT_INT_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_(a, >=, b)

#define ASSERT_STR_EQ(a, b)                                                    \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (strcmp(a_, b_) != 0)                                       \
			DL_FAIL_("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_,    \
				 b_);                                          \
	} while (0)

/* Reads tests/fixtures/<sub>/<name> (DL_FIXTURES overrides the root)
 * whole, NUL-terminated; the caller frees. Fails the test if missing. */
static inline char *dl_test_fixture(const char *sub, const char *name,
				    size_t *len)
{
	const char *dir = getenv("DL_FIXTURES");
	char path[512];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/%s/%s", dir ? dir : "tests/fixtures",
		 sub, name);
	f = fopen(path, "rb");
	if (!f)
		DL_FAIL_("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	ASSERT(p != NULL);
	ASSERT_EQ(fread(p, 1, (size_t)n, f), n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Each test file: static void test_x(void) {...}; then
 * int main(void) { RUN(test_x); ...; return 0; } */
#define RUN(fn)                                                                \
	do {                                                                   \
		fn();                                                          \
		fprintf(stderr, "ok %s\n", #fn);                               \
	} while (0)

#endif
