/* lrelu's thread layer, C side: OpenMP queries that compile without OpenMP, the fork
 * handler, the one-team guard, per-thread and process-wide thread counts, and the planner
 * that decides, once per call, whether a call runs on one thread or on a team.
 *
 * Why a planner and not a fixed rule: whether a team pays depends on more than the size.
 * On a quiet machine two threads beat one from a few hundred KiB up. On a busy one (another
 * process keeping a core busy, another OpenMP program spinning, a CI runner) a team member
 * that the OS does not schedule makes the whole call wait at OpenMP's closing barrier, and
 * two threads lose to one (BENCHMARKS.md, "Under load", has the figures).
 *
 * What is measured, per kind of call and size class (after a warm-up that tries each mode
 * twice):
 * - one thread: seconds per byte, a moving average of the calls run that way;
 * - a team: its time relative to one thread at the same moment. The calling thread times its
 *   own share of the work (plan.work), and one thread would take that share times the
 *   team's speedup: one thread's time over the caller's share, each taken at quiet moments
 *   (the lower envelope of its calls). A moment when the whole machine is slow (cold caches
 *   after lrelu was idle, clock speed, another library's threads leaving the cores) slows
 *   the share as much as the call, and leaves the ratio alone; helpers that start or finish
 *   late (load) slow only the call, and raise it.
 * A call goes to a team when that ratio is below 1, and leaves it above 1 + LRELU_STAY_MARGIN.
 * Timing the team against one thread's average instead, an earlier version took every slow
 * moment for load: in a benchmark that alternates libraries it ran on one thread for most
 * calls, and lost to PyTorch.
 *
 * The mode not in use is tried again now and then, paid from a time budget: each call in the
 * mode in use earns LRELU_EXPLORE_BUDGET of its time, and a try (LRELU_TRY_CALLS calls in a row; the
 * second is the sample, as the first may find the helpers asleep) is made when the savings
 * cover its estimated time. It is billed in full, so under load, where a team call may take
 * a whole time slice, tries stay within that share of the time. Two traps: paying only a
 * try's excess over the better mode made tries free when the modes were close, and calls
 * alternated for good; and a one-off stall billed in full stopped tries for thousands of
 * calls, so a try's first call is billed at most LRELU_BILL_CAP times its second.
 *
 * Why not the alternatives: OMP_WAIT_POLICY=passive cannot be set for a runtime that another
 * library may already have loaded, and issue 15 found it slower at 1e5; a fixed threshold
 * cannot see load; and a caller that takes work dynamically still waits for every helper at
 * the barrier that ends an OpenMP region. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE     /* mincore() */
#endif
#include "threads.h"

#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_WIN32)
#include <intrin.h>
#include <windows.h>
#else
#include <pthread.h>
#include <sched.h>
#endif

#if defined(__linux__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define LRELU_HAVE_MINCORE 1
#endif

#if defined(_MSC_VER)
#define LRELU_TLS __declspec(thread)
#else
#define LRELU_TLS __thread
#endif

/* ---- atomics: relaxed loads and stores are all the statistics need; the team guard
 * acquires and releases ------------------------------------------------------------------ */

