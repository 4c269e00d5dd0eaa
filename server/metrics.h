/*
 * The customer-experience math of DESIGN section 3, computed from histograms (counts per score
 * value), so that raw rows and precomputed rollups feed the same functions. Pure: no I/O, no
 * globals, no allocation.
 */
#ifndef POLKU_METRICS_H
#define POLKU_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum rating_area {
    RATING_INTERACTION,
    RATING_CONTENT,
    RATING_RECOVERY,
    RATING_VALUE,
    RATING_AREAS
};
enum expectation { EXPECT_BELOW, EXPECT_MET, EXPECT_EXCEEDED, EXPECT_VALUES };

/* Counts for one group of responses. Index i of csat is score i+1 (likewise ces, ratings). */
struct hist {
    int64_t n; /* responses in the group */
    int64_t nps[11];
    int64_t csat[5];
    int64_t ces[7];
    int64_t expectation[EXPECT_VALUES];
    int64_t rating[RATING_AREAS][5];
};

/* A score that may be absent (n too small): has is 0 and value meaningless then. */
struct opt {
    int has;
    double value;
};

struct nps_result {
    int64_t n, promoters, passives, detractors;
    struct opt score; /* 100 x (p - d) / n; absent when n == 0 */
    struct opt moe95; /* 1.96 x 100 x sqrt((p + d - (p - d)^2) / n); absent when n < 2 */
};

struct csat_result {
    int64_t n;
    struct opt score; /* 100 x share of csat >= 4 */
    struct opt mean;
};

struct ces_result {
    int64_t n;
    struct opt mean;
    struct opt easy; /* 100 x share of ces >= 5 */
};

struct expectation_result {
    int64_t n, below, met, exceeded;
    struct opt index; /* 100 x (exceeded - below) / n */
};

struct rating_result {
    int64_t n;
    struct opt mean;
};

/* Adds src into dst (dst += src), or subtracts (dst -= src). */
void metrics_hist_add(struct hist *dst, const struct hist *src);
void metrics_hist_sub(struct hist *dst, const struct hist *src);

void metrics_nps(const struct hist *h, struct nps_result *out);
void metrics_csat(const struct hist *h, struct csat_result *out);
void metrics_ces(const struct hist *h, struct ces_result *out);
void metrics_expectation(const struct hist *h, struct expectation_result *out);
void metrics_rating(const struct hist *h, enum rating_area area, struct rating_result *out);

/* ---- journey analytics ------------------------------------------------------------------ */

/* The change in NPS between two periods and whether it is significant: a two-sample test,
 * |d| / sqrt(se1^2 + se2^2) > 1.96 with se = 100 x sqrt((p + d - (p - d)^2) / n) (the margin of
 * error without the 1.96); never significant when either n < 30. delta is absent when either
 * period has no NPS. */
#define METRICS_SIGNIFICANT_MIN_N 30
struct nps_change {
    struct opt delta;
    int significant;
};
void metrics_nps_change(const struct nps_result *current, const struct nps_result *previous,
                        struct nps_change *out);

/* Pearson correlation of n pairs (x[i], y[i]): absent when n < min_n or either variance is
 * zero. Two-pass, so nearly equal values do not cancel. */
struct opt metrics_pearson(const double *x, const double *y, int64_t n, int64_t min_n);

/* The median of n values (n > 0); sorts v in place. */
double metrics_median(double *v, size_t n);

/* Importance x performance: fix (important, performing below the median), maintain
 * (important, at or above), monitor (less important, below), keep (less important, at or
 * above). "Important" is importance at or above the median importance. */
enum quadrant { QUADRANT_FIX, QUADRANT_MAINTAIN, QUADRANT_MONITOR, QUADRANT_KEEP };
enum quadrant metrics_quadrant(double importance, double performance, double median_importance,
                               double median_performance);
const char *metrics_quadrant_name(enum quadrant q);

/* Names of rating areas and expectation values as used in JSON. */
const char *metrics_rating_name(enum rating_area area);
const char *metrics_expectation_name(enum expectation value);

#endif
