/*
 * server/util.c and server/sha256.c: time parsing and formatting, encodings, strict integers,
 * and SHA-256 against the FIPS 180-4 example vectors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "sha256.h"
#include "util.h"

static const struct {
    const char *in;
    const char *hex;
} sha_cases[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

START_TEST(test_sha256_vectors)
{
    unsigned char d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];

    sha256(sha_cases[_i].in, strlen(sha_cases[_i].in), d);
    util_hex(d, sizeof(d), hex);
    ck_assert_str_eq(hex, sha_cases[_i].hex);
}
END_TEST

START_TEST(test_sha256_million_a)
{
    struct sha256 s;
    unsigned char d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1], chunk[1000];

    memset(chunk, 'a', sizeof(chunk));
    sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        sha256_update(&s, chunk, sizeof(chunk));
    sha256_final(&s, d);
    util_hex(d, sizeof(d), hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

static const struct {
    const char *in;
    int ok;
    long long ms;
} time_cases[] = {
    {"2026-10-01T12:00:00Z", 1, 1790856000000LL},
    {"2026-10-01T12:00:00.5Z", 1, 1790856000500LL},
    {"2026-10-01T12:00:00.123456Z", 1, 1790856000123LL},
    {"2026-10-01T14:30:00+02:30", 1, 1790856000000LL},
    {"2026-10-01T07:00:00-05:00", 1, 1790856000000LL},
    {"1970-01-01T00:00:00Z", 1, 0},
    {"2024-02-29T00:00:00Z", 1, 1709164800000LL},
    {"2026-02-29T00:00:00Z", 0, 0}, /* not a leap year */
    {"2026-13-01T00:00:00Z", 0, 0},
    {"2026-10-01T24:00:00Z", 0, 0},
    {"2026-10-01T12:00:00", 0, 0}, /* no offset */
    {"2026-10-01 12:00:00Z", 0, 0},
    {"2026-10-01T12:00:00Zjunk", 0, 0},
    {"2026-10-01T12:00:00.Z", 0, 0},
    {"26-10-01T12:00:00Z", 0, 0},
    {"", 0, 0},
    {"2026-10-01", 0, 0}, /* dates only where allowed */
    /* a leap second only at the end of a UTC day, read as the second before it */
    {"2016-12-31T23:59:60Z", 1, 1483228799000LL},
    {"2016-12-31T23:59:60.5Z", 1, 1483228799500LL},
    {"2017-01-01T01:59:60+02:00", 1, 1483228799000LL},
    {"2016-12-31T18:29:60-05:30", 1, 1483228799000LL},
    {"2026-03-03T12:00:60Z", 0, 0},
    {"2016-12-31T23:58:60Z", 0, 0},
    {"2016-12-31T23:59:60+02:00", 0, 0},
    {"2016-12-31T23:59:61Z", 0, 0},
};

START_TEST(test_parse_time)
{
    int64_t ms = 0;
    int rc = util_parse_time(time_cases[_i].in, 0, &ms);

    ck_assert_int_eq(rc == 0, time_cases[_i].ok);
    if (time_cases[_i].ok)
        ck_assert_int_eq(ms, time_cases[_i].ms);
}
END_TEST

START_TEST(test_parse_date_in_zone)
{
    int64_t ms;

    util_set_tz("UTC");
    ck_assert_int_eq(util_parse_time("2026-10-01", 1, &ms), 0);
    ck_assert_int_eq(ms, 1790812800000LL);
    /* Helsinki is UTC+3 in summer time: local midnight is 21:00 UTC the day before */
    util_set_tz("Europe/Helsinki");
    ck_assert_int_eq(util_parse_time("2026-10-01", 1, &ms), 0);
    ck_assert_int_eq(ms, 1790812800000LL - 3 * 3600 * 1000);
    util_set_tz("UTC");
    ck_assert_int_eq(util_parse_time("2026-10-32", 1, &ms), -1);
}
END_TEST

/* A day starts at the first second whose local date is that day, also where clocks change
 * across midnight: the rollups count responses by the local date of their instant. */
START_TEST(test_day_start_where_midnight_repeats)
{
    static const char *zones[] = {"America/Havana",      "America/Santiago", "America/New_York",
                                  "Australia/Lord_Howe", "Asia/Kolkata",     "Pacific/Apia",
                                  "Europe/Helsinki"};
    int64_t ms;

    util_set_tz("America/Havana");
    /* 2026-11-01: clocks go back from 01:00 to 00:00, so midnight comes twice; the day
     * begins at the first one, 00:00 CDT = 04:00 UTC (not 05:00) */
    ck_assert_int_eq(util_day_start(20758) /* 2026-11-01 */, 1793505600000LL);
    ck_assert_int_eq(util_parse_time("2026-11-01", 1, &ms), 0);
    ck_assert_int_eq(ms, 1793505600000LL);
    /* 2026-03-08: clocks go from 00:00 to 01:00; the day begins at 01:00 CDT = 05:00 UTC */
    ck_assert_int_eq(util_day_start(20520) /* 2026-03-08 */, 1772946000000LL);
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        util_set_tz(zones[z]);
        /* every day of 2010-2027 (Apia skipped 2011-12-30 altogether) */
        for (int64_t day = 14610; day < 21184; day++) {
            int64_t start = util_day_start(day);

            ck_assert_msg(util_local_day(start) >= day && util_local_day(start - 1) < day,
                          "%s: day %lld starts at %lld", zones[z], (long long)day,
                          (long long)start);
        }
    }
    util_set_tz("UTC");
}
END_TEST