#if defined(_MSC_VER)
static int load_int(volatile long *p) { return (int)*p; }
static void store_int(volatile long *p, int v) { _InterlockedExchange(p, v); }
static int try_lock(volatile long *p) { return _InterlockedCompareExchange(p, 1, 0) == 0; }
static void unlock(volatile long *p) { _InterlockedExchange(p, 0); }
static double load_double(volatile double *p) { return *p; }   /* aligned 8 bytes: atomic on x64 */
static void store_double(volatile double *p, double v) { *p = v; }
#else
static int load_int(volatile long *p) { return (int)__atomic_load_n(p, __ATOMIC_RELAXED); }
static void store_int(volatile long *p, int v) { __atomic_store_n(p, (long)v, __ATOMIC_RELAXED); }
static int try_lock(volatile long *p)
{
    long expected = 0;
    return __atomic_compare_exchange_n(p, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static void unlock(volatile long *p) { __atomic_store_n(p, 0, __ATOMIC_RELEASE); }
static double load_double(volatile double *p)
{
    uint64_t bits = __atomic_load_n((volatile uint64_t *)p, __ATOMIC_RELAXED);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
static void store_double(volatile double *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    __atomic_store_n((volatile uint64_t *)p, bits, __ATOMIC_RELAXED);
}
#endif

/* A bucket's lock: held for a few dozen instructions, so a waiter spins, and yields its CPU
 * only when the holder was preempted (free-threaded Python, or the GIL released around the
 * kernels, lets any number of threads update one bucket). */
static void lock_spin(volatile long *p)
{
    int spins = 0;
    while (!try_lock(p)) {
        if (++spins == 64) {
            spins = 0;
#if defined(_WIN32)
            SwitchToThread();
#else
            sched_yield();
#endif
        }
    }
}

/* ---- OpenMP, fork ------------------------------------------------------------------- */

int lrelu_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* yyyymm of the OpenMP spec the compiler implements; 0 when built without OpenMP. */
int lrelu_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

static double now(void)
{
#ifdef _OPENMP
    return omp_get_wtime();     /* a monotonic clock; without OpenMP nothing is timed */
#else
    return 0.0;
#endif
}

/* GNU libgomp hangs in a child forked after the parent used its thread pool: the child
 * inherits a pool whose threads did not survive the fork, and the next parallel region waits
 * for them forever. PyTorch DataLoader workers and multiprocessing's "fork" start method do
 * exactly this. The child handler makes every later call in the child serial. */
static volatile long forked_child = 0;
static volatile long team_busy = 0;

static void atfork_child(void)
{
    forked_child = 1;
    team_busy = 0;          /* a team running in the parent's other threads is not ours */
}

int lrelu_install_atfork(void)
{
#if defined(_WIN32)
    return 0;               /* no fork on Windows */
#else
    return pthread_atfork(NULL, NULL, atfork_child);
#endif
}

int lrelu_forked_child(void) { return load_int(&forked_child); }

/* ---- how many threads ------------------------------------------------------------------ */

static LRELU_TLS int thread_request = 0;    /* lrelu.threads(n) in this OS thread; 0: unset */
static volatile long process_request = 0;   /* lrelu.set_num_threads(n); 0: follow OpenMP */
static int cpu_limit = 0;                   /* affinity and cgroup quota; 0: unknown */
static int omp_env_set = 0;                 /* OMP_NUM_THREADS was set: it wins over cpu_limit */
static int omp_default = 0;                 /* omp_get_max_threads() when nothing had set it */

int lrelu_thread_request(void) { return thread_request; }
void lrelu_set_thread_request(int n) { thread_request = n; }
int lrelu_process_request(void) { return load_int(&process_request); }
void lrelu_set_process_request(int n) { store_int(&process_request, n); }

void lrelu_set_cpu_limit(int n, int omp_num_threads_set)
{
    cpu_limit = n;
    omp_env_set = omp_num_threads_set;
#ifdef _OPENMP
    omp_default = omp_get_max_threads();
#endif
}

int lrelu_threads_now(void)
{
    int n;
    if (!lrelu_openmp_enabled() || lrelu_forked_child()) {
        return 1;
    }
    if (thread_request > 0) {
        return thread_request;
    }
    n = lrelu_process_request();
    if (n > 0) {
        return n;
    }
#ifdef _OPENMP
    /* OpenMP's count honours OMP_NUM_THREADS, the affinity mask (libgomp) and threadpoolctl
     * (omp_set_num_threads in this thread). Its default ignores a container's CPU quota, so
     * that default, and only it, is capped by what the cgroup allows. */
    n = omp_get_max_threads();
    if (!omp_env_set && cpu_limit > 0 && n == omp_default && n > cpu_limit) {
        n = cpu_limit;
    }
    return n;
#else
    return 1;
#endif
}

/* ---- the planner ------------------------------------------------------------------------ */

/* Three steps per call: lrelu_plan_begin decides; lrelu_plan_end reads the clock and hands
 * the team back; lrelu_plan_learn, the rule, updates the size class from the times it is
 * given and reads no clock, so tests drive it with costs they chose (_threads._learn_from)
 * and production carries no test state. */

/* A bucket's fields are read and written only under its lock (lock_spin), so an update is
 * whole: two threads finishing calls of one size class at once used to mix their fields,
 * and one of two increments could be lost. Only calls past the parallel threshold, which
 * take a quarter of a millisecond and more, reach a bucket, so an uncontended lock costs
 * nothing visible. The fields are plain, not atomics: an access outside the lock is then a
 * data race that ThreadSanitizer reports (tools/tsan.sh). */
struct bucket {
    volatile long lock;
    double serial;              /* seconds per byte on one thread; 0: unknown */
    double team;                /* seconds per byte on a team: the faster warm-up call, then averaged */
    double serial_low;          /* seconds per byte: the lower envelope of one-thread calls */
    double share_low;           /* ... and of the caller's own share in team calls */
    double relative;            /* a team call's time / one thread's, at the same moment */
    double credit;              /* seconds that trying the other mode may still spend */
    double try_first;           /* seconds the first call of the try under way took */
    long trying;                /* 1 + the mode of the try under way; 0: none */
    long on_team;               /* the mode in use: 1 a team, 0 one thread */
    unsigned long calls, explorations;
};

/* [kind][size class]: kinds differ in cost per byte (an in-place call touches one array, a
 * backward three), and a training step alternates them on the same size; timed together,
 * each kind's calls would be judged against another's estimates. */
static struct bucket buckets[LRELU_PLAN_KINDS][LRELU_N_BUCKETS];
static volatile double team_end = -1.0;     /* when the last team call ended */
static volatile long woke_last = 0;         /* the last team call was not a sample: it woke */
static volatile long parallel_min_bytes = 256 * 1024;   /* bench/threshold.py measures it */
static volatile long parallel_regions = 0;
static volatile long adaptive = 1;

double lrelu_clock(void) { return now(); }

/* Bytes per array: kept below 2 GiB (a long holds it on every platform). */
ptrdiff_t lrelu_parallel_min_bytes(void) { return load_int(&parallel_min_bytes); }
void lrelu_set_parallel_min_bytes(ptrdiff_t nbytes)
{
    store_int(&parallel_min_bytes, nbytes > 0x7fffffff ? 0x7fffffff : (int)nbytes);
}
long lrelu_parallel_regions(void) { return load_int(&parallel_regions); }
int lrelu_adaptive(void) { return load_int(&adaptive); }

int lrelu_set_adaptive(int on)
{
    int old = load_int(&adaptive);
    store_int(&adaptive, on);
    return old;
}

int lrelu_bucket_of(ptrdiff_t nbytes)
{
    int b = 0;
    while (nbytes > 1 && b < LRELU_N_BUCKETS - 1) {
        nbytes >>= 1;
        b++;
    }
    return b;
}

static struct bucket *bucket_at(int index)     /* index: kind * LRELU_N_BUCKETS + size class */
{
    int i = index < 0 ? 0 : index % (LRELU_PLAN_KINDS * LRELU_N_BUCKETS);
    return &buckets[i / LRELU_N_BUCKETS][i % LRELU_N_BUCKETS];
}

void lrelu_bucket_view(int kind, int bucket, lrelu_bucket_snapshot *view)
{
    int k = kind < 0 ? 0 : kind >= LRELU_PLAN_KINDS ? LRELU_PLAN_KINDS - 1 : kind;
    int b = bucket < 0 ? 0 : bucket >= LRELU_N_BUCKETS ? LRELU_N_BUCKETS - 1 : bucket;
    struct bucket *s = &buckets[k][b];
    lock_spin(&s->lock);
    view->serial = s->serial;
    view->team = s->team;
    view->relative = s->relative;
    view->credit = s->credit;
    view->on_team = s->on_team;
    view->calls = s->calls;
    view->explorations = s->explorations;
    unlock(&s->lock);
}

void lrelu_reset_learning(void)
{
    int i;
    for (i = 0; i < LRELU_PLAN_KINDS * LRELU_N_BUCKETS; i++) {
        struct bucket *s = bucket_at(i);
        lock_spin(&s->lock);
        s->serial = 0.0;
        s->team = 0.0;
        s->serial_low = 0.0;
        s->share_low = 0.0;
        s->relative = 0.0;
        s->credit = 0.0;
        s->try_first = 0.0;
        s->trying = 0;
        s->on_team = 0;
        s->calls = 0;
        s->explorations = 0;
        unlock(&s->lock);
    }
    store_double(&team_end, -1.0);
    store_int(&woke_last, 0);
}

/* The team: one at a time, process-wide. A call that finds it busy (another Python thread
 * is in a parallel region) runs serially instead of starting a second team, so P Python
 * threads keep at most P + T - 1 threads busy, not P * T. */
static int take_team(void)
{
    if (!try_lock(&team_busy)) {
        return 0;
    }
    store_int(&parallel_regions, load_int(&parallel_regions) + 1);    /* under the team */
    return 1;
}

/* Seconds per byte that a call of the mode not in use is expected to take (mode: the one in
 * use), believed up to LRELU_SAMPLE_CAP times a call of the mode in use, as a sample never counts
 * for more either. The cap matters when the warm-up overrated the other mode: two one-thread
 * calls slowed by another process (a compiler, in CI) made one thread look ten times slower
 * than a team, so a try waited for that much savings, some 800 calls, and the estimate went
 * uncorrected all that time. (On a team the cap is taken from the team's own time, not from
 * its ratio to one thread, which would carry the overrating along.) A try still pays what
 * it really took, so the cap brings a try forward without letting tries cost more than
 * their budget. */
static double other_mode(struct bucket *s, int mode)
{
    double serial = s->serial, team = s->team;
    double relative = s->relative;
    if (mode) {
        return serial < LRELU_SAMPLE_CAP * team ? serial : LRELU_SAMPLE_CAP * team;
    }
    return serial * (relative < LRELU_SAMPLE_CAP ? relative : LRELU_SAMPLE_CAP);
}

/* Whether the page holding p is in memory. A large result comes straight from mmap (glibc
 * maps every allocation of LRELU_FRESH_MIN_BYTES and more, its largest dynamic threshold;
 * smaller freed blocks are kept and reused, already resident), and its first touch faults
 * each page in: a team call of such a result is bound by the faults, one thread's is not
 * much slower, so it is timed as a kind of its own. The page of the result's last byte is
 * asked, not the first: malloc writes its chunk header on the first. One system call is
 * nothing next to a call of that size; smaller calls, and systems without mincore
 * (Windows), stay LRELU_PLAN_OUT. */
static int fresh(const void *result_end, ptrdiff_t nbytes)
{
#ifdef LRELU_HAVE_MINCORE
#ifdef __APPLE__
    char in_core = 1;
#else
    unsigned char in_core = 1;
#endif
    long page;
    if (result_end == NULL || nbytes < LRELU_FRESH_MIN_BYTES) {
        return 0;
    }
    page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || mincore((void *)((uintptr_t)result_end & ~((uintptr_t)page - 1)), 1,
                             &in_core) != 0) {
        return 0;
    }
    return !(in_core & 1);
#else
    (void)result_end;
    (void)nbytes;
    return 0;
#endif
}

lrelu_plan lrelu_plan_begin(ptrdiff_t nbytes, int kind, const void *result_end)
{
    lrelu_plan plan = {1, -1, 0, 0, 0.0, (double)nbytes, 0.0};
    struct bucket *s;
    double serial, relative, worse;
    unsigned long calls;
    int threads, mode, trying;

    if (nbytes < lrelu_parallel_min_bytes()) {
        return plan;
    }
    threads = lrelu_threads_now();
    if (threads <= 1) {
        return plan;
    }
    if (!lrelu_adaptive()) {
        if (take_team()) {
            plan.threads = threads;
        }
        return plan;
    }
    if (kind < 0 || kind >= LRELU_PLAN_KINDS) {
        kind = LRELU_PLAN_OUT;
    }
    if (kind == LRELU_PLAN_OUT && fresh(result_end, nbytes)) {
        kind = LRELU_PLAN_FRESH;
    }
    plan.bucket = kind * LRELU_N_BUCKETS + lrelu_bucket_of(nbytes);
    s = bucket_at(plan.bucket);
    lock_spin(&s->lock);
    calls = ++s->calls;
    serial = s->serial;
    relative = s->relative;
    trying = s->trying;
    if (calls <= LRELU_WARMUP_CALLS || serial == 0.0 || relative == 0.0) {
        /* Warm-up: both modes twice, alternately, before any choice. Not charged to the
         * budget. */
        mode = s->team == 0.0 ? 1 : serial == 0.0 ? 0 : (int)(calls & 1);
        plan.explore = WARMING_UP;
    } else if (trying) {
        mode = trying - 1;
        plan.explore = TRY_SECOND;
    } else {
        /* A margin before a team is left: where a team gains little (a fresh result of a
         * few MB, on two threads that share the memory bus), one helper starting late
         * raised the ratio just past 1, and the planner went to one thread; then a try
         * that met another late start kept it there for hundreds of calls. */
        mode = relative < (s->on_team ? 1.0 + LRELU_STAY_MARGIN : 1.0);
        s->on_team = mode;
        worse = other_mode(s, mode) * (double)nbytes;
        if (s->credit >= LRELU_TRY_CALLS * worse) {
            mode = !mode;
            plan.explore = TRY_FIRST;
        }
    }
    if (mode == 1 && !take_team()) {
        unlock(&s->lock);
        plan.bucket = -1;                   /* another Python thread has the team: not timed */
        return plan;
    }
    if (plan.explore == TRY_FIRST) {
        ++s->explorations;
    }
    unlock(&s->lock);
    plan.threads = mode ? threads : 1;
    plan.parallel = mode;
    plan.start = now();
    return plan;
}

/* The lower envelope of a mode's times: it follows a faster sample at once and a slower
 * one by LRELU_ACTIVE_WEIGHT. Stalls only add time, so the envelope is the mode's time at a quiet
 * moment, and the two envelopes' ratio is the team's speedup. Averages instead mixed
 * moments: one-thread tries that came at quiet moments against the team's shares at the
 * slow start of each batch read a team of two as slower than one thread when it was
 * nearly twice as fast, and the planner lost to PyTorch (bench/notes.md). */
static double low(double old, double sample)
{
    return old == 0.0 || sample < old ? sample : old + LRELU_ACTIVE_WEIGHT * (sample - old);
}

/* One thread's time over the caller's share, kept between 1 and the team's size. */
static double speedup_of(struct bucket *s, int threads)
{
    double serial_low = s->serial_low, share_low = s->share_low;
    double measured = share_low > 0.0 ? serial_low / share_low : 0.0;
    return measured < 1.0 ? 1.0 : measured > (double)threads ? (double)threads : measured;
}

static double min_or(double old, double sample)
{
    return old == 0.0 || sample < old ? sample : old;
}

/* The measuring half: reads the clock, hands the team back, and gives the call's times to
 * the rule (lrelu_plan_learn), which knows no clock. */
void lrelu_plan_end(const lrelu_plan *plan)
{
    double end;
    int woke = 0;

    if (plan->bucket < 0) {
        if (plan->threads > 1) {
            unlock(&team_busy);
        }
        return;
    }
    end = now();
    if (plan->parallel) {
        /* A team call that had to wake its helpers (none ran for LRELU_IDLE_GAP, so they may
         * have gone to sleep) is not a sample: the wake-up is paid once per pause, not per
         * call, and counted it made every first call after a pause look like load. Never
         * two in a row, so a program that pauses between all its calls still learns. */
        woke = plan->start - load_double(&team_end) > LRELU_IDLE_GAP && !load_int(&woke_last);
        store_int(&woke_last, woke);
        store_double(&team_end, end);
        unlock(&team_busy);     /* only now: team_end and woke_last belong to the team */
    }
    lrelu_plan_learn(plan, end - plan->start, plan->work, woke);
}

/* The rule: what a timed call teaches its bucket, from measurements given to it (production
 * passes the clock's, through lrelu_plan_end; tests pass costs they chose, so the rule is
 * checked against a machine of known speed and not against this one's noise). */
void lrelu_plan_learn(const lrelu_plan *plan, double elapsed, double work, int woke)
{
    struct bucket *s;
    double serial, team, speedup, relative, sample, credit, limit, first, weight;

    if (plan->bucket < 0) {
        return;
    }
    s = bucket_at(plan->bucket);
    lock_spin(&s->lock);
    serial = s->serial;
    relative = s->relative;
    weight = plan->explore == TRY_SECOND ? LRELU_EXPLORE_WEIGHT : LRELU_ACTIVE_WEIGHT;
    if (plan->parallel) {
        if (work > 0.0) {
            s->share_low = low(s->share_low, work / plan->nbytes);
        }
    } else {
        s->serial_low = low(s->serial_low, elapsed / plan->nbytes);
    }
    if (plan->explore == TRY_FIRST) {
        /* not a sample either: judged by the second call, which finds the helpers awake */
        s->try_first = elapsed;
        s->trying = 1 + plan->parallel;
        unlock(&s->lock);
        return;
    }
    if (plan->explore == WARMING_UP) {
        /* the faster of the two samples of each mode: what slows a call (the process's first
         * team creating its threads, another runtime's threads still spinning) only adds */
        if (plan->parallel) {
            s->team = min_or(s->team, elapsed / plan->nbytes);
        } else {
            s->serial = serial = min_or(serial, elapsed / plan->nbytes);
        }
        if (serial > 0.0 && s->team > 0.0) {
            s->relative = s->team / serial;
        }
        unlock(&s->lock);
        return;
    }
    if (plan->parallel) {
        /* How a team call compares with one thread now: its time over what one thread would
         * take at this moment, which is the caller's own share (slowed as much as one thread
         * would be by cold caches, clock speed, a busy memory bus) times the team's speedup.
         * So a slow moment of the machine leaves the ratio alone, and only helpers that
         * start or finish late (load, the caller's core shared) raise it. */
        if (!woke && work > 0.0) {
            speedup = speedup_of(s, plan->threads);
            sample = elapsed / (work * speedup);
            if (sample > LRELU_SAMPLE_CAP) {
                sample = LRELU_SAMPLE_CAP;
            }
            s->relative = relative + weight * (sample - relative);
            team = s->team;
            sample = elapsed / plan->nbytes;
            if (sample > LRELU_SAMPLE_CAP * team) {
                sample = LRELU_SAMPLE_CAP * team;
            }
            s->team = team + weight * (sample - team);
        }
    } else {
        sample = elapsed / plan->nbytes;
        if (sample > LRELU_SAMPLE_CAP * serial) {
            sample = LRELU_SAMPLE_CAP * serial;
        }
        s->serial = serial + weight * (sample - serial);
    }
    credit = s->credit;
    if (plan->explore == TRY_SECOND) {
        /* pay the whole try, as long as it really took (charged at an estimate's cap
         * instead, tries of a team whose helper the OS did not schedule, next to busy
         * processes, cost several times the budget, and the default lost to one thread by
         * 2x). Only a first call many times slower than the second is billed less: that
         * was a one-off, not the mode. */
        s->trying = 0;
        first = s->try_first;
        credit -= (first < LRELU_BILL_CAP * elapsed ? first : LRELU_BILL_CAP * elapsed) + elapsed;
    } else {
        credit += LRELU_EXPLORE_BUDGET * elapsed;
        limit = LRELU_CREDIT_CAP * LRELU_TRY_CALLS * plan->nbytes
                * other_mode(s, plan->parallel);
        if (credit > limit) {
            credit = limit;
        }
    }
    s->credit = credit;
    unlock(&s->lock);
}
