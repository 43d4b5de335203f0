/* ThreadSanitizer stress harness for lrelu's thread layer (src/threads.c), run by tools/tsan.sh.
 *
 * CALLERS threads do what the kernels do around every call, as free-threaded Python's
 * threads can: lrelu_plan_begin, a stand-in for the work (the caller's share timed into
 * plan.work on a team), lrelu_plan_end (every fourth call instead hands the team back
 * untimed and calls the rule, lrelu_plan_learn, with chosen costs, as the tests' seam does),
 * each with its own per-thread count (threads(n)).
 * Beside them one thread changes the process-wide count (set_num_threads) and another reads
 * the planner's state (thread_report) and the thread layer's settings. No OpenMP region
 * runs: GCC's libgomp is not instrumented, and its barriers would be reported as races;
 * what is checked here is lrelu's own shared state, which the regions never touch.
 *
 * After the storm: every call that reached the planner was counted exactly once, the
 * estimates are finite and not negative, and the team was handed back. Exit status 0 only
 * if all of that holds (TSan's own reports make the run fail through halt_on_error). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "threads.h"

#define CALLERS 16
#define CALLS 4000
#define KINDS 3         /* in place, out, three: calls of each kind share buckets across threads */

static int stop = 0;    /* read and written with __atomic builtins */

static void *caller(void *arg)
{
    int id = (int)(size_t)arg, i;
    lrelu_set_thread_request(1 + id % 2);   /* per-thread counts: 1 and 2 */
    for (i = 0; i < CALLS; i++) {
        int kind = (id + i) % KINDS;
        ptrdiff_t nbytes = (ptrdiff_t)1 << (19 + (i % 2));   /* two size classes past the threshold */
        lrelu_plan plan = lrelu_plan_begin(nbytes, kind, NULL);
        volatile double sink = 0.0;
        int k;
        double t0 = lrelu_clock();
        for (k = 0; k < 200; k++) {
            sink += k;
        }
        if (plan.threads > 1) {
            plan.work += lrelu_clock() - t0;
        }
        if (i % 4 == 3) {
            /* as the tests' seam does (_threads._learn_from): the team handed back untimed,
             * then the rule taught chosen costs */
            lrelu_plan untimed = plan;
            untimed.bucket = -1;
            lrelu_plan_end(&untimed);
            lrelu_plan_learn(&plan, 1e-9 * (double)nbytes,
                             plan.threads > 1 ? 6e-10 * (double)nbytes : 0.0, 0);
        } else {
            lrelu_plan_end(&plan);
        }
    }
    return NULL;
}

static void *changer(void *arg)
{
    int i = 0;
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        lrelu_set_process_request(i++ % 3);     /* set_num_threads(None), (1), (2) */
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        lrelu_bucket_snapshot view;
        int kind, b;
        for (kind = 0; kind < KINDS; kind++) {
            for (b = 19; b <= 20; b++) {
                lrelu_bucket_view(kind, b, &view);
            }
        }
        (void)lrelu_parallel_regions();
        (void)lrelu_process_request();
        (void)lrelu_parallel_min_bytes();
    }
    return NULL;
}

int main(void)
{
    pthread_t callers[CALLERS], side[2];
    unsigned long counted = 0;
    int i, kind, b, bad = 0;

    lrelu_set_cpu_limit(2, 0);
    lrelu_set_parallel_min_bytes(1 << 18);
    pthread_create(&side[0], NULL, changer, NULL);
    pthread_create(&side[1], NULL, reader, NULL);
    for (i = 0; i < CALLERS; i++) {
        pthread_create(&callers[i], NULL, caller, (void *)(size_t)i);
    }
    for (i = 0; i < CALLERS; i++) {
        pthread_join(callers[i], NULL);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(side[0], NULL);
    pthread_join(side[1], NULL);

    for (kind = 0; kind < KINDS; kind++) {
        for (b = 19; b <= 20; b++) {
            lrelu_bucket_snapshot v;
            lrelu_bucket_view(kind, b, &v);
            counted += v.calls;
            if (!isfinite(v.serial) || !isfinite(v.team) || !isfinite(v.relative) || !isfinite(v.credit)
                || v.serial < 0 || v.team < 0 || v.relative < 0 || v.explorations > v.calls) {
                printf("kind %d class %d: serial %g team %g relative %g credit %g calls %lu tries %lu\n",
                       kind, b, v.serial, v.team, v.relative, v.credit, v.calls, v.explorations);
                bad = 1;
            }
        }
    }
    /* exactly the calls of the threads that asked for 2: those on one thread are not planned */
    if (counted != (unsigned long)(CALLERS / 2) * CALLS) {
        printf("calls counted: %lu, made: %lu\n", counted, (unsigned long)(CALLERS / 2) * CALLS);
        bad = 1;
    }
    {   /* the team was handed back: a lone call now gets it */
        lrelu_plan plan;
        lrelu_set_process_request(2);
        lrelu_set_adaptive(0);
        lrelu_set_thread_request(2);
        plan = lrelu_plan_begin(1 << 20, LRELU_PLAN_OUT, NULL);
        if (plan.threads != 2) {
            printf("the team was not handed back (threads %d)\n", plan.threads);
            bad = 1;
        }
        lrelu_plan_end(&plan);
    }
    printf("tsan_threads: %d callers x %d calls, %lu counted by the planner, %ld team calls: %s\n",
           CALLERS, CALLS, counted, lrelu_parallel_regions(), bad ? "FAILED" : "ok");
    return bad;
}