START_TEST(test_format_time)
{
    char buf[40];

    util_format_time(1790856000000LL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2026-10-01T12:00:00Z");
    util_format_time(1790856000042LL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2026-10-01T12:00:00.042Z");
    util_format_time(-1LL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    util_format_time(253402300799999LL, buf, sizeof(buf)); /* the last ms of year 9999 */
    ck_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
    util_format_time(253402300800000LL, buf, sizeof(buf)); /* five-digit years: snprintf */
    ck_assert_str_eq(buf, "10000-01-01T00:00:00Z");
}
END_TEST

/* The hand-written digits equal snprintf's for times spread over the four-digit years. */
START_TEST(test_format_time_matches_snprintf)
{
    unsigned long long x = 88172645463325252ULL;

    for (int i = 0; i < 20000; i++) {
        char got[40], want[40];
        int64_t ms;
        time_t t;
        int frac;
        struct tm tm;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ms = (int64_t)(x % 315537897600000ULL) - 62135596800000LL; /* years 0001-9999 */
        if (i % 3 == 0)
            ms -= ms % 1000; /* whole seconds too */
        t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        frac = (int)(ms - (int64_t)t * 1000);
        gmtime_r(&t, &tm);
        if (frac)
            snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
        else
            snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        util_format_time(ms, got, sizeof(got));
        ck_assert_str_eq(got, want);
    }
}
END_TEST

START_TEST(test_b64url_roundtrip)
{
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "r:12345"};
    char enc[64], dec[64];

    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        util_b64url_encode(in[i], strlen(in[i]), enc);
        ck_assert_int_eq(util_b64url_decode(enc, dec, sizeof(dec)), (int)strlen(in[i]));
        ck_assert_int_eq(memcmp(dec, in[i], strlen(in[i])), 0);
    }
    util_b64url_encode("foob", 4, enc);
    ck_assert_str_eq(enc, "Zm9vYg");
    ck_assert_int_eq(util_b64url_decode("Zm9vYg==", dec, sizeof(dec)), -1); /* no padding */
    ck_assert_int_eq(util_b64url_decode("Zm9vY", dec, sizeof(dec)), -1);    /* dangling */
    ck_assert_int_eq(util_b64url_decode("Zm9vYh", dec, sizeof(dec)), -1);   /* bits set */
    ck_assert_int_eq(util_b64url_decode("a+b/", dec, sizeof(dec)), -1);
}
END_TEST

START_TEST(test_parse_int)
{
    long long v;

    ck_assert_int_eq(util_parse_int("42", 0, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(util_parse_int("-3", -5, 5, &v), 0);
    ck_assert_int_eq(v, -3);
    ck_assert_int_eq(util_parse_int("101", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_int("4x", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_int(" 4", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_int("+4", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_int("", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_int("99999999999999999999", 0, 100, &v), -1);
}
END_TEST

START_TEST(test_ct_equal_and_text)
{
    ck_assert(util_ct_equal("abcd", "abcd", 4));
    ck_assert(!util_ct_equal("abcd", "abce", 4));
    ck_assert(util_valid_text("hello", 10));
    ck_assert(!util_valid_text("", 10));
    ck_assert(!util_valid_text("hello world", 5));
    ck_assert(!util_valid_text("tab\there", 20));
}
END_TEST

/* Local times are remembered per thread (util.c): every lookup, repeated or colliding, agrees
 * with localtime_r, and util_set_tz makes the remembered ones stale. */
START_TEST(test_local_times_remembered)
{
    int64_t ms = 1795644000123LL; /* 2026-11-25T22:00:00.123Z: already the 26th in Kathmandu */
    int64_t day;
    uint64_t x = 12345;

    util_set_tz("America/New_York");
    for (int i = 0; i < 20000; i++) {
        time_t t;
        struct tm want, got;

        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        t = (time_t)(1262304000 + (x >> 33) % 600000000); /* 2010 to 2029 */
        if (i % 3 == 0)
            t = 1795644000 + (time_t)(i % 700) * 86400; /* days again and again */
        localtime_r(&t, &want);
        util_local_tm((int64_t)t * 1000 + 999, &got);
        ck_assert_int_eq(got.tm_year, want.tm_year);
        ck_assert_int_eq(got.tm_yday, want.tm_yday);
        ck_assert_int_eq(got.tm_hour, want.tm_hour);
        ck_assert_int_eq(got.tm_min, want.tm_min);
        ck_assert_int_eq(got.tm_sec, want.tm_sec);
        ck_assert_int_eq(got.tm_gmtoff, want.tm_gmtoff);
    }
    util_set_tz("UTC");
    day = util_local_day(ms);
    ck_assert_int_eq(util_local_day(ms), day);
    util_set_tz("Asia/Kathmandu");
    ck_assert_int_eq(util_local_day(ms), day + 1);
    util_set_tz("UTC");
    ck_assert_int_eq(util_local_day(ms), day);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_sha256_vectors, 0, sizeof(sha_cases) / sizeof(sha_cases[0]));
    tcase_add_test(tc, test_sha256_million_a);
    tcase_add_test(tc, test_local_times_remembered);
    tcase_add_loop_test(tc, test_parse_time, 0, sizeof(time_cases) / sizeof(time_cases[0]));
    tcase_add_test(tc, test_parse_date_in_zone);
    tcase_add_test(tc, test_day_start_where_midnight_repeats);
    tcase_add_test(tc, test_format_time);
    tcase_add_test(tc, test_format_time_matches_snprintf);
    tcase_add_test(tc, test_b64url_roundtrip);
    tcase_add_test(tc, test_parse_int);
    tcase_add_test(tc, test_ct_equal_and_text);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(util_suite)
