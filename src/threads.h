/* lrelu's thread layer, C side (src/threads.c), private to the _threads extension.
 * lrelu/_threads.pyx is the Python side and says how the decision is made. */
#ifndef LRELU_SRC_THREADS_H
#define LRELU_SRC_THREADS_H

#include <stddef.h>

int lrelu_openmp_enabled(void);
int lrelu_openmp_version(void);
int lrelu_install_atfork(void);
int lrelu_forked_child(void);

/* Thread counts: 0 means "not set". The per-thread request (lrelu.threads) wins over the
 * process-wide one (set_num_threads), which wins over OpenMP's own setting. */
int lrelu_thread_request(void);
void lrelu_set_thread_request(int n);
int lrelu_process_request(void);
void lrelu_set_process_request(int n);
/* The CPUs this process may use (affinity and cgroup quota), found at import; 0 = unknown. */
void lrelu_set_cpu_limit(int n, int omp_num_threads_set);
int lrelu_threads_now(void);

/* One call's plan: how many threads, and what to time. */
typedef struct {
    int threads;        /* team size: 1 runs serially */
    int bucket;         /* the (kind, size class) timed, or -1 when this call is not timed */
    int parallel;       /* the mode timed: 1 parallel, 0 serial */
    int explore;        /* 0, TRY_FIRST, TRY_SECOND or WARMING_UP */
    double start;
    double nbytes;
    double work;        /* seconds the calling thread spent on its own share of a team call */
} lrelu_plan;

/* plan.explore; 0: the mode in use */
#define TRY_FIRST 1     /* the first of a try's two calls of the mode that looked slower */
#define WARMING_UP 2    /* one of the first calls of a size class, which try both modes */
#define TRY_SECOND 3    /* the second call of a try */

/* What a call does. Costs per byte differ between them (a backward reads two arrays and
 * writes a third; an in-place call touches one), and a training step alternates forward and
 * backward on the same size, so each kind is timed apart. */
#define LRELU_PLAN_INPLACE 0    /* one array, read and written */
#define LRELU_PLAN_OUT 1        /* read one array, write another */
#define LRELU_PLAN_THREE 2      /* read two, write a third (a backward out of place) */
#define LRELU_PLAN_CONVERT 3    /* integer or mixed-precision input, converted to float64 */
#define LRELU_PLAN_PRELU 4      /* prelu_backward's pass and its per-channel sums */
/* A backward in place (out=grad): reads two arrays and writes one of them. Timed with
 * LRELU_PLAN_OUT it was judged by fresh results, whose team calls are bound by page faults
 * and gain little, so a 1e8 backward that gains from a team was kept on one thread. */
#define LRELU_PLAN_GRAD_INPLACE 5
/* Read one array, write another whose pages are not yet in memory (a fresh result: large
 * allocations come straight from mmap). Its first touch pays a page fault per page, which
 * bounds a team call and leaves it little gain; a preallocated out= that was written before
 * is resident, and a team gains. Timed together, each taught the other. lrelu_plan_begin
 * picks this kind from the memory itself, not from how the call was written (an np.empty
 * out= is fresh too). */
#define LRELU_PLAN_FRESH 6
#define LRELU_PLAN_KINDS 7

/* The planner's constants, named once: src/threads.c says what each is for, and
 * lrelu._threads.PLANNER reads them (tests read them there, never copy them). */
#define LRELU_N_BUCKETS 48            /* size classes: floor(log2(bytes)) */
#define LRELU_EXPLORE_BUDGET 0.05     /* share of time that trying the other mode may cost */
#define LRELU_ACTIVE_WEIGHT 0.125     /* moving-average weight of a call in the mode in use */
#define LRELU_EXPLORE_WEIGHT 0.5      /* ... and of a try of the other mode, which comes rarely */
#define LRELU_TRY_CALLS 2             /* a try: this many calls of the other mode in a row */
#define LRELU_CREDIT_CAP 1.0          /* savings are capped at one try's worth: no bursts of tries */
#define LRELU_SAMPLE_CAP 4.0          /* a sample counts as at most this many times one thread */
#define LRELU_BILL_CAP 4.0            /* a try's first call is billed at most this many times its second */
#define LRELU_WARMUP_CALLS 4          /* the first calls of a size class alternate team, one, team, one */
#define LRELU_IDLE_GAP 1e-4           /* seconds without a team after which its helpers may be asleep */
#define LRELU_STAY_MARGIN 0.1         /* a team is left only when it is this much slower than one */
#define LRELU_FRESH_MIN_BYTES (32 << 20)  /* results from this size on are checked for residency */

/* result_end: for a call of kind LRELU_PLAN_OUT, the last byte of a result that no input
 * shares (NULL otherwise); the call is timed as LRELU_PLAN_FRESH when that page is not in
 * memory. */
lrelu_plan lrelu_plan_begin(ptrdiff_t nbytes, int kind, const void *result_end);
/* The planner's clock (seconds); the kernels time the caller's share of a team call with it. */
double lrelu_clock(void);
/* After the call: reads the clock, hands the team back, and learns (lrelu_plan_learn). */
void lrelu_plan_end(const lrelu_plan *plan);
/* The planner's rule, apart from any clock: what a call planned by lrelu_plan_begin teaches
 * its size class, given how long it took (elapsed seconds), the calling thread's share of a
 * team call (work seconds; 0 on one thread) and whether it had to wake the team's helpers
 * (woke: then it is not a sample of the team's speed). Tests call it with costs they chose,
 * after handing the team back through lrelu_plan_end on a copy of the plan with bucket -1. */
void lrelu_plan_learn(const lrelu_plan *plan, double elapsed, double work, int woke);

ptrdiff_t lrelu_parallel_min_bytes(void);
void lrelu_set_parallel_min_bytes(ptrdiff_t nbytes);
long lrelu_parallel_regions(void);
/* 0: adaptive (the default); 1: always parallel above the threshold, as before the adaptive
 * layer existed (for bench/ comparisons and tests). Returns the old value. */
int lrelu_set_adaptive(int on);
int lrelu_adaptive(void);
/* What a size class has learned, read whole under its lock (lrelu.thread_report, tests). */
typedef struct {
    double serial;              /* seconds per byte on one thread; 0: unknown */
    double team;                /* seconds per byte on a team; 0: unknown */
    double relative;            /* a team call's time over one thread's, at the same moment */
    double credit;              /* seconds that trying the other mode may still spend */
    int on_team;                /* the mode in use: 1 a team, 0 one thread */
    unsigned long calls, explorations;
} lrelu_bucket_snapshot;
void lrelu_bucket_view(int kind, int bucket, lrelu_bucket_snapshot *view);
int lrelu_bucket_of(ptrdiff_t nbytes);
void lrelu_reset_learning(void);

#endif
