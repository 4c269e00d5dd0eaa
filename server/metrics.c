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
