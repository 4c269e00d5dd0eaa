/*
 * NPS, CSAT, CES, expectation index and rating means from histograms (DESIGN section 3).
 * Every function counts only responses that carry the field; an empty group has n = 0 and an
 * absent score, never 0 and never NaN.
 */
#include "metrics.h"

#include <math.h>
#include <stddef.h>

static const char *const rating_names[RATING_AREAS] = {"interaction", "content", "recovery",
                                                       "value"};
static const char *const expectation_names[EXPECT_VALUES] = {"below", "met", "exceeded"};

const char *metrics_rating_name(enum rating_area area)
{
    return area < RATING_AREAS ? rating_names[area] : NULL;
}

const char *metrics_expectation_name(enum expectation value)
{
    return value < EXPECT_VALUES ? expectation_names[value] : NULL;
}

static void hist_combine(struct hist *dst, const struct hist *src, int sign)
{
    dst->n += sign * src->n;
    for (int i = 0; i < 11; i++)
        dst->nps[i] += sign * src->nps[i];
    for (int i = 0; i < 5; i++)
        dst->csat[i] += sign * src->csat[i];
    for (int i = 0; i < 7; i++)
        dst->ces[i] += sign * src->ces[i];
    for (int i = 0; i < EXPECT_VALUES; i++)
        dst->expectation[i] += sign * src->expectation[i];
    for (int a = 0; a < RATING_AREAS; a++)
        for (int i = 0; i < 5; i++)
            dst->rating[a][i] += sign * src->rating[a][i];
}

void metrics_hist_add(struct hist *dst, const struct hist *src)
{
    hist_combine(dst, src, 1);
}

void metrics_hist_sub(struct hist *dst, const struct hist *src)
{
    hist_combine(dst, src, -1);
}

static struct opt some(double v)
{
    struct opt o = {1, v};
    return o;
}

static const struct opt none = {0, 0.0};

void metrics_nps(const struct hist *h, struct nps_result *out)
{
    int64_t n = 0, p = 0, d = 0;

    for (int i = 0; i <= 10; i++) {
        n += h->nps[i];
        if (i >= 9)
            p += h->nps[i];
        else if (i <= 6)
            d += h->nps[i];
    }
    out->n = n;
    out->promoters = p;
    out->detractors = d;
    out->passives = n - p - d;
    out->score = n > 0 ? some(100.0 * (double)(p - d) / (double)n) : none;
    if (n >= 2) {
        double ps = (double)p / (double)n, ds = (double)d / (double)n;
        double var = ps + ds - (ps - ds) * (ps - ds);

        out->moe95 = some(1.96 * 100.0 * sqrt((var > 0 ? var : 0) / (double)n));
    } else {
        out->moe95 = none;
    }
}

/* Count, sum and count of values >= threshold over a 1-based histogram of k buckets. */
static void scale_stats(const int64_t *buckets, int k, int threshold, int64_t *n, int64_t *sum,
                        int64_t *high)
{
    *n = *sum = *high = 0;
    for (int i = 0; i < k; i++) {
        *n += buckets[i];
        *sum += buckets[i] * (i + 1);
        if (i + 1 >= threshold)
            *high += buckets[i];
    }
}

void metrics_csat(const struct hist *h, struct csat_result *out)
{
    int64_t n, sum, high;

    scale_stats(h->csat, 5, 4, &n, &sum, &high);
    out->n = n;
    out->score = n > 0 ? some(100.0 * (double)high / (double)n) : none;
    out->mean = n > 0 ? some((double)sum / (double)n) : none;
}

void metrics_ces(const struct hist *h, struct ces_result *out)
{
    int64_t n, sum, high;

    scale_stats(h->ces, 7, 5, &n, &sum, &high);
    out->n = n;
    out->mean = n > 0 ? some((double)sum / (double)n) : none;
    out->easy = n > 0 ? some(100.0 * (double)high / (double)n) : none;
}

void metrics_expectation(const struct hist *h, struct expectation_result *out)
{
    out->below = h->expectation[EXPECT_BELOW];
    out->met = h->expectation[EXPECT_MET];
    out->exceeded = h->expectation[EXPECT_EXCEEDED];
    out->n = out->below + out->met + out->exceeded;
    out->index =
        out->n > 0 ? some(100.0 * (double)(out->exceeded - out->below) / (double)out->n) : none;
}

void metrics_rating(const struct hist *h, enum rating_area area, struct rating_result *out)
{
    int64_t n, sum, high;

    scale_stats(h->rating[area], 5, 6, &n, &sum, &high);
    out->n = n;
    out->mean = n > 0 ? some((double)sum / (double)n) : none;
}

/* ---- journey analytics ------------------------------------------------------------------ */

/* The standard error of an NPS in points: 100 x sqrt((p + d - (p - d)^2) / n). */
static double nps_se(const struct nps_result *r)
{
    double ps = (double)r->promoters / (double)r->n, ds = (double)r->detractors / (double)r->n;
    double var = ps + ds - (ps - ds) * (ps - ds);

    return 100.0 * sqrt((var > 0 ? var : 0) / (double)r->n);
}

void metrics_nps_change(const struct nps_result *current, const struct nps_result *previous,
                        struct nps_change *out)
{
    double d, se;

    out->significant = 0;
    if (!current->score.has || !previous->score.has) {
        out->delta = none;
        return;
    }
    d = current->score.value - previous->score.value;
    out->delta = some(d);
    if (current->n < METRICS_SIGNIFICANT_MIN_N || previous->n < METRICS_SIGNIFICANT_MIN_N)
        return;
    se = sqrt(nps_se(current) * nps_se(current) + nps_se(previous) * nps_se(previous));
    /* Both samples without spread: any difference is certain. */
    out->significant = se > 0 ? fabs(d) / se > 1.96 : d != 0;
}

struct opt metrics_pearson(const double *x, const double *y, int64_t n, int64_t min_n)
{
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;

    if (n < min_n || n < 2)
        return none;
    for (int64_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;

        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if (sxx <= 0 || syy <= 0)
        return none;
    return some(sxy / sqrt(sxx * syy));
}

double metrics_median(double *v, size_t n)
{
    /* Shell sort in place: no allocation, and n is the number of touchpoints. */
    for (size_t gap = n / 2; gap > 0; gap /= 2) {
        for (size_t i = gap; i < n; i++) {
            double t = v[i];
            size_t j = i;

            for (; j >= gap && v[j - gap] > t; j -= gap)
                v[j] = v[j - gap];
            v[j] = t;
        }
    }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

enum quadrant metrics_quadrant(double importance, double performance, double median_importance,
                               double median_performance)
{
    int important = importance >= median_importance;
    int performing = performance >= median_performance;

    if (important)
        return performing ? QUADRANT_MAINTAIN : QUADRANT_FIX;
    return performing ? QUADRANT_KEEP : QUADRANT_MONITOR;
}

const char *metrics_quadrant_name(enum quadrant q)
{
    static const char *const names[] = {"fix", "maintain", "monitor", "keep"};

    return q <= QUADRANT_KEEP ? names[q] : NULL;
}
