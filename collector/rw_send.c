/* rw_send.c - remote write over HTTP: the fixed and configured headers,
 * one easy handle per connection (kept alive), starting a request and
 * what its outcome means: 2xx sent, other 4xx dropped, 5xx/429/network
 * retried with backoff. Never logs the bearer token. */
#include <stdio.h>
#include <string.h>

#include "collector/rw_int.h"
#include "common/err.h"
#include "common/log.h"

/* ---- HTTP (worker) ---- */

static size_t on_answer(char *p, size_t size, size_t nmemb, void *ud)
{
	shard_t *s = ud;
	size_t n = size * nmemb,
	       room = DL_RW_ANSWER_MAX - dl_buf_used(&s->answer);

	dl_buf_append(&s->answer, p, n < room ? n : room);
	return n;
}

int dl_rw__build_headers(dl_rw_t *rw)
{
	static const char *const fixed[] = {
		"Content-Encoding: snappy",
		"Content-Type: application/x-protobuf",
		"X-Prometheus-Remote-Write-Version: 0.1.0",
		("User-Agent: dockline/" DL_VERSION), /* () : one element */
		"Expect:", /* no 100-continue round trip */
	};
	struct curl_slist *s;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!(s = curl_slist_append(rw->hdrs, fixed[i])))
			return DL_ENOMEM;
		rw->hdrs = s;
	}
	for (int i = 0; i < rw->conf.nheaders; i++) {
		if (!(s = curl_slist_append(rw->hdrs, rw->conf.headers[i])))
			return DL_ENOMEM;
		rw->hdrs = s;
	}
	if (rw->auth) {
		if (!(s = curl_slist_append(rw->hdrs, rw->auth)))
			return DL_ENOMEM;
		rw->hdrs = s;
	}
	return 0;
}

/* One easy handle per connection, kept (and its connection kept alive)
 * for every request it sends. */
int dl_rw__setup_easy(dl_rw_t *rw, shard_t *s)
{
	long t = rw->conf.timeout_s * 1000L;
	CURL *e;

	if (!(e = s->easy = curl_easy_init()))
		return DL_ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, rw->conf.url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t < 10000 ? t : 10000L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, rw->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	if (rw->conf.ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, rw->conf.ca_file);
	return 0;
}

void dl_rw__start_request(dl_rw_t *rw, shard_t *s)
{
	dl_buf_reset(&s->answer);
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, dl_buf_head(&s->body));
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)dl_buf_used(&s->body));
	if (curl_multi_add_handle(rw->multi, s->easy) == CURLM_OK)
		s->inflight = true;
	else
		s->due_ms = mono_ms() + DL_RW_BACKOFF_MAX;
}

/* What the receiver said, printable, for a log line. */
static void answer_text(shard_t *s, char *out, size_t n)
{
	size_t k = 0, len = dl_buf_used(&s->answer);
	const uint8_t *p = dl_buf_head(&s->answer);

	for (size_t i = 0; i < len && k + 1 < n; i++)
		out[k++] = p[i] < 0x20 || p[i] >= 0x7f ? ' ' : (char)p[i];
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

void dl_rw__batch_done(shard_t *s)
{
	s->cur_n = 0;
	atomic_store(&s->inflight_n, 0);
}

static void request_ok(dl_rw_t *rw, shard_t *s)
{
	atomic_fetch_add(&rw->sent, s->cur_n);
	atomic_fetch_add(&rw->req_ok, 1);
	atomic_store(&rw->last_ok_ms, dl_clock_wall_ns() / 1000000u);
	if (s->failing)
		DL_LOG_INFO(TAG,
			    "%s accepts samples again after %d failed "
			    "attempts (connection %d; sent %llu, retried "
			    "%llu, dropped %llu so far)",
			    rw->conf.url, s->attempts, s->idx + 1,
			    (unsigned long long)atomic_load(&rw->sent),
			    (unsigned long long)atomic_load(&rw->retried),
			    (unsigned long long)(atomic_load(&rw->d_full) +
						 atomic_load(&rw->d_rej)));
	s->failing = false;
	dl_rw__batch_done(s);
}

void dl_rw__request_done(dl_rw_t *rw, shard_t *s, CURLcode rc, bool stopping)
{
	char why[DL_RW_ANSWER_MAX + 64], ans[DL_RW_ANSWER_MAX + 1];
	long code = 0;
	uint64_t backoff;

	curl_multi_remove_handle(rw->multi, s->easy);
	s->inflight = false;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		request_ok(rw, s);
		return;
	}
	answer_text(s, ans, sizeof(ans));
	atomic_fetch_add(&rw->req_fail, 1);
	if (rc != CURLE_OK)
		snprintf(why, sizeof(why), "%s",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	else
		snprintf(why, sizeof(why), "HTTP %ld%s%s", code,
			 ans[0] ? ": " : "", ans);
	if (rc == CURLE_OK && code != 429 && code < 500) {
		/* The receiver refuses this body: sending it again would
		 * be refused again. */
		atomic_fetch_add(&rw->d_rej, s->cur_n);
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s refused %zu samples, dropped: %s", rw->conf.url,
			  s->cur_n, why);
		dl_rw__batch_done(s);
		return;
	}
	if (stopping) {
		atomic_fetch_add(&rw->d_stop, s->cur_n);
		dl_rw__batch_done(s);
		return;
	}
	atomic_fetch_add(&rw->retried, s->cur_n);
	backoff = (uint64_t)DL_RW_BACKOFF_MIN
		  << (s->attempts < 8 ? s->attempts : 8);
	if (backoff > DL_RW_BACKOFF_MAX)
		backoff = DL_RW_BACKOFF_MAX;
	s->attempts++;
	s->due_ms = mono_ms() + backoff;
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
		  "%s: %s; %zu samples retried in %llu ms (connection %d, "
		  "attempt %d)",
		  rw->conf.url, why, s->cur_n, (unsigned long long)backoff,
		  s->idx + 1, s->attempts);
	s->failing = true;
}
